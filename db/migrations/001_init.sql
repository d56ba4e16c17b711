-- 001_init.sql - the bounced schema, version 1.
--
-- Every table is keyed by shop first (shop_id leads every primary key and
-- unique constraint), so the schema can be distributed by shop (Citus)
-- unchanged.  Results that cannot be attributed to any shop are kept under
-- the reserved shop '_unattributed'.
--
-- Addresses are stored as given (recipient) and normalised (address):
-- the local part as is, '@', the domain lowercased in its IDNA A-label
-- form.  bouncectl and bounced do the normalisation; the platform's send
-- log function lowercases the domain (see bounced_log_send below).

CREATE TABLE shops (
	shop_id        text PRIMARY KEY CHECK (shop_id ~ '^[A-Za-z0-9_][A-Za-z0-9_.-]*$'),
	name           text NOT NULL DEFAULT '',
	notify         text[] NOT NULL DEFAULT '{}',
	sender_domains text NOT NULL DEFAULT '',
	strike_limit   integer NOT NULL DEFAULT 4 CHECK (strike_limit BETWEEN 1 AND 100),
	fatal_reasons  text[] NOT NULL
	    DEFAULT '{userunknown,hostunknown,hasmoved,notaccept,feedback}',
	grace_days     integer NOT NULL DEFAULT 5 CHECK (grace_days BETWEEN 0 AND 365),
	stale_days     integer NOT NULL DEFAULT 30 CHECK (stale_days BETWEEN 1 AND 3650),
	dry_run        boolean NOT NULL DEFAULT false,
	created_at     timestamptz NOT NULL DEFAULT now(),
	updated_at     timestamptz NOT NULL DEFAULT now()
);
INSERT INTO shops (shop_id, name) VALUES ('_unattributed', 'results no shop could be attributed to');

-- A mailbox belongs to the shop whose configuration lists it.  The cursor
-- is (uidvalidity, last_uid) for IMAP; POP3 relies on the per-message key.
CREATE TABLE mailboxes (
	shop_id      text NOT NULL REFERENCES shops ON UPDATE CASCADE,
	mailbox_id   text NOT NULL,
	protocol     text NOT NULL DEFAULT 'ingest',
	uidvalidity  bigint,
	last_uid     bigint NOT NULL DEFAULT 0,
	lease_owner  text,
	lease_until  timestamptz,
	updated_at   timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (shop_id, mailbox_id)
);

-- Every processed mailbox message, bounce or not, parseable or not.
-- msg_key is unique per mailbox: "UIDVALIDITY:UID" (IMAP), "uidl:X"
-- (POP3), "sha256:HEX" (ingest, Maildir).
CREATE TABLE messages (
	shop_id          text NOT NULL,
	message_id       bigint GENERATED ALWAYS AS IDENTITY,
	mailbox_id       text NOT NULL,
	msg_key          text NOT NULL,
	received_at      timestamptz NOT NULL DEFAULT now(),
	occurred_at      timestamptz NOT NULL,
	raw              bytea NOT NULL,
	sha256           text NOT NULL,
	size             bigint NOT NULL,
	kind             text NOT NULL,
	parser           text,
	parse_error      text,
	subject          text,
	from_addr        text,
	reporting_mta    text,
	report_date      text,
	feedback_type    text,
	order_number     text,
	mail_type        text,
	orig_message_id  text,
	orig_envelope_id text,
	orig_from        text,
	orig_to          text,
	orig_subject     text,
	orig_date        text,
	reprocessed_at   timestamptz,
	PRIMARY KEY (shop_id, message_id),
	UNIQUE (shop_id, mailbox_id, msg_key),
	FOREIGN KEY (shop_id, mailbox_id) REFERENCES mailboxes ON UPDATE CASCADE
);
CREATE INDEX messages_occurred ON messages (shop_id, occurred_at);

-- One row per recipient of a message.  shop_id is the shop the result is
-- attributed to (§4); message_shop_id the shop owning the mailbox.
CREATE TABLE results (
	shop_id            text NOT NULL REFERENCES shops ON UPDATE CASCADE,
	result_id          bigint GENERATED ALWAYS AS IDENTITY,
	message_shop_id    text NOT NULL,
	message_id         bigint NOT NULL,
	rcpt_index         integer NOT NULL,
	attribution        text NOT NULL,
	occurred_at        timestamptz NOT NULL,
	kind               text NOT NULL,
	parser             text,
	recipient          text,
	address            text,
	original_recipient text,
	action             text,
	status             text,
	replycode          text,
	diagnostic         text,
	remote_mta         text,
	last_attempt       text,
	reason             text NOT NULL,
	hardbounce         boolean NOT NULL,
	side               text NOT NULL,
	rule               text,
	order_number       text,
	mail_type          text,
	orig_key           text,
	counted            boolean NOT NULL DEFAULT false,
	fatal              boolean NOT NULL DEFAULT false,
	decision           text NOT NULL DEFAULT '',
	PRIMARY KEY (shop_id, result_id),
	UNIQUE (shop_id, message_shop_id, message_id, rcpt_index)
);
CREATE INDEX results_order ON results (shop_id, order_number);
CREATE INDEX results_order_any ON results (order_number);
CREATE INDEX results_address ON results (shop_id, address, occurred_at);
CREATE INDEX results_message ON results (message_shop_id, message_id);

-- Per-recipient state of the rule.  suppressed_at IS NOT NULL means the
-- address is on the suppression list of the shop.
CREATE TABLE recipient_state (
	shop_id             text NOT NULL REFERENCES shops ON UPDATE CASCADE,
	address             text NOT NULL,
	consecutive         integer NOT NULL DEFAULT 0,
	first_failure_at    timestamptz,
	last_failure_at     timestamptz,
	last_success_at     timestamptz,
	last_success_why    text,
	suppressed_at       timestamptz,
	suppressed_rule     text,
	suppressed_result   bigint,
	would_suppress_at   timestamptz,
	would_suppress_rule text,
	updated_at          timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (shop_id, address)
);
CREATE INDEX recipient_state_suppressed ON recipient_state (shop_id, suppressed_at)
    WHERE suppressed_at IS NOT NULL;

-- One original mail counts at most once per recipient.
CREATE TABLE counted_originals (
	shop_id   text NOT NULL,
	address   text NOT NULL,
	orig_key  text NOT NULL,
	result_id bigint NOT NULL,
	PRIMARY KEY (shop_id, address, orig_key)
);

-- The platform's send log, written through bounced_log_send().
CREATE TABLE send_log (
	shop_id      text NOT NULL REFERENCES shops ON UPDATE CASCADE,
	send_id      bigint GENERATED ALWAYS AS IDENTITY,
	order_number text,
	mail_type    text,
	recipient    text NOT NULL,
	address      text NOT NULL,
	message_id   text,
	envelope_id  text,
	sent_at      timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (shop_id, send_id)
);
CREATE INDEX send_log_address ON send_log (shop_id, address, sent_at);
CREATE INDEX send_log_message ON send_log (shop_id, message_id);

-- Sender-side failures: the shop's own setup, for the notifier.
CREATE TABLE shop_alerts (
	shop_id     text NOT NULL REFERENCES shops ON UPDATE CASCADE,
	alert_id    bigint GENERATED ALWAYS AS IDENTITY,
	created_at  timestamptz NOT NULL DEFAULT now(),
	result_id   bigint NOT NULL,
	provider    text,
	reason      text NOT NULL,
	status      text,
	diagnostic  text,
	PRIMARY KEY (shop_id, alert_id)
);

-- Written in the recording transaction, drained by the notifier.
CREATE TABLE notify_outbox (
	shop_id     text NOT NULL REFERENCES shops ON UPDATE CASCADE,
	outbox_id   bigint GENERATED ALWAYS AS IDENTITY,
	created_at  timestamptz NOT NULL DEFAULT now(),
	kind        text NOT NULL CHECK (kind IN ('failure', 'suppressed', 'would_suppress', 'sender_alert')),
	result_id   bigint,
	payload     jsonb NOT NULL DEFAULT '{}',
	sent_at     timestamptz,
	attempts    integer NOT NULL DEFAULT 0,
	last_error  text,
	PRIMARY KEY (shop_id, outbox_id)
);
CREATE INDEX notify_outbox_pending ON notify_outbox (shop_id, outbox_id) WHERE sent_at IS NULL;

-- Manual changes (un-suppressing, shop edits), who and why.
CREATE TABLE audit_log (
	shop_id    text NOT NULL,
	audit_id   bigint GENERATED ALWAYS AS IDENTITY,
	at         timestamptz NOT NULL DEFAULT now(),
	actor      text NOT NULL,
	action     text NOT NULL,
	address    text,
	reason     text NOT NULL,
	details    jsonb NOT NULL DEFAULT '{}',
	PRIMARY KEY (shop_id, audit_id)
);

-- bounced_normalize_address(addr): local part as given, domain lowercased.
-- (IDN U-labels are converted to A-labels by bounced itself; a send log
-- written with a UTF-8 domain still matches, bounced looks up both forms.)
CREATE FUNCTION bounced_normalize_address(addr text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT AS $$
	SELECT CASE WHEN position('@' in btrim(addr)) = 0 THEN btrim(addr)
	ELSE regexp_replace(btrim(addr), '@[^@]*$', '')
	     || '@' || lower(regexp_replace(btrim(addr), '^.*@', '')) END
$$;

-- bounced_log_send(shop, order_number, mail_type, recipient, message_id,
-- envelope_id, sent_at): the platform records one sent mail.  A send that
-- draws no failure within the shop's grace window breaks a recipient's run
-- of failures.  Returns the send_id.
CREATE FUNCTION bounced_log_send(p_shop text, p_order text, p_mail_type text,
    p_recipient text, p_message_id text DEFAULT NULL,
    p_envelope_id text DEFAULT NULL, p_sent_at timestamptz DEFAULT now())
RETURNS bigint LANGUAGE sql AS $$
	INSERT INTO send_log (shop_id, order_number, mail_type, recipient,
	    address, message_id, envelope_id, sent_at)
	VALUES (p_shop, p_order, p_mail_type, p_recipient,
	    bounced_normalize_address(p_recipient),
	    btrim(p_message_id, ' <>'), p_envelope_id, coalesce(p_sent_at, now()))
	RETURNING send_id
$$;

-- Views for the platform ------------------------------------------------

-- The suppression list: addresses the shop must not mail any more.
CREATE VIEW suppression_list AS
SELECT s.shop_id, s.address, s.suppressed_at, s.suppressed_rule,
       s.consecutive, r.reason, r.status, r.diagnostic, r.order_number,
       r.mail_type
FROM recipient_state s
LEFT JOIN results r ON r.shop_id = s.shop_id AND r.result_id = s.suppressed_result
WHERE s.suppressed_at IS NOT NULL;

-- The undeliverable report: every failed delivery with its decision and
-- the recipient's current state.
CREATE VIEW undeliverable_report AS
SELECT r.shop_id, r.result_id, r.occurred_at, r.order_number, r.mail_type,
       r.recipient, r.address, r.action, r.reason, r.hardbounce, r.side,
       r.status, r.replycode, r.diagnostic, r.remote_mta, r.counted,
       r.fatal, r.decision, r.parser, r.rule,
       coalesce(s.consecutive, 0) AS consecutive,
       s.suppressed_at, s.suppressed_rule, s.would_suppress_at,
       m.mailbox_id, m.msg_key
FROM results r
JOIN messages m ON m.shop_id = r.message_shop_id AND m.message_id = r.message_id
LEFT JOIN recipient_state s ON s.shop_id = r.shop_id AND s.address = r.address
WHERE r.action = 'failed' OR r.kind = 'feedback';

-- Failures by order number, for support staff: every result of an order
-- that was not a success (failed, delayed, sender-side, complaints).
CREATE VIEW failures_by_order AS
SELECT r.shop_id, r.order_number, r.mail_type, r.recipient, r.address,
       r.occurred_at, r.kind, r.action, r.reason, r.hardbounce, r.side,
       r.status, r.replycode, r.diagnostic, r.remote_mta, r.counted,
       r.fatal, r.decision, coalesce(s.consecutive, 0) AS consecutive,
       s.suppressed_at, s.suppressed_rule, s.would_suppress_at, r.result_id
FROM results r
LEFT JOIN recipient_state s ON s.shop_id = r.shop_id AND s.address = r.address
WHERE r.order_number IS NOT NULL AND r.order_number <> ''
  AND r.kind NOT IN ('autoreply', 'none')
  AND coalesce(r.action, '') <> 'delivered';
