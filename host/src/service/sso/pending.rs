//! New users choosing their user name: the sign-in waits here, keyed by a
//! random id kept in a cookie, until the form is sent. Kept in memory (as
//! Synapse does) for 15 minutes: after a restart the user simply signs in
//! again, and nothing has been written yet.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rand::RngCore as _;
use trellis_plugin::SsoIdentity;

/// How long a user may take to choose.
pub const LIFETIME: Duration = Duration::from_secs(15 * 60);

/// Sessions kept at most, so that a flood of sign-ins cannot grow memory.
const MAX_SESSIONS: usize = 10_000;

/// A sign-in waiting for the user to choose a user name.
#[derive(Debug, Clone)]
pub struct PendingSignIn {
    /// The provider.
    pub idp_id: String,
    /// Its display name, for the page.
    pub idp_name: String,
    /// Who signed in.
    pub identity: SsoIdentity,
    /// The client to return to.
    pub redirect_url: String,
    created: Instant,
}

/// The waiting sign-ins.
#[derive(Debug, Default)]
pub struct PendingSignIns {
    sessions: Mutex<HashMap<String, PendingSignIn>>,
}

impl PendingSignIns {
    /// Keeps a sign-in and returns its session id.
    pub fn insert(&self, idp_id: &str, idp_name: &str, identity: SsoIdentity, redirect_url: &str) -> String {
        let mut raw = [0u8; 18];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let pending = PendingSignIn {
            idp_id: idp_id.to_owned(),
            idp_name: idp_name.to_owned(),
            identity,
            redirect_url: redirect_url.to_owned(),
            created: Instant::now(),
        };
        let mut sessions = self.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        sessions.retain(|_, session| session.created.elapsed() < LIFETIME);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions.iter().min_by_key(|(_, s)| s.created).map(|(k, _)| k.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(id.clone(), pending);
        id
    }

    /// The sign-in of a session, if it has not expired.
    pub fn get(&self, id: &str) -> Option<PendingSignIn> {
        let sessions = self.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        sessions.get(id).filter(|session| session.created.elapsed() < LIFETIME).cloned()
    }

    /// Ends a session (the account was created).
    pub fn remove(&self, id: &str) {
        self.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(id);
    }
}
