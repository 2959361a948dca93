-- Full-text search over message bodies, room names and topics (POST /search).
-- See host/storage/src/search.rs.
--
-- One row per indexed event, with its text as a tsvector in the 'english'
-- configuration (stemming, stop words), searched through a GIN index.
-- Redacted events stay in the index and are filtered out at query time
-- through events.redacted_by.

CREATE TABLE event_search (
    -- events.stream_ordering.
    stream_ordering BIGINT PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    room_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    -- content.body, content.name or content.topic.
    search_key TEXT NOT NULL,
    origin_server_ts BIGINT NOT NULL,
    vector TSVECTOR NOT NULL
);
CREATE INDEX event_search_room ON event_search (room_id, stream_ordering);
CREATE INDEX event_search_vector ON event_search USING GIN (vector);
