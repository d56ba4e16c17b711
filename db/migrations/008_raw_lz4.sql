-- 008_raw_lz4.sql - compress stored mail with lz4 instead of pglz.
--
-- Every recorded message keeps its raw bytes (messages.raw), most of them
-- a few kilobytes, which PostgreSQL compresses when a row passes about
-- 2 kB.  pglz was a large part of the server's time per recorded message;
-- lz4 (PostgreSQL 14 and later, built with lz4 as Debian's packages are)
-- compresses several times faster at a similar ratio.  Rows stored
-- before keep their pglz form and read the same.

ALTER TABLE messages ALTER COLUMN raw SET COMPRESSION lz4;
