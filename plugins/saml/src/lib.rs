//! SAML 2.0 single sign-on, configured with Synapse's `saml2_config`.
//! The server switches this plugin on when the section is present and
//! grants it a key-value store (outstanding requests), timers (forgetting
//! them) and outbound HTTP to the remote metadata hosts only.
//!
//! The browser is sent to the IdP with an AuthnRequest (HTTP-Redirect
//! binding); the IdP posts a signed Response to
//! `/_synapse/client/saml2/authn_response`. The signature is checked here,
//! inside the sandbox, against the certificate in the IdP's metadata (see
//! `response.rs` for every rule), and the Response must answer a request
//! this server made and has not seen answered yet.

mod c14n;
mod config;
mod dsig;
mod metadata;
mod request;
mod response;
mod sp_metadata;
mod time;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use trellis_sdk::sso::{Failure, Identity, IdentityProvider, Outcome};
use trellis_sdk::{Handled, HttpRoutes, Plugin, Request, Response, SsoProvider};

use config::SamlConfig;
use metadata::IdentityProviderMetadata;

/// The provider id (Synapse's).
const IDP_ID: &str = "saml";

/// kv keys of outstanding requests.
const REQUEST_PREFIX: &str = "request:";

/// kv keys of fetched remote metadata.
const REMOTE_METADATA_PREFIX: &str = "metadata:";

/// An AuthnRequest waiting for its answer.
#[derive(Debug, Serialize, Deserialize)]
struct Outstanding {
    /// The sign-in's state, handed back to the server.
    state: String,
    /// When it stops being accepted.
    expires_ms: i64,
}

struct Saml;

fn settings() -> Result<SamlConfig, String> {
    SamlConfig::parse(&trellis_sdk::config::raw().to_string())
}

/// The identity provider to use, from the local metadata files and the
/// remote metadata fetched at load.
fn identity_provider(config: &SamlConfig) -> Result<IdentityProviderMetadata, String> {
    let mut documents: Vec<String> = config.injected.metadata_local.clone();
    for index in 0..config.sp_config.metadata.remote.len() {
        let key = format!("{REMOTE_METADATA_PREFIX}{index}");
        let text = trellis_sdk::kv::get(&key).ok_or("the remote IdP metadata has not been fetched")?;
        documents.push(String::from_utf8_lossy(&text).into_owned());
    }
    let mut idps = Vec::new();
    for document in &documents {
        idps.extend(metadata::parse(document)?);
    }
    match &config.idp_entityid {
        Some(wanted) => idps
            .into_iter()
            .find(|idp| &idp.entity_id == wanted)
            .ok_or_else(|| format!("the metadata has no identity provider {wanted}")),
        None if idps.len() == 1 => idps.pop().ok_or_else(|| "no identity provider".to_owned()),
        None => Err("the metadata describes several identity providers; set saml2_config.idp_entityid".to_owned()),
    }
}

impl Plugin for Saml {
    fn on_load() -> Result<(), String> {
        let config = settings()?;
        for (index, remote) in config.sp_config.metadata.remote.iter().enumerate() {
            let answer = trellis_sdk::http::get(&remote.url)
                .map_err(|e| format!("cannot fetch the IdP metadata at {}: {e}", remote.url))?;
            if answer.status != 200 {
                return Err(format!("the IdP metadata at {} answered HTTP {}", remote.url, answer.status));
            }
            trellis_sdk::kv::set(&format!("{REMOTE_METADATA_PREFIX}{index}"), &answer.body)?;
        }
        identity_provider(&config).map(|_| ())
    }

    fn on_timer(_id: &str, payload: &str) -> Handled {
        // An outstanding request's lifetime is over.
        trellis_sdk::kv::delete(payload);
        Handled::Done
    }
}

impl SsoProvider for Saml {
    fn identity_providers() -> Option<Vec<IdentityProvider>> {
        let config = settings().ok()?;
        Some(vec![IdentityProvider {
            id: IDP_ID.to_owned(),
            name: config.idp_name,
            icon: config.idp_icon,
            brand: config.idp_brand,
            callback_paths: vec![format!("/{}", config::ACS_PATH)],
        }])
    }

    fn start(idp: &str, state: &str, _base_url: &str) -> Result<Response, Failure> {
        if idp != IDP_ID {
            return Err(Failure::new(404, format!("Unknown identity provider {idp}")));
        }
        let config = settings().map_err(|e| Failure::new(500, e))?;
        let provider = identity_provider(&config).map_err(|e| Failure::new(500, e))?;
        let lifetime = config.session_lifetime_ms().map_err(|e| Failure::new(500, e))?;
        let id = request::new_request_id().map_err(|e| Failure::new(500, e))?;
        let now = time::now_ms();
        let key = format!("{REQUEST_PREFIX}{id}");
        let outstanding =
            Outstanding { state: state.to_owned(), expires_ms: now + i64::try_from(lifetime).unwrap_or(i64::MAX) };
        trellis_sdk::kv::set_json(&key, &outstanding).map_err(|e| Failure::new(503, e))?;
        trellis_sdk::timers::schedule(&key, lifetime, &key);
        let xml = request::authn_request(
            &id,
            &time::format_ms(now),
            &provider.sso_url,
            &config.acs_url(),
            &config.sp_entity_id(),
        );
        Ok(trellis_sdk::sso::redirect(&request::redirect_url(&provider.sso_url, &xml, state)))
    }

    fn finish(idp: &str, request: Request, _base_url: &str) -> Outcome {
        if idp != IDP_ID {
            return Outcome::Failed(Failure::new(404, format!("Unknown identity provider {idp}")));
        }
        if request.method != "POST" {
            return Outcome::Failed(Failure::new(
                405,
                "This address only receives sign-ins sent by the identity provider. Start from your Matrix client.",
            ));
        }
        sign_in(&request).unwrap_or_else(Outcome::Failed)
    }
}

/// Checks the posted response and maps its user.
fn sign_in(request: &Request) -> Result<Outcome, Failure> {
    let config = settings().map_err(|e| Failure::new(500, e))?;
    let provider = identity_provider(&config).map_err(|e| Failure::new(500, e))?;
    let body = String::from_utf8_lossy(&request.body);
    let encoded = trellis_sdk::url::query_param(&body, "SAMLResponse")
        .ok_or_else(|| Failure::new(400, "The identity provider sent no SAMLResponse."))?;
    let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    let xml = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| Failure::new(400, "The SAMLResponse is not valid base64 XML."))?;
    let expected = response::Expected {
        idp_entity_id: &provider.entity_id,
        keys: &provider.signing_keys,
        sp_entity_id: &config.sp_entity_id(),
        acs_url: &config.acs_url(),
        now_ms: time::now_ms(),
        skew_ms: config.sp_config.accepted_time_diff.saturating_mul(1000),
        allow_sha1: config.allow_sha1,
    };
    let signed = response::check(&xml, &expected).map_err(|reason| {
        trellis_sdk::log::warn(&format!("SAML response refused: {reason}"));
        Failure::new(401, format!("The sign-in could not be verified: {reason}."))
    })?;
    // Each request is answered once: taking it out of the store is atomic,
    // so a replayed response (or a second, concurrent post) finds nothing.
    let key = format!("{REQUEST_PREFIX}{}", signed.in_response_to);
    let outstanding: Option<Outstanding> = trellis_sdk::kv::get_json(&key);
    let Some(outstanding) = outstanding.filter(|_| trellis_sdk::kv::delete(&key)) else {
        trellis_sdk::log::warn(&format!("SAML response to an unknown request {}", signed.in_response_to));
        return Err(Failure::new(401, "This sign-in does not answer a request of this server, or was already used."));
    };
    trellis_sdk::timers::cancel(&key);
    if outstanding.expires_ms <= time::now_ms() {
        return Err(Failure::new(401, "This sign-in took too long. Please start again."));
    }
    for requirement in &config.attribute_requirements {
        let values = signed.attributes.get(&requirement.attribute);
        let satisfied = values.is_some_and(|values| {
            values.iter().any(|value| {
                requirement.value.as_deref() == Some(value.as_str())
                    || requirement.one_of.as_ref().is_some_and(|options| options.contains(value))
            })
        });
        if !satisfied {
            return Err(Failure::new(403, "You are not authorised to sign in here."));
        }
    }
    let mapping = &config.user_mapping_provider.config;
    let source = signed
        .attributes
        .get(&mapping.mxid_source_attribute)
        .and_then(|values| values.first())
        .filter(|value| !value.is_empty())
        .ok_or_else(|| {
            Failure::new(
                400,
                format!("The identity provider did not send the attribute {}.", mapping.mxid_source_attribute),
            )
        })?;
    let localpart = match mapping.mxid_mapping.as_str() {
        "dotreplace" => trellis_sdk::localpart::dotreplace(source),
        _ => trellis_sdk::localpart::hexencode(source, false),
    };
    let first = |name: &str| signed.attributes.get(name).and_then(|values| values.first()).cloned();
    let existing_localpart =
        config.grandfathered_mxid_source_attribute.as_deref().and_then(first).map(|value| value.to_lowercase());
    Ok(Outcome::SignedIn {
        identity: Identity {
            remote_id: source.clone(),
            localpart: Some(localpart),
            display_name: first("displayName"),
            emails: signed.attributes.get("email").cloned().unwrap_or_default(),
            may_register: true,
            existing_localpart,
        },
        state: outstanding.state,
    })
}

impl HttpRoutes for Saml {
    fn handle(request: Request) -> Option<Response> {
        if request.method != "GET" || request.path != "/metadata.xml" {
            return None;
        }
        let config = settings().ok()?;
        Some(Response {
            status: 200,
            headers: vec![("content-type".into(), "application/samlmetadata+xml".into())],
            body: sp_metadata::document(&config.sp_entity_id(), &config.acs_url()).into_bytes(),
        })
    }
}

trellis_sdk::plugin!(Saml, roles: [SsoProvider, HttpRoutes]);
