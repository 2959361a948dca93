-- Every new event paid for index pages that no query reads (see the SQLite
-- migration of the same name): a message in a 20-member room wrote 19
-- push-action rows into the table and two indexes.

-- Nothing looks events up by the events they point to.
DROP INDEX event_edges_prev;

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
