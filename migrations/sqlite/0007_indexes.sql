-- Unread counts look up each user's latest event in a room.
CREATE INDEX events_room_sender ON events (room_id, sender, stream_ordering);
