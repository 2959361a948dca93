//! The user-interactive authentication (UIA) engine.
//!
//! An endpoint protected by UIA declares the flows it accepts (lists of
//! stage types). The engine keeps a session per attempt in the database,
//! runs the stage the client submits, and answers `401` with the flows, the
//! stages completed so far and the session id until one flow is complete.
//! Stages are pluggable: each is a `match` arm in [`Services::run_stage`],
//! and SSO or plugin-provided stages slot in there.

use base64::Engine as _;
use rand::RngCore as _;
use serde_json::{Map, Value, json};
use trellis_storage::uia::{self, UiaSessionRow};
use trellis_storage::{now_ms, registration_tokens};

use super::Services;
use super::users::local_localpart;
use crate::error::{ErrCode, Error, Result};

/// Stage type names.
pub mod stage {
    /// Always succeeds.
    pub const DUMMY: &str = "m.login.dummy";
    /// The account's password.
    pub const PASSWORD: &str = "m.login.password";
    /// A registration token.
    pub const REGISTRATION_TOKEN: &str = "m.login.registration_token";
    /// Signing in again at an identity provider, through the fallback page.
    pub const SSO: &str = "m.login.sso";
}

/// Sessions older than this are forgotten (and their reservations undone).
pub const SESSION_LIFETIME_MS: i64 = 24 * 3600 * 1000;

/// What an endpoint accepts.
#[derive(Debug, Clone)]
pub struct Flows {
    /// Each flow is a list of stages that together authenticate.
    pub flows: Vec<Vec<&'static str>>,
    /// Per-stage parameters for the client.
    pub params: Map<String, Value>,
}

/// The request being authenticated.
#[derive(Debug)]
pub struct UiaRequest<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Request path, which the session is bound to.
    pub uri: &'a str,
    /// The whole JSON body, including `auth`.
    pub body: &'a Value,
    /// For authenticated endpoints: the user every stage must prove to be.
    pub user_id: Option<&'a str>,
}

/// A completed authentication.
#[derive(Debug)]
pub struct Completed {
    /// The session, to be deleted once the request has succeeded.
    pub session_id: String,
    /// Body of the first request, overlaid by the current one.
    pub client_dict: Map<String, Value>,
    /// Facts the stages established (e.g. `registration_token`).
    pub results: Map<String, Value>,
}

/// Fields never written into the stored session: passwords stay in memory.
const SECRET_FIELDS: &[&str] = &["auth", "password", "new_password"];

impl Services {
    /// Runs UIA for a request; `Ok` only once a flow is complete.
    pub async fn user_interactive_auth(&self, request: &UiaRequest<'_>, flows: &Flows) -> Result<Completed> {
        let body = request.body.as_object().ok_or_else(|| Error::bad_json("Body must be a JSON object"))?;
        let auth = match body.get("auth") {
            None | Some(Value::Null) => None,
            Some(Value::Object(auth)) => Some(auth),
            Some(_) => return Err(Error::bad_json("'auth' must be an object")),
        };
        let session_id = auth.and_then(|a| a.get("session")).and_then(Value::as_str);
        let mut session = match session_id {
            Some(id) => self.load_session(id, request).await?,
            None => self.new_session(request, body).await?,
        };
        let Some(auth) = auth else {
            return Err(challenge(flows, &session, None));
        };
        if let Some(kind) = auth.get("type").and_then(Value::as_str) {
            if !flows.flows.iter().flatten().any(|s| *s == kind) {
                return Err(Error::with_status(
                    axum::http::StatusCode::BAD_REQUEST,
                    ErrCode::Unrecognized,
                    format!("Unrecognised login type {kind}"),
                ));
            }
            if let Err(err) = self.run_stage(kind, auth, request, &mut session).await {
                return Err(match err {
                    Error::Matrix { code, message, .. } if code != ErrCode::Unknown => {
                        challenge(flows, &session, Some((code, &message)))
                    }
                    other => other,
                });
            }
        }
        let completed = completed_stages(&session);
        if flows.flows.iter().any(|flow| flow.iter().all(|s| completed.iter().any(|c| c == s))) {
            let mut client_dict: Map<String, Value> = serde_json::from_str(&session.client_dict).unwrap_or_default();
            for (key, value) in body {
                if key != "auth" {
                    client_dict.insert(key.clone(), value.clone());
                }
            }
            let results = serde_json::from_str(&session.results).unwrap_or_default();
            return Ok(Completed { session_id: session.session_id, client_dict, results });
        }
        Err(challenge(flows, &session, None))
    }

    /// Deletes a session once its request has succeeded.
    pub async fn finish_uia_session(&self, session_id: &str) -> Result<()> {
        let mut tx = self.storage.begin().await?;
        uia::delete(&mut tx, session_id).await?;
        tx.commit().await.map_err(Error::internal)
    }

    /// Forgets stale sessions and gives back registration-token uses they
    /// reserved.
    pub async fn prune_uia_sessions(&self) -> Result<usize> {
        let mut tx = self.storage.begin().await?;
        let stale = uia::delete_older_than(&mut tx, now_ms() - SESSION_LIFETIME_MS).await?;
        for session in &stale {
            let results: Map<String, Value> = serde_json::from_str(&session.results).unwrap_or_default();
            if let Some(token) = results.get("registration_token").and_then(Value::as_str) {
                registration_tokens::release_use(&mut tx, token).await?;
            }
        }
        tx.commit().await.map_err(Error::internal)?;
        Ok(stale.len())
    }

    async fn new_session(&self, request: &UiaRequest<'_>, body: &Map<String, Value>) -> Result<UiaSessionRow> {
        let mut id = [0u8; 18];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let remembered: Map<String, Value> = body
            .iter()
            .filter(|(k, _)| !SECRET_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let row = UiaSessionRow {
            session_id: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id),
            method: request.method.to_owned(),
            uri: request.uri.to_owned(),
            completed: "[]".into(),
            client_dict: Value::Object(remembered).to_string(),
            results: json!({"user_id": request.user_id}).to_string(),
            created_ts: now_ms(),
        };
        let mut tx = self.storage.begin().await?;
        uia::insert(&mut tx, &row).await?;
        tx.commit().await.map_err(Error::internal)?;
        Ok(row)
    }

    async fn load_session(&self, id: &str, request: &UiaRequest<'_>) -> Result<UiaSessionRow> {
        let session =
            self.storage.uia_session(id).await?.filter(|s| s.created_ts > now_ms() - SESSION_LIFETIME_MS).ok_or_else(
                || Error::with_status(axum::http::StatusCode::BAD_REQUEST, ErrCode::Unknown, "Unknown session ID"),
            )?;
        if session.method != request.method || session.uri != request.uri {
            return Err(Error::forbidden("Requested operation has changed during the UI authentication session"));
        }
        let results: Map<String, Value> = serde_json::from_str(&session.results).unwrap_or_default();
        let owner = results.get("user_id").and_then(Value::as_str);
        if owner != request.user_id {
            return Err(Error::forbidden("This session belongs to another user"));
        }
        Ok(session)
    }

    /// Runs one stage and records it on success.
    async fn run_stage(
        &self,
        kind: &str,
        auth: &Map<String, Value>,
        request: &UiaRequest<'_>,
        session: &mut UiaSessionRow,
    ) -> Result<()> {
        let mut results: Map<String, Value> = serde_json::from_str(&session.results).unwrap_or_default();
        if kind == stage::PASSWORD {
            // Hash before taking the writer: on SQLite the transaction
            // holds the only write connection.
            self.password_stage(auth, request.user_id).await?;
        }
        let mut tx = self.storage.begin().await?;
        match kind {
            stage::DUMMY | stage::PASSWORD => {}
            // Completed only through the fallback page; submitting the type
            // before that is an error, after it a no-op.
            stage::SSO if completed_stages(session).iter().any(|c| c == stage::SSO) => {}
            stage::SSO => {
                return Err(Error::new(
                    ErrCode::Unauthorized,
                    "Confirm your identity on the single sign-on page first",
                ));
            }
            stage::REGISTRATION_TOKEN => {
                let token = auth.get("token").and_then(Value::as_str).ok_or_else(|| Error::missing_param("token"))?;
                let already = results.get("registration_token").and_then(Value::as_str);
                if already != Some(token) {
                    if !registration_tokens::reserve_use(&mut tx, token, now_ms()).await? {
                        return Err(Error::new(ErrCode::Unauthorized, "Invalid registration token"));
                    }
                    if let Some(previous) = already {
                        registration_tokens::release_use(&mut tx, previous).await?;
                    }
                    results.insert("registration_token".into(), Value::String(token.to_owned()));
                }
            }
            other => return Err(Error::bad_json(format!("Unsupported stage {other}"))),
        }
        let mut completed = completed_stages(session);
        if !completed.iter().any(|c| c == kind) {
            completed.push(kind.to_owned());
        }
        session.completed = serde_json::to_string(&completed).map_err(Error::internal)?;
        session.results = Value::Object(results).to_string();
        uia::update_progress(&mut tx, &session.session_id, &session.completed, &session.results).await?;
        tx.commit().await.map_err(Error::internal)
    }

    async fn password_stage(&self, auth: &Map<String, Value>, expected_user: Option<&str>) -> Result<()> {
        let expected_user = expected_user.ok_or_else(|| Error::forbidden("Password stage needs a logged-in user"))?;
        let given =
            auth.get("identifier").and_then(|i| i.get("user")).or_else(|| auth.get("user")).and_then(Value::as_str);
        if let Some(given) = given {
            let localpart = local_localpart(given, self.server_name());
            let matches = localpart.is_some_and(|l| {
                super::users::user_id(&l.to_lowercase(), self.server_name()) == expected_user
                    || super::users::user_id(l, self.server_name()) == expected_user
            });
            if !matches {
                return Err(Error::forbidden("The password must be that of the logged-in user"));
            }
        }
        let password = auth.get("password").and_then(Value::as_str).ok_or_else(|| Error::missing_param("password"))?;
        let user = self.storage.user(expected_user).await?;
        let hash = user.and_then(|u| u.password_hash).ok_or_else(|| Error::forbidden("Invalid password"))?;
        if self.passwords.verify(password, &hash).await? { Ok(()) } else { Err(Error::forbidden("Invalid password")) }
    }
}

fn completed_stages(session: &UiaSessionRow) -> Vec<String> {
    serde_json::from_str(&session.completed).unwrap_or_default()
}

/// The 401 body: flows, params, session, completed, and the stage error.
fn challenge(flows: &Flows, session: &UiaSessionRow, error: Option<(ErrCode, &str)>) -> Error {
    let mut body = json!({
        "flows": flows.flows.iter().map(|f| json!({"stages": f})).collect::<Vec<_>>(),
        "params": flows.params,
        "session": session.session_id,
        "completed": completed_stages(session),
    });
    if let (Some((code, message)), Some(map)) = (error, body.as_object_mut()) {
        map.insert("errcode".into(), Value::String(code.as_str().into()));
        map.insert("error".into(), Value::String(message.into()));
    }
    Error::AuthRequired(Box::new(body))
}

impl Services {
    /// The user a live UIA session belongs to: `Ok(None)` for an unknown or
    /// expired session, `Ok(Some(None))` for one without a user
    /// (registration).
    pub async fn uia_session_owner(&self, session_id: &str) -> Result<Option<Option<String>>> {
        let session = self.storage.uia_session(session_id).await?;
        Ok(session.filter(|s| s.created_ts > now_ms() - SESSION_LIFETIME_MS).map(|s| {
            let results: Map<String, Value> = serde_json::from_str(&s.results).unwrap_or_default();
            results.get("user_id").and_then(Value::as_str).map(str::to_owned)
        }))
    }

    /// Records a stage completed outside the API (the SSO fallback page).
    pub async fn complete_uia_stage(&self, session_id: &str, kind: &str) -> Result<()> {
        let Some(session) = self.storage.uia_session(session_id).await? else {
            return Err(Error::with_status(
                axum::http::StatusCode::BAD_REQUEST,
                ErrCode::Unknown,
                "Unknown session ID",
            ));
        };
        let mut completed = completed_stages(&session);
        if !completed.iter().any(|c| c == kind) {
            completed.push(kind.to_owned());
        }
        let completed = serde_json::to_string(&completed).map_err(Error::internal)?;
        let mut tx = self.storage.begin().await?;
        uia::update_progress(&mut tx, session_id, &completed, &session.results).await?;
        tx.commit().await.map_err(Error::internal)
    }
}
