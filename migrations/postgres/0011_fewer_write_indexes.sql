-- Every new event paid for index pages that no query reads (see the SQLite
-- migration of the same name): a message in a 20-member room wrote 19
-- push-action rows into the table and two indexes.

-- The DAG's edge tables are keyed by the stream ordering of the event they
-- leave from, so that a commit appends to the end of their indexes instead
-- of writing a page at a random place per event; they are read by event id
-- through `events`. (This drops the index on prev_event_id, which nothing
-- read.)
CREATE TABLE event_edges_by_stream (
    stream_ordering BIGINT NOT NULL,
    prev_event_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    PRIMARY KEY (stream_ordering, prev_event_id)
);
INSERT INTO event_edges_by_stream (stream_ordering, prev_event_id, room_id)
    SELECT e.stream_ordering, x.prev_event_id, x.room_id FROM event_edges x JOIN events e ON e.event_id = x.event_id;
DROP TABLE event_edges;
ALTER TABLE event_edges_by_stream RENAME TO event_edges;
CREATE TABLE event_auth_edges_by_stream (
    stream_ordering BIGINT NOT NULL,
    auth_event_id TEXT NOT NULL,
    PRIMARY KEY (stream_ordering, auth_event_id)
);
INSERT INTO event_auth_edges_by_stream (stream_ordering, auth_event_id)
    SELECT e.stream_ordering, x.auth_event_id FROM event_auth_edges x JOIN events e ON e.event_id = x.event_id;
DROP TABLE event_auth_edges;
ALTER TABLE event_auth_edges_by_stream RENAME TO event_auth_edges;

-- Push actions keep one index, keyed the way unread counts read them (and
-- covering the sums); one action per (user, event) keeps it unique.
ALTER TABLE event_push_actions DROP CONSTRAINT event_push_actions_pkey;
-- Nothing reads the event id (the stream ordering names the event).
ALTER TABLE event_push_actions DROP COLUMN event_id;
DROP INDEX event_push_actions_user_room;
CREATE UNIQUE INDEX event_push_actions_user_room
    ON event_push_actions (user_id, room_id, stream_ordering) INCLUDE (notify, highlight);

-- Search entries are found by stream ordering, their key.
ALTER TABLE event_search DROP CONSTRAINT event_search_event_id_key;
