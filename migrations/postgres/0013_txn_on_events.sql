-- The device and transaction id an event was sent with live on the event
-- row (see the SQLite migration of the same name); `event_txn_ids` keeps
-- spotting retries, without its index by event id.
ALTER TABLE events ADD COLUMN txn_device TEXT, ADD COLUMN txn_id TEXT;
UPDATE events SET txn_device = t.device_id, txn_id = t.txn_id FROM event_txn_ids t WHERE t.event_id = events.event_id;
DROP INDEX event_txn_ids_event;
