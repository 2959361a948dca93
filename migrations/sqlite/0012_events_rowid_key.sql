-- `events` was keyed by `stream_ordering BIGINT PRIMARY KEY`, which SQLite
-- keeps as a separate unique index beside the table's own rowid: every
-- event was written into one B-tree more than needed, and every read by
-- stream ordering searched two. `INTEGER PRIMARY KEY` makes the stream
-- ordering the rowid itself (negative values, for backfilled events, are
-- allowed). The relations index now holds only events that have a
-- relation: ordinary messages no longer write to it, and every query of it
-- names a `relates_to`, which implies it is not null.
CREATE TABLE events_by_stream (
    stream_ordering INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    room_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    state_key TEXT,
    sender TEXT NOT NULL,
    depth BIGINT NOT NULL,
    origin_server_ts BIGINT NOT NULL,
    -- Outliers are events known without the state at them (federation).
    outlier BIGINT NOT NULL DEFAULT 0,
    -- The state group holding the room state after this event.
    state_group BIGINT,
    -- Canonical JSON of the PDU; replaced by its redacted form on redaction.
    json TEXT NOT NULL,
    redacted_by TEXT,
    -- Relation target and type (m.relates_to), for relations and threads.
    relates_to TEXT,
    rel_type TEXT
);
INSERT INTO events_by_stream (stream_ordering, event_id, room_id, event_type, state_key, sender, depth,
                              origin_server_ts, outlier, state_group, json, redacted_by, relates_to, rel_type)
    SELECT stream_ordering, event_id, room_id, event_type, state_key, sender, depth,
           origin_server_ts, outlier, state_group, json, redacted_by, relates_to, rel_type
    FROM events;
DROP TABLE events;
ALTER TABLE events_by_stream RENAME TO events;
CREATE INDEX events_room_stream ON events (room_id, stream_ordering);
CREATE INDEX events_room_topological ON events (room_id, depth, stream_ordering);
CREATE INDEX events_relations ON events (relates_to, rel_type) WHERE relates_to IS NOT NULL;
CREATE INDEX events_room_ts ON events (room_id, origin_server_ts);
CREATE INDEX events_room_sender ON events (room_id, sender, stream_ordering);
