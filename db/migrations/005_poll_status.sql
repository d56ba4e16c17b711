-- 005_poll_status.sql - how each mailbox's polls went, for `bouncectl
-- stats` (issue 6 §4; db/poll_status.h).
--
-- The daemon writes these after every poll cycle of a mailbox it holds
-- the lease of (poll_status_record()); nothing else does.  A poll is ok
-- when the mailbox was read to the end and every message was recorded and
-- moved.  last_error keeps the newest error even after later successes
-- (with last_error_at); consecutive_failures says whether it is current.
-- The error is the daemon's log line for it, never a password.

ALTER TABLE mailboxes
    ADD COLUMN last_poll_at         timestamptz,
    ADD COLUMN last_poll_ok         boolean,
    ADD COLUMN last_poll_recorded   integer,
    ADD COLUMN last_success_at      timestamptz,
    ADD COLUMN last_error           text,
    ADD COLUMN last_error_at        timestamptz,
    ADD COLUMN consecutive_failures integer NOT NULL DEFAULT 0,
    ADD COLUMN polls                bigint NOT NULL DEFAULT 0,
    ADD COLUMN poll_errors          bigint NOT NULL DEFAULT 0,
    ADD CONSTRAINT mailboxes_poll_status
        CHECK (consecutive_failures >= 0 AND poll_errors <= polls
               AND (last_poll_at IS NULL) = (last_poll_ok IS NULL));
COMMENT ON COLUMN mailboxes.last_poll_at IS
    'when the last poll cycle of this mailbox ended; NULL: never polled';
COMMENT ON COLUMN mailboxes.last_poll_ok IS
    'whether that poll read the mailbox to the end and recorded and moved every message';
COMMENT ON COLUMN mailboxes.last_poll_recorded IS
    'messages newly recorded by that poll';
COMMENT ON COLUMN mailboxes.last_success_at IS
    'when the last ok poll ended';
COMMENT ON COLUMN mailboxes.last_error IS
    'the newest poll error (kept after later successes; see consecutive_failures)';
COMMENT ON COLUMN mailboxes.last_error_at IS
    'when last_error happened';
COMMENT ON COLUMN mailboxes.consecutive_failures IS
    'failed polls since the last ok one; 0: working';
COMMENT ON COLUMN mailboxes.polls IS
    'poll cycles recorded (a counter)';
COMMENT ON COLUMN mailboxes.poll_errors IS
    'of those, the failed ones (a counter)';
