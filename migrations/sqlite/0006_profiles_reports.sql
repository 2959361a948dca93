-- Custom profile fields (MSC4133, spec v1.16): any namespaced key with a
-- JSON value; displayname and avatar_url stay in `profiles`.
CREATE TABLE profile_fields (
    user_id TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (user_id, field)
);

-- Reports of rooms and events for the server's admins.
CREATE TABLE reports (
    id BIGINT PRIMARY KEY,
    room_id TEXT NOT NULL,
    event_id TEXT,
    reporter TEXT NOT NULL,
    reason TEXT,
    received_ts BIGINT NOT NULL
);

-- /timestamp_to_event looks events up by time.
CREATE INDEX events_room_ts ON events (room_id, origin_server_ts);
