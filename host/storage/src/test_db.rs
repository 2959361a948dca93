//! A throwaway SQLite database for this crate's unit tests.

#![allow(clippy::unwrap_used)]

use sqlx::AnyPool;

/// A one-connection pool on a fresh SQLite file, with the folder that
/// holds it (the file goes when the folder is dropped).
pub(crate) async fn temp_sqlite() -> (tempfile::TempDir, AnyPool) {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
    let pool = sqlx::any::AnyPoolOptions::new().max_connections(1).connect(&url).await.unwrap();
    (dir, pool)
}
