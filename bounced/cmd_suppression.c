/*
 * cmd_suppression.c - `bouncectl suppression list [--shop S]`,
 * `suppression check ADDR [--shop S]` and `suppression remove ADDR
 * --reason TEXT [--shop S]`.  Removal is one statement that also writes
 * the audit row (who, why, what the state was).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bounced/cmd_common.h"
#include "bounced/commands.h"
#include "db/query.h"

static const char suppression_usage[] =
    "usage: bouncectl suppression list [--shop S] [--format table|csv|json]\n"
    "       bouncectl suppression check ADDR [--shop S] [--format ...]\n"
    "       bouncectl suppression remove ADDR --reason TEXT [--shop S]\n"
    "\n"
    "check prints the address's state in each shop; remove takes it off\n"
    "the suppression list (of shop S, or of every shop) and writes an\n"
    "audit row with your user name and TEXT.  Addresses compare\n"
    "case-insensitively on the domain; IDN domains in either form.\n"
    "Common options: --db CONNINFO, -c FILE.\n";

static int
suppression_run(struct cmd_ctx *ctx, const char *verb, const char *addr,
    const char *shop, const char *reason)
{
	char *error = NULL, *actor;
	PGresult *res = NULL;
	int n;

	if (strcmp(verb, "remove") == 0) {
		actor = query_actor();
		n = query_suppression_remove(ctx->db, addr, shop, reason, actor,
		    &error);
		g_free(actor);
		if (n < 0)
			goto fail;
		if (n == 0) {
			fprintf(stderr, "bouncectl: %s is not suppressed%s%s\n",
			    addr, shop != NULL ? " in shop " : "",
			    shop != NULL ? shop : "");
			return 1;
		}
		printf("%s removed from the suppression list of %d shop%s "
		    "(audited)\n", addr, n, n == 1 ? "" : "s");
		return 0;
	}
	res = strcmp(verb, "list") == 0 ?
	    query_suppression_list(ctx->db, shop, &error) :
	    query_suppression_check(ctx->db, addr, shop, &error);
	if (res == NULL)
		goto fail;
	if (strcmp(verb, "check") == 0 && PQntuples(res) == 0 &&
	    (ctx->format == NULL || strcmp(ctx->format, "table") == 0))
		printf("%s: no failure recorded, not suppressed\n", addr);
	else
		cmd_print(ctx, res);
	PQclear(res);
	return 0;
fail:
	fprintf(stderr, "bouncectl: suppression %s: %s\n", verb, error);
	g_free(error);
	return 1;
}

int
cmd_suppression(int argc, char **argv)
{
	static const struct option longopts[] = {CMD_COMMON_OPTIONS,
	    {"shop", required_argument, NULL, 's'},
	    {"reason", required_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0}};
	const char *shop = NULL, *reason = NULL, *verb;
	struct cmd_ctx ctx = {0};
	int c, ret, bad = 0, want;

	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(suppression_usage, stdout);
			return 0;
		case 's': shop = optarg; break;
		case 'r': reason = optarg; break;
		default:
			if (cmd_common_option(&ctx, c, optarg) != 1)
				bad = 1;
		}
	}
	verb = optind < argc ? argv[optind] : "";
	want = strcmp(verb, "list") == 0 ? 1 : strcmp(verb, "check") == 0 ||
	    strcmp(verb, "remove") == 0 ? 2 : -1;
	if (bad || want < 0 || argc - optind != want ||
	    (strcmp(verb, "remove") == 0) != (reason != NULL)) {
		if (strcmp(verb, "remove") == 0 && reason == NULL)
			fputs("bouncectl: suppression remove needs --reason "
			    "TEXT (it goes into the audit log)\n", stderr);
		fputs(suppression_usage, stderr);
		return 2;
	}
	if (cmd_open(&ctx, false, true) < 0) {
		cmd_close(&ctx);
		return 1;
	}
	ret = suppression_run(&ctx, verb, want == 2 ? argv[optind + 1] : NULL,
	    shop, reason);
	cmd_close(&ctx);
	return ret;
}
