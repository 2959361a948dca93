-- Every new event paid for B-tree pages that no query reads. A message in a
-- 20-member room wrote 19 push-action rows into three B-trees (the table,
-- its (event_id, user_id) key and the (user_id, room_id, …) index), and
-- indexes on random event ids each dirtied a page of their own per event,
-- all of it written to the WAL at commit.

-- The DAG's edge tables are keyed by the stream ordering of the event they
-- leave from (the events of a commit have consecutive ones), so that a
-- commit appends to the end of each table instead of writing a page at a
-- random place per event, and stored as that key alone (WITHOUT ROWID): one
-- B-tree each. They are read by event id through `events`. Nothing looks
-- events up by the events they point to, so the index on prev_event_id goes.
CREATE TABLE event_edges_by_stream (
    stream_ordering INTEGER NOT NULL,
    prev_event_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    PRIMARY KEY (stream_ordering, prev_event_id)
) WITHOUT ROWID;
INSERT INTO event_edges_by_stream (stream_ordering, prev_event_id, room_id)
    SELECT e.stream_ordering, x.prev_event_id, x.room_id FROM event_edges x JOIN events e ON e.event_id = x.event_id;
DROP TABLE event_edges;
ALTER TABLE event_edges_by_stream RENAME TO event_edges;
CREATE TABLE event_auth_edges_by_stream (
    stream_ordering INTEGER NOT NULL,
    auth_event_id TEXT NOT NULL,
    PRIMARY KEY (stream_ordering, auth_event_id)
) WITHOUT ROWID;
INSERT INTO event_auth_edges_by_stream (stream_ordering, auth_event_id)
    SELECT e.stream_ordering, x.auth_event_id FROM event_auth_edges x JOIN events e ON e.event_id = x.event_id;
DROP TABLE event_auth_edges;
ALTER TABLE event_auth_edges_by_stream RENAME TO event_auth_edges;

-- Push actions become one B-tree, keyed the way unread counts read them;
-- one action per (user, event) keeps the key unique. The event id is
-- dropped: nothing reads it, the stream ordering names the event, and it
-- made every row half again as long (a commit of ten messages in a
-- 20-member room rewrote some 60 pages of this table).
CREATE TABLE event_push_actions_by_user (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    notify BIGINT NOT NULL,
    highlight BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id, stream_ordering)
) WITHOUT ROWID;
INSERT INTO event_push_actions_by_user (user_id, room_id, stream_ordering, notify, highlight)
    SELECT user_id, room_id, stream_ordering, notify, highlight FROM event_push_actions;
DROP TABLE event_push_actions;
ALTER TABLE event_push_actions_by_user RENAME TO event_push_actions;

-- Search entries are found by stream ordering (their key, and the rowid of
-- their full-text row); the unique index on event ids only cost writes.
CREATE TABLE event_search_by_stream (
    -- events.stream_ordering; the rowid of the event's event_search_fts row.
    stream_ordering INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    -- content.body, content.name or content.topic.
    search_key TEXT NOT NULL,
    origin_server_ts BIGINT NOT NULL
);
INSERT INTO event_search_by_stream (stream_ordering, event_id, room_id, sender, search_key, origin_server_ts)
    SELECT stream_ordering, event_id, room_id, sender, search_key, origin_server_ts FROM event_search;
DROP TABLE event_search;
ALTER TABLE event_search_by_stream RENAME TO event_search;
CREATE INDEX event_search_room ON event_search (room_id, stream_ordering);
