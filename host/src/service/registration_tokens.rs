//! Registration tokens (`m.login.registration_token`) and their admin API,
//! compatible with Synapse's `/_synapse/admin/v1/registration_tokens`.

use rand::Rng as _;
use trellis_storage::now_ms;
use trellis_storage::registration_tokens::{self, RegistrationTokenRow};

use super::Services;
use crate::error::{Error, Result};

/// Longest token accepted (the spec's limit).
pub const MAX_TOKEN_LEN: usize = 64;

/// Characters allowed in a token (the spec's opaque identifier grammar).
fn valid_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= MAX_TOKEN_LEN
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// A new token as the admin asked for it.
#[derive(Debug, Default)]
pub struct NewToken {
    /// Exact token text, or `None` to generate one.
    pub token: Option<String>,
    /// Length of a generated token (default 16).
    pub length: Option<i64>,
    /// Use limit.
    pub uses_allowed: Option<i64>,
    /// Expiry, ms since the epoch.
    pub expiry_time: Option<i64>,
}

impl Services {
    /// Whether a token could be used right now (`/validity`).
    pub async fn registration_token_valid(&self, token: &str) -> Result<bool> {
        if !valid_token(token) {
            return Ok(false);
        }
        Ok(self.storage.registration_token(token).await?.is_some_and(|t| t.usable(now_ms())))
    }

    /// Creates a token.
    pub async fn create_registration_token(&self, new: NewToken) -> Result<RegistrationTokenRow> {
        check_limits(new.uses_allowed, new.expiry_time)?;
        let token = match new.token {
            Some(token) => {
                if !valid_token(&token) {
                    return Err(Error::invalid_param("token must be 1 to 64 characters from [A-Za-z0-9._~-]"));
                }
                token
            }
            None => {
                let length = new.length.unwrap_or(16);
                let length = usize::try_from(length)
                    .ok()
                    .filter(|l| (1..=MAX_TOKEN_LEN).contains(l))
                    .ok_or_else(|| Error::invalid_param("length must be an integer from 1 to 64"))?;
                const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-";
                let mut rng = rand::thread_rng();
                (0..length).map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())])).collect()
            }
        };
        let mut tx = self.storage.begin().await?;
        if let Err(err) = registration_tokens::insert(&mut tx, &token, new.uses_allowed, new.expiry_time).await {
            return Err(if err.is_unique_violation() {
                Error::invalid_param(format!("Token already exists: {token}"))
            } else {
                err.into()
            });
        }
        tx.commit().await.map_err(Error::internal)?;
        self.registration_token(&token).await
    }

    /// One token, or `M_NOT_FOUND`.
    pub async fn registration_token(&self, token: &str) -> Result<RegistrationTokenRow> {
        self.storage
            .registration_token(token)
            .await?
            .ok_or_else(|| Error::not_found(format!("No such registration token: {token}")))
    }

    /// Every token, optionally only the currently valid or invalid ones.
    pub async fn list_registration_tokens(&self, valid: Option<bool>) -> Result<Vec<RegistrationTokenRow>> {
        let now = now_ms();
        let tokens = self.storage.registration_tokens().await?;
        Ok(tokens.into_iter().filter(|t| valid.is_none_or(|v| t.usable(now) == v)).collect())
    }

    /// Changes the limits of a token; `Some(None)` removes a limit.
    pub async fn update_registration_token(
        &self,
        token: &str,
        uses_allowed: Option<Option<i64>>,
        expiry_time: Option<Option<i64>>,
    ) -> Result<RegistrationTokenRow> {
        check_limits(uses_allowed.flatten(), expiry_time.flatten())?;
        let mut tx = self.storage.begin().await?;
        let row = registration_tokens::update(&mut tx, token, uses_allowed, expiry_time).await?;
        tx.commit().await.map_err(Error::internal)?;
        row.ok_or_else(|| Error::not_found(format!("No such registration token: {token}")))
    }

    /// Deletes a token.
    pub async fn delete_registration_token(&self, token: &str) -> Result<()> {
        let mut tx = self.storage.begin().await?;
        let found = registration_tokens::delete(&mut tx, token).await?;
        tx.commit().await.map_err(Error::internal)?;
        if found { Ok(()) } else { Err(Error::not_found(format!("No such registration token: {token}"))) }
    }
}

fn check_limits(uses_allowed: Option<i64>, expiry_time: Option<i64>) -> Result<()> {
    if uses_allowed.is_some_and(|u| u < 0) {
        return Err(Error::invalid_param("uses_allowed must be a non-negative integer or null"));
    }
    if expiry_time.is_some_and(|e| e < now_ms()) {
        return Err(Error::invalid_param("expiry_time must not be in the past"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::valid_token;

    #[test]
    fn token_grammar() {
        assert!(valid_token("abc-DEF_1.2~"));
        assert!(!valid_token(""));
        assert!(!valid_token("has space"));
        assert!(!valid_token(&"a".repeat(65)));
    }
}
