-- 007_outbox_guard_set.sql - the outbox guard (003_notify.sql) once per
-- statement, on a Message-ID the writer gives, instead of once per row
-- with a lookup.
--
-- The recorder now writes a batch's outbox rows with one INSERT.  The row
-- trigger planned its lookup afresh for every row (006), about half a
-- millisecond each, the costliest step of recording a failure; and a
-- lookup over results and messages planned on statistics of tables that
-- grew from empty can pick an index that scans the whole shop (measured:
-- 2 ms per row at 5,000 messages).  Now the recorder writes the
-- original's Message-ID on each row (orig_message_id; '' when the
-- original had none), and this statement trigger reads it from the new
-- rows themselves; only a row written without it (NULL, as reprocess
-- writes) is looked up by the primary keys, as before.  Rows of a notice
-- that itself bounced (Message-ID "bounced-notice.*") are deleted again
-- in the same statement, so they are never seen, and their notice is
-- marked bounced with the result of the last such row, as the row
-- trigger left it.

ALTER TABLE notify_outbox ADD COLUMN orig_message_id text;

DROP TRIGGER notify_outbox_guard ON notify_outbox;
DROP FUNCTION bounced_outbox_guard();

CREATE FUNCTION bounced_outbox_guard() RETURNS trigger
LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan AS $$
BEGIN
	WITH hit AS (
		SELECT * FROM (
			SELECT n.shop_id, n.outbox_id, n.result_id,
			       btrim(coalesce(n.orig_message_id,
				   (SELECT m.orig_message_id
				      FROM results r
				      JOIN messages m
				        ON m.shop_id = r.message_shop_id
				       AND m.message_id = r.message_id
				     WHERE r.shop_id = n.shop_id
				       AND r.result_id = n.result_id)),
				   ' <>') AS mid
			  FROM new_outbox n
			 WHERE n.result_id IS NOT NULL) x
		 WHERE x.mid LIKE 'bounced-notice.%'),
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
