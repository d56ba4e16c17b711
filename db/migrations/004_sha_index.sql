-- 004_sha_index.sql - find a mailbox's message by its bytes (issue 4 §2;
-- db/mailbox.h mailbox_shas_recorded()).
--
-- The key of an IMAP message is "UIDVALIDITY:UID".  When a server changes
-- a folder's UIDVALIDITY (RFC 3501 2.3.1.1: the folder was deleted and
-- created again, or its index rebuilt) every UID is void, so the daemon
-- lists the folder again from UID 1, and since every key is then new, a
-- message recorded under the old UIDVALIDITY is recognised by the SHA-256
-- of its bytes: it is only acked, never recorded twice.  This index
-- serves that lookup (a batch of bodies at a time).

CREATE INDEX messages_mailbox_sha256 ON messages (shop_id, mailbox_id, sha256);
