-- The device and transaction id an event was sent with live on the event
-- row, as Synapse keeps them in the event's internal metadata: serving an
-- event back to the device that sent it (`unsigned.transaction_id`) needs
-- no lookup, and `event_txn_ids` keeps only its job of spotting retries
-- (pruned after a day), without the index by event id that every new
-- event paid for.
ALTER TABLE events ADD COLUMN txn_device TEXT;
ALTER TABLE events ADD COLUMN txn_id TEXT;
UPDATE events SET
    txn_device = (SELECT t.device_id FROM event_txn_ids t WHERE t.event_id = events.event_id),
    txn_id = (SELECT t.txn_id FROM event_txn_ids t WHERE t.event_id = events.event_id)
    WHERE event_id IN (SELECT event_id FROM event_txn_ids);
DROP INDEX event_txn_ids_event;
