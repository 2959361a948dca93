-- What each user's push rules decided for each event, written with the
-- event. Unread notification and highlight counts are the rows after the
-- user's read receipt.
CREATE TABLE event_push_actions (
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    notify BIGINT NOT NULL,
    highlight BIGINT NOT NULL,
    PRIMARY KEY (event_id, user_id)
);
CREATE INDEX event_push_actions_user_room ON event_push_actions (user_id, room_id, stream_ordering);
