-- compat_version: 14
-- Push decisions are stored once per event for the whole room, plus a row
-- for each member whose own decision differs (see the SQLite migration of
-- the same name). The old per-member rows become exceptions to no default,
-- which counts exactly what they counted before.
ALTER TABLE event_push_actions RENAME TO event_push_exceptions;
ALTER INDEX event_push_actions_user_room RENAME TO event_push_exceptions_user_room;
CREATE TABLE event_push_defaults (
    room_id TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    notify BIGINT NOT NULL,
    highlight BIGINT NOT NULL,
    PRIMARY KEY (room_id, stream_ordering)
);
