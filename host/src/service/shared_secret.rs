//! Shared-secret registration, wire-compatible with Synapse's
//! `/_synapse/admin/v1/register` so that its `register_new_matrix_user`
//! tool works unchanged: the client fetches a nonce, then proves knowledge
//! of the secret with HMAC-SHA1 over
//! `nonce \0 username \0 password \0 admin|notadmin [\0 user_type]`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac as _};
use rand::RngCore as _;
use sha1::Sha1;

use super::Services;
use super::registration::{LoginRequest, NewAccount, Registered};
use crate::error::{Error, Result};

/// How long a nonce stays valid (Synapse: 60 s).
const NONCE_LIFETIME: Duration = Duration::from_secs(60);

/// Outstanding nonces; each can be used once.
#[derive(Debug, Default)]
pub struct Nonces {
    issued: Mutex<HashMap<String, Instant>>,
}

impl Nonces {
    /// Issues a new nonce.
    pub fn issue(&self) -> String {
        let mut bytes = [0u8; 20];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let nonce = hex::encode(bytes);
        let mut issued = self.issued.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        issued.retain(|_, at| at.elapsed() < NONCE_LIFETIME);
        issued.insert(nonce.clone(), Instant::now());
        nonce
    }

    /// Consumes a nonce; false if unknown, used or expired.
    pub fn consume(&self, nonce: &str) -> bool {
        let mut issued = self.issued.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        issued.remove(nonce).is_some_and(|at| at.elapsed() < NONCE_LIFETIME)
    }
}

/// The body of `POST /_synapse/admin/v1/register`.
#[derive(Debug)]
pub struct SharedSecretRequest {
    /// Nonce from the GET.
    pub nonce: String,
    /// Localpart (any case; stored lower case).
    pub username: String,
    /// Password.
    pub password: String,
    /// Administrator.
    pub admin: bool,
    /// Synapse `user_type`.
    pub user_type: Option<String>,
    /// Display name.
    pub displayname: Option<String>,
    /// Hex HMAC-SHA1.
    pub mac: String,
}

/// The MAC a client computes for a request (also used by the CLI).
pub fn compute_mac(
    secret: &str,
    nonce: &str,
    username: &str,
    password: &str,
    admin: bool,
    user_type: Option<&str>,
) -> Result<Vec<u8>> {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).map_err(Error::internal)?;
    mac.update(nonce.as_bytes());
    mac.update(b"\0");
    mac.update(username.as_bytes());
    mac.update(b"\0");
    mac.update(password.as_bytes());
    mac.update(b"\0");
    mac.update(if admin { b"admin" } else { b"notadmin" });
    if let Some(user_type) = user_type {
        mac.update(b"\0");
        mac.update(user_type.as_bytes());
    }
    Ok(mac.finalize().into_bytes().to_vec())
}

impl Services {
    /// Registers a user proven to come from someone holding the secret.
    pub async fn register_with_shared_secret(&self, request: SharedSecretRequest) -> Result<Registered> {
        let secret = self
            .shared_secret
            .as_deref()
            .ok_or_else(|| Error::bad_json("Shared secret registration is not enabled"))?;
        if !self.nonces.consume(&request.nonce) {
            return Err(Error::bad_json("unrecognised nonce"));
        }
        for (name, value) in [("username", &request.username), ("password", &request.password)] {
            if value.len() > 512 || value.contains('\0') {
                return Err(Error::bad_json(format!("Invalid {name}")));
            }
        }
        let expected = compute_mac(
            secret,
            &request.nonce,
            &request.username,
            &request.password,
            request.admin,
            request.user_type.as_deref(),
        )?;
        let given = hex::decode(request.mac.trim()).unwrap_or_default();
        // Constant-time comparison: a timing side channel must not reveal
        // how much of a forged MAC was right.
        if !bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_slice(), given.as_slice())) {
            return Err(Error::forbidden("HMAC incorrect"));
        }
        let localpart = request.username.to_lowercase();
        self.check_username_available(&localpart).await?;
        super::passwords::check_policy(&self.config.password_config.policy, &request.password)?;
        let account = NewAccount {
            localpart,
            password: Some(request.password),
            admin: request.admin,
            user_type: request.user_type,
            displayname: request.displayname,
            login: Some(LoginRequest::default()),
            ..NewAccount::default()
        };
        self.create_account(account, None).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_matches_synapse_construction() {
        // Synapse's docs: hmac.new(secret, digestmod=sha1) fed
        // nonce, \x00, user, \x00, password, \x00, b"admin" or b"notadmin".
        let mac = compute_mac("secret", "n", "u", "p", false, None).unwrap();
        let mut manual = Hmac::<Sha1>::new_from_slice(b"secret").unwrap();
        manual.update(b"n\0u\0p\0notadmin");
        assert_eq!(mac, manual.finalize().into_bytes().to_vec());
    }

    #[test]
    fn nonces_are_single_use() {
        let nonces = Nonces::default();
        let nonce = nonces.issue();
        assert!(nonces.consume(&nonce));
        assert!(!nonces.consume(&nonce));
        assert!(!nonces.consume("never-issued"));
    }
}
