-- 003_notify.sql - the notifier (issue 5): notices built from the outbox.
--
-- A notice is one mail to a shop: one failure, a digest of several, or a
-- sender-side alert.  It is composed and stored (its bytes, Message-ID and
-- recipients) in one transaction with the outbox rows it carries, and only
-- then sent; the sender locks it (FOR UPDATE SKIP LOCKED) for the SMTP
-- transaction and marks it sent in the same transaction after the relay
-- accepted it.  A crash before that COMMIT leaves it queued: it is sent
-- again, byte for byte, with the same Message-ID (docs/notify.md).

CREATE TABLE notify_notices (
	shop_id         text NOT NULL REFERENCES shops ON UPDATE CASCADE,
	notice_id       bigint GENERATED ALWAYS AS IDENTITY,
	message_id      text NOT NULL UNIQUE,
	kind            text NOT NULL CHECK (kind IN ('failure', 'digest', 'alert')),
	alert_key       text,
	items           integer NOT NULL DEFAULT 0,
	rcpts           text[] NOT NULL,
	env_from        text NOT NULL DEFAULT '',
	from_addr       text NOT NULL DEFAULT '',
	raw             bytea NOT NULL,
	created_at      timestamptz NOT NULL DEFAULT now(),
	state           text NOT NULL DEFAULT 'queued'
	    CHECK (state IN ('queued', 'sent', 'failed')),
	attempts        integer NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL DEFAULT now(),
	last_error      text,
	sent_at         timestamptz,
	bounced_at      timestamptz,
	bounce_result   bigint,
	PRIMARY KEY (shop_id, notice_id)
);
CREATE INDEX notify_notices_queued ON notify_notices (next_attempt_at)
    WHERE state = 'queued';
CREATE INDEX notify_notices_recent ON notify_notices (shop_id, kind, created_at);

-- The outbox row's notice (set when composed), and a permanent failure.
ALTER TABLE notify_outbox ADD COLUMN notice_id bigint;
ALTER TABLE notify_outbox ADD COLUMN failed_at timestamptz;
CREATE INDEX notify_outbox_uncomposed ON notify_outbox (shop_id, outbox_id)
    WHERE notice_id IS NULL AND sent_at IS NULL;

-- A notice that itself bounced must never cause another notice: the
-- bounce is recorded like any other (its results, the rule), but its
-- outbox rows are dropped here and the notice is marked bounced.  It is
-- recognised by the original's Message-ID: every notice's starts with
-- "bounced-notice." (the DSN's returned message or headers carry it).
-- (Not by its From: a platform may give notices the shop's own From.)
CREATE FUNCTION bounced_outbox_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	mid text;
BEGIN
	IF NEW.result_id IS NULL THEN
		RETURN NEW;
	END IF;
	SELECT btrim(m.orig_message_id, ' <>') INTO mid
	  FROM results r
	  JOIN messages m ON m.shop_id = r.message_shop_id
	                 AND m.message_id = r.message_id
	 WHERE r.shop_id = NEW.shop_id AND r.result_id = NEW.result_id;
	IF coalesce(mid, '') LIKE 'bounced-notice.%' THEN
		UPDATE notify_notices SET bounced_at = coalesce(bounced_at, now()),
		       bounce_result = NEW.result_id
		 WHERE message_id = mid;
		RETURN NULL;
	END IF;
	RETURN NEW;
END $$;

CREATE TRIGGER notify_outbox_guard BEFORE INSERT ON notify_outbox
    FOR EACH ROW EXECUTE FUNCTION bounced_outbox_guard();
