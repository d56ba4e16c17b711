-- 007_outbox_guard_set.sql - the outbox guard (003_notify.sql) once per
-- statement instead of once per row.
--
-- The recorder now writes a batch's outbox rows with one INSERT.  The row
-- trigger planned its lookup afresh for every row (006), about half a
-- millisecond each, the costliest step of recording a failure.  This
-- statement trigger does the same for all rows of an INSERT at once:
-- rows whose result's original Message-ID starts with "bounced-notice."
-- (a notice that itself bounced) are deleted again in the same statement,
-- so they are never seen, and their notice is marked bounced with the
-- result of the last such row, as the row trigger left it.  Rows without
-- a result, or whose result has no such original, are kept.

DROP TRIGGER notify_outbox_guard ON notify_outbox;
DROP FUNCTION bounced_outbox_guard();

CREATE FUNCTION bounced_outbox_guard() RETURNS trigger
LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan AS $$
BEGIN
	WITH hit AS (
		SELECT n.shop_id, n.outbox_id, n.result_id,
		       btrim(m.orig_message_id, ' <>') AS mid
		  FROM new_outbox n
		  JOIN results r ON r.shop_id = n.shop_id
		                AND r.result_id = n.result_id
		  JOIN messages m ON m.shop_id = r.message_shop_id
		                 AND m.message_id = r.message_id
		 WHERE btrim(m.orig_message_id, ' <>') LIKE 'bounced-notice.%'),
	last AS (
		SELECT DISTINCT ON (mid) mid, result_id
		  FROM hit ORDER BY mid, outbox_id DESC),
	noticed AS (
		UPDATE notify_notices s
		   SET bounced_at = coalesce(s.bounced_at, now()),
		       bounce_result = last.result_id
		  FROM last WHERE s.message_id = last.mid)
	DELETE FROM notify_outbox o USING hit
	 WHERE o.shop_id = hit.shop_id AND o.outbox_id = hit.outbox_id;
	RETURN NULL;
END $$;

CREATE TRIGGER notify_outbox_guard AFTER INSERT ON notify_outbox
    REFERENCING NEW TABLE AS new_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION bounced_outbox_guard();
