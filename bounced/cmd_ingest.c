/*
 * cmd_ingest.c - `bouncectl ingest [--shop S] FILE... | -`: parse and
 * record messages from files or standard input (a Postfix pipe
 * transport), through the same store path as the daemon.
 *
 * Each file is one message, recorded under mailbox "ingest" of shop S
 * (or of no shop) with the key "sha256:HEX", so ingesting the same file
 * twice is a no-op.  A message that cannot be parsed is still recorded,
 * with its error.  Exit status: 0 every message recorded (or already
 * recorded), 1 some could not be read or recorded, 2 bad usage.
 *
 * `bouncectl reprocess --shop S --since DATE` re-parses stored raw mail
 * and reports what would change; it does not (yet) rewrite the results
 * or re-run the rule over them.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bounced/cmd_common.h"
#include "bounced/commands.h"
#include "db/query.h"
#include "db/store.h"
#include "parsers/bounce.h"
#include "parsers/classify.h"

static const char ingest_usage[] =
    "usage: bouncectl ingest [--shop S] FILE... | -\n"
    "\n"
    "Parses each message (one per file; - reads standard input), records\n"
    "it and its results in the database and applies the rule.  Results\n"
    "are attributed by the original's From to the shop whose sender\n"
    "domains match, else to S.  Recording the same message again does\n"
    "nothing.  Common options: --db CONNINFO, -c FILE.\n";

static int
ingest_one(struct cmd_ctx *ctx, struct store *store, const char *shop,
    const char *path, const struct bounce_options *opts)
{
	struct store_source src = {shop, "ingest", "ingest", NULL, 0, 0};
	struct store_outcome out = {0};
	struct bounce_report *report;
	char *buf = NULL, *error = NULL;
	size_t len = 0;
	int ret;

	(void)ctx;
	if (cmd_read_file(path, &buf, &len) < 0)
		return -1;
	report = bounce_parse(buf, len, opts);
	ret = store_record(store, &src, buf, len, report, &out, &error);
	if (ret < 0) {
		fprintf(stderr, "bouncectl: %s: not recorded: %s\n", path,
		    error);
		g_free(error);
	} else if (out.duplicate)
		printf("%s: already recorded\n", path);
	else if (report->kind == BOUNCE_KIND_ERROR)
		printf("%s: kept unparsed (message %" G_GINT64_FORMAT "): %s\n",
		    path, out.message_id, report->error);
	else
		printf("%s: %s, shop %s, %u result%s, %u counted, %u "
		    "suppressed, %u shop alert%s\n", path,
		    store_kind_name(report->kind), out.shop_id, out.results,
		    out.results == 1 ? "" : "s", out.counted, out.suppressed,
		    out.alerts, out.alerts == 1 ? "" : "s");
	store_outcome_clear(&out);
	report_free(&report);
	g_free(buf);
	return ret;
}

int
cmd_ingest(int argc, char **argv)
{
	static const struct option longopts[] = {CMD_COMMON_OPTIONS,
	    {"shop", required_argument, NULL, 's'},
	    {NULL, 0, NULL, 0}};
	struct bounce_options opts = {0, NULL, NULL};
	const char *shop = NULL;
	struct cmd_ctx ctx = {0};
	struct store *store = NULL;
	char *error = NULL;
	int c, i, bad = 0, ret = 0;

	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(ingest_usage, stdout);
			return 0;
		case 's': shop = optarg; break;
		default:
			if (cmd_common_option(&ctx, c, optarg) != 1)
				bad = 1;
		}
	}
	if (bad || optind >= argc) {
		fputs(ingest_usage, stderr);
		return 2;
	}
	if (cmd_open(&ctx, false, true) < 0) {
		cmd_close(&ctx);
		return 1;
	}
	if (ctx.cfg != NULL) {
		opts.max_size = (size_t)ctx.cfg->max_message_size;
		opts.order_header = ctx.cfg->order_header;
		opts.type_header = ctx.cfg->type_header;
	}
	store = store_new(ctx.db);
	if (shop != NULL && store_shop_exists(store, shop, &error) < 0) {
		fprintf(stderr, "bouncectl: %s\n", error);
		g_free(error);
		ret = 1;
	}
	for (i = optind; ret == 0 && i < argc; i++)
		if (ingest_one(&ctx, store, shop, argv[i], &opts) < 0)
			ret = 1;
	store_free(&store);
	cmd_close(&ctx);
	return ret;
}

/* "recipient action reason side" lines of report, as the database
   summarises recorded results (query_reprocess_messages()). */
static char *
reprocess_summary(const struct bounce_report *report)
{
	GString *s = g_string_new(NULL);
	guint i;

	for (i = 0; report->rcpts != NULL && i < report->rcpts->len; i++) {
		const struct bounce_rcpt *rc = report->rcpts->pdata[i];

		g_string_append_printf(s, "%s%s %s %s %s", i > 0 ? "\n" : "",
		    rc->recipient != NULL ? rc->recipient : "",
		    rc->action != NULL ? rc->action : "",
		    classify_reason_name(rc->reason),
		    classify_side_name(rc->side));
	}
	return g_string_free(s, FALSE);
}

/* Re-parses every row of res and prints what would change. */
static int
reprocess_rows(const PGresult *res, const struct bounce_options *opts)
{
	int i, changed = 0;

	for (i = 0; i < PQntuples(res); i++) {
		size_t len = 0;
		unsigned char *raw = PQunescapeBytea(
		    (const unsigned char *)PQgetvalue(res, i, 4), &len);
		struct bounce_report *report;
		char *now;

		if (raw == NULL)
			continue;
		report = bounce_parse((const char *)raw, len, opts);
		now = reprocess_summary(report);
		if (strcmp(store_kind_name(report->kind),
		    PQgetvalue(res, i, 5)) != 0 ||
		    strcmp(now, PQgetvalue(res, i, 6)) != 0) {
			changed++;
			printf("message %s (%s %s %s):\n  recorded: %s [%s]\n"
			    "  now:      %s [%s]\n", PQgetvalue(res, i, 1),
			    PQgetvalue(res, i, 0), PQgetvalue(res, i, 2),
			    PQgetvalue(res, i, 3), PQgetvalue(res, i, 6),
			    PQgetvalue(res, i, 5), now,
			    store_kind_name(report->kind));
		}
		g_free(now);
		report_free(&report);
		PQfreemem(raw);
	}
	printf("%d message%s re-parsed, %d would change\n", PQntuples(res),
	    PQntuples(res) == 1 ? "" : "s", changed);
	return changed;
}

static const char reprocess_usage[] =
    "usage: bouncectl reprocess --shop S --since DATE\n"
    "\n"
    "Re-parses the stored raw mail of shop S received since DATE with the\n"
    "current parser and reports every message whose results would change\n"
    "(kind, recipient, action, reason or side).  The database is not\n"
    "changed.  Common options: --db CONNINFO, -c FILE.\n";

int
cmd_reprocess(int argc, char **argv)
{
	static const struct option longopts[] = {CMD_COMMON_OPTIONS,
	    {"shop", required_argument, NULL, 's'},
	    {"since", required_argument, NULL, 'S'},
	    {NULL, 0, NULL, 0}};
	struct bounce_options opts = {0, NULL, NULL};
	const char *shop = NULL, *since = NULL;
	struct cmd_ctx ctx = {0};
	char *error = NULL;
	PGresult *res;
	int c, bad = 0, ret = 1;

	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(reprocess_usage, stdout);
			return 0;
		case 's': shop = optarg; break;
		case 'S': since = optarg; break;
		default:
			if (cmd_common_option(&ctx, c, optarg) != 1)
				bad = 1;
		}
	}
	if (bad || optind != argc || shop == NULL || since == NULL) {
		fputs(reprocess_usage, stderr);
		return 2;
	}
	if (cmd_open(&ctx, false, true) == 0) {
		if (ctx.cfg != NULL) {
			opts.max_size = (size_t)ctx.cfg->max_message_size;
			opts.order_header = ctx.cfg->order_header;
			opts.type_header = ctx.cfg->type_header;
		}
		res = query_reprocess_messages(ctx.db, shop, since, &error);
		if (res == NULL) {
			fprintf(stderr, "bouncectl: reprocess: %s\n", error);
			g_free(error);
		} else {
			reprocess_rows(res, &opts);
			PQclear(res);
			ret = 0;
		}
	}
	cmd_close(&ctx);
	return ret;
}
