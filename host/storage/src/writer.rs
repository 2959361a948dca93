//! The write side: SQLite's one write connection, taken in turn, or
//! PostgreSQL's pool; write transactions on either.
//!
//! SQLite allows one writer at a time, so every write goes through a
//! single connection. It is held here behind a lock rather than in a sqlx
//! pool of one: the pool pings a connection each time it hands it out and
//! again each time it comes back, and on SQLite each ping is a command to
//! the connection's worker thread and an answer back, two thread wake-ups.
//! That doubled the round trips of a message send.
//!
//! Holding the only writer also makes the lock holder the only one who
//! hands out event stream positions, so on SQLite they are counted in
//! memory (and recorded in `stream_positions` within the same commit)
//! instead of with a statement of their own.
//!
//! A transaction on the SQLite writer is opened and committed with plain
//! `BEGIN IMMEDIATE` / `COMMIT`. Whoever holds the lock marks the
//! connection unclean before it opens one and clean once it is committed
//! or rolled back; a holder dropped half-way (a cancelled task) leaves the
//! mark, and the next holder rolls back first. So nothing half-written is
//! ever committed by someone else's `COMMIT`.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::script::{Bound, Script};
use crate::{Storage, StorageResult};

/// The name of the event stream in `stream_positions`.
const EVENT_STREAM: &str = "events";

/// Where writes go.
#[derive(Clone, Debug)]
pub(crate) enum Writer {
    /// SQLite: the one write connection.
    Sqlite(Arc<Mutex<SqliteWriter>>),
    /// PostgreSQL: the pool shared with reads.
    Pool(AnyPool),
}

/// SQLite's write connection and what its holder may use.
#[derive(Debug)]
pub(crate) struct SqliteWriter {
    conn: AnyConnection,
    /// A transaction may have been left open by a holder that went away.
    unclean: bool,
    /// The newest event stream position handed out.
    event_position: i64,
    /// [`Writer::close`] ran: no more writes (as a closed pool refuses).
    closed: bool,
}

impl Writer {
    /// Wraps SQLite's write connection, reading the newest event position.
    pub(crate) async fn sqlite(mut conn: AnyConnection) -> StorageResult<Self> {
        let event_position: i64 = sqlx::query_scalar(
            "SELECT MAX(p) FROM (SELECT COALESCE(MAX(stream_ordering), 0) AS p FROM events \
             UNION ALL SELECT position FROM stream_positions WHERE stream_name = $1) AS known",
        )
        .bind(EVENT_STREAM)
        .fetch_one(&mut conn)
        .await?;
        Ok(Self::Sqlite(Arc::new(Mutex::new(SqliteWriter { conn, unclean: false, event_position, closed: false }))))
    }

    /// Closes the connection(s).
    pub(crate) async fn close(&self) {
        match self {
            Self::Sqlite(writer) => {
                let mut writer = writer.lock().await;
                if writer.unclean {
                    let _ = rollback(&mut writer.conn).await;
                    writer.unclean = false;
                }
                // The connection itself goes with the last handle; from now
                // on nothing can write through it.
                writer.closed = true;
            }
            Self::Pool(pool) => pool.close().await,
        }
    }

    /// Its size for metrics: one connection, idle unless held (SQLite);
    /// the pool's numbers (PostgreSQL).
    pub(crate) fn stats(&self) -> crate::PoolStats {
        match self {
            Self::Sqlite(writer) => crate::PoolStats { size: 1, idle: u32::from(writer.try_lock().is_ok()) },
            Self::Pool(pool) => {
                crate::PoolStats { size: pool.size(), idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX) }
            }
        }
    }

    async fn take(&self) -> StorageResult<WriteConn> {
        match self {
            Self::Sqlite(writer) => Ok(WriteConn(Held::Sqlite(lock(writer).await?))),
            Self::Pool(pool) => Ok(WriteConn(Held::Pooled(pool.acquire().await?))),
        }
    }
}

/// Takes SQLite's writer in turn, rolling back what an earlier holder left
/// open; refused once the writer is closed.
async fn lock(writer: &Arc<Mutex<SqliteWriter>>) -> StorageResult<OwnedMutexGuard<SqliteWriter>> {
    let mut writer = writer.clone().lock_owned().await;
    if writer.closed {
        return Err(sqlx::Error::PoolClosed.into());
    }
    if writer.unclean {
        rollback(&mut writer.conn).await?;
        writer.unclean = false;
    }
    Ok(writer)
}

/// Rolls back whatever transaction is open on `conn`, if any.
async fn rollback(conn: &mut AnyConnection) -> StorageResult<()> {
    match conn.execute("ROLLBACK").await {
        Ok(_) => Ok(()),
        // The holder went away before its `BEGIN` ran, or after `COMMIT`.
        Err(sqlx::Error::Database(error)) if error.message().contains("no transaction is active") => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// The write connection, held: for statements that stand alone.
#[derive(Debug)]
pub struct WriteConn(Held);

#[derive(Debug)]
enum Held {
    Sqlite(OwnedMutexGuard<SqliteWriter>),
    Pooled(PoolConnection<Any>),
}

impl Deref for WriteConn {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match &self.0 {
            Held::Sqlite(writer) => &writer.conn,
            Held::Pooled(conn) => conn,
        }
    }
}

impl DerefMut for WriteConn {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.0 {
            Held::Sqlite(writer) => &mut writer.conn,
            Held::Pooled(conn) => conn,
        }
    }
}

/// A write transaction; commit it, or drop it to roll it back.
#[derive(Debug)]
pub struct WriteTx(TxHeld);

#[derive(Debug)]
enum TxHeld {
    /// The SQLite writer, with the newest event position handed out in
    /// this transaction (recorded at commit).
    Sqlite { writer: OwnedMutexGuard<SqliteWriter>, newest: Option<i64> },
    /// sqlx's transaction, which rolls back when dropped.
    Postgres(sqlx::Transaction<'static, Any>),
}

impl Storage {
    /// The write connection, for a statement that stands alone.
    pub async fn write_conn(&self) -> StorageResult<WriteConn> {
        self.write.take().await
    }

    /// Starts a transaction on the writer. Dropping it without `commit`
    /// rolls everything back, so a cancelled request leaves nothing behind.
    pub async fn begin(&self) -> StorageResult<WriteTx> {
        match &self.write {
            Writer::Sqlite(writer) => {
                let mut writer = lock(writer).await?;
                writer.unclean = true;
                writer.conn.execute("BEGIN IMMEDIATE").await?;
                Ok(WriteTx(TxHeld::Sqlite { writer, newest: None }))
            }
            Writer::Pool(pool) => Ok(WriteTx(TxHeld::Postgres(pool.begin().await?))),
        }
    }

    /// Takes the writer for a transaction made of one [`Script`] (see
    /// [`ScriptTx`]).
    pub async fn begin_script(&self) -> StorageResult<ScriptTx> {
        match &self.write {
            Writer::Sqlite(writer) => Ok(ScriptTx(ScriptHeld::Sqlite { writer: lock(writer).await?, newest: None })),
            Writer::Pool(_) => Ok(ScriptTx(ScriptHeld::Begun(self.begin().await?))),
        }
    }
}

impl WriteTx {
    /// Reserves `count` consecutive event stream positions; returns the
    /// first. Positions are handed out in the order transactions hold the
    /// writer, so no reader sees a later position before an earlier one.
    pub async fn reserve_event_positions(&mut self, count: usize) -> StorageResult<i64> {
        match &mut self.0 {
            TxHeld::Sqlite { writer, newest } => {
                let (first, last) = take_positions(&mut writer.event_position, count);
                *newest = Some(last);
                Ok(first)
            }
            TxHeld::Postgres(tx) => reserve_in_database(tx, count).await,
        }
    }

    /// Commits.
    pub async fn commit(self) -> StorageResult<()> {
        match self.0 {
            TxHeld::Sqlite { mut writer, newest } => {
                let mut script = Script::for_sqlite();
                if let Some(newest) = newest {
                    record_position(&mut script, newest);
                }
                script.push("COMMIT".to_owned(), Vec::new());
                script.run(&mut writer.conn).await?;
                writer.unclean = false;
                Ok(())
            }
            TxHeld::Postgres(tx) => Ok(tx.commit().await?),
        }
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match &self.0 {
            TxHeld::Sqlite { writer, .. } => &writer.conn,
            TxHeld::Postgres(tx) => tx,
        }
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.0 {
            TxHeld::Sqlite { writer, .. } => &mut writer.conn,
            TxHeld::Postgres(tx) => tx,
        }
    }
}

/// A transaction made of one [`Script`]. On SQLite the whole of it, from
/// `BEGIN` to `COMMIT`, is one command to the writer: one round trip for
/// a whole write. Only for writes that need to read nothing on the way;
/// take [`Storage::begin`] for the others. On PostgreSQL it is an
/// ordinary transaction.
#[derive(Debug)]
pub struct ScriptTx(ScriptHeld);

#[derive(Debug)]
enum ScriptHeld {
    /// The SQLite writer, no transaction opened yet.
    Sqlite { writer: OwnedMutexGuard<SqliteWriter>, newest: Option<i64> },
    /// A transaction already open.
    Begun(WriteTx),
}

impl ScriptTx {
    /// An empty script for this transaction's backend.
    pub fn script<'a>(&self) -> Script<'a> {
        match &self.0 {
            ScriptHeld::Sqlite { .. } => Script::for_sqlite(),
            ScriptHeld::Begun(tx) => Script::for_connection(tx),
        }
    }

    /// Reserves `count` consecutive event stream positions, as
    /// [`WriteTx::reserve_event_positions`] does.
    pub async fn reserve_event_positions(&mut self, count: usize) -> StorageResult<i64> {
        match &mut self.0 {
            ScriptHeld::Sqlite { writer, newest } => {
                let (first, last) = take_positions(&mut writer.event_position, count);
                *newest = Some(last);
                Ok(first)
            }
            ScriptHeld::Begun(tx) => tx.reserve_event_positions(count).await,
        }
    }

    /// Runs `script` and commits; nothing of it stays if it fails.
    pub async fn commit(self, mut script: Script<'_>) -> StorageResult<()> {
        match self.0 {
            ScriptHeld::Sqlite { mut writer, newest } => {
                if let Some(newest) = newest {
                    record_position(&mut script, newest);
                }
                script.wrap_in_transaction();
                writer.unclean = true;
                if let Err(error) = script.run(&mut writer.conn).await {
                    // Left unclean if this fails too: the next holder tries.
                    rollback(&mut writer.conn).await?;
                    writer.unclean = false;
                    return Err(error);
                }
                writer.unclean = false;
                Ok(())
            }
            ScriptHeld::Begun(mut tx) => {
                script.run(&mut tx).await?;
                tx.commit().await
            }
        }
    }
}

/// Takes `count` positions after `*newest`: `(first, last)`.
fn take_positions(newest: &mut i64, count: usize) -> (i64, i64) {
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    let first = *newest + 1;
    *newest += count;
    (first, *newest)
}

/// Records the newest event position handed out, so that the counter
/// stays in step with what was written.
fn record_position(script: &mut Script<'_>, newest: i64) {
    let first = script.first_placeholder();
    script.push(
        format!(
            "INSERT INTO stream_positions (stream_name, position) VALUES ('{EVENT_STREAM}', ${first}) \
             ON CONFLICT (stream_name) DO UPDATE SET position = excluded.position"
        ),
        vec![Bound::Int(newest)],
    );
}

/// PostgreSQL: the counter row, locked until commit, orders the writers.
async fn reserve_in_database(conn: &mut AnyConnection, count: usize) -> StorageResult<i64> {
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    Ok(crate::connect::advance_stream(conn, EVENT_STREAM, count).await? - count + 1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::{Backend, DatabaseSettings};

    async fn open(dir: &tempfile::TempDir) -> Storage {
        let settings = DatabaseSettings {
            backend: Backend::Sqlite,
            url: format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display()),
            max_connections: 2,
            sqlite_synchronous: "NORMAL".to_owned(),
        };
        Storage::open(&settings).await.unwrap()
    }

    async fn rows(storage: &Storage) -> Vec<i64> {
        sqlx::query_scalar("SELECT a FROM t ORDER BY a").fetch_all(&storage.read).await.unwrap()
    }

    async fn recorded_position(storage: &Storage) -> i64 {
        sqlx::query_scalar("SELECT position FROM stream_positions WHERE stream_name = 'events'")
            .fetch_one(&storage.read)
            .await
            .unwrap()
    }

    fn insert<'a>(script: &mut Script<'a>, values: &[i64]) {
        script.push_rows("INSERT INTO t (a)", &["?"], values.iter().map(|v| Bound::Int(*v)).collect());
    }

    /// A script transaction commits whole or not at all, hands out event
    /// positions in order (a failed one leaves a gap, never a repeat) and
    /// records the newest; the writer stays usable after a failure, and a
    /// reopened database goes on from the recorded position.
    #[tokio::test]
    async fn script_transactions_commit_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let storage = open(&dir).await;
        storage.write_conn().await.unwrap().execute("CREATE TABLE t (a BIGINT PRIMARY KEY)").await.unwrap();

        let mut tx = storage.begin_script().await.unwrap();
        assert_eq!(tx.reserve_event_positions(2).await.unwrap(), 1);
        let mut script = tx.script();
        insert(&mut script, &[1, 2]);
        tx.commit(script).await.unwrap();
        assert_eq!(rows(&storage).await, vec![1, 2]);
        assert_eq!(recorded_position(&storage).await, 2);

        // Inserts 10, then trips over 1: nothing of it stays.
        let mut tx = storage.begin_script().await.unwrap();
        assert_eq!(tx.reserve_event_positions(3).await.unwrap(), 3);
        let mut script = tx.script();
        insert(&mut script, &[10]);
        insert(&mut script, &[1]);
        let error = tx.commit(script).await.unwrap_err();
        assert!(error.is_unique_violation(), "{error}");
        assert_eq!(rows(&storage).await, vec![1, 2]);
        assert_eq!(recorded_position(&storage).await, 2);

        let mut tx = storage.begin_script().await.unwrap();
        assert_eq!(tx.reserve_event_positions(1).await.unwrap(), 6);
        let mut script = tx.script();
        insert(&mut script, &[6]);
        tx.commit(script).await.unwrap();
        assert_eq!(rows(&storage).await, vec![1, 2, 6]);
        assert_eq!(recorded_position(&storage).await, 6);

        storage.close().await;
        assert!(storage.begin().await.is_err(), "a closed writer refuses");
        let storage = open(&dir).await;
        let mut tx = storage.begin().await.unwrap();
        assert_eq!(tx.reserve_event_positions(1).await.unwrap(), 7);
        tx.commit().await.unwrap();
        assert_eq!(recorded_position(&storage).await, 7);
    }

    /// A transaction dropped before its commit (a cancelled task) is
    /// rolled back before anyone else writes, and never committed by them.
    #[tokio::test]
    async fn an_abandoned_transaction_is_rolled_back_before_the_next_writer() {
        let dir = tempfile::tempdir().unwrap();
        let storage = open(&dir).await;
        storage.write_conn().await.unwrap().execute("CREATE TABLE t (a BIGINT PRIMARY KEY)").await.unwrap();

        let mut tx = storage.begin().await.unwrap();
        tx.execute("INSERT INTO t (a) VALUES (100)").await.unwrap();
        drop(tx);

        let mut tx = storage.begin().await.unwrap();
        tx.execute("INSERT INTO t (a) VALUES (200)").await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(rows(&storage).await, vec![200]);

        // And a script transaction dropped before it ran leaves nothing
        // open either.
        let mut tx = storage.begin_script().await.unwrap();
        tx.reserve_event_positions(1).await.unwrap();
        drop(tx);
        storage.write_conn().await.unwrap().execute("INSERT INTO t (a) VALUES (300)").await.unwrap();
        assert_eq!(rows(&storage).await, vec![200, 300]);
    }
}
