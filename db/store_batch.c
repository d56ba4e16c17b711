/*
 * store_batch.c - record several messages of one mailbox in one
 * transaction with a few set-based statements; see store_record_batch()
 * in store.h.
 *
 * The outcome is the one of recording the messages one by one, in order,
 * with the per-message statements of the rule (issue 3): every row, every
 * value and every id order is the same.  How:
 *   1. one INSERT of all message rows (with the mailbox row and cursor);
 *      the unique key makes a replay stop there, per message;
 *   2. one upsert locks (creating) the recipient state of every address
 *      that has a failure in the batch, in (shop, address) order, the
 *      order every recorder uses, and returns it;
 *   3. one SELECT learns which (address, original) pairs already counted,
 *      one which addresses have sends in the send log at all;
 *   4. the rule runs here, message by message and recipient by recipient
 *      in address order, on that state as it evolves, collecting rows; a
 *      failure that needs the send log (rare: a run in progress) first
 *      writes the results collected so far, so that the query sees them
 *      exactly as the one-by-one recorder would;
 *   5. one INSERT per table writes the results, the final recipient
 *      states, the counted originals, the shop alerts and the outbox.
 * Never logs.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "db/pgarray.h"
#include "db/rule.h"
#include "db/store.h"
#include "db/store_int.h"
#include "parsers/classify.h"

#define STORE_RETRIES 5

/* How the rule sees one recipient (store_classify()). */
struct batch_event {
	enum rule_event ev;
	bool fatal;
	const char *why; /* static */
};

/* One message of the batch. */
struct batch_msg {
	struct store_msg m; /* m.out is the input's outcome */
	struct store_input *in;
	char *sha;
	char *key;
	GArray *items;  /* struct store_item, in address order */
	GArray *events; /* struct batch_event, one per item */
	bool inserted;  /* new in this attempt (else a replay) */
};

/* A result row waiting to be written. */
struct batch_result {
	struct batch_msg *bm;
	const struct store_item *it;
	bool counted;
	bool fatal;
	char *decision;
	gint64 result_id; /* 0 until written */
};

/* The rule state of one (shop, address) as this batch changes it. */
struct batch_state {
	const char *shop_id; /* borrowed from the store's shops */
	const char *address; /* borrowed from an item */
	bool locked;  /* read (and locked) at the start: has a failure */
	bool exists;  /* the row exists at this point of the sequence */
	bool dirty;   /* to be written */
	struct rule_state st;
	gint64 first_failure_at; /* first counted failure here, or 0 */
	bool failure_counted;
	gint64 suppressed_at;
	char *suppressed_rule;
	guint suppressed_result; /* index into results */
	gint64 would_at;
	char *would_rule;
	gint64 success_at; /* latest success applied, or 0 */
	const char *success_why;
};

/* A failure of a new message: a recipient whose state the rule reads. */
struct batch_failure {
	struct batch_msg *bm;
	const struct store_item *it;
};

/* A row of counted_originals, shop_alerts or notify_outbox. */
struct batch_row {
	guint result; /* index into results */
	const char *kind; /* outbox kind */
	const char *decision;
};

/* One attempt at the batch transaction. */
struct batch {
	struct store *store;
	struct batch_msg *msgs;
	guint n;
	GArray *failures;  /* struct batch_failure, in batch order */
	GArray *results;   /* struct batch_result */
	guint written;     /* results[0..written-1] are in the database */
	GHashTable *state; /* "shop\naddress" -> struct batch_state */
	GHashTable *counted; /* "shop\naddress\norig_key" set */
	GHashTable *sent;    /* "shop\naddress" with a send_log row */
	GArray *counted_rows; /* struct batch_row */
	GArray *alerts;       /* struct batch_row */
	GArray *outbox;       /* struct batch_row */
};

/* Statement parameters: text values and binary arrays, in order. */
struct batch_params {
	const char *v[32];
	int len[32];
	int fmt[32];
	int n;
};

static void
bp_text(struct batch_params *p, const char *s)
{
	g_assert(p->n < (int)G_N_ELEMENTS(p->v));
	p->v[p->n] = s;
	p->len[p->n] = 0;
	p->fmt[p->n++] = 0;
}

static void
bp_array(struct batch_params *p, struct pgarray *a)
{
	g_assert(p->n < (int)G_N_ELEMENTS(p->v));
	p->v[p->n] = pgarray_finish(a, &p->len[p->n]);
	p->fmt[p->n++] = 1;
}

/* Initialises n text arrays. */
static void
batch_arrays_init(struct pgarray *a, int n)
{
	int i;

	for (i = 0; i < n; i++)
		pgarray_init(&a[i], PGARRAY_TEXT);
}

static void
batch_arrays_clear(struct pgarray *a, int n)
{
	int i;

	for (i = 0; i < n; i++)
		pgarray_clear(&a[i]);
}

/* Runs sql with params on the store's database. */
static PGresult *
batch_query(struct batch *b, const char *name, const char *sql,
	    struct batch_params *p, char **error_r)
{
	return db_query_bin(b->store->db, name, sql, p->n, p->v, p->len, p->fmt,
			    error_r);
}

/* Runs sql with the n arrays a as its parameters $1..$n, and clears
   them.  Returns the result (PQclear() it) or NULL and *error_r. */
static PGresult *
batch_query_arrays(struct batch *b, const char *name, const char *sql,
		   struct pgarray *a, int n, char **error_r)
{
	struct batch_params p = {0};
	PGresult *res;
	int k;

	for (k = 0; k < n; k++)
		bp_array(&p, &a[k]);
	res = batch_query(b, name, sql, &p, error_r);
	batch_arrays_clear(a, n);
	return res;
}

/* The same for a statement without result rows.  Returns 0 or -1. */
static int
batch_exec_arrays(struct batch *b, const char *name, const char *sql,
		  struct pgarray *a, int n, char **error_r)
{
	PGresult *res = batch_query_arrays(b, name, sql, a, n, error_r);

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* ------------------------------------------------------------ messages */

/* The message rows ($4..$24: arrays of msg_key, Unix time, raw bytes,
   sha256, size and the STORE_MESSAGE_PARAMS columns) with the mailbox row
   ($1 shop, $2 mailbox, $3 protocol); see batch_message_cursor_sql. */
#define BATCH_MESSAGE_INSERT                                                   \
	"INSERT INTO messages (shop_id, mailbox_id, msg_key, occurred_at, "    \
	"raw, sha256, size, kind, parser, parse_error, subject, from_addr, "   \
	"reporting_mta, report_date, feedback_type, order_number, mail_type, " \
	"orig_message_id, orig_envelope_id, orig_from, orig_to, "              \
	"orig_subject, orig_date) "                                            \
	"SELECT $1, $2, u.k, to_timestamp(u.t::float8), u.r, u.s, "            \
	"u.z::bigint, u.c1, u.c2, u.c3, u.c4, u.c5, u.c6, u.c7, u.c8, u.c9, "  \
	"u.c10, u.c11, u.c12, u.c13, u.c14, u.c15, u.c16 "                     \
	"FROM unnest($4::text[], $5::text[], $6::bytea[], $7::text[], "        \
	"$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], "      \
	"$13::text[], $14::text[], $15::text[], $16::text[], $17::text[], "    \
	"$18::text[], $19::text[], $20::text[], $21::text[], $22::text[], "    \
	"$23::text[], $24::text[]) WITH ORDINALITY AS u(k, t, r, s, z, c1, "   \
	"c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, "  \
	"ord) ORDER BY u.ord "                                                 \
	"ON CONFLICT (shop_id, mailbox_id, msg_key) DO NOTHING "               \
	"RETURNING msg_key, message_id"

/* The mailbox row is created if missing in the same statement: the
   foreign key of messages is checked at its end, when the row is there. */
static const char batch_message_sql[] =
    "WITH mb AS (INSERT INTO mailboxes (shop_id, mailbox_id, protocol) "
    "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING) " BATCH_MESSAGE_INSERT;

/* The same with the IMAP cursor advanced to ($25 UIDVALIDITY, $26 UID):
   a new UIDVALIDITY replaces the old cursor, under the same one last_uid
   only grows.  The mailbox row is thus locked first in the transaction,
   before any recipient state, by every recorder alike; a replay still
   moves the cursor. */
static const char batch_message_cursor_sql[] =
    "WITH mb AS (INSERT INTO mailboxes AS x (shop_id, mailbox_id, "
    "protocol, uidvalidity, last_uid) VALUES ($1, $2, $3, $25::bigint, "
    "$26::bigint) ON CONFLICT (shop_id, mailbox_id) DO UPDATE SET "
    "last_uid = CASE WHEN x.uidvalidity IS DISTINCT FROM $25::bigint "
    "THEN $26::bigint ELSE greatest(x.last_uid, $26::bigint) END, "
    "uidvalidity = $25::bigint, updated_at = now()) " BATCH_MESSAGE_INSERT;

/* The cursor the batch advances: the UIDVALIDITY and highest UID of its
   messages that carry one (uid > 0).  Returns false if none does. */
static bool
batch_cursor(const struct batch *b, gint64 *uidvalidity_r, gint64 *uid_r)
{
	guint i;

	*uid_r = 0;
	for (i = 0; i < b->n; i++) {
		const struct store_source *s = &b->msgs[i].in->src;

		if (s->uid > 0 && s->uid >= *uid_r) {
			*uid_r = s->uid;
			*uidvalidity_r = s->uidvalidity;
		}
	}
	return *uid_r > 0;
}

/* Inserts the message rows; marks the new ones inserted with their id. */
static int
batch_insert_messages(struct batch *b, char **error_r)
{
	enum { NA = 5 + STORE_MESSAGE_PARAMS };
	const struct store_source *src0 = &b->msgs[0].in->src;
	struct pgarray a[NA];
	struct batch_params p = {0};
	char v[24], u[24];
	gint64 uidvalidity = 0, uid;
	bool cursor = batch_cursor(b, &uidvalidity, &uid);
	GHashTable *by_key = g_hash_table_new(g_str_hash, g_str_equal);
	PGresult *res;
	guint i;
	int k;

	batch_arrays_init(a, NA);
	a[2].elem_oid = PGARRAY_BYTEA;
	for (i = 0; i < b->n; i++) {
		struct batch_msg *bm = &b->msgs[i];
		const char *cols[STORE_MESSAGE_PARAMS];

		bm->inserted = false;
		/* the same key twice in one batch: the later is a replay */
		if (g_hash_table_contains(by_key, bm->key))
			continue;
		g_hash_table_insert(by_key, bm->key, bm);
		pgarray_add_str(&a[0], bm->key);
		pgarray_add_str(&a[1], bm->m.when);
		pgarray_add(&a[2], bm->in->raw, bm->in->len);
		pgarray_add_str(&a[3], bm->sha);
		pgarray_add_int(&a[4], (gint64)bm->in->len);
		store_message_params(bm->m.report, cols);
		for (k = 0; k < STORE_MESSAGE_PARAMS; k++)
			pgarray_add_str(&a[5 + k], cols[k]);
	}
	bp_text(&p, b->msgs[0].m.message_shop);
	bp_text(&p, src0->mailbox_id);
	bp_text(&p, src0->protocol != NULL ? src0->protocol : "ingest");
	for (k = 0; k < NA; k++)
		bp_array(&p, &a[k]);
	if (cursor) {
		g_snprintf(v, sizeof(v), "%" G_GINT64_FORMAT, uidvalidity);
		g_snprintf(u, sizeof(u), "%" G_GINT64_FORMAT, uid);
		bp_text(&p, v);
		bp_text(&p, u);
	}
	res = batch_query(b, cursor ? "batch_message_cursor" : "batch_message",
			  cursor ? batch_message_cursor_sql : batch_message_sql,
			  &p, error_r);
	batch_arrays_clear(a, NA);
	for (k = 0; res != NULL && k < PQntuples(res); k++) {
		struct batch_msg *bm =
		    g_hash_table_lookup(by_key, PQgetvalue(res, k, 0));

		if (bm == NULL)
			continue;
		bm->inserted = true;
		g_strlcpy(bm->m.message_id, PQgetvalue(res, k, 1),
			  sizeof(bm->m.message_id));
	}
	g_hash_table_destroy(by_key);
	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

/* ------------------------------------------------------- recipient state */

static char *
batch_state_key(const char *shop_id, const char *address)
{
	return g_strconcat(shop_id, "\n", address, NULL);
}

static void
batch_state_free(gpointer p)
{
	struct batch_state *s = p;

	g_free(s->suppressed_rule);
	g_free(s->would_rule);
	g_free(s);
}

/* The state entry of (shop_id, address), created (not locked) if
   missing. */
static struct batch_state *
batch_state_get(struct batch *b, const char *shop_id, const char *address)
{
	char *key = batch_state_key(shop_id, address);
	struct batch_state *s = g_hash_table_lookup(b->state, key);

	if (s != NULL) {
		g_free(key);
		return s;
	}
	s = g_new0(struct batch_state, 1);
	s->shop_id = shop_id;
	s->address = address;
	g_hash_table_insert(b->state, key, s);
	return s;
}

static gint64
batch_epoch(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col)
		   ? 0
		   : g_ascii_strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* Collects the failures of the new messages (known once the message
   rows are in), in batch order, for the statements that read their
   state. */
static void
batch_collect_failures(struct batch *b)
{
	guint i, j;

	for (i = 0; i < b->n; i++) {
		struct batch_msg *bm = &b->msgs[i];

		for (j = 0; bm->inserted && j < bm->items->len; j++) {
			struct batch_failure f = {
			    bm, &g_array_index(bm->items, struct store_item, j)};

			if (g_array_index(bm->events, struct batch_event, j)
				.ev == RULE_FAILURE)
				g_array_append_val(b->failures, f);
		}
	}
}

/* Locks (creating) and reads the state of every address with a failure,
   in (shop, address) order. */
static int
batch_lock_states(struct batch *b, char **error_r)
{
	struct pgarray a[2];
	GHashTableIter iter;
	gpointer value;
	PGresult *res;
	guint i;
	int r;

	for (i = 0; i < b->failures->len; i++) {
		const struct batch_failure *f =
		    &g_array_index(b->failures, struct batch_failure, i);

		batch_state_get(b, f->bm->m.shop_id, f->it->address)->locked =
		    true;
	}
	if (g_hash_table_size(b->state) == 0)
		return 0;
	batch_arrays_init(a, 2);
	g_hash_table_iter_init(&iter, b->state);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		const struct batch_state *s = value;

		pgarray_add_str(&a[0], s->shop_id);
		pgarray_add_str(&a[1], s->address);
	}
	res = batch_query_arrays(
	    b, "batch_lock_states",
	    "INSERT INTO recipient_state AS s (shop_id, address) "
	    "SELECT u.s, u.a FROM unnest($1::text[], $2::text[]) AS u(s, a) "
	    "ORDER BY u.s, u.a ON CONFLICT (shop_id, address) DO UPDATE "
	    "SET updated_at = s.updated_at RETURNING shop_id, address, "
	    "consecutive, floor(extract(epoch FROM last_failure_at))::bigint, "
	    "floor(extract(epoch FROM suppressed_at))::bigint, "
	    "floor(extract(epoch FROM would_suppress_at))::bigint, xmax = 0",
	    a, 2, error_r);
	if (res == NULL)
		return -1;
	for (r = 0; r < PQntuples(res); r++) {
		char *key = batch_state_key(PQgetvalue(res, r, 0),
					    PQgetvalue(res, r, 1));
		struct batch_state *s = g_hash_table_lookup(b->state, key);

		g_free(key);
		if (s == NULL)
			continue;
		s->st.consecutive = atoi(PQgetvalue(res, r, 2));
		s->st.last_failure_at = batch_epoch(res, r, 3);
		s->st.suppressed_at = batch_epoch(res, r, 4);
		s->st.would_suppress_at = batch_epoch(res, r, 5);
		/* a row this batch created exists only from its first
		   failure on, as for the one-by-one recorder */
		s->exists = *PQgetvalue(res, r, 6) != 't';
	}
	PQclear(res);
	return 0;
}

static char *
batch_counted_key(const char *shop_id, const char *address,
		  const char *orig_key)
{
	return g_strconcat(shop_id, "\n", address, "\n", orig_key, NULL);
}

/* Learns which (address, original) pairs of the failures already
   counted. */
static int
batch_read_counted(struct batch *b, char **error_r)
{
	struct pgarray a[3];
	PGresult *res;
	guint i;
	int r;

	batch_arrays_init(a, 3);
	for (i = 0; i < b->failures->len; i++) {
		const struct batch_failure *f =
		    &g_array_index(b->failures, struct batch_failure, i);

		pgarray_add_str(&a[0], f->bm->m.shop_id);
		pgarray_add_str(&a[1], f->it->address);
		pgarray_add_str(&a[2], f->bm->m.orig_key);
	}
	if (a[0].n == 0) {
		batch_arrays_clear(a, 3);
		return 0;
	}
	res = batch_query_arrays(b, "batch_read_counted",
			  "SELECT c.shop_id, c.address, c.orig_key FROM "
			  "unnest($1::text[], $2::text[], $3::text[]) AS "
			  "u(s, a, k) JOIN counted_originals c ON c.shop_id = "
			  "u.s AND c.address = u.a AND c.orig_key = u.k",
			  a, 3, error_r);
	if (res == NULL)
		return -1;
	for (r = 0; r < PQntuples(res); r++)
		g_hash_table_add(b->counted,
				 batch_counted_key(PQgetvalue(res, r, 0),
						   PQgetvalue(res, r, 1),
						   PQgetvalue(res, r, 2)));
	PQclear(res);
	return 0;
}

/* Learns which failed addresses (or their UTF-8 forms) have any send in
   the send log: only those can have a send that breaks their run, so
   only for those the rule asks the database (store_quiet_send()). */
static int
batch_read_sent(struct batch *b, char **error_r)
{
	struct pgarray a[2];
	PGresult *res;
	guint i;
	int r;

	batch_arrays_init(a, 2);
	for (i = 0; i < b->failures->len; i++) {
		const struct batch_failure *f =
		    &g_array_index(b->failures, struct batch_failure, i);

		pgarray_add_str(&a[0], f->bm->m.shop_id);
		pgarray_add_str(&a[1], f->it->address);
		if (f->it->address_utf8 != NULL) {
			pgarray_add_str(&a[0], f->bm->m.shop_id);
			pgarray_add_str(&a[1], f->it->address_utf8);
		}
	}
	if (a[0].n == 0) {
		batch_arrays_clear(a, 2);
		return 0;
	}
	res = batch_query_arrays(b, "batch_read_sent",
			  "SELECT DISTINCT u.s, u.a FROM unnest($1::text[], "
			  "$2::text[]) AS u(s, a) WHERE EXISTS (SELECT 1 FROM "
			  "send_log l WHERE l.shop_id = u.s AND l.address = "
			  "u.a)",
			  a, 2, error_r);
	if (res == NULL)
		return -1;
	for (r = 0; r < PQntuples(res); r++)
		g_hash_table_add(b->sent,
				 batch_state_key(PQgetvalue(res, r, 0),
						 PQgetvalue(res, r, 1)));
	PQclear(res);
	return 0;
}

/* True if shop has a send to address or address_utf8 in the send log. */
static bool
batch_has_sends(const struct batch *b, const char *shop_id,
		const struct store_item *it)
{
	char *k1 = batch_state_key(shop_id, it->address);
	char *k2 = it->address_utf8 != NULL
		       ? batch_state_key(shop_id, it->address_utf8)
		       : NULL;
	bool has = g_hash_table_contains(b->sent, k1) ||
		   (k2 != NULL && g_hash_table_contains(b->sent, k2));

	g_free(k1);
	g_free(k2);
	return has;
}

/* ------------------------------------------------------------- results */

/* Queues a result row; returns its index.  Takes decision. */
static guint
batch_add_result(struct batch *b, struct batch_msg *bm,
		 const struct store_item *it, bool counted, bool fatal,
		 char *decision)
{
	struct batch_result r = {bm, it, counted, fatal, decision, 0};

	g_array_append_val(b->results, r);
	bm->m.out->results++;
	return b->results->len - 1;
}

/* Writes the queued results not written yet and learns their ids. */
static int
batch_write_results(struct batch *b, char **error_r)
{
	enum { NA = STORE_RESULT_PARAMS + 3 };
	struct pgarray a[NA];
	GHashTable *by_row;
	PGresult *res;
	guint i;
	int k, r;

	if (b->written == b->results->len)
		return 0;
	batch_arrays_init(a, NA);
	by_row = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (i = b->written; i < b->results->len; i++) {
		struct batch_result *br =
		    &g_array_index(b->results, struct batch_result, i);
		const char *cols[STORE_RESULT_PARAMS];
		char index[16];

		store_result_params(&br->bm->m, br->it, cols, index);
		for (k = 0; k < STORE_RESULT_PARAMS; k++)
			pgarray_add_str(&a[k], cols[k]);
		pgarray_add_str(&a[NA - 3], br->counted ? "t" : "f");
		pgarray_add_str(&a[NA - 2], br->fatal ? "t" : "f");
		pgarray_add_str(&a[NA - 1], br->decision);
		g_hash_table_insert(by_row,
				    g_strconcat(br->bm->m.message_id, "/",
						index, NULL),
				    br);
	}
	res = batch_query_arrays(
	    b, "batch_results",
	    "INSERT INTO results (shop_id, message_shop_id, message_id, "
	    "rcpt_index, attribution, occurred_at, kind, parser, recipient, "
	    "address, original_recipient, action, status, replycode, "
	    "diagnostic, remote_mta, last_attempt, reason, hardbounce, side, "
	    "rule, order_number, mail_type, orig_key, counted, fatal, "
	    "decision) SELECT u.c1, u.c2, u.c3::bigint, u.c4::int, u.c5, "
	    "to_timestamp(u.c6::float8), u.c7, u.c8, u.c9, u.c10, u.c11, "
	    "u.c12, u.c13, u.c14, u.c15, u.c16, u.c17, u.c18, "
	    "u.c19::boolean, u.c20, u.c21, u.c22, u.c23, u.c24, "
	    "u.c25::boolean, u.c26::boolean, u.c27 FROM unnest($1::text[], "
	    "$2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
	    "$7::text[], $8::text[], $9::text[], $10::text[], $11::text[], "
	    "$12::text[], $13::text[], $14::text[], $15::text[], $16::text[], "
	    "$17::text[], $18::text[], $19::text[], $20::text[], $21::text[], "
	    "$22::text[], $23::text[], $24::text[], $25::text[], $26::text[], "
	    "$27::text[]) WITH ORDINALITY AS u(c1, c2, c3, c4, c5, c6, c7, "
	    "c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19, c20, "
	    "c21, c22, c23, c24, c25, c26, c27, ord) ORDER BY u.ord "
	    "RETURNING message_id, rcpt_index, result_id",
	    a, NA, error_r);
	for (r = 0; res != NULL && r < PQntuples(res); r++) {
		char *key = g_strconcat(PQgetvalue(res, r, 0), "/",
					PQgetvalue(res, r, 1), NULL);
		struct batch_result *br = g_hash_table_lookup(by_row, key);

		g_free(key);
		if (br != NULL)
			br->result_id = batch_epoch(res, r, 2);
	}
	g_hash_table_destroy(by_row);
	if (res == NULL)
		return -1;
	PQclear(res);
	b->written = b->results->len;
	return 0;
}

static gint64
batch_result_id(const struct batch *b, guint result)
{
	return g_array_index(b->results, struct batch_result, result)
	    .result_id;
}

/* ---------------------------------------------------------------- rule */

static void
batch_add_row(GArray *rows, guint result, const char *kind,
	      const char *decision)
{
	struct batch_row row = {result, kind, decision};

	g_array_append_val(rows, row);
}

/* A success (delivered, auto-reply) breaks the address's run. */
static void
batch_success(struct batch *b, struct batch_msg *bm,
	      const struct store_item *it, const char *why)
{
	struct batch_state *s;

	batch_add_result(b, bm, it, false, false, g_strdup(why));
	if (bm->m.shop == NULL || it->address == NULL)
		return;
	s = batch_state_get(b, bm->m.shop_id, it->address);
	if (s->locked && !s->exists)
		return; /* an UPDATE of a row that is not there yet */
	s->st.consecutive = 0;
	s->success_at = MAX(s->success_at, bm->m.when_s);
	s->success_why = why;
	s->dirty = true;
}

/* A sender-side result: recorded, never counted, a shop alert. */
static void
batch_sender(struct batch *b, struct batch_msg *bm,
	     const struct store_item *it, const char *why)
{
	guint r = batch_add_result(b, bm, it, false, false, g_strdup(why));

	if (bm->m.shop == NULL)
		return;
	batch_add_row(b->alerts, r, NULL, NULL);
	batch_add_row(b->outbox, r, "sender_alert", why);
	bm->m.out->alerts++;
}

/* Fills the facts the rule needs for a failure of it. */
static int
batch_facts(struct batch *b, struct batch_msg *bm, const struct store_item *it,
	    const struct batch_state *s, struct rule_facts *f,
	    char **error_r)
{
	char *key =
	    batch_counted_key(bm->m.shop_id, it->address, bm->m.orig_key);

	f->orig_counted = g_hash_table_contains(b->counted, key);
	g_free(key);
	if (s->st.consecutive == 0 || f->orig_counted ||
	    !batch_has_sends(b, bm->m.shop_id, it))
		return 0;
	/* the send log query looks at earlier results: write them first */
	if (batch_write_results(b, error_r) < 0)
		return -1;
	return store_quiet_send(b->store->db, bm->m.shop_id, it->address,
				it->address_utf8, s->st.last_failure_at,
				bm->m.when_s, bm->m.shop->rule.grace_days,
				bm->m.orig_key, &f->quiet_send_at, error_r);
}

/* A failure: decide on the evolving state, queue what the rule wrote. */
static int
batch_failure(struct batch *b, struct batch_msg *bm,
	      const struct store_item *it, bool fatal, char **error_r)
{
	const struct rule_settings *rs = &bm->m.shop->rule;
	struct batch_state *s = batch_state_get(b, bm->m.shop_id, it->address);
	struct rule_facts f = {0};
	char *decision = NULL;
	bool counted, suppress;
	guint r;

	s->exists = true;
	f.when = bm->m.when_s;
	f.fatal = fatal;
	if (batch_facts(b, bm, it, s, &f, error_r) < 0)
		return -1;
	counted = rule_apply_failure(rs, &s->st, &f, &suppress, &decision);
	r = batch_add_result(b, bm, it, counted, fatal, decision);
	if (!counted)
		return 0;
	bm->m.out->counted++;
	s->dirty = true;
	s->failure_counted = true;
	if (s->first_failure_at == 0)
		s->first_failure_at = f.when;
	if (suppress) {
		char *rule = rule_suppress_name(
		    rs, &f, classify_reason_name(it->rcpt->reason));

		bm->m.out->suppressed++;
		if (rs->dry_run) {
			g_free(s->would_rule);
			s->would_rule = rule;
			s->would_at = f.when;
			s->st.would_suppress_at = f.when;
		} else {
			g_free(s->suppressed_rule);
			s->suppressed_rule = rule;
			s->suppressed_at = f.when;
			s->suppressed_result = r;
			s->st.suppressed_at = f.when;
		}
	}
	g_hash_table_add(b->counted, batch_counted_key(bm->m.shop_id,
						       it->address,
						       bm->m.orig_key));
	batch_add_row(b->counted_rows, r, NULL, NULL);
	batch_add_row(b->outbox, r, "failure", decision);
	if (suppress)
		batch_add_row(b->outbox, r,
			      rs->dry_run ? "would_suppress" : "suppressed",
			      decision);
	return 0;
}

/* Runs the rule over every recipient of the new messages, in order. */
static int
batch_apply_rule(struct batch *b, char **error_r)
{
	guint i, j;

	for (i = 0; i < b->n; i++) {
		struct batch_msg *bm = &b->msgs[i];

		for (j = 0; bm->inserted && j < bm->items->len; j++) {
			const struct store_item *it =
			    &g_array_index(bm->items, struct store_item, j);
			const struct batch_event *e =
			    &g_array_index(bm->events, struct batch_event, j);

			switch (e->ev) {
			case RULE_SUCCESS:
				batch_success(b, bm, it, e->why);
				break;
			case RULE_SENDER:
				batch_sender(b, bm, it, e->why);
				break;
			case RULE_FAILURE:
				if (batch_failure(b, bm, it, e->fatal,
						  error_r) < 0)
					return -1;
				break;
			case RULE_IGNORE:
			default:
				batch_add_result(b, bm, it, false, false,
						 g_strconcat("not counted: ",
							     e->why, NULL));
				break;
			}
		}
	}
	return 0;
}

/* ------------------------------------------------------- final writes */

/* Adds t (Unix seconds) to a, or NULL when t is 0. */
static void
batch_add_time(struct pgarray *a, gint64 t)
{
	if (t != 0)
		pgarray_add_int(a, t);
	else
		pgarray_add_str(a, NULL);
}

/* Writes the final state of every address the batch changed. */
static int
batch_write_states(struct batch *b, char **error_r)
{
	enum { NA = 12 };
	struct pgarray a[NA];
	GHashTableIter iter;
	gpointer value;

	batch_arrays_init(a, NA);
	g_hash_table_iter_init(&iter, b->state);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		const struct batch_state *s = value;

		if (!s->dirty)
			continue;
		pgarray_add_str(&a[0], s->shop_id);
		pgarray_add_str(&a[1], s->address);
		pgarray_add_int(&a[2], s->st.consecutive);
		batch_add_time(&a[3],
			       s->failure_counted ? s->st.last_failure_at : 0);
		batch_add_time(&a[4], s->first_failure_at);
		batch_add_time(&a[5], s->suppressed_at);
		pgarray_add_str(&a[6], s->suppressed_rule);
		if (s->suppressed_at != 0)
			pgarray_add_int(&a[7],
					batch_result_id(b, s->suppressed_result));
		else
			pgarray_add_str(&a[7], NULL);
		batch_add_time(&a[8], s->would_at);
		pgarray_add_str(&a[9], s->would_rule);
		batch_add_time(&a[10], s->success_at);
		pgarray_add_str(&a[11], s->success_at != 0 ? s->success_why
							   : NULL);
	}
	if (a[0].n == 0) {
		batch_arrays_clear(a, NA);
		return 0;
	}
	return batch_exec_arrays(
	    b, "batch_states",
	    "UPDATE recipient_state AS s SET consecutive = u.cons::int, "
	    "last_failure_at = coalesce(to_timestamp(u.lf::float8), "
	    "s.last_failure_at), first_failure_at = "
	    "coalesce(s.first_failure_at, to_timestamp(u.ff::float8)), "
	    "suppressed_at = coalesce(to_timestamp(u.sa::float8), "
	    "s.suppressed_at), suppressed_rule = CASE WHEN u.sa IS NULL THEN "
	    "s.suppressed_rule ELSE u.sr END, suppressed_result = CASE WHEN "
	    "u.sa IS NULL THEN s.suppressed_result ELSE u.sres::bigint END, "
	    "would_suppress_at = coalesce(to_timestamp(u.wa::float8), "
	    "s.would_suppress_at), would_suppress_rule = CASE WHEN u.wa IS "
	    "NULL THEN s.would_suppress_rule ELSE u.wr END, last_success_at = "
	    "CASE WHEN u.oka IS NULL THEN s.last_success_at ELSE "
	    "greatest(s.last_success_at, to_timestamp(u.oka::float8)) END, "
	    "last_success_why = CASE WHEN u.oka IS NULL THEN "
	    "s.last_success_why ELSE u.okw END, updated_at = now() FROM "
	    "unnest($1::text[], $2::text[], $3::text[], $4::text[], "
	    "$5::text[], $6::text[], $7::text[], $8::text[], $9::text[], "
	    "$10::text[], $11::text[], $12::text[]) AS u(sh, ad, cons, lf, "
	    "ff, sa, sr, sres, wa, wr, oka, okw) WHERE s.shop_id = u.sh AND "
	    "s.address = u.ad",
	    a, NA, error_r);
}

/* Writes the counted originals. */
static int
batch_write_counted(struct batch *b, char **error_r)
{
	struct pgarray a[4];
	guint i;

	if (b->counted_rows->len == 0)
		return 0;
	batch_arrays_init(a, 4);
	for (i = 0; i < b->counted_rows->len; i++) {
		guint r = g_array_index(b->counted_rows, struct batch_row, i)
			      .result;
		const struct batch_result *br =
		    &g_array_index(b->results, struct batch_result, r);

		pgarray_add_str(&a[0], br->bm->m.shop_id);
		pgarray_add_str(&a[1], br->it->address);
		pgarray_add_str(&a[2], br->bm->m.orig_key);
		pgarray_add_int(&a[3], br->result_id);
	}
	return batch_exec_arrays(
	    b, "batch_counted",
	    "INSERT INTO counted_originals (shop_id, address, orig_key, "
	    "result_id) SELECT u.s, u.a, u.k, u.r::bigint FROM "
	    "unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH "
	    "ORDINALITY AS u(s, a, k, r, ord) ORDER BY u.ord "
	    "ON CONFLICT DO NOTHING",
	    a, 4, error_r);
}

/* Writes the shop alerts (values as store_alert()). */
static int
batch_write_alerts(struct batch *b, char **error_r)
{
	struct pgarray a[STORE_ALERT_PARAMS];
	guint i;
	int k;

	if (b->alerts->len == 0)
		return 0;
	batch_arrays_init(a, STORE_ALERT_PARAMS);
	for (i = 0; i < b->alerts->len; i++) {
		guint r = g_array_index(b->alerts, struct batch_row, i).result;
		const struct batch_result *br =
		    &g_array_index(b->results, struct batch_result, r);
		const char *cols[STORE_ALERT_PARAMS];
		char id[24];

		g_snprintf(id, sizeof(id), "%" G_GINT64_FORMAT, br->result_id);
		store_alert_params(&br->bm->m, br->it, id, cols);
		for (k = 0; k < STORE_ALERT_PARAMS; k++)
			pgarray_add_str(&a[k], cols[k]);
	}
	return batch_exec_arrays(
	    b, "batch_alerts",
	    "INSERT INTO shop_alerts (shop_id, result_id, provider, reason, "
	    "status, diagnostic) SELECT u.s, u.r::bigint, u.p, u.re, u.st, "
	    "u.d FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
	    "$5::text[], $6::text[]) WITH ORDINALITY AS u(s, r, p, re, st, d, "
	    "ord) ORDER BY u.ord",
	    a, STORE_ALERT_PARAMS, error_r);
}

/* Writes the outbox rows (values as store_outbox()). */
static int
batch_write_outbox(struct batch *b, char **error_r)
{
	struct pgarray a[STORE_OUTBOX_PARAMS];
	guint i;
	int k;

	if (b->outbox->len == 0)
		return 0;
	batch_arrays_init(a, STORE_OUTBOX_PARAMS);
	for (i = 0; i < b->outbox->len; i++) {
		const struct batch_row *row =
		    &g_array_index(b->outbox, struct batch_row, i);
		const struct batch_result *br =
		    &g_array_index(b->results, struct batch_result, row->result);
		const char *cols[STORE_OUTBOX_PARAMS];
		char id[24];

		g_snprintf(id, sizeof(id), "%" G_GINT64_FORMAT, br->result_id);
		store_outbox_params(&br->bm->m, row->kind, id, br->it,
				    row->decision, cols);
		for (k = 0; k < STORE_OUTBOX_PARAMS; k++)
			pgarray_add_str(&a[k], cols[k]);
	}
	return batch_exec_arrays(
	    b, "batch_outbox",
	    "INSERT INTO notify_outbox (shop_id, kind, result_id, payload, "
	    "orig_message_id) SELECT u.s, u.k, u.r::bigint, "
	    "jsonb_strip_nulls(jsonb_build_object('address', u.a, 'reason', "
	    "u.re, 'order_number', u.o, 'mail_type', u.t, 'decision', u.d)), "
	    "u.m FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
	    "$5::text[], $6::text[], $7::text[], $8::text[], $9::text[]) WITH "
	    "ORDINALITY AS u(s, k, r, a, re, o, t, d, m, ord) ORDER BY u.ord",
	    a, STORE_OUTBOX_PARAMS, error_r);
}

/* ------------------------------------------------------- transaction */

static void
batch_reset(struct batch *b)
{
	guint i;

	for (i = 0; b->results != NULL && i < b->results->len; i++)
		g_free(g_array_index(b->results, struct batch_result, i)
			   .decision);
	g_clear_pointer(&b->failures, g_array_unref);
	g_clear_pointer(&b->results, g_array_unref);
	g_clear_pointer(&b->state, g_hash_table_destroy);
	g_clear_pointer(&b->counted, g_hash_table_destroy);
	g_clear_pointer(&b->sent, g_hash_table_destroy);
	g_clear_pointer(&b->counted_rows, g_array_unref);
	g_clear_pointer(&b->alerts, g_array_unref);
	g_clear_pointer(&b->outbox, g_array_unref);
	b->written = 0;
}

/* One attempt at the whole transaction. */
static int
batch_tx(struct batch *b, char **error_r)
{
	guint i;

	batch_reset(b);
	b->failures = g_array_new(FALSE, FALSE, sizeof(struct batch_failure));
	b->results = g_array_new(FALSE, FALSE, sizeof(struct batch_result));
	b->state = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					 batch_state_free);
	b->counted =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	b->sent = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	b->counted_rows = g_array_new(FALSE, FALSE, sizeof(struct batch_row));
	b->alerts = g_array_new(FALSE, FALSE, sizeof(struct batch_row));
	b->outbox = g_array_new(FALSE, FALSE, sizeof(struct batch_row));
	for (i = 0; i < b->n; i++) {
		struct store_outcome *out = b->msgs[i].m.out;

		out->results = out->counted = out->suppressed = 0;
		out->alerts = 0;
	}
	if (db_begin(b->store->db, error_r) < 0)
		return -1;
	if (batch_insert_messages(b, error_r) < 0)
		goto fail;
	batch_collect_failures(b);
	if (batch_lock_states(b, error_r) < 0 ||
	    batch_read_counted(b, error_r) < 0 ||
	    batch_read_sent(b, error_r) < 0 ||
	    batch_apply_rule(b, error_r) < 0 ||
	    batch_write_results(b, error_r) < 0 ||
	    batch_write_states(b, error_r) < 0 ||
	    batch_write_counted(b, error_r) < 0 ||
	    batch_write_alerts(b, error_r) < 0 ||
	    batch_write_outbox(b, error_r) < 0 ||
	    db_commit(b->store->db, error_r) < 0)
		goto fail;
	return 0;
fail:
	db_rollback(b->store->db);
	return -1;
}

/* Prepares bm for in: keys, attribution and the rule's view of each
   recipient (none of it depends on the database). */
static void
batch_msg_init(struct store *store, struct batch_msg *bm,
	       struct store_input *in, const char *message_shop)
{
	guint j;

	memset(bm, 0, sizeof(*bm));
	bm->in = in;
	bm->m.store = store;
	bm->m.report = in->report;
	bm->m.out = &in->out;
	bm->m.message_shop = message_shop;
	bm->sha = store_sha256(in->raw, in->len);
	bm->key = in->src.msg_key != NULL
		      ? g_strdup(in->src.msg_key)
		      : g_strconcat("sha256:", bm->sha, NULL);
	bm->m.when_s = store_event_time(in->report);
	g_snprintf(bm->m.when, sizeof(bm->m.when), "%" G_GINT64_FORMAT,
		   bm->m.when_s);
	bm->m.orig_key = store_orig_key(in->report, bm->sha);
	store_attribute(&bm->m, message_shop);
	bm->items = store_items_new(in->report);
	g_array_sort(bm->items, store_item_cmp);
	bm->events = g_array_sized_new(FALSE, TRUE, sizeof(struct batch_event),
				       bm->items->len);
	for (j = 0; j < bm->items->len; j++) {
		struct batch_event e;

		e.ev = store_classify(
		    &bm->m, &g_array_index(bm->items, struct store_item, j),
		    &e.fatal, &e.why);
		g_array_append_val(bm->events, e);
	}
}

static void
batch_msg_clear(struct batch_msg *bm)
{
	g_free(bm->sha);
	g_free(bm->key);
	g_free(bm->m.orig_key);
	store_items_free(bm->items);
	g_array_unref(bm->events);
}

/* Checks that every input comes from the same mailbox and its shop
   exists.  Returns the mailbox's shop id (borrowed) or NULL. */
static const char *
batch_check_inputs(struct store *store, const struct store_input *in,
		   guint n, char **error_r)
{
	const char *shop =
	    in[0].src.shop_id != NULL ? in[0].src.shop_id : STORE_UNATTRIBUTED;
	guint i;

	for (i = 1; i < n; i++)
		if (g_strcmp0(in[i].src.shop_id, in[0].src.shop_id) != 0 ||
		    g_strcmp0(in[i].src.mailbox_id, in[0].src.mailbox_id) !=
			0 ||
		    g_strcmp0(in[i].src.protocol, in[0].src.protocol) != 0) {
			*error_r = g_strdup(
			    "store_record_batch: messages of different "
			    "mailboxes in one batch");
			return NULL;
		}
	if (store_find_shop(store, shop) == NULL) {
		*error_r = g_strdup_printf(
		    "shop '%s' does not exist: add it "
		    "with 'bouncectl shop add %s' or in bounced.conf",
		    shop, shop);
		return NULL;
	}
	return shop;
}

int
store_record_batch(struct store *store, struct store_input *in, guint n,
		   char **error_r)
{
	struct batch b = {0};
	const char *shop;
	guint i;
	int attempt, ret = -1;

	if (n == 0)
		return 0;
	b.store = store;
	b.n = n;
	for (i = 0; i < n; i++)
		memset(&in[i].out, 0, sizeof(in[i].out));
	if (store_load_shops(store, error_r) < 0 ||
	    (shop = batch_check_inputs(store, in, n, error_r)) == NULL)
		return -1;
	b.msgs = g_new(struct batch_msg, n);
	for (i = 0; i < n; i++)
		batch_msg_init(store, &b.msgs[i], &in[i], shop);
	for (attempt = 0; attempt < STORE_RETRIES; attempt++) {
		ret = batch_tx(&b, error_r);
		if (ret == 0 || !db_last_retryable(store->db) ||
		    attempt + 1 == STORE_RETRIES)
			break;
		g_free(*error_r);
		*error_r = NULL;
		g_usleep(1000 * (g_random_int_range(1, 20) << attempt));
	}
	for (i = 0; i < n; i++) {
		struct batch_msg *bm = &b.msgs[i];

		if (ret == 0) {
			bm->m.out->duplicate = !bm->inserted;
			bm->m.out->message_id =
			    bm->inserted
				? g_ascii_strtoll(bm->m.message_id, NULL, 10)
				: 0;
			bm->m.out->shop_id = g_strdup(bm->m.shop_id);
		} else
			memset(bm->m.out, 0, sizeof(*bm->m.out));
		batch_msg_clear(bm);
	}
	batch_reset(&b);
	g_free(b.msgs);
	return ret;
}
