/*
 * cmd_notify.c - `bouncectl notify --once`: compose and send the
 * notifications waiting in the outbox once, as the daemon does after
 * every poll cycle (for cron and for tests), and `bouncectl notify
 * --status`: the notices by state.
 *
 * Exit status: 0 the outbox was drained (temporary SMTP failures are
 * retried later and do not fail the run), 1 a database error or, with
 * --strict, any notice not sent, 2 bad usage.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>

#include "bounced/cmd_common.h"
#include "bounced/commands.h"
#include "bounced/log.h"
#include "bounced/notify.h"

static const char notify_usage[] =
    "usage: bouncectl notify --once [--strict] [-v] [-c FILE] [--db CONNINFO]\n"
    "       bouncectl notify --status [-c FILE] [--db CONNINFO]\n"
    "\n"
    "--once composes the メールエラー通知 waiting in the outbox (per\n"
    "failure, digests, sender-side alerts, per the notifier settings of\n"
    "bounced.conf) and submits every notice that is due to the relay.\n"
    "A notice is marked sent only after the relay accepted it; one that\n"
    "fails temporarily is retried later.  --strict exits 1 if any notice\n"
    "was not sent.  --status prints the notices by shop, kind and state.\n";

static int
notify_status(struct cmd_ctx *ctx)
{
	char *error = NULL;
	PGresult *res = db_query(
	    ctx->db, NULL,
	    "SELECT shop_id, kind, state, count(*) AS notices, sum(items) AS "
	    "items, max(created_at) AS last, max(last_error) AS last_error "
	    "FROM notify_notices GROUP BY shop_id, kind, state "
	    "ORDER BY shop_id, kind, state",
	    0, NULL, &error);

	if (res == NULL) {
		fprintf(stderr, "bouncectl: %s\n", error);
		g_free(error);
		return 1;
	}
	cmd_print(ctx, res);
	PQclear(res);
	return 0;
}

int
cmd_notify(int argc, char **argv)
{
	static const struct option longopts[] = {
	    CMD_COMMON_OPTIONS,
	    {"once", no_argument, NULL, 'o'},
	    {"status", no_argument, NULL, 's'},
	    {"strict", no_argument, NULL, 'S'},
	    {"verbose", no_argument, NULL, 'v'},
	    {NULL, 0, NULL, 0}};
	struct cmd_ctx ctx = {0};
	struct notify_ctx nc;
	struct notify_stats st;
	bool once = false, status = false, strict = false, verbose = false;
	int c, bad = 0, ret = 1;

	while ((c = getopt_long(argc, argv, "c:hv", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(notify_usage, stdout);
			return 0;
		case 'o':
			once = true;
			break;
		case 's':
			status = true;
			break;
		case 'S':
			strict = true;
			break;
		case 'v':
			verbose = true;
			break;
		default:
			if (cmd_common_option(&ctx, c, optarg) != 1)
				bad = 1;
		}
	}
	if (bad || optind != argc || once == status) {
		fputs(notify_usage, stderr);
		return 2;
	}
	if (cmd_open(&ctx, once, true) < 0) {
		cmd_close(&ctx);
		return 1;
	}
	if (status) {
		ret = notify_status(&ctx);
		cmd_close(&ctx);
		return ret;
	}
	log_open("bouncectl", false, verbose);
	notify_init(&nc, ctx.db, ctx.cfg, NULL);
	if (notify_drain(&nc, &st) == 0) {
		printf("%u composed, %u sent, %u to retry, %u given up, %u "
		       "dropped (no notify address)\n",
		       st.composed, st.sent, st.retried, st.failed, st.dropped);
		ret = strict && (st.retried > 0 || st.failed > 0) ? 1 : 0;
	}
	log_close();
	cmd_close(&ctx);
	return ret;
}
