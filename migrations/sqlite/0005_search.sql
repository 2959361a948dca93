-- Full-text search over message bodies, room names and topics (POST /search).
-- See host/storage/src/search.rs.
--
-- One row per indexed event in event_search; its text lives in the FTS5
-- table event_search_fts under the same rowid (the event's stream position).
-- Redacted events stay in the index and are filtered out at query time
-- through events.redacted_by.
--
-- The tokenizer stems English words (Porter) and folds case but keeps
-- diacritics, to behave like PostgreSQL's 'english' configuration.

CREATE TABLE event_search (
    -- events.stream_ordering; the rowid of the event's event_search_fts row.
    stream_ordering INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    room_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    -- content.body, content.name or content.topic.
    search_key TEXT NOT NULL,
    origin_server_ts BIGINT NOT NULL
);
CREATE INDEX event_search_room ON event_search (room_id, stream_ordering);

CREATE VIRTUAL TABLE event_search_fts USING fts5 (
    value,
    tokenize = 'porter unicode61 remove_diacritics 0'
);
