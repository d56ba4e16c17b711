/*
 * poll.c - one poll cycle per mailbox; see poll.h.
 *
 * The sequence is the one of DESIGN.md: the fetcher lends raw bytes,
 * bounce_parse() turns them into a report, store_record_batch() writes
 * the messages, their results, the rule's changes, the outbox and the
 * cursor in one transaction (a batch of up to batch_size messages when
 * the fetcher can ack later, as all three do; else one), and only after
 * COMMIT the fetcher acks each message (moves or flags it).  A message
 * over POLL_COPY_MAX is recorded alone, before the next.  Batches are
 * recorded by the recorder thread (recorder.h) while the next one is
 * fetched and parsed here; at most one is in flight.  A batch that fails
 * is recorded again one message at a time, so only a bad message stays.
 * A message the fetcher lends as already recorded (its ack failed after
 * an earlier COMMIT, or it came back under a new UIDVALIDITY) is only
 * acked.
 * Nothing here logs a password or message text: messages are named by
 * "SHOP/MAILBOX: KEY".
 */
#include "config.h"

#include <string.h>

#include "bounced/shop_sync.h"
#include "bounced/fetch.h"
#include "bounced/lease.h"
#include "bounced/log.h"
#include "bounced/poll.h"
#include "bounced/recorder.h"
#include "bounced/secret.h"
#include "db/mailbox.h"
#include "db/poll_status.h"
#include "db/query.h"

/* A parsed message waiting for its recording transaction. */
struct poll_pending {
	struct raw_msg raw; /* key and data point to the copies below, or
			       data to the fetcher's lent bytes */
	char *key;
	char *copy; /* NULL: data is lent (recorded before the next next()) */
	struct bounce_report *report;
};

/* Messages recorded in one transaction. */
struct poll_batch {
	GArray *msgs; /* struct poll_pending */
	size_t bytes;
	struct store_input *in; /* while recording: one per message */
};

/* The state of one cycle. */
struct poll_run {
	struct poll_ctx *ctx;
	const struct bounced_shop *shop;
	const struct bounced_mailbox *mbox;
	const struct fetch_ops *ops;
	struct fetch *f;
	const char *name;   /* "SHOP/MAILBOX" */
	gint64 uidvalidity; /* the cursor read at the start */
	bool hold_cursor;   /* a message failed: stop advancing */
	bool told_reset;
	struct poll_stats *st;
	struct lease lease;
	struct poll_batch filling; /* parsed, waiting for the recorder */
	struct poll_batch flight;  /* being recorded */
};

/* Messages wait for one recording transaction until they are
   batch_size or hold this many bytes; one larger than POLL_COPY_MAX is
   not copied but recorded at once. */
#define POLL_BATCH_BYTES ((size_t)8 * 1024 * 1024)
#define POLL_COPY_MAX    ((size_t)1024 * 1024)

static const char *const poll_protocols[] = {"imap", "pop3", "maildir"};

void
poll_options(struct poll_ctx *ctx, const struct bounced_config *cfg)
{
	ctx->opts.max_size = (size_t)cfg->max_message_size;
	ctx->opts.order_header = cfg->order_header;
	ctx->opts.type_header = cfg->type_header;
}

int
poll_sync_shops(struct poll_ctx *ctx, const struct bounced_config *cfg,
		char **error_r)
{
	int ret, n;

	ret = db_ensure(ctx->db, error_r);
	if (ret == 0)
		ret = shop_sync_all(ctx->db, cfg, &n, error_r);
	store_reload_shops(ctx->store);
	recorder_reload_shops(ctx->recorder);
	return ret;
}

/* Where a message of this kind goes. */
static enum fetch_dest
poll_dest(const struct bounce_report *report)
{
	switch (report->kind) {
	case BOUNCE_KIND_NONE:
		return FETCH_NOT_BOUNCE;
	case BOUNCE_KIND_ERROR:
		return FETCH_UNPARSEABLE;
	default:
		return FETCH_PROCESSED;
	}
}

/* Acks raw, which is already recorded with raw->recorded_kind, and moves
   the IMAP cursor past it (a no-op unless the UIDVALIDITY changed).
   Returns as poll_message(). */
static int
poll_reack(struct poll_run *run, const struct raw_msg *raw)
{
	struct poll_ctx *ctx = run->ctx;
	char *error = NULL;

	run->st->duplicates++;
	if (raw->uid > 0 && !run->hold_cursor &&
	    mailbox_cursor_set(ctx->db, run->shop->id, run->mbox->name,
			       raw->uidvalidity, raw->uid, &error) < 0) {
		log_warnx("%s: %s: already recorded, cursor not advanced, "
			  "left on the server: %s",
			  run->name, raw->key, error);
		g_free(error);
		run->st->failed++;
		run->hold_cursor = true;
		return PQstatus(db_conn(ctx->db)) == CONNECTION_OK ? 0 : -1;
	}
	if (run->ops->ack(run->f, raw, fetch_dest_of_kind(raw->recorded_kind),
			  &error) < 0) {
		log_warnx("%s: %s: already recorded, still not moved: %s",
			  run->name, raw->key, error);
		g_free(error);
		run->st->failed++;
		return -1;
	}
	log_debug("%s: %s: already recorded; acked now", run->name, raw->key);
	return 0;
}

static void
poll_batch_init(struct poll_batch *b)
{
	b->msgs = g_array_new(FALSE, FALSE, sizeof(struct poll_pending));
	b->bytes = 0;
	b->in = NULL;
}

/* Empties b (its messages and their outcomes). */
static void
poll_batch_clear(struct poll_batch *b)
{
	guint i;

	for (i = 0; i < b->msgs->len; i++) {
		struct poll_pending *p =
		    &g_array_index(b->msgs, struct poll_pending, i);

		g_free(p->key);
		g_free(p->copy);
		report_free(&p->report);
		if (b->in != NULL)
			store_outcome_clear(&b->in[i].out);
	}
	g_clear_pointer(&b->in, g_free);
	g_array_set_size(b->msgs, 0);
	b->bytes = 0;
}

static void
poll_batch_free(struct poll_batch *b)
{
	poll_batch_clear(b);
	g_array_unref(b->msgs);
}

/* Parses raw into the filling batch; copy: keep a copy of its bytes
   (the fetcher's lending ends at the next next()). */
static void
poll_add(struct poll_run *run, const struct raw_msg *raw, bool copy)
{
	struct poll_pending p = {*raw, g_strdup(raw->key), NULL, NULL};

	p.raw.key = p.key;
	p.report = raw->too_large
		       ? bounce_too_large(raw->size, run->ctx->opts.max_size)
		       : bounce_parse(raw->data, raw->len, &run->ctx->opts);
	if (raw->too_large) {
		p.raw.data = NULL;
		p.raw.len = 0;
	} else if (copy) {
		p.copy = g_memdup2(raw->data, raw->len);
		p.raw.data = p.copy;
	}
	g_array_append_val(run->filling.msgs, p);
	run->filling.bytes += p.raw.len;
}

/* The recorder's view of p; the cursor moves only while no message of
   this cycle failed. */
static struct store_input
poll_input(const struct poll_run *run, const struct poll_pending *p)
{
	struct store_input in = {
	    {run->shop->id, run->mbox->name,
	     poll_protocols[run->mbox->protocol], p->key, p->raw.uidvalidity,
	     run->hold_cursor ? 0 : p->raw.uid},
	    p->raw.data != NULL ? p->raw.data : "",
	    p->raw.len,
	    p->report,
	    {0}};

	return in;
}

/* Counts and logs p, recorded with out, and acks it unless acking
   already failed in this batch (*ack_broken). */
static void
poll_done(struct poll_run *run, const struct poll_pending *p,
	  const struct store_outcome *out, bool *ack_broken)
{
	char *error = NULL;

	if (out->duplicate)
		run->st->duplicates++;
	else
		run->st->recorded++;
	if (p->report->kind == BOUNCE_KIND_ERROR && !out->duplicate)
		log_info(
		    "%s: %s: unparseable, kept as message %" G_GINT64_FORMAT
		    ": %s",
		    run->name, p->key, out->message_id, p->report->error);
	if (*ack_broken) {
		run->st->failed++;
		return;
	}
	if (run->ops->ack(run->f, &p->raw, poll_dest(p->report), &error) < 0) {
		log_warnx("%s: %s: recorded but not moved: %s", run->name,
			  p->key, error);
		g_free(error);
		run->st->failed++;
		*ack_broken = true; /* the session is in doubt */
	}
}

/* what (one message's key or "N messages") was not recorded: logged,
   the cursor held.  Returns 0, or -1 when the database is lost. */
static int
poll_not_recorded(struct poll_run *run, const char *what, unsigned n,
		  const char *error, bool db_lost)
{
	log_warnx("%s: %s: not recorded, left on the server: %s", run->name,
		  what, error);
	run->st->failed += n;
	run->hold_cursor = true;
	return db_lost ? -1 : 0;
}

/* Records the messages of b one transaction each (on the poller's own
   connection), after their batch failed: only a message at fault stays
   on the server. */
static int
poll_record_each(struct poll_run *run, struct poll_batch *b,
		 bool *ack_broken)
{
	struct db *db = run->ctx->db;
	guint i;
	int ret = 0;

	for (i = 0; i < b->msgs->len && ret == 0; i++) {
		const struct poll_pending *p =
		    &g_array_index(b->msgs, struct poll_pending, i);
		struct store_input in = poll_input(run, p);
		char *error = NULL;

		if (db_ensure(db, &error) < 0 ||
		    store_record_batch(run->ctx->store, &in, 1, &error) < 0)
			ret = poll_not_recorded(
			    run, p->key, 1, error,
			    PQstatus(db_conn(db)) != CONNECTION_OK);
		else
			poll_done(run, p, &in.out, ack_broken);
		g_free(error);
		store_outcome_clear(&in.out);
	}
	run->st->failed += b->msgs->len - i; /* database lost */
	return ret;
}

/* Waits for the batch in flight and acks its messages (all after its
   COMMIT); a failed batch is recorded again one message at a time.
   Returns 0 (even if messages failed), or -1 when the mailbox cannot go
   on (database or server connection). */
static int
poll_finish(struct poll_run *run)
{
	struct poll_batch *b = &run->flight;
	guint n = b->msgs->len, i;
	bool ack_broken = false, db_lost;
	char *error = NULL;
	int ret = 0;

	if (!recorder_busy(run->ctx->recorder))
		return 0;
	if (recorder_wait(run->ctx->recorder, &db_lost, &error) == 0) {
		for (i = 0; i < n; i++)
			poll_done(run,
				  &g_array_index(b->msgs, struct poll_pending,
						 i),
				  &b->in[i].out, &ack_broken);
	} else if (n > 1 && !db_lost) {
		log_debug("%s: %u messages not recorded together (%s): one by "
			  "one now",
			  run->name, n, error);
		ret = poll_record_each(run, b, &ack_broken);
	} else {
		char *what =
		    n == 1 ? g_strdup(
				 g_array_index(b->msgs, struct poll_pending, 0)
				     .key)
			   : g_strdup_printf("%u messages", n);

		ret = poll_not_recorded(run, what, n, error, db_lost);
		g_free(what);
	}
	g_free(error);
	poll_batch_clear(b);
	return ack_broken ? -1 : ret;
}

/* Finishes the batch in flight, then starts recording the filling one
   (which becomes the one in flight).  Returns as poll_finish(). */
static int
poll_commit(struct poll_run *run)
{
	struct poll_batch swap;
	guint i, n;

	if (poll_finish(run) < 0)
		return -1;
	if ((n = run->filling.msgs->len) == 0)
		return 0;
	swap = run->flight;
	run->flight = run->filling;
	run->filling = swap;
	run->flight.in = g_new0(struct store_input, n);
	for (i = 0; i < n; i++)
		run->flight.in[i] = poll_input(
		    run,
		    &g_array_index(run->flight.msgs, struct poll_pending, i));
	recorder_start(run->ctx->recorder, run->flight.in, n);
	return 0;
}

/* Records and acks every message taken so far.  Returns as
   poll_finish(); messages that could not even be handed to the recorder
   (the batch before them lost the database or the server) count as
   failed and stay on the server. */
static int
poll_drain(struct poll_run *run)
{
	int ret = poll_commit(run);

	if (ret < 0) {
		run->st->failed += run->filling.msgs->len;
		poll_batch_clear(&run->filling);
	}
	return poll_finish(run) < 0 ? -1 : ret;
}

/* Takes raw.  New messages are parsed into the filling batch, which is
   handed to the recorder once it holds batch_size messages or
   POLL_BATCH_BYTES; then the next batch is fetched and parsed while the
   recorder records this one.  A message the fetcher cannot ack later, or
   a large one (no copy), is recorded at once.  A message lent as already
   recorded is only acked, after the others.  Returns as poll_finish(). */
static int
poll_message(struct poll_run *run, const struct raw_msg *raw)
{
	bool lend = !run->ops->ack_any || raw->len > POLL_COPY_MAX;

	if ((raw->recorded_kind != NULL || lend) && poll_drain(run) < 0)
		return -1;
	if (raw->recorded_kind != NULL)
		return poll_reack(run, raw);
	poll_add(run, raw, !lend);
	if (lend)
		return poll_drain(run);
	if (run->filling.msgs->len >= (guint)run->mbox->batch_size ||
	    run->filling.bytes >= POLL_BATCH_BYTES)
		return poll_commit(run);
	return 0;
}

/* Carries out the acks the fetcher queued (all after their COMMIT).
   Returns 0, or -1 (logged) when some could not be done: they are found
   again at the next poll as already recorded. */
static int
poll_flush(struct poll_run *run)
{
	char *error = NULL;
	unsigned n;

	if (run->f == NULL || run->ops->flush == NULL ||
	    (n = run->ops->flush(run->f, &error)) == 0)
		return 0;
	log_warnx("%s: %s", run->name, error);
	g_free(error);
	run->st->failed += n;
	return -1;
}

/* Reads the cursor; libpq notices a lost connection only when it is
   used, so a failure on a dead connection reconnects and tries once more. */
static int
poll_cursor(struct poll_run *run, struct fetch_params *p, char **error_r)
{
	struct db *db = run->ctx->db;
	int tries;

	for (tries = 0; tries < 2; tries++) {
		if (tries > 0 && !db_retry_after_loss(db, error_r))
			return -1;
		if (db_ensure(db, error_r) < 0)
			return -1;
		if (mailbox_cursor_get(db, run->shop->id, run->mbox->name,
				       &p->uidvalidity, &p->last_uid,
				       error_r) == 0)
			return 0;
	}
	return -1;
}

/* fetch_params.recorded: asks the database which keys it has. */
static int
poll_recorded(void *arg, const char *const *keys, guint n,
	      GHashTable *recorded_r, char **error_r)
{
	struct poll_run *run = arg;

	return mailbox_keys_recorded(run->ctx->db, run->shop->id,
				     run->mbox->name, keys, n, recorded_r,
				     error_r);
}

/* fetch_params.recorded_shas: the same by message bytes. */
static int
poll_recorded_shas(void *arg, const char *const *shas, guint n,
		   GHashTable *recorded_r, char **error_r)
{
	struct poll_run *run = arg;

	return mailbox_shas_recorded(run->ctx->db, run->shop->id,
				     run->mbox->name, shas, n, recorded_r,
				     error_r);
}

/* Connects to the database (again) and reads the mailbox's cursor, the
   password, and opens the mailbox. */
static int
poll_open(struct poll_run *run, char **error_r)
{
	struct fetch_params p = {
	    .mbox = run->mbox,
	    .max_size = run->ctx->opts.max_size != 0 ? run->ctx->opts.max_size
						     : BOUNCE_DEFAULT_MAX_SIZE,
	    .recorded = poll_recorded,
	    .recorded_shas = poll_recorded_shas,
	    .recorded_arg = run};
	char *password = NULL;
	int ret;

	if (poll_cursor(run, &p, error_r) < 0)
		return -1;
	run->uidvalidity = p.uidvalidity;
	if (run->mbox->protocol != CONFIG_MAILDIR &&
	    (password = secret_read(run->mbox->password_env,
				   run->mbox->password_file, "",
				   error_r)) == NULL)
		return -1;
	p.password = password;
	ret = run->ops->open(&p, &run->f, error_r);
	secret_free(password);
	return ret;
}

/* Takes the mailbox's lease.  Returns 1, 0 (busy: st->busy), or -1. */
static int
poll_lease(struct poll_run *run, char **error_r)
{
	char *previous = NULL;
	int r;

	r = lease_take(&run->lease, run->ctx->db, run->ctx->instance,
		       poll_lease_seconds(run->ctx, run->mbox), run->shop->id,
		       run->mbox->name,
		       poll_protocols[run->mbox->protocol],
		       !run->ctx->lease_rest || run->ctx->wake, &previous,
		       error_r);
	if (r == 0) {
		log_debug("%s: leased by %s: not polled by %s", run->name,
			  previous, run->ctx->instance);
		run->st->busy = true;
	} else if (r == 1 && previous != NULL)
		log_info("%s: the lease of %s expired: taken over by %s",
			 run->name, previous, run->ctx->instance);
	g_free(previous);
	return r;
}

/* Renews the lease when due; false (logged) when polling must stop. */
static bool
poll_lease_keep(struct poll_run *run, char **error_r)
{
	int r = lease_keep(&run->lease, error_r);

	if (r == 0)
		*error_r = g_strdup_printf("the lease expired and another "
					   "instance took the mailbox: "
					   "stopping (lease %d s too short?)",
					   poll_lease_seconds(run->ctx,
							      run->mbox));
	return r == 1;
}

/* Releases the lease; the mailbox rests half its interval if asked. */
static void
poll_lease_release(struct poll_run *run)
{
	char *error = NULL;

	if (lease_release(&run->lease,
			  run->ctx->lease_rest ? run->mbox->poll_interval / 2
					       : 0,
			  &error) < 0) {
		log_warnx("%s: could not release the lease (it will expire): "
			  "%s",
			  run->name, error);
		g_free(error);
	}
}

int
poll_lease_seconds(const struct poll_ctx *ctx, const struct bounced_mailbox *m)
{
	return ctx->lease_seconds > 0 ? ctx->lease_seconds : m->lease_seconds;
}

int
poll_idle_open(const struct bounced_mailbox *m, struct fetch_idle **w_r,
	       char **error_r)
{
	struct fetch_params p = {.mbox = m};
	char *password;
	int ret;

	*w_r = NULL;
	if (m->protocol != CONFIG_IMAP || !m->idle)
		return 0;
	if ((password = secret_read(m->password_env, m->password_file, "",
				    error_r)) == NULL)
		return -1;
	p.password = password;
	ret = fetch_idle_open(&p, w_r, error_r);
	secret_free(password);
	return ret;
}

/* Records how the cycle went, for bouncectl stats (db/poll_status.h).
   error never holds a password (fetch errors name servers, not
   secrets). */
static void
poll_status(struct poll_run *run, int ret, const char *error)
{
	char *e = NULL;

	if (error == NULL && ret < 0)
		error = "the poll cycle was aborted (see the log)";
	if (poll_status_record(run->ctx->db, run->shop->id, run->mbox->name,
			       error, run->st->recorded, run->st->failed,
			       &e) < 0) {
		log_warnx("%s: poll status not recorded: %s", run->name, e);
		g_free(e);
	}
}

int
poll_mailbox(struct poll_ctx *ctx, const struct bounced_shop *s,
	     const struct bounced_mailbox *m, struct poll_stats *st)
{
	static const struct fetch_ops *const ops[] = {
	    &fetch_imap_ops, &fetch_pop3_ops, &fetch_maildir_ops};
	char *name = g_strdup_printf("%s/%s", s->id, m->name);
	struct poll_run run = {.ctx = ctx,
			       .shop = s,
			       .mbox = m,
			       .ops = ops[m->protocol],
			       .name = name,
			       .st = st};
	struct raw_msg raw;
	char *error = NULL;
	int r, ret = -1;

	memset(st, 0, sizeof(*st));
	poll_batch_init(&run.filling);
	poll_batch_init(&run.flight);
	if ((r = poll_lease(&run, &error)) <= 0) {
		ret = r;
		run.ops = NULL;
		goto out;
	}
	if (poll_open(&run, &error) < 0)
		goto out;
	while (!*ctx->stop && poll_lease_keep(&run, &error) &&
	       (r = run.ops->next(run.f, &raw, &error)) != 0) {
		if (r < 0)
			goto out;
		st->seen++;
		if (!run.told_reset && run.uidvalidity != 0 &&
		    raw.uidvalidity != 0 &&
		    raw.uidvalidity != run.uidvalidity) {
			log_info(
			    "%s: UIDVALIDITY changed from %" G_GINT64_FORMAT
			    " to %" G_GINT64_FORMAT ": cursor reset",
			    name, run.uidvalidity, raw.uidvalidity);
			run.told_reset = true;
		}
		if (poll_message(&run, &raw) < 0)
			goto out;
	}
	if (error == NULL)
		ret = 0;
out:
	if (error != NULL)
		log_warnx("%s: %s", name, error);
	/* what was fetched is recorded even when the cycle ends early */
	if (poll_drain(&run) < 0)
		ret = -1;
	if (run.ops != NULL && poll_flush(&run) < 0)
		ret = -1;
	if (st->seen > 0)
		log_info("%s: %u message%s: %u recorded, %u already recorded, "
			 "%u failed%s",
			 name, st->seen, st->seen == 1 ? "" : "s", st->recorded,
			 st->duplicates, st->failed,
			 ret < 0 ? "; mailbox cycle aborted" : "");
	if (run.ops != NULL) /* leased and tried: record how it went */
		poll_status(&run, ret, error);
	run.ops != NULL ? run.ops->close(&run.f) : (void)0;
	poll_lease_release(&run);
	poll_batch_free(&run.filling);
	poll_batch_free(&run.flight);
	g_free(error);
	g_free(name);
	return ret;
}
