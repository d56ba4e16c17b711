-- 002_leases.sql - mailbox leases, so several bounced share one database
-- (issue 4 §6; db/mailbox.h, bounced/lease.h).
--
-- 001 already has the columns; this states their meaning and the one
-- invariant the daemon relies on.  An instance ("HOST:PID") polls a
-- mailbox only while lease_owner is its name and lease_until (database
-- time) has not passed.  It takes the lease with SELECT ... FOR UPDATE
-- SKIP LOCKED when the owner is NULL and lease_until passed (a mailbox
-- rests for half its poll interval after a poll), or when the lease
-- expired (its owner died); it renews it while polling and releases it
-- (owner NULL) after.

ALTER TABLE mailboxes ADD CONSTRAINT mailboxes_lease_until
    CHECK (lease_owner IS NULL OR lease_until IS NOT NULL);
COMMENT ON COLUMN mailboxes.lease_owner IS
    'bounced instance (HOST:PID) polling this mailbox now; NULL: none';
COMMENT ON COLUMN mailboxes.lease_until IS
    'when the lease expires (owner set) or the rest after a poll ends (owner NULL)';
