-- Unread counts sum notify/highlight over a user's push actions in a room
-- after their read position: covering the sums lets the database answer
-- from the index alone.
DROP INDEX event_push_actions_user_room;
CREATE INDEX event_push_actions_user_room ON event_push_actions (user_id, room_id, stream_ordering, notify, highlight);
