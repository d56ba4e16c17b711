-- 009_lookup_indexes.sql - indexes for the notifier's lookups, which
-- read a shop's whole history without them, on every drain.
--
-- Measured with EXPLAIN ANALYZE on the database left by the
-- 20,000-message bench (5,212 alerts, 5,398 outbox rows, 1,000 of them
-- given up):
--   - composing a batch of 500 outbox rows looks up each row's alert by
--     (shop_id, result_id): with only the primary key it read every
--     alert of the shop, 115.9 ms; 15.2 ms with shop_alerts_result
--     (reprocess looks alerts up the same way);
--   - recording a notice's outcome updates its outbox rows by
--     (shop_id, notice_id): a sequential scan of the whole outbox for
--     every notice sent, 14.3 ms with 5,398 rows; 0.4 ms with
--     notify_outbox_notice;
--   - finding the rows waiting to be composed skipped every row ever
--     given up (failed_at set: a shop without a notify address gives up
--     all its rows), since notify_outbox_uncomposed did not leave them
--     out; notify_outbox_waiting does and replaces it.
-- The partial indexes stay small; alerts and notices are few beside
-- results.

CREATE INDEX shop_alerts_result ON shop_alerts (shop_id, result_id);
CREATE INDEX notify_outbox_notice ON notify_outbox (shop_id, notice_id)
    WHERE notice_id IS NOT NULL;
CREATE INDEX notify_outbox_waiting ON notify_outbox (shop_id, outbox_id)
    WHERE notice_id IS NULL AND sent_at IS NULL AND failed_at IS NULL;
DROP INDEX notify_outbox_uncomposed;
