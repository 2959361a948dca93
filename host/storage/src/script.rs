//! Several write statements sent together: in one round trip on SQLite,
//! one after the other on PostgreSQL.
//!
//! sqlx runs each SQLite connection on a thread of its own and every
//! statement is a command to that thread and an answer back, two thread
//! wake-ups that cost more than a small insert itself. SQLite accepts
//! several statements in one command, with bound values numbered across
//! all of them (`$1` … `$n`), so a script of inserts costs one round trip.
//! PostgreSQL's extended protocol takes one statement per command, so
//! there each statement is numbered from `$1` and sent on its own.

use sqlx::Any;
use sqlx::any::AnyArguments;
use sqlx::query::Query;

use crate::{Connection, StorageResult};

/// Most rows written by one multi-row statement, so that even the widest
/// row (12 values) stays far below SQLite's and PostgreSQL's limits on
/// bound values per statement.
pub const ROWS_PER_STATEMENT: usize = 1_000;

/// A value bound in a [`Script`].
#[derive(Debug, Clone)]
pub enum Bound<'a> {
    /// Text.
    Text(&'a str),
    /// Text made for the statement (a JSON document, say).
    OwnedText(String),
    /// Text or `NULL`.
    MaybeText(Option<&'a str>),
    /// An integer.
    Int(i64),
    /// An integer or `NULL`.
    MaybeInt(Option<i64>),
}

/// Write statements to run in order, in the caller's transaction.
#[derive(Debug)]
pub struct Script<'a> {
    one_round_trip: bool,
    statements: Vec<(String, Vec<Bound<'a>>)>,
    bound: usize,
}

impl<'a> Script<'a> {
    /// An empty script for `conn`'s backend.
    pub fn for_connection(conn: &Connection) -> Self {
        Self { one_round_trip: conn.backend_name() == "SQLite", statements: Vec::new(), bound: 0 }
    }

    /// An empty script for SQLite.
    pub(crate) fn for_sqlite() -> Self {
        Self { one_round_trip: true, statements: Vec::new(), bound: 0 }
    }

    /// Opens the statements with `BEGIN IMMEDIATE` and closes them with
    /// `COMMIT`, for a transaction sent whole (SQLite only). Should a
    /// statement fail, the rest, `COMMIT` included, does not run.
    pub(crate) fn wrap_in_transaction(&mut self) {
        self.statements.insert(0, ("BEGIN IMMEDIATE".to_owned(), Vec::new()));
        self.statements.push(("COMMIT".to_owned(), Vec::new()));
    }

    /// Whether the script is for SQLite (else PostgreSQL), for statements
    /// whose SQL differs between them.
    pub fn on_sqlite(&self) -> bool {
        self.one_round_trip
    }

    /// The number of the first placeholder (`$n`) of the next statement.
    pub fn first_placeholder(&self) -> usize {
        if self.one_round_trip { self.bound + 1 } else { 1 }
    }

    /// Appends a statement whose placeholders start at
    /// [`Self::first_placeholder`], with its values in order.
    pub fn push(&mut self, sql: String, values: Vec<Bound<'a>>) {
        self.bound += values.len();
        self.statements.push((sql, values));
    }

    /// Appends `{head} VALUES (…), (…)` for `values`, a row after another:
    /// each row is `columns`, whose `?`s take the row's values in order
    /// (see [`crate::sql::value_rows`]). Long lists are split into
    /// statements of at most [`ROWS_PER_STATEMENT`] rows.
    pub fn push_rows(&mut self, head: &str, columns: &[&str], values: Vec<Bound<'a>>) {
        let per_row = columns.iter().map(|c| c.matches('?').count()).sum::<usize>().max(1);
        let mut values = values.into_iter().peekable();
        while values.peek().is_some() {
            let chunk: Vec<Bound<'a>> = values.by_ref().take(per_row * ROWS_PER_STATEMENT).collect();
            let rows = chunk.len() / per_row;
            let sql = format!("{head} VALUES {}", crate::sql::value_rows(rows, columns, self.first_placeholder()));
            self.push(sql, chunk);
        }
    }

    /// Runs the statements.
    pub async fn run(self, conn: &mut Connection) -> StorageResult<()> {
        if self.statements.is_empty() {
            return Ok(());
        }
        if self.one_round_trip {
            let sql =
                self.statements.iter().map(|(sql, _)| without_statement_rollback(sql)).collect::<Vec<_>>().join(";\n");
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for value in self.statements.into_iter().flat_map(|(_, values)| values) {
                query = bind(query, value);
            }
            query.execute(&mut *conn).await?;
            return Ok(());
        }
        for (sql, values) in self.statements {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for value in values {
                query = bind(query, value);
            }
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// `INSERT OR FAIL` for an `INSERT` on SQLite. A multi-row insert that
/// may stop half-way on a constraint (the default, `OR ABORT`) makes SQLite
/// copy every page the statement touches into a statement journal first,
/// so that it can undo the statement alone. A script never goes on after a
/// failed statement: its whole transaction is rolled back, which undoes
/// the partial insert anyway. `OR FAIL` skips the journal (upserts keep
/// their `ON CONFLICT` clause, which applies first).
fn without_statement_rollback(sql: &str) -> std::borrow::Cow<'_, str> {
    match sql.strip_prefix("INSERT INTO ") {
        Some(rest) => std::borrow::Cow::Owned(format!("INSERT OR FAIL INTO {rest}")),
        None => std::borrow::Cow::Borrowed(sql),
    }
}

fn bind<'q>(query: Query<'q, Any, AnyArguments>, value: Bound<'q>) -> Query<'q, Any, AnyArguments> {
    match value {
        Bound::Text(text) => query.bind(text),
        Bound::OwnedText(text) => query.bind(text),
        Bound::MaybeText(text) => query.bind(text),
        Bound::Int(number) => query.bind(number),
        Bound::MaybeInt(number) => query.bind(number),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(one_round_trip: bool) -> Script<'static> {
        Script { one_round_trip, statements: Vec::new(), bound: 0 }
    }

    /// A script that fails half-way leaves nothing behind once its
    /// transaction is dropped, though its inserts run as `OR FAIL`.
    #[tokio::test]
    async fn a_failed_script_is_rolled_back_whole() {
        let (_dir, pool) = crate::test_db::temp_sqlite().await;
        sqlx::raw_sql("CREATE TABLE t (a BIGINT PRIMARY KEY, b TEXT)").execute(&pool).await.unwrap();
        let mut tx = pool.begin().await.unwrap();
        let mut script = Script::for_connection(&tx);
        script.push_rows("INSERT INTO t (a, b)", &["?", "?"], vec![Bound::Int(1), Bound::Text("x")]);
        // The second statement inserts 2, then trips over 1.
        script.push_rows(
            "INSERT INTO t (a, b)",
            &["?", "?"],
            vec![Bound::Int(2), Bound::Text("y"), Bound::Int(1), Bound::Text("z")],
        );
        assert!(script.run(&mut tx).await.is_err());
        drop(tx);
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t").fetch_one(&pool).await.unwrap();
        assert_eq!(count, 0);
        assert_eq!(
            without_statement_rollback("INSERT INTO t (a) VALUES ($1)"),
            "INSERT OR FAIL INTO t (a) VALUES ($1)"
        );
        assert_eq!(without_statement_rollback("DELETE FROM t"), "DELETE FROM t");
    }

    #[test]
    fn long_row_lists_are_split_and_numbered_for_the_backend() {
        let values = |rows: usize| (0..rows).flat_map(|i| [Bound::Int(i64::try_from(i).unwrap()), Bound::Text("x")]);
        for one_round_trip in [true, false] {
            let mut script = script(one_round_trip);
            script.push_rows("INSERT INTO t (a, b)", &["?", "lower(?)"], values(2_500).collect());
            let counts: Vec<usize> = script.statements.iter().map(|(_, v)| v.len()).collect();
            assert_eq!(counts, vec![2_000, 2_000, 1_000]);
            let second = &script.statements[1].0;
            // SQLite gets one command: numbering runs on across statements.
            let expected = if one_round_trip { "VALUES ($2001, lower($2002))" } else { "VALUES ($1, lower($2))" };
            assert!(second.starts_with(&format!("INSERT INTO t (a, b) {expected}")), "{second}");
            assert_eq!(script.first_placeholder(), if one_round_trip { 5_001 } else { 1 });
        }
        let mut empty = script(true);
        empty.push_rows("INSERT INTO t (a)", &["?"], Vec::new());
        assert!(empty.statements.is_empty());
    }
}
