//! The `login_tokens` table: single-use tokens for `m.login.token` logins.

use sqlx::Row;

use crate::{Storage, StorageResult};

/// What a used login token stood for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginTokenRow {
    /// The user it logs in.
    pub user_id: String,
    /// The SSO provider that minted it, if any.
    pub auth_provider: Option<String>,
    /// Expiry, in ms since the epoch.
    pub expires_ts: i64,
}

impl Storage {
    /// Stores a token by its hash.
    pub async fn insert_login_token(
        &self,
        token_hash: &str,
        user_id: &str,
        auth_provider: Option<&str>,
        expires_ts: i64,
    ) -> StorageResult<()> {
        sqlx::query(
            "INSERT INTO login_tokens (token_hash, user_id, auth_provider, expires_ts) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(auth_provider)
        .bind(expires_ts)
        .execute(&mut *self.write_conn().await?)
        .await?;
        Ok(())
    }

    /// Deletes a token and returns what it stood for: one statement, so two
    /// concurrent logins with the same token cannot both succeed. Expired
    /// tokens are returned too; the caller refuses them.
    pub async fn take_login_token(&self, token_hash: &str) -> StorageResult<Option<LoginTokenRow>> {
        let row =
            sqlx::query("DELETE FROM login_tokens WHERE token_hash = $1 RETURNING user_id, auth_provider, expires_ts")
                .bind(token_hash)
                .fetch_optional(&mut *self.write_conn().await?)
                .await?;
        row.map(|row| {
            Ok(LoginTokenRow {
                user_id: row.try_get("user_id")?,
                auth_provider: row.try_get("auth_provider")?,
                expires_ts: row.try_get("expires_ts")?,
            })
        })
        .transpose()
    }

    /// Deletes expired tokens; returns how many.
    pub async fn prune_login_tokens(&self, now: i64) -> StorageResult<u64> {
        let done = sqlx::query("DELETE FROM login_tokens WHERE expires_ts < $1")
            .bind(now)
            .execute(&mut *self.write_conn().await?)
            .await?;
        Ok(done.rows_affected())
    }
}
