//! Schema migrations and the rollback guard.
//!
//! Each migration is a numbered SQL file per backend in `migrations/`. The
//! database remembers two numbers in `schema_version`:
//! - `version`: the newest migration applied;
//! - `compat_version`: the oldest *code* schema version that can still use
//!   the database. A migration that breaks older binaries (say, by dropping a
//!   column they read) raises it with a `-- compat_version: N` header line.
//!
//! A binary whose newest migration is below `compat_version` refuses to start
//! instead of corrupting data; one that is older than `version` but still
//! compatible starts and logs that the database is ahead of it. This is the
//! rule Synapse follows with `SCHEMA_VERSION` and `SCHEMA_COMPAT_VERSION`.

use sqlx::{AnyPool, Row};

use crate::{Backend, StorageError, StorageResult, now_ms};

/// One migration, with its SQL for each backend.
#[derive(Debug)]
pub struct Migration {
    /// Sequence number; migrations apply in ascending order.
    pub version: i64,
    /// Short description, recorded in `applied_migrations`.
    pub name: &'static str,
    /// SQL for SQLite.
    pub sqlite: &'static str,
    /// SQL for PostgreSQL.
    pub postgres: &'static str,
}

macro_rules! migration {
    ($version:literal, $file:literal) => {
        Migration {
            version: $version,
            name: $file,
            sqlite: include_str!(concat!("../../../migrations/sqlite/", $file, ".sql")),
            postgres: include_str!(concat!("../../../migrations/postgres/", $file, ".sql")),
        }
    };
}

/// Every migration this binary knows, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_accounts"),
    migration!(2, "0002_rooms"),
    migration!(3, "0003_receipts"),
    migration!(4, "0004_push"),
    migration!(5, "0005_search"),
    migration!(6, "0006_profiles_reports"),
    migration!(7, "0007_indexes"),
    migration!(8, "0008_push_index"),
    migration!(9, "0009_plugins"),
    migration!(10, "0010_login_tokens"),
    migration!(11, "0011_fewer_write_indexes"),
    migration!(12, "0012_events_rowid_key"),
    migration!(13, "0013_txn_on_events"),
    migration!(14, "0014_push_defaults"),
];

/// The newest schema version this binary can write.
pub fn code_schema_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

impl Migration {
    fn sql(&self, backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        }
    }

    /// The `-- compat_version: N` header of the migration, if it has one.
    pub fn declared_compat_version(&self, backend: Backend) -> Option<i64> {
        self.sql(backend)
            .lines()
            .find_map(|line| line.trim().strip_prefix("-- compat_version:").and_then(|n| n.trim().parse().ok()))
    }
}

/// Versions recorded in a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaState {
    /// Newest migration applied.
    pub version: i64,
    /// Oldest code version that may use the database.
    pub compat_version: i64,
}

/// Reads the recorded versions, or `None` for an empty database.
pub async fn read_state(pool: &AnyPool, backend: Backend) -> StorageResult<Option<SchemaState>> {
    let probe = match backend {
        Backend::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'schema_version'"
        }
    };
    let count: i64 = sqlx::query_scalar(probe).fetch_one(pool).await?;
    if count == 0 {
        return Ok(None);
    }
    let row =
        sqlx::query("SELECT version, compat_version FROM schema_version WHERE id = 1").fetch_optional(pool).await?;
    Ok(row.map(|row| SchemaState { version: row.get(0), compat_version: row.get(1) }))
}

/// Applies every pending migration, each in its own transaction, after
/// checking that this binary may use the database at all.
pub async fn run(pool: &AnyPool, backend: Backend) -> StorageResult<()> {
    let code_version = code_schema_version();
    let state = read_state(pool, backend).await?;
    if let Some(state) = state {
        check_compatible(state, code_version)?;
        if state.version > code_version {
            tracing::warn!(
                database = state.version,
                binary = code_version,
                "database schema is newer than this binary but declares it compatible"
            );
            return Ok(());
        }
    }
    let applied = state.map_or(0, |s| s.version);
    for migration in MIGRATIONS.iter().filter(|m| m.version > applied) {
        apply(pool, backend, migration).await?;
        tracing::info!(version = migration.version, name = migration.name, "applied migration");
    }
    Ok(())
}

/// The rollback guard: refuse a database that needs newer code.
pub fn check_compatible(state: SchemaState, code_version: i64) -> StorageResult<()> {
    if state.compat_version > code_version {
        return Err(StorageError::Schema(format!(
            "the database was last used by a newer Trellis: its schema (version {}) needs a \
             Trellis that supports schema version {} or later, but this binary only supports up \
             to version {code_version}. Upgrade Trellis, or restore a backup taken before the \
             upgrade.",
            state.version, state.compat_version
        )));
    }
    Ok(())
}

async fn apply(pool: &AnyPool, backend: Backend, migration: &Migration) -> StorageResult<()> {
    let mut tx = pool.begin().await?;
    sqlx::raw_sql(migration.sql(backend)).execute(&mut *tx).await?;
    let compat = migration.declared_compat_version(backend);
    sqlx::query(
        "INSERT INTO schema_version (id, version, compat_version) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, \
         compat_version = CASE WHEN excluded.compat_version > schema_version.compat_version \
         THEN excluded.compat_version ELSE schema_version.compat_version END",
    )
    .bind(migration.version)
    .bind(compat.unwrap_or(1))
    .execute(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO applied_migrations (version, name, applied_ts) VALUES ($1, $2, $3)")
        .bind(migration.version)
        .bind(migration.name)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_backend_has_every_migration_in_order() {
        let mut last = 0;
        for m in MIGRATIONS {
            assert!(m.version > last, "migrations out of order at {}", m.name);
            last = m.version;
            assert!(!m.sqlite.trim().is_empty() && !m.postgres.trim().is_empty());
            assert_eq!(
                m.declared_compat_version(Backend::Sqlite),
                m.declared_compat_version(Backend::Postgres),
                "{} declares different compat versions per backend",
                m.name
            );
        }
    }

    /// Migrations 11 to 14 rebuild five tables on SQLite, move transaction
    /// ids onto events and turn push actions into exceptions: rows written
    /// under schema 10 must come through, and the new keys must hold.
    #[tokio::test]
    async fn table_rebuilds_keep_their_rows() {
        let (_dir, pool) = crate::test_db::temp_sqlite().await;
        for migration in MIGRATIONS.iter().filter(|m| m.version <= 10) {
            apply(&pool, Backend::Sqlite, migration).await.unwrap();
        }
        sqlx::raw_sql(
            "INSERT INTO event_push_actions (room_id, event_id, user_id, stream_ordering, notify, highlight) \
             VALUES ('!r', '$a', '@u', 5, 1, 0), ('!r', '$a', '@v', 5, 1, 1), ('!r', '$b', '@u', 6, 0, 0); \
             INSERT INTO event_search (stream_ordering, event_id, room_id, sender, search_key, origin_server_ts) \
             VALUES (5, '$a', '!r', '@w', 'content.body', 10); \
             INSERT INTO event_search_fts (rowid, value) VALUES (5, 'hello there'); \
             INSERT INTO event_edges (event_id, prev_event_id, room_id) VALUES ('$a', '$old', '!r'); \
             INSERT INTO event_auth_edges (event_id, auth_event_id) VALUES ('$a', '$c'), ('$a', '$p'); \
             INSERT INTO events (stream_ordering, event_id, room_id, event_type, sender, depth, origin_server_ts, \
                                 json, relates_to, rel_type) \
             VALUES (5, '$a', '!r', 'm.room.message', '@w', 3, 10, '{}', NULL, NULL), \
                    (-2, '$old', '!r', 'm.room.message', '@w', 1, 9, '{}', '$a', 'm.thread'); \
             INSERT INTO event_txn_ids (user_id, device_id, txn_id, event_id, created_ts) \
             VALUES ('@w', 'DEV', 'txn-7', '$a', 10);",
        )
        .execute(&pool)
        .await
        .unwrap();
        run(&pool, Backend::Sqlite).await.unwrap();

        let actions: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
            "SELECT user_id, room_id, stream_ordering, notify, highlight FROM event_push_exceptions \
             ORDER BY user_id, stream_ordering",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let expected = [("@u", 5, 1, 0), ("@u", 6, 0, 0), ("@v", 5, 1, 1)];
        let expected: Vec<(String, String, i64, i64, i64)> =
            expected.iter().map(|(u, s, n, h)| ((*u).to_owned(), "!r".to_owned(), *s, *n, *h)).collect();
        assert_eq!(actions, expected);
        let duplicate = sqlx::query(
            "INSERT INTO event_push_exceptions (room_id, user_id, stream_ordering, notify, highlight) \
             VALUES ('!r', '@u', 5, 1, 0)",
        )
        .execute(&pool)
        .await;
        assert!(duplicate.is_err(), "one action per user and event");
        let found: Vec<(String,)> = sqlx::query_as(
            "SELECT s.event_id FROM event_search_fts f JOIN event_search s ON s.stream_ordering = f.rowid \
             WHERE event_search_fts MATCH 'hello'",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(found, vec![("$a".to_owned(),)]);

        // Edges are keyed by the stream ordering of the event they leave.
        let edges: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT stream_ordering, prev_event_id, room_id FROM event_edges")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(edges, vec![(5, "$old".to_owned(), "!r".to_owned())]);
        let auth: Vec<(i64, String)> =
            sqlx::query_as("SELECT stream_ordering, auth_event_id FROM event_auth_edges ORDER BY auth_event_id")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(auth, vec![(5, "$c".to_owned()), (5, "$p".to_owned())]);

        // The stream ordering is now the rowid, negative ones included, and
        // the transaction id moved onto the event (13).
        type Event = (i64, i64, String, Option<String>, Option<String>, Option<String>);
        let events: Vec<Event> = sqlx::query_as(
            "SELECT rowid, stream_ordering, event_id, relates_to, txn_device, txn_id FROM events \
             ORDER BY stream_ordering",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(
            events,
            vec![
                (-2, -2, "$old".to_owned(), Some("$a".to_owned()), None, None),
                (5, 5, "$a".to_owned(), None, Some("DEV".to_owned()), Some("txn-7".to_owned())),
            ]
        );
        let related: Vec<(String,)> =
            sqlx::query_as("SELECT event_id FROM events WHERE relates_to = '$a'").fetch_all(&pool).await.unwrap();
        assert_eq!(related, vec![("$old".to_owned(),)]);
        let duplicate = sqlx::query(
            "INSERT INTO events (stream_ordering, event_id, room_id, event_type, sender, depth, origin_server_ts, json) \
             VALUES (6, '$a', '!r', 't', '@w', 4, 11, '{}')",
        )
        .execute(&pool)
        .await;
        assert!(duplicate.is_err(), "event ids stay unique");
    }

    #[test]
    fn guard_refuses_newer_incompatible_schema() {
        let state = SchemaState { version: 9, compat_version: 7 };
        let err = check_compatible(state, 5).expect_err("must refuse");
        let text = err.to_string();
        assert!(text.contains("version 7") && text.contains("up to version 5"), "{text}");
        assert!(check_compatible(state, 7).is_ok());
    }
}
