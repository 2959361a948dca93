//! Links between local users and their identities at external providers
//! (single sign-on, or plugins through the `accounts` interface). One
//! identity belongs to at most one user; a user may have several.

use crate::{Connection, Storage, StorageResult};

/// Links an identity inside a transaction (for example the one creating the
/// account), so that an account made for an identity never exists unlinked.
/// Fails with a unique violation if the identity is linked already.
pub async fn link(conn: &mut Connection, provider: &str, external_id: &str, user_id: &str) -> StorageResult<()> {
    sqlx::query("INSERT INTO user_external_ids (auth_provider, external_id, user_id) VALUES ($1, $2, $3)")
        .bind(provider)
        .bind(external_id)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

impl Storage {
    /// The providers a user has identities at, for offering re-authentication.
    pub async fn external_providers_of(&self, user_id: &str) -> StorageResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT auth_provider FROM user_external_ids WHERE user_id = $1 ORDER BY auth_provider",
        )
        .bind(user_id)
        .fetch_all(&self.read)
        .await?)
    }
}
