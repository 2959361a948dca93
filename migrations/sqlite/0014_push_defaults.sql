-- compat_version: 14
-- Push decisions are stored once per event for the whole room, plus a row
-- for each member whose own decision differs. One row per member per event
-- (the old layout) put a message in a 20-member room into 19 places of a
-- B-tree keyed by user, about half of the pages every message commit wrote.
--
-- `event_push_defaults` holds an event's decision for every member who has
-- no row of their own in `event_push_exceptions` (only non-zero ones are
-- stored). A member's count sums the defaults after their read mark and
-- corrects them by their exceptions. Members who were not in the room at
-- the time are not counted: their read mark is at least their own join.
--
-- The old per-member rows become exceptions to no default, which counts
-- exactly what they counted before.
ALTER TABLE event_push_actions RENAME TO event_push_exceptions;
CREATE TABLE event_push_defaults (
    room_id TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    notify BIGINT NOT NULL,
    highlight BIGINT NOT NULL,
    PRIMARY KEY (room_id, stream_ordering)
) WITHOUT ROWID;
