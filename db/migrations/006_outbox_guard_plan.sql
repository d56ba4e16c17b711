-- 006_outbox_guard_plan.sql - the outbox guard (003_notify.sql) plans
-- its lookup afresh on every call.
--
-- PL/pgSQL caches the plan of the guard's SELECT for the whole session.
-- A recorder that starts on empty tables (a new database, a first
-- backlog) gets a generic plan costed on those empty tables, in which
-- every index of results that starts with shop_id looks as good as the
-- primary key: it picked one with only shop_id as index condition, so
-- each outbox row scanned every result of the shop (6.5 ms per row at
-- 20,000 results, quadratic over a backlog) until an ANALYZE happened to
-- invalidate the plan.  A custom plan is made with the current size of
-- the tables and the actual shop and result id, and uses the primary
-- keys of results and messages; planning it costs far less than one
-- wrong scan.  The function's body and behaviour are unchanged.

ALTER FUNCTION bounced_outbox_guard() SET plan_cache_mode = force_custom_plan;
