//! Access and refresh tokens: minting, authenticating, refreshing and
//! revoking.
//!
//! Tokens are 256 random bits; only their SHA-256 hash is stored, so a
//! database leak yields no usable token, and lookups by hash are not a
//! timing oracle for the token itself. Authenticated requests are the
//! hottest path in the server, so resolved tokens are cached in memory. Every
//! revocation bumps a generation counter, and a lookup that raced with a
//! revocation does not fill the cache with the stale answer.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use trellis_storage::{Connection, Storage, devices, now_ms, tokens};

use crate::error::{Error, Result};

/// Who is making an authenticated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    /// Full user id.
    pub user_id: String,
    /// Device the token belongs to.
    pub device_id: String,
    /// Guest account.
    pub is_guest: bool,
    /// Server administrator.
    pub is_admin: bool,
    /// Hash of the token used, to revoke exactly this token on logout.
    pub token_hash: String,
}

#[derive(Debug, Clone)]
struct CachedToken {
    requester: Requester,
    expires_ts: Option<i64>,
}

/// Tokens handed to a client after login or registration.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    /// The device the tokens belong to.
    pub device_id: String,
    /// New access token.
    pub access_token: String,
    /// New refresh token, when the client asked for one.
    pub refresh_token: Option<String>,
    /// Lifetime of the access token, when it expires.
    pub expires_in_ms: Option<u64>,
    /// Row id of the refresh token, for rotating it.
    refresh_token_id: Option<i64>,
}

/// The token service.
#[derive(Debug, Default)]
pub struct Tokens {
    cache: RwLock<HashMap<String, CachedToken>>,
    generation: AtomicU64,
}

/// Most cached tokens before the cache starts over.
const CACHE_LIMIT: usize = 100_000;

/// SHA-256 of a token, hex encoded: the form stored in the database.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh random token with a short prefix telling what it is.
pub(crate) fn mint(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A new device id: ten upper-case letters, as Synapse makes them.
pub fn new_device_id() -> String {
    use rand::Rng as _;
    let mut rng = rand::thread_rng();
    (0..10).map(|_| char::from(rng.gen_range(b'A'..=b'Z'))).collect()
}

impl Tokens {
    /// Resolves an access token to the requester.
    pub async fn authenticate(&self, storage: &Storage, token: &str) -> Result<Requester> {
        let hash = hash_token(token);
        let now = now_ms();
        if let Some(cached) = self.read_cache().get(&hash) {
            return check_expiry(cached, now);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let row = storage.access_token(&hash).await?.ok_or_else(|| Error::unknown_token(false))?;
        let user = storage.user(&row.user_id).await?.ok_or_else(|| Error::unknown_token(false))?;
        if user.deactivated {
            return Err(Error::unknown_token(false));
        }
        if !row.used {
            // First use of a refreshed token retires the refresh token it
            // replaced. Done in a task so the request does not wait on it.
            let storage = storage.clone();
            let id = row.id;
            tokio::spawn(async move {
                let result: trellis_storage::StorageResult<()> = async {
                    let mut tx = storage.begin().await?;
                    tokens::mark_access_token_used(&mut tx, id).await?;
                    tx.commit().await
                }
                .await;
                if let Err(err) = result {
                    tracing::warn!(%err, "could not mark access token used");
                }
            });
        }
        let cached = CachedToken {
            requester: Requester {
                user_id: row.user_id,
                device_id: row.device_id,
                is_guest: user.is_guest,
                is_admin: user.is_admin,
                token_hash: hash.clone(),
            },
            expires_ts: row.expires_ts,
        };
        let answer = check_expiry(&cached, now);
        let mut cache = self.cache.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.generation.load(Ordering::Acquire) == generation {
            if cache.len() >= CACHE_LIMIT {
                cache.clear();
            }
            cache.insert(hash, cached);
        }
        answer
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, CachedToken>> {
        self.cache.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Creates (or reuses) a device and issues tokens for it, inside the
    /// caller's transaction.
    pub async fn issue(
        &self,
        conn: &mut Connection,
        user_id: &str,
        device_id: Option<&str>,
        display_name: Option<&str>,
        refreshable_lifetime_ms: Option<u64>,
    ) -> Result<IssuedSession> {
        let device_id = device_id.map_or_else(new_device_id, str::to_owned);
        devices::upsert(&mut *conn, user_id, &device_id, display_name).await?;
        let (refresh_token, refresh_id) = match refreshable_lifetime_ms {
            Some(_) => {
                let token = mint("trr");
                let id = tokens::insert_refresh_token(&mut *conn, &hash_token(&token), user_id, &device_id).await?;
                (Some(token), Some(id))
            }
            None => (None, None),
        };
        let access_token = mint("trl");
        let expires_ts =
            refreshable_lifetime_ms.map(|ms| now_ms().saturating_add(i64::try_from(ms).unwrap_or(i64::MAX)));
        tokens::insert_access_token(conn, &hash_token(&access_token), user_id, &device_id, expires_ts, refresh_id)
            .await?;
        Ok(IssuedSession {
            device_id,
            access_token,
            refresh_token,
            expires_in_ms: refreshable_lifetime_ms,
            refresh_token_id: refresh_id,
        })
    }

    /// Exchanges a refresh token for a new pair (`POST /refresh`).
    pub async fn refresh(&self, storage: &Storage, refresh_token: &str, lifetime_ms: u64) -> Result<IssuedSession> {
        let mut tx = storage.begin().await?;
        let old = tokens::refresh_token_for_update(&mut tx, &hash_token(refresh_token))
            .await?
            .ok_or_else(|| Error::unknown_token(false))?;
        let user = storage.user(&old.user_id).await?;
        if user.is_none_or(|u| u.deactivated) {
            return Err(Error::unknown_token(false));
        }
        if let Some(previous_successor) = old.next_token_id {
            // Replayed before its successor was used: the successor pair is
            // abandoned and replaced by the one issued now.
            tokens::delete_refresh_token(&mut tx, previous_successor).await?;
        }
        let session = self.issue(&mut tx, &old.user_id, Some(&old.device_id), None, Some(lifetime_ms)).await?;
        let new_id = session
            .refresh_token_id
            .ok_or_else(|| Error::internal("refreshable session issued without a refresh token"))?;
        tokens::mark_refresh_token_replaced(&mut tx, old.id, new_id).await?;
        tx.commit().await.map_err(Error::internal)?;
        // Access tokens of the old pair were deleted; drop them from the cache.
        self.forget_device(&old.user_id, &old.device_id, Some(&hash_token(&session.access_token)));
        Ok(session)
    }

    /// Drops cached tokens of one device, except `keep` (a token hash).
    pub fn forget_device(&self, user_id: &str, device_id: &str, keep: Option<&str>) {
        self.forget(|hash, r| r.user_id == user_id && r.device_id == device_id && Some(hash) != keep);
    }

    /// Drops every cached token of a user, except `keep` (a token hash).
    pub fn forget_user(&self, user_id: &str, keep: Option<&str>) {
        self.forget(|hash, r| r.user_id == user_id && Some(hash) != keep);
    }

    fn forget(&self, matches: impl Fn(&str, &Requester) -> bool) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let mut cache = self.cache.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.retain(|hash, entry| !matches(hash, &entry.requester));
    }
}

fn check_expiry(cached: &CachedToken, now: i64) -> Result<Requester> {
    match cached.expires_ts {
        Some(expires) if expires <= now => Err(Error::unknown_token(true)),
        _ => Ok(cached.requester.clone()),
    }
}

impl super::Services {
    /// Deletes long-expired access tokens.
    pub async fn prune_expired_tokens(&self) -> Result<u64> {
        let mut tx = self.storage.begin().await?;
        let pruned = tokens::prune_expired(&mut tx).await?;
        tx.commit().await.map_err(Error::internal)?;
        Ok(pruned)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let a = mint("trl");
        let b = mint("trl");
        assert_ne!(a, b);
        assert!(a.len() >= 4 + 43, "{a}");
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), hash_token(&b));
    }

    #[test]
    fn device_ids_are_ten_capitals() {
        let id = new_device_id();
        assert_eq!(id.len(), 10);
        assert!(id.chars().all(|c| c.is_ascii_uppercase()));
    }
}
