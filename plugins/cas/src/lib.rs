//! Single sign-on through a CAS server (protocol 2 or 3), configured with
//! Synapse's `cas_config` section. The server switches this plugin on when
//! the section is present and grants it outbound HTTP to the CAS host only.
//!
//! The browser goes to `{server_url}/login?service=…`; CAS sends it back to
//! the service URL with a ticket, which is checked against
//! `{server_url}/serviceValidate` (or `/p3/serviceValidate`). The CAS user
//! name is the remote id; the localpart of new accounts is the user name
//! mapped as Synapse does (`hexencode`), and an existing account of that
//! name is linked, as Synapse does for CAS.

mod config;
mod response;
mod service;

use trellis_sdk::sso::{Failure, Identity, IdentityProvider, Outcome};
use trellis_sdk::{Plugin, Request, Response, SsoProvider};

use config::CasConfig;
use response::Validation;

/// The provider id (Synapse's, also used by `/login/cas/redirect`).
const IDP_ID: &str = "cas";

struct Cas;

fn settings() -> Result<CasConfig, String> {
    CasConfig::parse(&trellis_sdk::config::raw().to_string())
}

impl Plugin for Cas {
    fn on_load() -> Result<(), String> {
        settings().map(|_| ())
    }
}

impl SsoProvider for Cas {
    fn identity_providers() -> Option<Vec<IdentityProvider>> {
        let config = settings().ok()?;
        Some(vec![IdentityProvider {
            id: IDP_ID.to_owned(),
            name: config.idp_name,
            icon: config.idp_icon,
            brand: config.idp_brand,
            callback_paths: service::CALLBACK_PATHS.iter().map(|p| (*p).to_owned()).collect(),
        }])
    }

    fn start(idp: &str, state: &str, base_url: &str) -> Result<Response, Failure> {
        if idp != IDP_ID {
            return Err(Failure::new(404, format!("Unknown identity provider {idp}")));
        }
        let config = settings().map_err(|e| Failure::new(500, e))?;
        let service = service::service_url(base_url, service::CALLBACK_PATHS[0], state);
        let location = format!("{}?service={}", config.login_url(), trellis_sdk::url::percent_encode(&service));
        Ok(trellis_sdk::sso::redirect(&location))
    }

    fn finish(idp: &str, request: Request, base_url: &str) -> Outcome {
        if idp != IDP_ID {
            return Outcome::Failed(Failure::new(404, format!("Unknown identity provider {idp}")));
        }
        match sign_in(&request, base_url) {
            Ok(outcome) => outcome,
            Err(failure) => Outcome::Failed(failure),
        }
    }
}

/// Checks the ticket the browser brought back and maps the CAS user.
fn sign_in(request: &Request, base_url: &str) -> Result<Outcome, Failure> {
    let config = settings().map_err(|e| Failure::new(500, e))?;
    if request.method != "GET" {
        return Err(Failure::new(405, "CAS sends the browser back with a GET request."));
    }
    let (ticket, state) = service::split_ticket(&request.query);
    let ticket = ticket.ok_or_else(|| Failure::new(400, "The CAS server sent no ticket."))?;
    let service = service::service_url(base_url, &request.path, &state);
    let url = format!(
        "{}?ticket={}&service={}",
        config.validate_url(),
        trellis_sdk::url::percent_encode(&ticket),
        trellis_sdk::url::percent_encode(&service)
    );
    let answer = trellis_sdk::http::get(&url).map_err(|e| {
        trellis_sdk::log::warn(&format!("cannot reach the CAS server: {e}"));
        Failure::new(502, "The CAS server could not be reached.")
    })?;
    if answer.status != 200 {
        trellis_sdk::log::warn(&format!("the CAS server answered HTTP {}", answer.status));
        return Err(Failure::new(502, "The CAS server could not check the sign-in."));
    }
    let text = String::from_utf8_lossy(&answer.body);
    let validation = response::parse(&text).map_err(|e| {
        trellis_sdk::log::warn(&e);
        Failure::new(502, "The CAS server gave an answer that could not be read.")
    })?;
    let (user, attributes) = match validation {
        Validation::Success { user, attributes } => (user, attributes),
        Validation::Failure { code, message } => {
            trellis_sdk::log::info(&format!("CAS refused a ticket: {code} {message}"));
            return Err(Failure::new(
                401,
                format!("The CAS server refused the sign-in ({code}). Please sign in again."),
            ));
        }
    };
    for (name, wanted) in &config.required_attributes {
        let values = attributes.get(name);
        let satisfied = match wanted {
            None => values.is_some(),
            Some(wanted) => values.is_some_and(|values| values.iter().any(|value| value == wanted)),
        };
        if !satisfied {
            trellis_sdk::log::info(&format!("CAS user {user} lacks the required attribute {name}"));
            return Err(Failure::new(403, "You are not authorised to sign in here."));
        }
    }
    let mut localpart = trellis_sdk::localpart::hexencode(&user, false);
    if localpart.bytes().all(|b| b.is_ascii_digit()) {
        if !config.allow_numeric_ids {
            return Err(Failure::new(403, "Numeric CAS user names are not allowed on this server."));
        }
        localpart = format!("{}{localpart}", config.numeric_ids_prefix);
    }
    let display_name = config
        .displayname_attribute
        .as_ref()
        .and_then(|name| attributes.get(name))
        .and_then(|values| values.first())
        .filter(|value| !value.is_empty())
        .cloned();
    Ok(Outcome::SignedIn {
        identity: Identity {
            remote_id: user,
            existing_localpart: Some(localpart.clone()),
            localpart: Some(localpart),
            display_name,
            emails: Vec::new(),
            may_register: config.enable_registration,
        },
        state,
    })
}

trellis_sdk::plugin!(Cas, roles: [SsoProvider]);
