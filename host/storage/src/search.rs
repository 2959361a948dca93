//! Full-text search of room events (SQLite FTS5 / PostgreSQL tsvector) and
//! the queries behind the room and user directories and mutual rooms.
//!
//! Both backends get the same search semantics: the search term is parsed
//! here, with the grammar of PostgreSQL's `websearch_to_tsquery` (words are
//! ANDed, `"quoted phrases"`, `or` between alternatives, `-word` to
//! exclude), English stop words are dropped, and the normalised query is
//! handed to `websearch_to_tsquery('english', …)` on PostgreSQL or written
//! as an FTS5 expression on SQLite. Both stem English words (Snowball on
//! PostgreSQL, Porter on SQLite) and fold case. Ranks differ in scale
//! between backends (`ts_rank` against negated `bm25`); only their order
//! means anything.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::script::{Bound, Script};
use crate::{Connection, Storage, StorageResult};

/// What the index keeps of one event.
#[derive(Debug, Clone)]
pub struct SearchEntry<'a> {
    /// Event id.
    pub event_id: &'a str,
    /// Room.
    pub room_id: &'a str,
    /// Sender.
    pub sender: &'a str,
    /// `content.body`, `content.name` or `content.topic`.
    pub key: &'a str,
    /// The text.
    pub value: &'a str,
    /// Stream position.
    pub stream_ordering: i64,
    /// Timestamp.
    pub origin_server_ts: i64,
}

fn is_postgres(conn: &Connection) -> bool {
    conn.backend_name() == "PostgreSQL"
}

/// Adds new events to the search index, as statements of the events'
/// write script: the rows, and on SQLite their FTS5 text under the same
/// rowids (PostgreSQL keeps the text's tsvector in the row).
pub fn index_events<'a>(script: &mut Script<'a>, entries: &[SearchEntry<'a>]) {
    // PostgreSQL text cannot hold NUL; a body with one must not fail the
    // events' whole transaction.
    let text = |entry: &SearchEntry<'_>| Bound::OwnedText(entry.value.replace('\0', " "));
    let row = |entry: &SearchEntry<'a>| {
        [
            Bound::Int(entry.stream_ordering),
            Bound::Text(entry.event_id),
            Bound::Text(entry.room_id),
            Bound::Text(entry.sender),
            Bound::Text(entry.key),
            Bound::Int(entry.origin_server_ts),
        ]
    };
    if !script.on_sqlite() {
        let values = entries.iter().flat_map(|entry| row(entry).into_iter().chain([text(entry)])).collect();
        script.push_rows(
            "INSERT INTO event_search (stream_ordering, event_id, room_id, sender, search_key, origin_server_ts, \
             vector)",
            &["?", "?", "?", "?", "?", "?", "to_tsvector('english', ?)"],
            values,
        );
        return;
    }
    script.push_rows(
        "INSERT INTO event_search (stream_ordering, event_id, room_id, sender, search_key, origin_server_ts)",
        &["?"; 6],
        entries.iter().flat_map(row).collect(),
    );
    let texts = entries.iter().flat_map(|entry| [Bound::Int(entry.stream_ordering), text(entry)]).collect();
    script.push_rows("INSERT INTO event_search_fts (rowid, value)", &["?", "?"], texts);
}

/// PostgreSQL's English stop words (the Snowball list it ships), dropped
/// from queries on both backends so that they behave alike.
const STOP_WORDS: &str = "\
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her \
    hers herself it its itself they them their theirs themselves what which who whom this that these \
    those am is are was were be been being have has had having do does did doing a an the and but if or \
    because as until while of at by for with about against between into through during before after \
    above below to from up down in out on off over under again further then once here there when where \
    why how all any both each few more most other some such no nor not only own same so than too very s \
    t can will just don should now";

/// Whether a (lowercase) word is an English stop word.
pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.split_whitespace().any(|w| w == word)
}

/// Splits text into lowercase words the way both tokenizers do: runs of
/// letters and digits.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect()
}

/// One alternative of a search: all `positive` phrases and none of the
/// `negative` ones. A phrase is a list of adjacent words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchBranch {
    /// Phrases that must occur.
    pub positive: Vec<Vec<String>>,
    /// Phrases that must not occur.
    pub negative: Vec<Vec<String>>,
}

/// A parsed search term: any of its branches matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// Alternatives (`or`).
    pub branches: Vec<SearchBranch>,
}

impl SearchQuery {
    /// Parses a search term with `websearch_to_tsquery`'s grammar. Stop
    /// words are dropped (phrases keep theirs unless they hold nothing
    /// else), and alternatives without any positive phrase are dropped,
    /// since FTS5 cannot express a bare negation.
    pub fn parse(term: &str) -> Self {
        let mut branches = Vec::new();
        let mut current = SearchBranch::default();
        let mut chars = term.chars().peekable();
        loop {
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            let Some(&first) = chars.peek() else { break };
            let negated = first == '-';
            if negated {
                chars.next();
            }
            let quoted = chars.peek() == Some(&'"');
            let mut text = String::new();
            if quoted {
                chars.next();
                for c in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                    text.push(c);
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || c == '"' {
                        break;
                    }
                    text.push(c);
                    chars.next();
                }
            }
            if !quoted && !negated && text.eq_ignore_ascii_case("or") {
                branches.push(std::mem::take(&mut current));
                continue;
            }
            let mut phrase = words(&text);
            if phrase.iter().all(|w| is_stop_word(w)) {
                phrase.clear();
            }
            if phrase.is_empty() {
                continue;
            }
            if negated { current.negative.push(phrase) } else { current.positive.push(phrase) }
        }
        branches.push(current);
        branches.retain(|b| !b.positive.is_empty());
        Self { branches }
    }

    /// Whether nothing can match.
    pub fn is_empty(&self) -> bool {
        self.branches.is_empty()
    }

    /// The words the query looks for (for highlighting), deduplicated.
    pub fn positive_words(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for word in self.branches.iter().flat_map(|b| b.positive.iter().flatten()) {
            if !is_stop_word(word) && !out.contains(word) {
                out.push(word.clone());
            }
        }
        out
    }

    /// The query in `websearch_to_tsquery` syntax, every phrase quoted.
    pub fn to_websearch(&self) -> String {
        let branch = |b: &SearchBranch| {
            let positive = b.positive.iter().map(|p| format!("\"{}\"", p.join(" ")));
            let negative = b.negative.iter().map(|p| format!("-\"{}\"", p.join(" ")));
            positive.chain(negative).collect::<Vec<_>>().join(" ")
        };
        self.branches.iter().map(branch).collect::<Vec<_>>().join(" or ")
    }

    /// The query as an FTS5 expression.
    pub fn to_fts5(&self) -> String {
        // Words hold only letters and digits, so quoting needs no escapes.
        let phrase = |p: &Vec<String>| format!("\"{}\"", p.join(" "));
        let branch = |b: &SearchBranch| {
            let positive = b.positive.iter().map(phrase).collect::<Vec<_>>().join(" AND ");
            if b.negative.is_empty() {
                format!("({positive})")
            } else {
                let negative = b.negative.iter().map(phrase).collect::<Vec<_>>().join(" OR ");
                format!("(({positive}) NOT ({negative}))")
            }
        };
        self.branches.iter().map(branch).collect::<Vec<_>>().join(" OR ")
    }
}

/// How search results are ordered and where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchOrder {
    /// Best match first; skip this many matches.
    Rank {
        /// Matches already returned.
        offset: i64,
    },
    /// Newest first; only events strictly before this stream position.
    Recent {
        /// Upper bound (exclusive), none for the newest.
        before: Option<i64>,
    },
}

/// A search over the event index.
#[derive(Debug, Clone)]
pub struct EventSearch<'a> {
    /// The parsed term.
    pub query: &'a SearchQuery,
    /// Rooms to search in.
    pub room_ids: &'a [String],
    /// Keys to search (`content.body`, …).
    pub keys: &'a [&'a str],
    /// Order and page start.
    pub order: SearchOrder,
    /// Most hits to return.
    pub limit: i64,
}

/// One match.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    /// Event id.
    pub event_id: String,
    /// Room.
    pub room_id: String,
    /// Stream position.
    pub stream_ordering: i64,
    /// Relevance: higher is closer.
    pub rank: f64,
}

impl EventSearch<'_> {
    /// The backend's FROM/WHERE part and how the rank is computed. Binds:
    /// `$1` the query, then the rooms, then the keys.
    fn sql_from_where(&self, postgres: bool) -> (String, &'static str) {
        let rooms = crate::sql::placeholders(self.room_ids.len(), 2);
        let keys = crate::sql::placeholders(self.keys.len(), 2 + self.room_ids.len());
        if postgres {
            (
                format!(
                    "FROM event_search s JOIN events e ON e.stream_ordering = s.stream_ordering \
                     CROSS JOIN websearch_to_tsquery('english', $1) q \
                     WHERE s.vector @@ q AND e.redacted_by IS NULL \
                     AND s.room_id IN ({rooms}) AND s.search_key IN ({keys})"
                ),
                "CAST(ts_rank(s.vector, q) AS DOUBLE PRECISION)",
            )
        } else {
            (
                format!(
                    "FROM event_search_fts f JOIN event_search s ON s.stream_ordering = f.rowid \
                     JOIN events e ON e.stream_ordering = s.stream_ordering \
                     WHERE event_search_fts MATCH $1 AND e.redacted_by IS NULL \
                     AND s.room_id IN ({rooms}) AND s.search_key IN ({keys})"
                ),
                "-bm25(event_search_fts)",
            )
        }
    }

    fn query_text(&self, postgres: bool) -> String {
        if postgres { self.query.to_websearch() } else { self.query.to_fts5() }
    }

    fn nothing_to_do(&self) -> bool {
        self.query.is_empty() || self.room_ids.is_empty() || self.keys.is_empty()
    }
}

impl Storage {
    /// One page of matches, unredacted events only.
    pub async fn search_events(&self, search: &EventSearch<'_>) -> StorageResult<Vec<SearchHit>> {
        if search.nothing_to_do() {
            return Ok(Vec::new());
        }
        let postgres = self.backend() == crate::Backend::Postgres;
        let (from_where, rank) = search.sql_from_where(postgres);
        let next = 2 + search.room_ids.len() + search.keys.len();
        let (bound, order, tail) = match search.order {
            SearchOrder::Rank { offset } => {
                (String::new(), "score DESC, s.stream_ordering DESC", format!("LIMIT ${next} OFFSET {offset}"))
            }
            SearchOrder::Recent { before } => (
                before.map(|b| format!(" AND s.stream_ordering < {b}")).unwrap_or_default(),
                "s.stream_ordering DESC",
                format!("LIMIT ${next}"),
            ),
        };
        let sql = format!(
            "SELECT s.event_id, s.room_id, s.stream_ordering, {rank} AS score {from_where}{bound} \
             ORDER BY {order} {tail}"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(search.query_text(postgres));
        for room in search.room_ids {
            query = query.bind(room);
        }
        for key in search.keys {
            query = query.bind(*key);
        }
        let rows = query.bind(search.limit).fetch_all(&self.read).await?;
        rows.iter()
            .map(|row| {
                Ok(SearchHit {
                    event_id: row.try_get(0)?,
                    room_id: row.try_get(1)?,
                    stream_ordering: row.try_get(2)?,
                    rank: row.try_get(3)?,
                })
            })
            .collect()
    }

    /// How many unredacted events match (before visibility is applied).
    pub async fn count_search_events(&self, search: &EventSearch<'_>) -> StorageResult<i64> {
        if search.nothing_to_do() {
            return Ok(0);
        }
        let postgres = self.backend() == crate::Backend::Postgres;
        let (from_where, _) = search.sql_from_where(postgres);
        let sql = format!("SELECT COUNT(*) {from_where}");
        let mut query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).bind(search.query_text(postgres));
        for room in search.room_ids {
            query = query.bind(room);
        }
        for key in search.keys {
            query = query.bind(*key);
        }
        Ok(query.fetch_one(&self.read).await?)
    }
}

/// A user found in the user directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    /// User id.
    pub user_id: String,
    /// Display name from their profile.
    pub displayname: Option<String>,
    /// Avatar from their profile.
    pub avatar_url: Option<String>,
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Storage {
    /// Rooms whose current state lets anyone see who is in them: a
    /// `public` join rule or `world_readable` history, as SQL over the
    /// current state (a subquery selecting `room_id`).
    fn open_rooms_sql(&self) -> &'static str {
        match self.backend() {
            crate::Backend::Sqlite => {
                "SELECT c.room_id FROM current_state c JOIN events e ON e.event_id = c.event_id \
                 WHERE c.state_key = '' AND ((c.event_type = 'm.room.join_rules' \
                 AND json_extract(e.json, '$.content.join_rule') = 'public') \
                 OR (c.event_type = 'm.room.history_visibility' \
                 AND json_extract(e.json, '$.content.history_visibility') = 'world_readable'))"
            }
            crate::Backend::Postgres => {
                "SELECT c.room_id FROM current_state c JOIN events e ON e.event_id = c.event_id \
                 WHERE c.state_key = '' AND ((c.event_type = 'm.room.join_rules' \
                 AND (CAST(e.json AS JSONB) #>> '{content,join_rule}') = 'public') \
                 OR (c.event_type = 'm.room.history_visibility' \
                 AND (CAST(e.json AS JSONB) #>> '{content,history_visibility}') = 'world_readable'))"
            }
        }
    }

    /// Local, active users visible to `searcher` in the user directory
    /// (sharing a room with them, or joined to a room with a public join
    /// rule or world-readable history) whose user id or display name
    /// contains every one of `ascii_words` (already lowercase; compared
    /// ASCII-case-insensitively). At most `cap` rows, by user id.
    pub async fn user_directory_candidates(
        &self,
        searcher: &str,
        ascii_words: &[String],
        cap: i64,
    ) -> StorageResult<Vec<DirectoryUser>> {
        let mut conditions = String::new();
        for i in 0..ascii_words.len() {
            let n = i + 2;
            conditions.push_str(&format!(
                " AND (LOWER(p.user_id) LIKE ${n} ESCAPE '\\' OR LOWER(COALESCE(p.displayname, '')) LIKE ${n} ESCAPE '\\')"
            ));
        }
        let limit = ascii_words.len() + 2;
        let sql = format!(
            "SELECT p.user_id, p.displayname, p.avatar_url FROM profiles p JOIN users u ON u.user_id = p.user_id \
             WHERE u.deactivated = 0 AND p.user_id IN ( \
               SELECT theirs.user_id FROM room_memberships mine \
               JOIN room_memberships theirs ON theirs.room_id = mine.room_id \
               WHERE mine.user_id = $1 AND mine.membership = 'join' AND theirs.membership = 'join' \
               UNION \
               SELECT m.user_id FROM room_memberships m WHERE m.membership = 'join' AND m.room_id IN ({open}) \
             ){conditions} ORDER BY p.user_id LIMIT ${limit}",
            open = self.open_rooms_sql(),
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(searcher);
        for word in ascii_words {
            query = query.bind(format!("%{}%", like_escape(word)));
        }
        let rows = query.bind(cap).fetch_all(&self.read).await?;
        rows.iter()
            .map(|row: &AnyRow| {
                Ok(DirectoryUser {
                    user_id: row.try_get(0)?,
                    displayname: row.try_get(1)?,
                    avatar_url: row.try_get(2)?,
                })
            })
            .collect()
    }

    /// Rooms listed in the public room directory.
    pub async fn public_room_ids(&self) -> StorageResult<Vec<String>> {
        Ok(sqlx::query_scalar("SELECT room_id FROM rooms WHERE is_public = 1 ORDER BY room_id")
            .fetch_all(&self.read)
            .await?)
    }

    /// Rooms both users are joined to, by room id, strictly after `after`;
    /// at most `limit`.
    pub async fn mutual_rooms(
        &self,
        user_a: &str,
        user_b: &str,
        after: Option<&str>,
        limit: i64,
    ) -> StorageResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT a.room_id FROM room_memberships a JOIN room_memberships b ON b.room_id = a.room_id \
             WHERE a.user_id = $1 AND b.user_id = $2 AND a.membership = 'join' AND b.membership = 'join' \
             AND a.room_id > $3 ORDER BY a.room_id LIMIT $4",
        )
        .bind(user_a)
        .bind(user_b)
        .bind(after.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.read)
        .await?)
    }

    /// How many rooms both users are joined to.
    pub async fn count_mutual_rooms(&self, user_a: &str, user_b: &str) -> StorageResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM room_memberships a JOIN room_memberships b ON b.room_id = a.room_id \
             WHERE a.user_id = $1 AND b.user_id = $2 AND a.membership = 'join' AND b.membership = 'join'",
        )
        .bind(user_a)
        .bind(user_b)
        .fetch_one(&self.read)
        .await?)
    }
}

/// Drops an event from the search index (on redaction: the redacted text
/// must not stay searchable, nor stored, anywhere).
/// Entries are keyed by the event's stream ordering.
pub async fn remove_event(conn: &mut Connection, stream_ordering: i64) -> StorageResult<()> {
    if !is_postgres(conn) {
        sqlx::query("DELETE FROM event_search_fts WHERE rowid = $1").bind(stream_ordering).execute(&mut *conn).await?;
    }
    sqlx::query("DELETE FROM event_search WHERE stream_ordering = $1").bind(stream_ordering).execute(conn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn branch(positive: &[&[&str]], negative: &[&[&str]]) -> SearchBranch {
        let phrases = |list: &[&[&str]]| list.iter().map(|p| p.iter().map(|w| (*w).to_owned()).collect()).collect();
        SearchBranch { positive: phrases(positive), negative: phrases(negative) }
    }

    #[test]
    fn parses_websearch_grammar() {
        let q = SearchQuery::parse("Martians and MEN");
        assert_eq!(q.branches, vec![branch(&[&["martians"], &["men"]], &[])]);
        let q = SearchQuery::parse("sad cat or fat rat");
        assert_eq!(q.branches, vec![branch(&[&["sad"], &["cat"]], &[]), branch(&[&["fat"], &["rat"]], &[])]);
        let q = SearchQuery::parse("signal -\"segmentation fault\" e-mail");
        assert_eq!(q.branches, vec![branch(&[&["signal"], &["e", "mail"]], &[&["segmentation", "fault"]])]);
        // Phrases keep inner stop words; lone stop words and bare negations go.
        let q = SearchQuery::parse("\"cat in the hat\" the");
        assert_eq!(q.branches, vec![branch(&[&["cat", "in", "the", "hat"]], &[])]);
        assert!(SearchQuery::parse("the or -plants").is_empty());
        assert!(SearchQuery::parse("  \"\" or ").is_empty());
        assert_eq!(SearchQuery::parse("Éclair").positive_words(), vec!["éclair"]);
    }

    #[test]
    fn renders_both_dialects() {
        let q = SearchQuery::parse("sad cat -dog or \"fat rat\"");
        assert_eq!(q.to_websearch(), "\"sad\" \"cat\" -\"dog\" or \"fat rat\"");
        assert_eq!(q.to_fts5(), "((\"sad\" AND \"cat\") NOT (\"dog\")) OR (\"fat rat\")");
        // Quotes in the term never reach the FTS5 expression unescaped.
        let q = SearchQuery::parse("a\"b\" \"c");
        assert!(!q.to_fts5().contains("\"\"\""), "{}", q.to_fts5());
    }

    #[test]
    fn like_patterns_are_escaped() {
        assert_eq!(like_escape("50%_a\\b"), "50\\%\\_a\\\\b");
    }
}
