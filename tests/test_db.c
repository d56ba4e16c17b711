/*
 * test_db.c - recording and the unsubscribe rule against a real
 * PostgreSQL (tests/pg.sh starts a throwaway cluster when PGHOST is not
 * given; exit 77 only when the server binaries are absent).
 *
 * Each scenario runs in its own shop, so scenarios are isolated without
 * resetting the database.  Reports are built directly (the rule must not
 * depend on the parser's coverage); the garbled-input case and reprocess
 * go through bounce_parse() (reprocess over real fixtures stored with an
 * "old parser" result).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <gmime/gmime.h>

#include "db/db.h"
#include "db/query.h"
#include "db/reprocess.h"
#include "db/store.h"
#include "parsers/bounce.h"
#include "parsers/classify.h"
#include "tests/test.h"
#include "tests/test_pg.h"

#define T0 1717200000 /* 2024-06-01 00:00:00 UTC */
#define DAY 86400

static char *conninfo;
static struct db *db;
static struct store *store;

/* ---------------------------------------------------------------- helpers */

static void
die(const char *what, char *error)
{
	fprintf(stderr, "test_db: %s: %s\n", what, error);
	g_free(error);
	exit(99);
}

static void
sql(const char *text, int n, const char *const *params)
{
	char *error = NULL;

	if (db_exec(db, NULL, text, n, params, &error) < 0)
		die(text, error);
}

/* First value of a one-row query, as a new string ("" for no row). */
static char *
sql_value(const char *text, int n, const char *const *params)
{
	char *error = NULL, *v;
	PGresult *res = db_query(db, NULL, text, n, params, &error);

	if (res == NULL)
		die(text, error);
	v = g_strdup(PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return v;
}

static long
sql_long(const char *text, int n, const char *const *params)
{
	char *v = sql_value(text, n, params);
	long l = atol(v);

	g_free(v);
	return l;
}

static void
shop_add(const char *id, const char *domains, int strikes, bool dry_run)
{
	struct query_shop q = {id, NULL, NULL, domains, NULL, strikes, -1, 0,
	    dry_run};
	char *error = NULL;

	if (query_shop_upsert(db, &q, "test", NULL, &error) < 0)
		die("shop add", error);
	store_reload_shops(store);
}

static char *
iso(gint64 t)
{
	GDateTime *dt = g_date_time_new_from_unix_utc(t);
	char *s = g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ");

	g_date_time_unref(dt);
	return s;
}

/* One recipient of a test report. */
struct trcpt {
	const char *addr;
	const char *action;
	enum bounce_reason reason;
	bool hard;
	enum bounce_side side;
};

static struct bounce_report *
treport(enum bounce_kind kind, gint64 when, const char *orig_mid,
    const char *orig_from, const char *order, const struct trcpt *r,
    size_t n)
{
	struct bounce_report *rep = report_new();
	char *date = iso(when);
	size_t i;

	rep->kind = kind;
	rep->parser = "test";
	report_set(&rep->date, date);
	report_set(&rep->original.message_id, orig_mid);
	report_set(&rep->original.from, orig_from);
	report_set(&rep->order_number, order);
	report_set(&rep->mail_type, "thanks");
	for (i = 0; i < n; i++) {
		struct bounce_rcpt *rc = report_add_rcpt(rep);

		report_set(&rc->recipient, r[i].addr);
		report_set(&rc->action, r[i].action);
		rc->reason = r[i].reason;
		rc->hardbounce = r[i].hard;
		rc->side = r[i].side;
		report_set(&rc->diagnostic, "550 5.1.1 test");
		report_set(&rc->rule, "test");
	}
	g_free(date);
	return rep;
}

/* Records report under shop's mailbox with key; returns the outcome. */
static struct store_outcome
trecord(const char *shop, const char *key, struct bounce_report *rep)
{
	struct store_source src = {shop, "imap:INBOX", "imap", key, 0, 0};
	struct store_outcome out;
	char *error = NULL;

	if (store_record(store, &src, key, strlen(key), rep, &out,
	    &error) < 0)
		die(key, error);
	report_free(&rep);
	return out;
}

/* consecutive, suppressed ('t'/'f'), would-suppress of (shop, addr). */
static void
tstate(const char *shop, const char *addr, int *cons, bool *supp,
    bool *would)
{
	const char *p[2] = {shop, addr};
	char *error = NULL;
	PGresult *res = db_query(db, NULL, "SELECT consecutive, suppressed_at "
	    "IS NOT NULL, would_suppress_at IS NOT NULL FROM recipient_state "
	    "WHERE shop_id = $1 AND address = $2", 2, p, &error);

	if (res == NULL)
		die("state", error);
	*cons = PQntuples(res) ? atoi(PQgetvalue(res, 0, 0)) : 0;
	*supp = PQntuples(res) && *PQgetvalue(res, 0, 1) == 't';
	*would = PQntuples(res) && *PQgetvalue(res, 0, 2) == 't';
	PQclear(res);
}

/* -------------------------------------------------------- rule scenarios */

struct step {
	int day;         /* days after T0 */
	char ev;         /* see tevent() */
	const char *mid; /* original Message-ID; NULL: unique per step */
	int counted;     /* results that counted */
	int cons;        /* consecutive count afterwards */
	bool supp;       /* suppressed afterwards */
	bool would;      /* would be suppressed (dry run) afterwards */
};

struct scenario {
	const char *name;
	int strikes;
	bool dry_run;
	struct step steps[12];
};

#define ADDR "Cust@Example.JP"
#define ADDR_NORM "Cust@example.jp"

static const struct scenario scenarios[] = {
	{"fatal", 4, false, {{0, 'U', NULL, 1, 1, true, false}}},
	{"fourstrikes", 4, false, {
		{0, 'F', NULL, 1, 1, false, false},
		{1, 'F', NULL, 1, 2, false, false},
		{2, 'F', NULL, 1, 3, false, false},
		{3, 'F', NULL, 1, 4, true, false},
		{4, 'F', NULL, 0, 4, true, false}}},
	{"strikes2", 2, false, {
		{0, 'F', NULL, 1, 1, false, false},
		{1, 'F', NULL, 1, 2, true, false}}},
	{"senderside", 4, false, {
		{0, 'S', NULL, 0, 0, false, false},
		{1, 'S', NULL, 0, 0, false, false},
		{2, 'S', NULL, 0, 0, false, false},
		{3, 'S', NULL, 0, 0, false, false},
		{4, 'S', NULL, 0, 0, false, false}}},
	{"delayed", 4, false, {
		{0, 'D', NULL, 0, 0, false, false},
		{0, 'D', NULL, 0, 0, false, false},
		{1, 'D', NULL, 0, 0, false, false},
		{1, 'D', NULL, 0, 0, false, false},
		{1, 'F', NULL, 1, 1, false, false}}},
	{"autoreply", 4, false, {
		{0, 'F', NULL, 1, 1, false, false},
		{1, 'F', NULL, 1, 2, false, false},
		{2, 'F', NULL, 1, 3, false, false},
		{3, 'V', NULL, 0, 0, false, false},
		{4, 'F', NULL, 1, 1, false, false},
		{5, 'F', NULL, 1, 2, false, false},
		{6, 'F', NULL, 1, 3, false, false}}},
	{"delivered", 4, false, {
		{0, 'F', NULL, 1, 1, false, false},
		{1, 'F', NULL, 1, 2, false, false},
		{2, 'F', NULL, 1, 3, false, false},
		{3, 'K', NULL, 0, 0, false, false},
		{4, 'F', NULL, 1, 1, false, false}}},
	{"sendlog-grace", 4, false, {
		{0, 'F', NULL, 1, 1, false, false},
		{1, 'F', NULL, 1, 2, false, false},
		{2, 'L', "sent-x@shop", 0, 2, false, false},
		{10, 'F', NULL, 1, 1, false, false}}},
	{"sendlog-within-grace", 4, false, {
		{0, 'F', NULL, 1, 1, false, false},
		{1, 'F', NULL, 1, 2, false, false},
		{2, 'L', "sent-y@shop", 0, 2, false, false},
		{5, 'F', NULL, 1, 3, false, false}}},
	{"sendlog-drew-failure", 4, false, {
		{0, 'F', NULL, 1, 1, false, false},
		{1, 'F', NULL, 1, 2, false, false},
		{2, 'L', "sent-z@shop", 0, 2, false, false},
		{10, 'F', "sent-z@shop", 1, 3, false, false},
		{12, 'F', NULL, 1, 4, true, false}}},
	/* the send drew a (sender-side) failure: no reset; in a batch the
	   send-log query must see that result, recorded in the same batch */
	{"sendlog-drew-sender-failure", 4, false, {
		{0, 'F', NULL, 1, 1, false, false},
		{1, 'F', NULL, 1, 2, false, false},
		{2, 'L', "sent-w@shop", 0, 2, false, false},
		{9, 'S', "sent-w@shop", 0, 2, false, false},
		{10, 'F', NULL, 1, 3, false, false}}},
	{"stale", 4, false, {
		{0, 'F', NULL, 1, 1, false, false},
		{1, 'F', NULL, 1, 2, false, false},
		{2, 'F', NULL, 1, 3, false, false},
		{40, 'F', NULL, 1, 1, false, false},
		{41, 'F', NULL, 1, 2, false, false}}},
	{"dryrun", 4, true, {
		{0, 'F', NULL, 1, 1, false, false},
		{1, 'F', NULL, 1, 2, false, false},
		{2, 'F', NULL, 1, 3, false, false},
		{3, 'F', NULL, 1, 4, false, true},
		{4, 'U', NULL, 1, 5, false, true}}},
	{"dryrun-fatal", 4, true, {{0, 'U', NULL, 1, 1, false, true}}},
	{"once-per-mail", 4, false, {
		{0, 'F', "orig-a@shop", 1, 1, false, false},
		{1, 'F', "orig-a@shop", 0, 1, false, false},
		{1, 'D', "orig-b@shop", 0, 1, false, false},
		{2, 'F', "orig-b@shop", 1, 2, false, false},
		{3, 'F', "orig-b@shop", 0, 2, false, false}}},
	{"complaint", 4, false, {{0, 'C', NULL, 1, 1, true, false}}},
	{"notaccept", 4, false, {
		{0, 'N', NULL, 1, 1, false, false},
		{1, 'H', NULL, 1, 2, true, false}}},
};

/* The report of step i of a scenario (not 'L'), whose original is
   st->mid or "PREFIX-i@shop". */
static struct bounce_report *
tstep_report(const char *prefix, const struct step *st, int i)
{
	static const struct {
		char ev;
		enum bounce_kind kind;
		const char *action;
		enum bounce_reason reason;
		bool hard;
		enum bounce_side side;
	} evs[] = {
		{'F', BOUNCE_KIND_DSN, "failed", REASON_MAILBOXFULL, false,
		    BOUNCE_SIDE_RECIPIENT},
		{'U', BOUNCE_KIND_DSN, "failed", REASON_USERUNKNOWN, true,
		    BOUNCE_SIDE_RECIPIENT},
		{'N', BOUNCE_KIND_DSN, "failed", REASON_NOTACCEPT, false,
		    BOUNCE_SIDE_RECIPIENT},
		{'H', BOUNCE_KIND_DSN, "failed", REASON_NOTACCEPT, true,
		    BOUNCE_SIDE_RECIPIENT},
		{'D', BOUNCE_KIND_DSN, "delayed", REASON_MAILBOXFULL, false,
		    BOUNCE_SIDE_RECIPIENT},
		{'S', BOUNCE_KIND_DSN, "failed", REASON_AUTHFAILURE, false,
		    BOUNCE_SIDE_SENDER},
		{'V', BOUNCE_KIND_AUTOREPLY, NULL, REASON_VACATION, false,
		    BOUNCE_SIDE_NONE},
		{'K', BOUNCE_KIND_DSN, "delivered", REASON_DELIVERED, false,
		    BOUNCE_SIDE_NONE},
		{'C', BOUNCE_KIND_FEEDBACK, NULL, REASON_FEEDBACK, false,
		    BOUNCE_SIDE_RECIPIENT},
	};
	char *mid = st->mid != NULL ? g_strdup(st->mid) :
	    g_strdup_printf("%s-%d@shop", prefix, i);
	struct bounce_report *rep;
	struct trcpt r;
	size_t e;

	for (e = 0; e < G_N_ELEMENTS(evs) && evs[e].ev != st->ev; e++)
		;
	if (e == G_N_ELEMENTS(evs))
		abort();
	r.addr = ADDR;
	r.action = evs[e].action;
	r.reason = evs[e].reason;
	r.hard = evs[e].hard;
	r.side = evs[e].side;
	rep = treport(evs[e].kind, T0 + st->day * DAY + i, mid, NULL, "o1",
	    &r, 1);
	g_free(mid);
	return rep;
}

/* Logs the send of step st ('L') for shop. */
static void
tlog_send(const char *shop, const struct step *st)
{
	char *when = g_strdup_printf("%d", T0 + st->day * DAY);
	const char *p[4] = {shop, ADDR, st->mid, when};

	sql("SELECT bounced_log_send($1, 'o1', 'thanks', $2, $3, NULL, "
	    "to_timestamp($4::float8))", 4, p);
	g_free(when);
}

/* Records one step of a scenario. */
static struct store_outcome
tevent(const char *shop, const struct step *st, int i)
{
	struct store_outcome out = {0};
	char *key;

	if (st->ev == 'L') {
		tlog_send(shop, st);
		return out;
	}
	key = g_strdup_printf("%s:%d", shop, i);
	out = trecord(shop, key, tstep_report(shop, st, i));
	g_free(key);
	return out;
}

static void
test_scenarios(void)
{
	size_t s;
	int i, cons;
	bool supp, would;

	for (s = 0; s < G_N_ELEMENTS(scenarios); s++) {
		const struct scenario *sc = &scenarios[s];
		char *name = g_strdup_printf("rule: %s", sc->name);

		test_begin(name);
		shop_add(sc->name, "", sc->strikes, sc->dry_run);
		for (i = 0; sc->steps[i].ev != 0; i++) {
			const struct step *st = &sc->steps[i];
			struct store_outcome out = tevent(sc->name, st, i);

			tstate(sc->name, ADDR_NORM, &cons, &supp, &would);
			if ((int)out.counted != st->counted ||
			    cons != st->cons || supp != st->supp ||
			    would != st->would)
				fprintf(stderr, "%s step %d (%c day %d): got "
				    "counted %u cons %d supp %d would %d, want "
				    "%d %d %d %d\n", sc->name, i, st->ev,
				    st->day, out.counted, cons, supp, would,
				    st->counted, st->cons, st->supp,
				    st->would);
			test_assert_int(out.counted, st->counted);
			test_assert_int(cons, st->cons);
			test_assert_int(supp, st->supp);
			test_assert_int(would, st->would);
			store_outcome_clear(&out);
		}
		test_end();
		g_free(name);
	}
}

/* -------------------------------------------- batches equal one by one */

/* What recording left for shop, as one string with shop-independent
   values: results in id order, recipient states, outbox rows in id
   order, alerts, counted originals.  Two shops fed the same mail the one
   by one and the batched way must give equal strings. */
static char *
tfingerprint(const char *shop)
{
	const char *p[1] = {shop};

	return sql_value(
	    "SELECT concat_ws(E'\n', "
	    "(SELECT string_agg(concat_ws('|', rcpt_index, recipient, address, "
	    "occurred_at, kind, reason, side, counted, fatal, decision, "
	    "orig_key), ';' ORDER BY result_id) FROM results WHERE shop_id = $1), "
	    "(SELECT string_agg(concat_ws('|', address, consecutive, "
	    "first_failure_at, last_failure_at, last_success_at, "
	    "last_success_why, suppressed_at, suppressed_rule, "
	    "(SELECT count(*) FROM results r WHERE r.shop_id = s.shop_id AND "
	    "r.result_id <= s.suppressed_result), would_suppress_at, "
	    "would_suppress_rule), ';' ORDER BY address) FROM recipient_state s "
	    "WHERE shop_id = $1), "
	    "(SELECT string_agg(concat_ws('|', o.kind, o.payload::text, "
	    "(SELECT count(*) FROM results r WHERE r.shop_id = o.shop_id AND "
	    "r.result_id <= o.result_id)), ';' ORDER BY outbox_id) "
	    "FROM notify_outbox o WHERE shop_id = $1), "
	    "(SELECT string_agg(concat_ws('|', reason, provider, status), ';' "
	    "ORDER BY alert_id) FROM shop_alerts WHERE shop_id = $1), "
	    "(SELECT string_agg(concat_ws('|', address, orig_key), ';' ORDER BY "
	    "result_id) FROM counted_originals WHERE shop_id = $1), "
	    "(SELECT count(*) FROM messages WHERE shop_id = $1))",
	    1, p);
}

/* Records n reports of shop as one batch (keys[i], raw = key); frees
   the reports; fills outs (cleared by the caller). */
static void
trecord_batch(const char *shop, char **keys, struct bounce_report **reps,
    guint n, struct store_outcome *outs)
{
	struct store_input *in = g_new0(struct store_input, n);
	char *error = NULL;
	guint i;

	for (i = 0; i < n; i++) {
		struct store_source src = {shop, "imap:INBOX", "imap", keys[i],
		    0, 0};

		in[i].src = src;
		in[i].raw = keys[i];
		in[i].len = strlen(keys[i]);
		in[i].report = reps[i];
	}
	if (store_record_batch(store, in, n, &error) < 0)
		die("batch", error);
	for (i = 0; i < n; i++) {
		outs[i] = in[i].out;
		report_free(&reps[i]);
	}
	g_free(in);
}

/* Records steps [first, end) of sc (no 'L' among them) for shop as one
   batch and checks each message's counted results. */
static void
tbatch_steps(const char *shop, const struct scenario *sc, int first, int end)
{
	guint n = (guint)(end - first), k;
	char **keys = g_new0(char *, n + 1);
	struct bounce_report **reps = g_new0(struct bounce_report *, n);
	struct store_outcome *outs = g_new0(struct store_outcome, n);

	for (k = 0; k < n; k++) {
		keys[k] = g_strdup_printf("%s:%d", sc->name, first + (int)k);
		reps[k] = tstep_report(sc->name, &sc->steps[first + k],
		    first + (int)k);
	}
	trecord_batch(shop, keys, reps, n, outs);
	for (k = 0; k < n; k++) {
		test_assert_int(outs[k].counted, sc->steps[first + k].counted);
		test_assert(!outs[k].duplicate);
		store_outcome_clear(&outs[k]);
	}
	g_strfreev(keys);
	g_free(reps);
	g_free(outs);
}

/* Every rule scenario again, each run of steps between send-log entries
   recorded as one batch: the same counts per message, the same final
   state, and the same rows as the one-by-one recording of the scenario
   (whose steps test_scenarios() checked). */
static void
test_batch_scenarios(void)
{
	size_t s;

	for (s = 0; s < G_N_ELEMENTS(scenarios); s++) {
		const struct scenario *sc = &scenarios[s];
		char *shop = g_strdup_printf("batch-%s", sc->name);
		char *name = g_strdup_printf("batch equals one by one: %s",
		    sc->name);
		char *want, *got;
		int i, first = 0, cons;
		bool supp, would;

		test_begin(name);
		shop_add(shop, "", sc->strikes, sc->dry_run);
		for (i = 0;; i++) {
			const struct step *st = &sc->steps[i];

			if (st->ev != 0 && st->ev != 'L')
				continue;
			if (i > first)
				tbatch_steps(shop, sc, first, i);
			if (st->ev == 0)
				break;
			tlog_send(shop, st);
			first = i + 1;
		}
		tstate(shop, ADDR_NORM, &cons, &supp, &would);
		test_assert_int(cons, sc->steps[i - 1].cons);
		test_assert_int(supp, sc->steps[i - 1].supp);
		test_assert_int(would, sc->steps[i - 1].would);
		want = tfingerprint(sc->name);
		got = tfingerprint(shop);
		if (strcmp(want, got) != 0)
			fprintf(stderr, "one by one:\n%s\nbatch:\n%s\n", want,
			    got);
		test_assert_str(got, want);
		g_free(want);
		g_free(got);
		test_end();
		g_free(name);
		g_free(shop);
	}
}

/* Messages with several recipients, the same address twice, a success
   before an address's first failure, a suppression and mail after it,
   and one message twice: one batch gives what one by one gives. */
static void
test_batch_mixed(void)
{
	static const struct {
		int day;
		const char *mid;
		struct trcpt r[3];
	} msgs[] = {
	    {0, "m0@shop", {{"a@example.jp", "failed", REASON_MAILBOXFULL,
		false, BOUNCE_SIDE_RECIPIENT}, {"b@example.jp", "delivered",
		REASON_DELIVERED, false, BOUNCE_SIDE_NONE}, {"c@example.jp",
		"failed", REASON_AUTHFAILURE, false, BOUNCE_SIDE_SENDER}}},
	    {1, "m1@shop", {{"b@example.jp", "failed", REASON_MAILBOXFULL,
		false, BOUNCE_SIDE_RECIPIENT}, {"a@example.jp", "delivered",
		REASON_DELIVERED, false, BOUNCE_SIDE_NONE}, {0}}},
	    {2, "m2@shop", {{"a@example.jp", "failed", REASON_USERUNKNOWN,
		true, BOUNCE_SIDE_RECIPIENT}, {"A@example.jp", "failed",
		REASON_USERUNKNOWN, true, BOUNCE_SIDE_RECIPIENT}, {
		"b@example.jp", "failed", REASON_MAILBOXFULL, false,
		BOUNCE_SIDE_RECIPIENT}}},
	    {3, "m3@shop", {{"a@example.jp", "failed", REASON_MAILBOXFULL,
		false, BOUNCE_SIDE_RECIPIENT}, {"b@example.jp", "delayed",
		REASON_MAILBOXFULL, false, BOUNCE_SIDE_RECIPIENT}, {
		"not an address", "failed", REASON_MAILBOXFULL, false,
		BOUNCE_SIDE_RECIPIENT}}},
	    {3, "m3@shop", {{"a@example.jp", "failed", REASON_MAILBOXFULL,
		false, BOUNCE_SIDE_RECIPIENT}, {0}, {0}}},
	};
	enum { N = G_N_ELEMENTS(msgs) };
	char *keys[N], *want, *got;
	struct bounce_report *reps[N];
	struct store_outcome outs[N], one;
	guint i, k, nr;

	test_begin("batch equals one by one: several recipients");
	shop_add("mix-one", "", 4, false);
	shop_add("mix-batch", "", 4, false);
	for (i = 0; i < N; i++) {
		for (nr = 0; nr < 3 && msgs[i].r[nr].addr != NULL; nr++)
			;
		/* the last message repeats the key of the one before */
		keys[i] = g_strdup_printf("mix:%u", i < N - 1 ? i : i - 1);
		one = trecord("mix-one", keys[i], treport(BOUNCE_KIND_DSN,
		    T0 + msgs[i].day * DAY, msgs[i].mid, NULL, "o9",
		    msgs[i].r, nr));
		test_assert(one.duplicate == (i == N - 1));
		store_outcome_clear(&one);
		reps[i] = treport(BOUNCE_KIND_DSN, T0 + msgs[i].day * DAY,
		    msgs[i].mid, NULL, "o9", msgs[i].r, nr);
	}
	trecord_batch("mix-batch", keys, reps, N, outs);
	for (k = 0; k < N; k++) {
		test_assert(outs[k].duplicate == (k == N - 1));
		store_outcome_clear(&outs[k]);
	}
	want = tfingerprint("mix-one");
	got = tfingerprint("mix-batch");
	if (strcmp(want, got) != 0)
		fprintf(stderr, "one by one:\n%s\nbatch:\n%s\n", want, got);
	test_assert_str(got, want);
	test_assert(strstr(want, "suppressed") != NULL);
	g_free(want);
	g_free(got);
	for (i = 0; i < N; i++)
		g_free(keys[i]);
	test_end();
}

/* ------------------------------------------------------------ other paths */

static void
test_alerts_outbox(void)
{
	const char *p1[1] = {"senderside"}, *p2[1] = {"fourstrikes"};
	const char *p3[1] = {"dryrun"};

	test_begin("sender side raises alerts, outbox rows");
	test_assert_int(sql_long("SELECT count(*) FROM shop_alerts WHERE "
	    "shop_id = $1 AND reason = 'authfailure'", 1, p1), 5);
	test_assert_int(sql_long("SELECT count(*) FROM notify_outbox WHERE "
	    "shop_id = $1 AND kind = 'sender_alert'", 1, p1), 5);
	test_assert_int(sql_long("SELECT count(*) FROM notify_outbox WHERE "
	    "shop_id = $1 AND kind = 'failure'", 1, p2), 4);
	test_assert_int(sql_long("SELECT count(*) FROM notify_outbox WHERE "
	    "shop_id = $1 AND kind = 'suppressed'", 1, p2), 1);
	test_assert_int(sql_long("SELECT count(*) FROM notify_outbox WHERE "
	    "shop_id = $1 AND kind = 'suppressed'", 1, p3), 0);
	test_assert_int(sql_long("SELECT count(*) FROM notify_outbox WHERE "
	    "shop_id = $1 AND kind = 'would_suppress'", 1, p3), 1);
	test_assert_int(sql_long("SELECT count(*) FROM results WHERE "
	    "shop_id = $1 AND NOT counted AND decision LIKE "
	    "'%sender side%'", 1, p1), 5);
	test_end();
}

static void
test_replay(void)
{
	struct trcpt r = {"replay@example.jp", "failed", REASON_MAILBOXFULL,
	    false, BOUNCE_SIDE_RECIPIENT};
	const char *p[1] = {"replay"};
	struct store_outcome a, b;
	int cons;
	bool supp, would;

	test_begin("replay is a no-op");
	shop_add("replay", "", 4, false);
	a = trecord("replay", "1:1", treport(BOUNCE_KIND_DSN, T0, "m1@x",
	    NULL, NULL, &r, 1));
	b = trecord("replay", "1:1", treport(BOUNCE_KIND_DSN, T0, "m1@x",
	    NULL, NULL, &r, 1));
	test_assert(!a.duplicate);
	test_assert(b.duplicate);
	test_assert_int(b.results, 0);
	test_assert_int(sql_long("SELECT count(*) FROM messages WHERE "
	    "shop_id = $1", 1, p), 1);
	test_assert_int(sql_long("SELECT count(*) FROM results WHERE "
	    "shop_id = $1", 1, p), 1);
	tstate("replay", "replay@example.jp", &cons, &supp, &would);
	test_assert_int(cons, 1);
	store_outcome_clear(&a);
	store_outcome_clear(&b);
	test_end();
}

/* Records a one-recipient DSN as IMAP message (uidvalidity, uid) of
   shop's "imap:cur" (a mailbox row that does not exist before). */
static void
tcursor_record(const char *shop, gint64 uidvalidity, gint64 uid)
{
	struct trcpt r = {"cursor@example.jp", "failed", REASON_MAILBOXFULL,
	    false, BOUNCE_SIDE_RECIPIENT};
	char *key = g_strdup_printf("%" G_GINT64_FORMAT ":%" G_GINT64_FORMAT,
	    uidvalidity, uid);
	struct store_source src = {shop, "imap:cur", "imap", key,
	    uidvalidity, uid};
	struct bounce_report *rep = treport(BOUNCE_KIND_DSN, T0, key, NULL,
	    NULL, &r, 1);
	struct store_outcome out;
	char *error = NULL;

	if (store_record(store, &src, key, strlen(key), rep, &out,
	    &error) < 0)
		die(key, error);
	store_outcome_clear(&out);
	report_free(&rep);
	g_free(key);
}

/* "UIDVALIDITY:LAST_UID" of shop's "imap:cur". */
static char *
tcursor(const char *shop)
{
	const char *p[1] = {shop};

	return sql_value("SELECT uidvalidity || ':' || last_uid FROM "
	    "mailboxes WHERE shop_id = $1 AND mailbox_id = 'imap:cur'", 1, p);
}

/* The mailbox row and its cursor are one upsert at the start of the
   transaction (store.c store_mailbox()): it creates the row, only grows
   last_uid under one UIDVALIDITY, resets it under a new one, and also
   moves for a replayed message. */
static void
test_cursor(void)
{
	static const struct {
		gint64 uidvalidity, uid;
		const char *want;
	} steps[] = {
		{7, 5, "7:5"},  /* creates the row with its cursor */
		{7, 3, "7:5"},  /* a lower UID never moves it back */
		{7, 9, "7:9"},
		{8, 2, "8:2"},  /* a new UIDVALIDITY replaces the cursor */
		{7, 9, "7:9"},  /* a replay (duplicate) still sets it */
	};
	size_t i;
	char *got;

	test_begin("cursor upsert with the mailbox row");
	shop_add("cursor", "", 4, false);
	for (i = 0; i < G_N_ELEMENTS(steps); i++) {
		tcursor_record("cursor", steps[i].uidvalidity, steps[i].uid);
		got = tcursor("cursor");
		test_assert_str(got, steps[i].want);
		g_free(got);
	}
	test_end();
}

/* 006_outbox_guard_plan.sql: the guard replans its lookup on every row,
   so a plan made on empty tables cannot scan every result later. */
static void
test_guard_plan(void)
{
	char *conf;

	test_begin("outbox guard plans per row");
	conf = sql_value("SELECT array_to_string(proconfig, ',') FROM "
	    "pg_proc WHERE proname = 'bounced_outbox_guard'", 0, NULL);
	test_assert_str(conf, "plan_cache_mode=force_custom_plan");
	g_free(conf);
	test_end();
}

/* Child of test_concurrent(): records the same messages as its sibling. */
static int
concurrent_child(int nmsg)
{
	struct db *cdb = NULL;
	struct store *cs;
	char *error = NULL;
	int i, j;

	if (db_open(conninfo, &cdb, &error) < 0) {
		fprintf(stderr, "child: %s\n", error);
		return 1;
	}
	cs = store_new(cdb);
	for (i = 0; i < nmsg; i++) {
		struct bounce_report *rep = report_new();
		struct store_source src = {"conc", "imap:INBOX", "imap", NULL,
		    7, i + 1};
		struct store_outcome out;
		char *key = g_strdup_printf("7:%d", i + 1), *date = iso(T0 + i);

		src.msg_key = key;
		rep->kind = BOUNCE_KIND_DSN;
		report_set(&rep->date, date);
		/* 4 recipients per message, listed in a different order in
		   every message, to provoke lock-order trouble */
		for (j = 0; j < 4; j++) {
			struct bounce_rcpt *rc = report_add_rcpt(rep);
			char *a = g_strdup_printf("c%d@example.jp",
			    (i % 2 ? 3 - j : j) + (i % 3));

			report_set(&rc->recipient, a);
			report_set(&rc->action, "failed");
			rc->reason = REASON_MAILBOXFULL;
			rc->side = BOUNCE_SIDE_RECIPIENT;
			g_free(a);
		}
		report_set(&rep->original.message_id, key);
		if (store_record(cs, &src, key, strlen(key), rep, &out,
		    &error) < 0) {
			fprintf(stderr, "child: %s\n", error);
			return 1;
		}
		store_outcome_clear(&out);
		report_free(&rep);
		g_free(key);
		g_free(date);
	}
	store_free(&cs);
	db_close(&cdb);
	return 0;
}

static void
test_concurrent(void)
{
	const int nmsg = 60;
	const char *p[1] = {"conc"};
	pid_t pids[2];
	int i, status, expect[6] = {0}, a, j;

	test_begin("two processes record the same messages");
	shop_add("conc", "", 100, false);
	for (i = 0; i < 2; i++) {
		fflush(NULL);
		if ((pids[i] = fork()) == 0)
			_exit(concurrent_child(nmsg));
	}
	for (i = 0; i < 2; i++) {
		test_assert(waitpid(pids[i], &status, 0) == pids[i]);
		test_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	test_assert_int(sql_long("SELECT count(*) FROM messages WHERE "
	    "shop_id = $1", 1, p), nmsg);
	test_assert_int(sql_long("SELECT count(*) FROM results WHERE "
	    "shop_id = $1", 1, p), nmsg * 4);
	test_assert_int(sql_long("SELECT count(*) FROM results WHERE "
	    "shop_id = $1 AND counted", 1, p), nmsg * 4);
	test_assert_int(sql_long("SELECT last_uid FROM mailboxes WHERE "
	    "shop_id = $1", 1, p), nmsg);
	/* no lost update: every address's count is the number of messages
	   that named it */
	for (i = 0; i < nmsg; i++)
		for (j = 0; j < 4; j++)
			expect[(i % 2 ? 3 - j : j) + (i % 3)]++;
	for (a = 0; a < 6; a++) {
		char *addr = g_strdup_printf("c%d@example.jp", a);
		int cons;
		bool supp, would;

		tstate("conc", addr, &cons, &supp, &would);
		test_assert_int(cons, expect[a]);
		g_free(addr);
	}
	test_end();
}

static void
test_garbled(void)
{
	static const char garbage[] = "\x01\x02\xff\xfe garbage \x80\x81";
	struct store_source src = {"garbled", "ingest", "ingest", NULL, 0, 0};
	struct bounce_report *rep;
	struct store_outcome out;
	const char *p[1] = {"garbled"};
	char *error = NULL, *sha, *v;

	test_begin("unparseable input is kept with its error");
	shop_add("garbled", "", 4, false);
	/* an empty message is always an error for the parser */
	rep = bounce_parse("", 0, NULL);
	test_assert_int(rep->kind, BOUNCE_KIND_ERROR);
	test_assert(store_record(store, &src, "", 0, rep, &out, &error) == 0);
	store_outcome_clear(&out);
	report_free(&rep);
	/* garbage bytes with NULs, recorded as an error report */
	rep = report_new();
	report_set_error(rep, "not a message: garbage");
	test_assert(store_record(store, &src, garbage, sizeof(garbage), rep,
	    &out, &error) == 0);
	test_assert(!out.duplicate);
	store_outcome_clear(&out);
	report_free(&rep);
	test_assert_int(sql_long("SELECT count(*) FROM messages WHERE "
	    "shop_id = $1 AND kind = 'error' AND parse_error <> ''", 1, p), 2);
	sha = store_sha256(garbage, sizeof(garbage));
	v = sql_value("SELECT sha256 || ' ' || length(raw) || ' ' || "
	    "(sha256 = encode(sha256(raw), 'hex')) FROM messages WHERE "
	    "shop_id = $1 AND size > 0", 1, p);
	{
		char *want = g_strdup_printf("%s %zu true", sha,
		    sizeof(garbage));

		test_assert_str(v, want);
		g_free(want);
	}
	/* and equals glib's SHA-256 at every length around its blocks */
	{
		char bytes[300];
		size_t len;

		for (len = 0; len < sizeof(bytes); len++) {
			char *mine, *glibs;

			bytes[len] = (char)(len * 37 + 11);
			mine = store_sha256(bytes, len);
			glibs = g_compute_checksum_for_data(G_CHECKSUM_SHA256,
			    (const guchar *)bytes, len);
			test_assert_str(mine, glibs);
			g_free(mine);
			g_free(glibs);
		}
	}
	g_free(v);
	g_free(sha);
	test_end();
}

static void
test_attribution(void)
{
	static const struct {
		const char *mailbox_shop; /* NULL: a mailbox of no shop */
		const char *from;
		const char *want;
		const char *how;
	} cases[] = {
		{NULL, "Shop <info@attr-a.co.jp>", "attr-a", "sender domain"},
		{NULL, "news@m.attr-a.co.jp", "attr-a", "sender domain"},
		{NULL, "info@xattr-a.co.jp", STORE_UNATTRIBUTED, "none"},
		{NULL, "info@attr-b.jp", "attr-b", "sender domain"},
		{NULL, "sales@attr-b.jp", STORE_UNATTRIBUTED, "none"},
		{NULL, "x@SUB.ATTR-C.JP", "attr-c", "sender domain"},
		{NULL, NULL, STORE_UNATTRIBUTED, "none"},
		{"attr-b", "info@xattr-a.co.jp", "attr-b", "mailbox"},
		{"attr-b", "info@attr-a.co.jp", "attr-a", "sender domain"},
		{NULL, "info@attr-d.jp", STORE_UNATTRIBUTED, "none"},
	};
	struct trcpt r = {"who@example.jp", "failed", REASON_USERUNKNOWN,
	    true, BOUNCE_SIDE_RECIPIENT};
	size_t i;

	test_begin("attribution by sender domains");
	shop_add("attr-a", "attr-a.co.jp", 4, false);
	shop_add("attr-b", "info@attr-b.jp", 4, false);
	shop_add("attr-c", "other.jp,\nsub.attr-c.jp", 4, false);
	shop_add("attr-d", "", 4, false);
	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct store_source src = {cases[i].mailbox_shop, "shared",
		    "imap", NULL, 0, 0};
		struct store_outcome out;
		struct bounce_report *rep = treport(BOUNCE_KIND_DSN, T0,
		    NULL, cases[i].from, NULL, &r, 1);
		char *key = g_strdup_printf("attr-%zu", i), *error = NULL;
		char id[24];

		src.msg_key = key;
		if (store_record(store, &src, key, strlen(key), rep, &out,
		    &error) < 0)
			die("attr", error);
		test_assert_str(out.shop_id, cases[i].want);
		g_snprintf(id, sizeof(id), "%" G_GINT64_FORMAT, out.message_id);
		{
			const char *p[1] = {id};
			char *how = sql_value("SELECT shop_id || ' ' || "
			    "attribution FROM results WHERE message_id = $1",
			    1, p);
			char *want = g_strdup_printf("%s %s", cases[i].want,
			    cases[i].how);

			/* unattributed results are kept, not dropped */
			test_assert_str(how, want);
			g_free(how);
			g_free(want);
		}
		store_outcome_clear(&out);
		report_free(&rep);
		g_free(key);
	}
	test_end();
}

static void
test_idn(void)
{
	static const char *const forms[] = {"taro@例え.jp",
	    "taro@XN--R8JZ45G.JP", "taro@xn--r8jz45g.jp", "TARO@例え.jp"};
	size_t i;
	int cons;
	bool supp, would;

	test_begin("IDN A-label and UTF-8 are one address");
	shop_add("idn", "", 4, false);
	for (i = 0; i < G_N_ELEMENTS(forms); i++) {
		struct trcpt r = {forms[i], "failed", REASON_MAILBOXFULL,
		    false, BOUNCE_SIDE_RECIPIENT};
		char *key = g_strdup_printf("idn-%zu", i);
		struct store_outcome out = trecord("idn", key,
		    treport(BOUNCE_KIND_DSN, T0 + (gint64)i * 3600, key, NULL,
		    NULL, &r, 1));

		store_outcome_clear(&out);
		g_free(key);
	}
	tstate("idn", "taro@xn--r8jz45g.jp", &cons, &supp, &would);
	test_assert_int(cons, 3);
	test_assert(supp == false);
	/* the local part is case-sensitive: TARO is someone else */
	tstate("idn", "TARO@xn--r8jz45g.jp", &cons, &supp, &would);
	test_assert_int(cons, 1);
	test_end();

	test_begin("send log in UTF-8 form breaks an A-label run");
	shop_add("idn-send", "", 4, false);
	{
		struct trcpt r = {"hanako@xn--r8jz45g.jp", "failed",
		    REASON_MAILBOXFULL, false, BOUNCE_SIDE_RECIPIENT};
		struct store_outcome out;

		out = trecord("idn-send", "s1", treport(BOUNCE_KIND_DSN, T0,
		    "s1", NULL, NULL, &r, 1));
		store_outcome_clear(&out);
		out = trecord("idn-send", "s2", treport(BOUNCE_KIND_DSN,
		    T0 + DAY, "s2", NULL, NULL, &r, 1));
		store_outcome_clear(&out);
		{
			char *when = g_strdup_printf("%d", T0 + 2 * DAY);
			const char *p[2] = {"idn-send", when};

			sql("SELECT bounced_log_send($1, 'o', 't', "
			    "'hanako@例え.JP', 'sent-idn', NULL, "
			    "to_timestamp($2::float8))", 2, p);
			g_free(when);
		}
		out = trecord("idn-send", "s3", treport(BOUNCE_KIND_DSN,
		    T0 + 10 * DAY, "s3", NULL, NULL, &r, 1));
		store_outcome_clear(&out);
		tstate("idn-send", "hanako@xn--r8jz45g.jp", &cons, &supp,
		    &would);
		test_assert_int(cons, 1);
	}
	test_end();
}

static void
test_unsuppress(void)
{
	struct trcpt r = {"gone@example.jp", "failed", REASON_USERUNKNOWN,
	    true, BOUNCE_SIDE_RECIPIENT};
	struct store_outcome out;
	const char *p[1] = {"unsupp"};
	char *error = NULL, *v;
	int cons;
	bool supp, would;

	test_begin("suppression remove is audited");
	shop_add("unsupp", "", 4, false);
	out = trecord("unsupp", "u1", treport(BOUNCE_KIND_DSN, T0, "u1", NULL,
	    "o-77", &r, 1));
	store_outcome_clear(&out);
	tstate("unsupp", "gone@example.jp", &cons, &supp, &would);
	test_assert(supp);
	test_assert_int(query_suppression_remove(db, "gone@example.jp",
	    "unsupp", "", "tester", &error), -1);
	g_free(error);
	error = NULL;
	test_assert_int(query_suppression_remove(db, "not an address",
	    "unsupp", "why", "tester", &error), -1);
	g_free(error);
	error = NULL;
	test_assert_int(query_suppression_remove(db, "gone@EXAMPLE.jp",
	    "unsupp", "customer called, mailbox fixed", "tester", &error), 1);
	tstate("unsupp", "gone@example.jp", &cons, &supp, &would);
	test_assert(!supp);
	test_assert_int(cons, 0);
	v = sql_value("SELECT actor || '|' || action || '|' || address || '|' "
	    "|| reason || '|' || (details->>'suppressed_rule') FROM audit_log "
	    "WHERE shop_id = $1 AND action = 'unsuppress'", 1, p);
	test_assert_str(v, "tester|unsuppress|gone@example.jp|customer "
	    "called, mailbox fixed|fatal:userunknown");
	g_free(v);
	test_assert_int(query_suppression_remove(db, "gone@example.jp",
	    "unsupp", "again", "tester", &error), 0);
	test_end();
}

static void
test_queries(void)
{
	char *error = NULL;
	PGresult *res;

	test_begin("lookup by order, report, suppression list");
	res = query_lookup_order(db, "o-77", NULL, &error);
	test_assert(res != NULL);
	if (res != NULL) {
		test_assert_int(PQntuples(res), 1);
		test_assert_str(PQgetvalue(res, 0, PQfnumber(res, "recipient")),
		    "gone@example.jp");
		test_assert_str(PQgetvalue(res, 0, PQfnumber(res, "reason")),
		    "userunknown");
		PQclear(res);
	}
	res = query_report(db, "fourstrikes", "2024-06-01", "2024-06-04",
	    &error);
	test_assert(res != NULL);
	if (res != NULL) {
		test_assert_int(PQntuples(res), 3); /* days 0, 1, 2 */
		PQclear(res);
	}
	res = query_suppression_list(db, "fourstrikes", &error);
	test_assert(res != NULL);
	if (res != NULL) {
		test_assert_int(PQntuples(res), 1);
		test_assert_str(PQgetvalue(res, 0, 3), "strikes:4");
		PQclear(res);
	}
	res = query_suppression_check(db, "Cust@EXAMPLE.jp", "fatal", &error);
	test_assert(res != NULL);
	if (res != NULL) {
		test_assert_int(PQntuples(res), 1);
		test_assert_str(PQgetvalue(res, 0, 2), "t");
		PQclear(res);
	}
	test_end();
}

/* ------------------------------------------------------------ reprocess */

static struct bounce_report *
tparse(const char *raw, size_t len, void *ctx)
{
	(void)ctx;
	return bounce_parse(raw, len, NULL);
}

/* A postfix fixture's bytes (g_free). */
static char *
tfixture(const char *name, size_t *len_r)
{
	const char *top = g_getenv("top_srcdir");
	char *path = g_build_filename(top != NULL ? top : ".", "tests",
	    "fixtures", "postfix", name, NULL), *buf = NULL;
	GError *gerr = NULL;

	if (!g_file_get_contents(path, &buf, len_r, &gerr)) {
		fprintf(stderr, "test_db: %s\n", gerr->message);
		exit(99);
	}
	g_free(path);
	return buf;
}

/* Records fixture name in shop as an older parser saw it: one failed
   recipient addr with reason (hard or soft) at when. */
static void
trecord_old(const char *shop, const char *name, const char *addr,
    enum bounce_reason reason, bool hard, gint64 when)
{
	struct trcpt r = {addr, "failed", reason, hard, BOUNCE_SIDE_RECIPIENT};
	struct bounce_report *rep = treport(BOUNCE_KIND_DSN, when,
	    "old-parser@shop", NULL, NULL, &r, 1);
	struct store_source src = {shop, "ingest", "ingest", NULL, 0, 0};
	struct store_outcome out;
	size_t len;
	char *raw = tfixture(name, &len), *error = NULL;

	if (store_record(store, &src, raw, len, rep, &out, &error) < 0)
		die(name, error);
	store_outcome_clear(&out);
	report_free(&rep);
	g_free(raw);
}

static struct reprocess_result *
treprocess(const char *shop, const char *since, bool dry_run)
{
	struct reprocess_options o = {shop, since, "tester", dry_run, tparse,
	    NULL};
	struct reprocess_result *r = NULL;
	char *error = NULL;

	if (reprocess_run(store, &o, &r, &error) < 0)
		die("reprocess", error);
	return r;
}

/* Everything reprocess may touch in shop, as one string. */
static char *
tsnapshot(const char *shop)
{
	const char *p[1] = {shop};

	return sql_value("SELECT concat_ws(' | ', (SELECT string_agg(concat_ws("
	    "',', result_id, rcpt_index, reason, hardbounce, counted, fatal, "
	    "decision, orig_key), ';' ORDER BY result_id) FROM results WHERE "
	    "shop_id = $1), (SELECT string_agg(concat_ws(',', address, "
	    "consecutive, first_failure_at, last_failure_at, last_success_at, "
	    "last_success_why, suppressed_at, suppressed_rule, "
	    "suppressed_result, would_suppress_at, would_suppress_rule, "
	    "updated_at), ';' ORDER BY address) FROM recipient_state WHERE "
	    "shop_id = $1), (SELECT string_agg(concat_ws(',', address, "
	    "orig_key, result_id), ';' ORDER BY address, orig_key) FROM "
	    "counted_originals WHERE shop_id = $1), (SELECT count(*) FROM "
	    "notify_outbox WHERE shop_id = $1), (SELECT count(*) FROM "
	    "audit_log WHERE shop_id = $1), (SELECT string_agg(concat_ws(',', "
	    "message_id, kind, parser, reprocessed_at), ';' ORDER BY "
	    "message_id) FROM messages WHERE shop_id = $1))", 1, p);
}

/* reprocess again changes nothing at all. */
static void
tsecond_run(const char *shop, const char *since)
{
	char *before = tsnapshot(shop), *after;
	struct reprocess_result *r = treprocess(shop, since, false);

	test_assert(r->messages > 0);
	test_assert_int(r->changed->len, 0);
	test_assert_int(r->changes->len, 0);
	after = tsnapshot(shop);
	test_assert_str(after, before);
	reprocess_result_free(&r);
	g_free(before);
	g_free(after);
}

static void
test_reprocess_suppresses(void)
{
	const char *addr = "au-unknown@ezweb.ne.jp", *p[2] = {"rp1", addr};
	const struct reprocess_change *c;
	struct reprocess_result *r;
	char *v;
	int cons;
	bool supp, would;

	test_begin("reprocess: a failure now classified fatal suppresses");
	shop_add("rp1", "", 4, false);
	trecord_old("rp1", "au-unknown-failed.eml", addr, REASON_MAILBOXFULL,
	    false, T0);
	tstate("rp1", addr, &cons, &supp, &would);
	test_assert_int(cons, 1);
	test_assert(!supp);
	r = treprocess("rp1", "2000-01-01", false);
	test_assert(r->committed);
	test_assert_int(r->messages, 1);
	test_assert_int(r->changed->len, 1);
	test_assert_int(r->changes->len, 1);
	test_assert_int(r->suppressed, 1);
	test_assert_int(r->unsuppressed, 0);
	if (r->changes->len == 1) {
		c = r->changes->pdata[0];
		test_assert_str(c->address, addr);
		test_assert_str(c->old_reasons, "mailboxfull");
		test_assert_str(c->new_reasons, "userunknown");
		test_assert_int(c->old_consecutive, 1);
		test_assert_int(c->new_consecutive, 1);
		test_assert_str(c->old_suppressed, NULL);
		test_assert_str(c->new_suppressed, "fatal:userunknown");
	}
	reprocess_result_free(&r);
	tstate("rp1", addr, &cons, &supp, &would);
	test_assert_int(cons, 1);
	test_assert(supp);
	v = sql_value("SELECT concat_ws(',', reason, hardbounce, counted, "
	    "fatal, parser, orig_key, decision) FROM results WHERE "
	    "shop_id = $1 AND address = $2", 2, p);
	test_assert_str(v, "userunknown,t,t,t,rfc3464,"
	    "mid:ord-2026-000119.shipping.19@shop.bounce.test,"
	    "counted: fatal failure (strike 1 of 4); suppressed");
	g_free(v);
	test_assert_int(sql_long("SELECT count(*) FROM results WHERE "
	    "shop_id = $1", 1, p), 1);
	test_assert_int(sql_long("SELECT count(*) FROM counted_originals "
	    "WHERE shop_id = $1 AND address = $2", 2, p), 1);
	test_assert_int(sql_long("SELECT count(*) FROM notify_outbox WHERE "
	    "shop_id = $1 AND kind = 'suppressed'", 1, p), 1);
	v = sql_value("SELECT concat_ws(',', actor, details->>'old_reasons', "
	    "details->>'new_reasons', details->>'new_suppressed') FROM "
	    "audit_log WHERE shop_id = $1 AND action = 'reprocess'", 1, p);
	test_assert_str(v, "tester,mailboxfull,userunknown,fatal:userunknown");
	g_free(v);
	v = sql_value("SELECT suppressed_rule FROM suppression_list WHERE "
	    "shop_id = $1 AND address = $2", 2, p);
	test_assert_str(v, "fatal:userunknown");
	g_free(v);
	test_end();

	test_begin("reprocess: a second run changes nothing");
	tsecond_run("rp1", "2000-01-01");
	test_end();
}

static void
test_reprocess_unsuppresses(void)
{
	const char *addr = "full552@example.jp";
	struct reprocess_result *r;
	char *before, *after;
	int cons;
	bool supp, would;

	test_begin("reprocess: a hard bounce now classified soft unsuppresses");
	shop_add("rp2", "", 4, false);
	trecord_old("rp2", "mailbox-full-5.2.2-failed.eml", addr,
	    REASON_USERUNKNOWN, true, T0);
	tstate("rp2", addr, &cons, &supp, &would);
	test_assert(supp);
	/* --dry-run reports the change and leaves everything as it was */
	before = tsnapshot("rp2");
	r = treprocess("rp2", "2000-01-01", true);
	test_assert(!r->committed);
	test_assert_int(r->changed->len, 1);
	test_assert_int(r->unsuppressed, 1);
	reprocess_result_free(&r);
	after = tsnapshot("rp2");
	test_assert_str(after, before);
	g_free(before);
	g_free(after);
	r = treprocess("rp2", "2000-01-01", false);
	test_assert_int(r->changed->len, 1);
	test_assert_int(r->suppressed, 0);
	test_assert_int(r->unsuppressed, 1);
	if (r->changes->len == 1) {
		const struct reprocess_change *c = r->changes->pdata[0];

		test_assert_str(c->old_reasons, "userunknown");
		test_assert_str(c->new_reasons, "mailboxfull");
		test_assert_str(c->old_suppressed, "fatal:userunknown");
		test_assert_str(c->new_suppressed, NULL);
		test_assert_int(c->new_consecutive, 1);
	}
	reprocess_result_free(&r);
	tstate("rp2", addr, &cons, &supp, &would);
	test_assert_int(cons, 1);
	test_assert(!supp);
	tsecond_run("rp2", "2000-01-01");
	test_end();
}

static void
test_reprocess_history(void)
{
	const char *addr = "au-unknown@ezweb.ne.jp", *p[2] = {"rp3", addr};
	struct reprocess_result *r;
	char *since, *error = NULL, *v, *at;
	int i, cons;
	bool supp, would;

	test_begin("reprocess: replay keeps history, honours a removal");
	shop_add("rp3", "", 4, false);
	for (i = 0; i < 4; i++) {
		struct trcpt t = {addr, "failed", REASON_MAILBOXFULL, false,
		    BOUNCE_SIDE_RECIPIENT};
		char *key = g_strdup_printf("rp3-%d", i);
		struct store_outcome out = trecord("rp3", key,
		    treport(BOUNCE_KIND_DSN, T0 + i * DAY, key, NULL, NULL, &t,
		    1));

		store_outcome_clear(&out);
		g_free(key);
	}
	tstate("rp3", addr, &cons, &supp, &would);
	test_assert(supp);
	test_assert_int(query_suppression_remove(db, addr, "rp3",
	    "customer says the mailbox is fine", "tester", &error), 1);
	/* the removal happened between the 4th strike and the next bounce */
	at = g_strdup_printf("%d", T0 + 3 * DAY + DAY / 2);
	{
		const char *pa[2] = {"rp3", at};

		sql("UPDATE audit_log SET at = to_timestamp($2::float8) WHERE "
		    "shop_id = $1 AND action = 'unsuppress'", 2, pa);
	}
	trecord_old("rp3", "au-unknown-failed.eml", addr, REASON_MAILBOXFULL,
	    false, T0 + 4 * DAY);
	tstate("rp3", addr, &cons, &supp, &would);
	test_assert_int(cons, 1);
	test_assert(!supp);
	/* only the fixture is re-parsed; the older results are replayed */
	since = iso(T0 + 4 * DAY - 3600);
	r = treprocess("rp3", since, false);
	test_assert_int(r->messages, 1);
	test_assert_int(r->changed->len, 1);
	if (r->changes->len == 1) {
		const struct reprocess_change *c = r->changes->pdata[0];

		test_assert_str(c->new_suppressed, "fatal:userunknown");
		test_assert_int(c->decisions, 1); /* the re-parsed one only */
	}
	reprocess_result_free(&r);
	tstate("rp3", addr, &cons, &supp, &would);
	test_assert_int(cons, 1);
	test_assert(supp);
	v = sql_value("SELECT string_agg(counted::text || ':' || decision, "
	    "' / ' ORDER BY occurred_at) FROM results WHERE shop_id = $1 AND "
	    "address = $2", 2, p);
	test_assert_str(v, "true:counted: strike 1 of 4 / "
	    "true:counted: strike 2 of 4 / true:counted: strike 3 of 4 / "
	    "true:counted: strike 4 of 4; suppressed / "
	    "true:counted: fatal failure (strike 1 of 4); suppressed");
	g_free(v);
	test_assert_int(sql_long("SELECT count(*) FROM counted_originals "
	    "WHERE shop_id = $1 AND address = $2", 2, p), 5);
	tsecond_run("rp3", since);
	g_free(since);
	g_free(at);
	test_end();
}

static void
test_migrate_again(void)
{
	char *error = NULL;
	int applied = -1;

	test_begin("migrate is idempotent, schema check");
	test_assert_int(db_migrate(db, &applied, &error), 0);
	test_assert_int(applied, 0);
	test_assert_int(db_check_schema(db, &error), 0);
	sql("UPDATE bounced_migrations SET version = 999 WHERE version = 1",
	    0, NULL);
	test_assert_int(db_check_schema(db, &error), -1);
	test_assert(error != NULL && strstr(error, "upgrade bounced") != NULL);
	g_free(error);
	error = NULL;
	test_assert_int(db_migrate(db, &applied, &error), -1);
	g_free(error);
	sql("UPDATE bounced_migrations SET version = 1 WHERE version = 999",
	    0, NULL);
	test_end();
}

/* Creates a fresh database and migrates it. */
static void
setup(void)
{
	struct db *admin = NULL;
	char *error = NULL, *name, *create;
	int applied;

	if (db_open("dbname=postgres", &admin, &error) < 0)
		die("connect", error);
	name = g_strdup_printf("bounced_test_%d", (int)getpid());
	create = g_strdup_printf("CREATE DATABASE %s", name);
	if (db_exec(admin, NULL, create, 0, NULL, &error) < 0)
		die(create, error);
	db_close(&admin);
	conninfo = g_strdup_printf("dbname=%s", name);
	if (db_open(conninfo, &db, &error) < 0)
		die("connect", error);
	test_begin("migrate a fresh database");
	test_assert_int(db_migrate(db, &applied, &error), 0);
	test_assert_int(applied, db_schema_known());
	test_end();
	store = store_new(db);
	g_free(name);
	g_free(create);
}

int
main(int argc, char **argv)
{
	int ret;

	(void)argc;
	if (test_pg_or_reexec(argv[0]) != 0)
		return 99;
	g_mime_init();
	setup();
	test_scenarios();
	test_batch_scenarios();
	test_batch_mixed();
	test_alerts_outbox();
	test_replay();
	test_cursor();
	test_guard_plan();
	test_concurrent();
	test_garbled();
	test_attribution();
	test_idn();
	test_unsuppress();
	test_queries();
	test_reprocess_suppresses();
	test_reprocess_unsuppresses();
	test_reprocess_history();
	test_migrate_again();
	store_free(&store);
	db_close(&db);
	g_free(conninfo);
	bounce_shutdown();
	g_mime_shutdown();
	ret = test_exit();
	return ret;
}
