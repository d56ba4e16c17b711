-- 009_alert_result_index.sql - find a result's shop alert by its id.
--
-- The notifier composes each pending outbox row with the alert of its
-- result (db/outbox.c), and reprocess looks alerts up the same way; with
-- only the primary key (shop_id, alert_id), each lookup read every alert
-- the shop ever had: 0.2 ms a row with 5,000 alerts (EXPLAIN ANALYZE of
-- a composing batch of 500 after the 20,000-message bench: 115 ms), and
-- growing with the shop's history.  Alerts are rare (sender-side
-- failures), so the index costs little to keep.

CREATE INDEX shop_alerts_result ON shop_alerts (shop_id, result_id);
