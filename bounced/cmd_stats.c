/*
 * cmd_stats.c - `bouncectl stats`: how bounced is doing, per shop and
 * mailbox (db/stats.h), as a table, CSV, JSON or the Prometheus text
 * exposition format.  With --output FILE the output replaces FILE
 * atomically (written beside it, then renamed), which is what
 * node_exporter's textfile collector needs; run it from a timer.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <json-glib/json-glib.h>

#include "bounced/cmd_common.h"
#include "bounced/commands.h"
#include "db/stats.h"

static const char stats_usage[] =
    "usage: bouncectl stats [--shop S] [--format table|csv|json|prometheus]\n"
    "                       [--output FILE]\n"
    "\n"
    "How bounced is doing: one row per shop (mailbox empty: the totals of\n"
    "its mailboxes and the shop-wide numbers) and one per mailbox.  Columns:\n"
    "last_recorded (newest message recorded, JST), messages and how many\n"
    "were bounces, autoreplies, complaints, not_bounce and unparseable,\n"
    "failures and failures_by_reason, and per shop: suppressed,\n"
    "would_suppress (dry run), sender_alerts, notify_backlog (notifications\n"
    "not yet sent), notify_errors; per mailbox: lease_owner, the instance\n"
    "polling it now, and lease_until, when that lease expires (no owner:\n"
    "when the rest after its last poll ends).  How the polls went (a shop:\n"
    "over its mailboxes): last_poll (when the last one ended) and\n"
    "last_poll_result (ok or error), last_poll_recorded (messages it\n"
    "recorded), last_success, consecutive_failures, polls, poll_errors,\n"
    "last_error and last_error_at (the newest error, kept after a success).\n"
    "\n"
    "  --format prometheus  the Prometheus text format (metrics bounced_*)\n"
    "  --output FILE        write FILE atomically instead of standard output\n"
    "                       (node_exporter textfile collector: *.prom)\n"
    "Common options: --db CONNINFO, -c FILE.\n";

/* Prints s as a Prometheus label value (escapes \ " and newline). */
static void
stats_label(FILE *fp, const char *name, const char *s)
{
	fprintf(fp, "%s=\"", name);
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', fp);
		if (*s == '\n')
			fputs("\\n", fp);
		else
			fputc(*s, fp);
	}
	fputc('"', fp);
}

static void
stats_head(FILE *fp, const char *name, const char *type, const char *help)
{
	fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample: NAME{shop="",mailbox=""[,extra=""]} VALUE. */
static void
stats_sample(FILE *fp, const char *name, const PGresult *res, int r,
	     bool mailbox, const char *xname, const char *xvalue,
	     const char *value)
{
	fprintf(fp, "%s{", name);
	stats_label(fp, "shop", PQgetvalue(res, r, STATS_SHOP));
	if (mailbox) {
		fputc(',', fp);
		stats_label(fp, "mailbox", PQgetvalue(res, r, STATS_MAILBOX));
	}
	if (xname != NULL) {
		fputc(',', fp);
		stats_label(fp, xname, xvalue);
	}
	fprintf(fp, "} %s\n", value);
}

/* Samples of the jsonb {"reason": n} in column STATS_BY_REASON. */
static void
stats_reasons(FILE *fp, const char *name, const PGresult *res, int r,
	      bool mailbox)
{
	JsonNode *node =
	    json_from_string(PQgetvalue(res, r, STATS_BY_REASON), NULL);
	JsonObject *o;
	GList *keys, *k;
	char n[32];

	if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node)) {
		if (node != NULL)
			json_node_unref(node);
		return;
	}
	o = json_node_get_object(node);
	keys = g_list_sort(json_object_get_members(o), (GCompareFunc)strcmp);
	for (k = keys; k != NULL; k = k->next) {
		g_snprintf(n, sizeof(n), "%" G_GINT64_FORMAT,
			   json_object_get_int_member(o, k->data));
		stats_sample(fp, name, res, r, mailbox, "reason", k->data, n);
	}
	g_list_free(keys);
	json_node_unref(node);
}

/* Mailbox rows have a mailbox name; shop rows have "". */
static bool
stats_is_mailbox(const PGresult *res, int r)
{
	return *PQgetvalue(res, r, STATS_MAILBOX) != '\0';
}

/* A plain column as a metric, over the mailbox or the shop rows. */
static void
stats_metric(FILE *fp, const PGresult *res, const char *name, const char *type,
	     const char *help, int col, bool mailbox)
{
	int r;

	stats_head(fp, name, type, help);
	for (r = 0; r < PQntuples(res); r++)
		if (stats_is_mailbox(res, r) == mailbox &&
		    !PQgetisnull(res, r, col))
			stats_sample(fp, name, res, r, mailbox, NULL, NULL,
				     PQgetvalue(res, r, col));
}

/* How each mailbox's polls went (poll_status.h). */
static void
stats_prometheus_polls(FILE *fp, const PGresult *res)
{
	int r;

	stats_metric(fp, res, "bounced_mailbox_last_poll_timestamp_seconds",
		     "gauge",
		     "When the last poll of a mailbox ended (Unix time).",
		     STATS_LAST_POLL, true);
	stats_head(fp, "bounced_mailbox_last_poll_ok", "gauge",
		   "1 if the last poll of a mailbox read it to the end and "
		   "recorded and moved every message, else 0.");
	for (r = 0; r < PQntuples(res); r++)
		if (stats_is_mailbox(res, r) &&
		    !PQgetisnull(res, r, STATS_LAST_POLL_RESULT))
			stats_sample(
			    fp, "bounced_mailbox_last_poll_ok", res, r, true,
			    NULL, NULL,
			    strcmp(PQgetvalue(res, r, STATS_LAST_POLL_RESULT),
				   "ok") == 0
				? "1"
				: "0");
	stats_metric(fp, res, "bounced_mailbox_last_poll_recorded", "gauge",
		     "Messages the last poll of a mailbox recorded.",
		     STATS_LAST_POLL_RECORDED, true);
	stats_metric(fp, res, "bounced_mailbox_last_success_timestamp_seconds",
		     "gauge",
		     "When the last successful poll of a mailbox ended (Unix "
		     "time).",
		     STATS_LAST_SUCCESS, true);
	stats_metric(fp, res, "bounced_mailbox_consecutive_poll_failures",
		     "gauge",
		     "Failed polls of a mailbox since its last successful one.",
		     STATS_CONSECUTIVE_FAILURES, true);
	stats_metric(fp, res, "bounced_mailbox_polls_total", "counter",
		     "Poll cycles of a mailbox.", STATS_POLLS, true);
	stats_metric(fp, res, "bounced_mailbox_poll_errors_total", "counter",
		     "Failed poll cycles of a mailbox.", STATS_POLL_ERRORS,
		     true);
	stats_metric(fp, res, "bounced_mailbox_last_error_timestamp_seconds",
		     "gauge",
		     "When the newest poll error of a mailbox happened (Unix "
		     "time).",
		     STATS_LAST_ERROR_AT, true);
}

static void
stats_prometheus(FILE *fp, const PGresult *res)
{
	static const struct {
		int col;
		const char *kind;
	} kinds[] = {{STATS_BOUNCES, "bounce"},
		     {STATS_AUTOREPLIES, "autoreply"},
		     {STATS_COMPLAINTS, "complaint"},
		     {STATS_NOT_BOUNCE, "not_bounce"},
		     {STATS_UNPARSEABLE, "unparseable"}};
	size_t i;
	int r;

	stats_head(fp, "bounced_messages_total", "counter",
		   "Messages recorded from a mailbox, by kind.");
	for (r = 0; r < PQntuples(res); r++)
		for (i = 0; stats_is_mailbox(res, r) && i < G_N_ELEMENTS(kinds);
		     i++)
			stats_sample(fp, "bounced_messages_total", res, r, true,
				     "kind", kinds[i].kind,
				     PQgetvalue(res, r, kinds[i].col));
	stats_head(fp, "bounced_failures_total", "counter",
		   "Failed recipients and complaints in a mailbox's bounces, "
		   "by reason.");
	for (r = 0; r < PQntuples(res); r++)
		if (stats_is_mailbox(res, r))
			stats_reasons(fp, "bounced_failures_total", res, r,
				      true);
	stats_metric(fp, res, "bounced_last_recorded_timestamp_seconds",
		     "gauge",
		     "When the newest message of a mailbox was "
		     "recorded (Unix time).",
		     STATS_LAST_RECORDED, true);
	stats_head(fp, "bounced_mailbox_lease_until_timestamp_seconds", "gauge",
		   "When the lease of the instance polling a mailbox "
		   "expires; owner \"\": when its rest after a poll ends "
		   "(Unix time).");
	for (r = 0; r < PQntuples(res); r++)
		if (stats_is_mailbox(res, r) &&
		    !PQgetisnull(res, r, STATS_LEASE_UNTIL))
			stats_sample(
			    fp, "bounced_mailbox_lease_until_timestamp_seconds",
			    res, r, true, "owner",
			    PQgetvalue(res, r, STATS_LEASE_OWNER),
			    PQgetvalue(res, r, STATS_LEASE_UNTIL));
	stats_prometheus_polls(fp, res);
	stats_head(fp, "bounced_shop_failures_total", "counter",
		   "Failed recipients and complaints attributed to a shop, "
		   "by reason.");
	for (r = 0; r < PQntuples(res); r++)
		if (!stats_is_mailbox(res, r))
			stats_reasons(fp, "bounced_shop_failures_total", res, r,
				      false);
	stats_metric(fp, res, "bounced_suppressed_addresses", "gauge",
		     "Addresses on the shop's suppression list.",
		     STATS_SUPPRESSED, false);
	stats_metric(fp, res, "bounced_would_suppress_addresses", "gauge",
		     "Addresses a dry-run shop would have suppressed.",
		     STATS_WOULD_SUPPRESS, false);
	stats_metric(fp, res, "bounced_sender_alerts_total", "counter",
		     "Sender-side failures (the shop's own sending setup).",
		     STATS_SENDER_ALERTS, false);
	stats_metric(fp, res, "bounced_notify_backlog", "gauge",
		     "Notifications to the shop not sent yet.",
		     STATS_NOTIFY_BACKLOG, false);
	stats_metric(fp, res, "bounced_notify_errors", "gauge",
		     "Notifications that failed (retrying or given up).",
		     STATS_NOTIFY_ERRORS, false);
}

/* Points stdout at a new file beside path; *tmp_r names it. */
static int
stats_output_open(const char *path, char **tmp_r, int *saved_r)
{
	char *tmp = g_strdup_printf("%s.tmp.%ld", path, (long)getpid());
	FILE *fp = fopen(tmp, "w");

	if (fp == NULL) {
		fprintf(stderr, "bouncectl: %s: %s\n", tmp, g_strerror(errno));
		g_free(tmp);
		return -1;
	}
	fflush(stdout);
	*saved_r = dup(STDOUT_FILENO);
	dup2(fileno(fp), STDOUT_FILENO);
	fclose(fp);
	*tmp_r = tmp;
	return 0;
}

/* Restores stdout; renames the file into place if ok, else removes it. */
static int
stats_output_close(const char *path, char *tmp, int saved, bool ok)
{
	int ret = 0;

	if (fflush(stdout) != 0 || fsync(STDOUT_FILENO) != 0)
		ok = false;
	dup2(saved, STDOUT_FILENO);
	close(saved);
	if (ok && rename(tmp, path) == 0) {
		chmod(path, 0644);
	} else {
		fprintf(stderr, "bouncectl: cannot write %s: %s\n", path,
			g_strerror(errno));
		unlink(tmp);
		ret = -1;
	}
	g_free(tmp);
	return ret;
}

static int
stats_run(struct cmd_ctx *ctx, const char *shop, bool prom, const char *out)
{
	char *error = NULL, *tmp = NULL;
	enum stats_style style;
	PGresult *res;
	int saved = -1;

	if (cmd_open(ctx, false, true) < 0)
		return 1;
	style = prom ? STATS_METRICS
		: ctx->format != NULL && strcmp(ctx->format, "json") == 0
		    ? STATS_JSON
		    : STATS_TEXT;
	if ((res = query_stats(ctx->db, shop, style, &error)) == NULL) {
		fprintf(stderr, "bouncectl: stats: %s\n", error);
		g_free(error);
		return 1;
	}
	if (out != NULL && stats_output_open(out, &tmp, &saved) < 0) {
		PQclear(res);
		return 1;
	}
	if (prom)
		stats_prometheus(stdout, res);
	else
		cmd_print(ctx, res);
	PQclear(res);
	if (out != NULL && stats_output_close(out, tmp, saved, true) < 0)
		return 1;
	return 0;
}

int
cmd_stats(int argc, char **argv)
{
	static const struct option longopts[] = {
	    CMD_COMMON_OPTIONS,
	    {"shop", required_argument, NULL, 's'},
	    {"output", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0}};
	const char *shop = NULL, *out = NULL;
	struct cmd_ctx ctx = {0};
	bool prom = false;
	int c, ret, bad = 0;

	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(stats_usage, stdout);
			return 0;
		case 's':
			shop = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'F':
			prom = strcmp(optarg, "prometheus") == 0;
			if (prom)
				break;
			/* FALLTHROUGH */
		default:
			if (cmd_common_option(&ctx, c, optarg) != 1)
				bad = 1;
		}
	}
	if (bad || optind != argc) {
		fputs(stats_usage, stderr);
		return 2;
	}
	ret = stats_run(&ctx, shop, prom, out);
	cmd_close(&ctx);
	return ret;
}
