/*
 * cmd_lookup.c - `bouncectl lookup --order N [--shop S]` (support staff:
 * "I never got my order mail") and `bouncectl report --shop S [--since
 * DATE] [--until DATE]` (the undeliverable report).  Both read the SQL
 * views the platform reads (db/migrations/001_init.sql).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bounced/cmd_common.h"
#include "bounced/commands.h"
#include "db/query.h"

static const char lookup_usage[] =
    "usage: bouncectl lookup --order N [--shop S] [--format table|csv|json]\n"
    "\n"
    "Every failure recorded for order N: mail type, recipient, time (JST),\n"
    "reason, diagnostic, whether it counted toward the rule and the\n"
    "recipient's state.  Common options: --db CONNINFO, -c FILE.\n";

static const char report_usage[] =
    "usage: bouncectl report --shop S [--since DATE] [--until DATE]\n"
    "                        [--format table|csv|json]\n"
    "\n"
    "The undeliverable report of shop S: every failed delivery from DATE\n"
    "(inclusive) until DATE (exclusive), e.g. --since 2024-06-01.\n"
    "Common options: --db CONNINFO, -c FILE.\n";

/* Runs one query function over the parsed options. */
static int
lookup_run(struct cmd_ctx *ctx, const char *what, const char *order,
    const char *shop, const char *since, const char *until)
{
	char *error = NULL;
	PGresult *res;

	if (cmd_open(ctx, false, true) < 0)
		return 1;
	res = order != NULL ? query_lookup_order(ctx->db, order, shop, &error) :
	    query_report(ctx->db, shop, since, until, &error);
	if (res == NULL) {
		fprintf(stderr, "bouncectl: %s: %s\n", what, error);
		g_free(error);
		return 1;
	}
	if (PQntuples(res) == 0 && order != NULL && (ctx->format == NULL ||
	    strcmp(ctx->format, "table") == 0))
		printf("no failure recorded for order %s%s%s\n", order,
		    shop != NULL ? " in shop " : "", shop != NULL ? shop : "");
	else
		cmd_print(ctx, res);
	PQclear(res);
	return 0;
}

static int
lookup_main(int argc, char **argv, bool report)
{
	static const struct option longopts[] = {CMD_COMMON_OPTIONS,
	    {"order", required_argument, NULL, 'o'},
	    {"shop", required_argument, NULL, 's'},
	    {"since", required_argument, NULL, 'S'},
	    {"until", required_argument, NULL, 'U'},
	    {NULL, 0, NULL, 0}};
	const char *usage = report ? report_usage : lookup_usage;
	const char *order = NULL, *shop = NULL, *since = NULL, *until = NULL;
	struct cmd_ctx ctx = {0};
	int c, ret, bad = 0;

	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'o': order = optarg; break;
		case 's': shop = optarg; break;
		case 'S': since = optarg; break;
		case 'U': until = optarg; break;
		default:
			if (cmd_common_option(&ctx, c, optarg) != 1)
				bad = 1;
		}
	}
	if (bad || optind != argc || (report ? shop == NULL || order != NULL :
	    order == NULL || since != NULL || until != NULL)) {
		fputs(usage, stderr);
		return 2;
	}
	ret = lookup_run(&ctx, report ? "report" : "lookup", order, shop,
	    since, until);
	cmd_close(&ctx);
	return ret;
}

int
cmd_lookup(int argc, char **argv)
{
	return lookup_main(argc, argv, false);
}

int
cmd_report(int argc, char **argv)
{
	return lookup_main(argc, argv, true);
}
