/*
 * cmd_shop.c - `bouncectl shop add ID [...]` and `bouncectl shop list`.
 *
 * Works without a configuration file (the database from --db or libpq's
 * environment).  add creates the shop or updates the given settings, and
 * writes an audit row either way.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounced/cmd_common.h"
#include "bounced/commands.h"
#include "db/query.h"

static const char shop_usage[] =
    "usage: bouncectl shop add ID [--name NAME] [--domains LIST]\n"
    "                      [--strike-limit N] [--grace-days N]\n"
    "                      [--stale-days N] [--dry-run yes|no]\n"
    "       bouncectl shop list [--format table|csv|json]\n"
    "\n"
    "LIST: verified sender domains or whole addresses separated by\n"
    "commas or newlines; example.co.jp also matches m.example.co.jp.\n"
    "Common options: --db CONNINFO, -c FILE.\n";

/* Parses a number option in [min, max]; -1 on error (printed). */
static int
shop_number(const char *opt, const char *arg, int min, int max, int *out)
{
	char *end;
	long v = strtol(arg, &end, 10);

	if (*arg == '\0' || *end != '\0' || v < min || v > max) {
		fprintf(stderr, "bouncectl: --%s %s: want a number from %d "
		    "to %d\n", opt, arg, min, max);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int
shop_list(struct cmd_ctx *ctx)
{
	char *error = NULL;
	PGresult *res = query_shop_list(ctx->db, &error);

	if (res == NULL) {
		fprintf(stderr, "bouncectl: %s\n", error);
		g_free(error);
		return 1;
	}
	cmd_print(ctx, res);
	PQclear(res);
	return 0;
}

static int
shop_add(struct cmd_ctx *ctx, struct query_shop *q)
{
	char *actor = query_actor(), *error = NULL, *domains = NULL;
	bool created;
	int ret;

	if (!config_valid_shop_id(q->id)) {
		fprintf(stderr, "bouncectl: '%s' is not a valid shop id "
		    "(letters, digits, '_', '.', '-', starting with a letter "
		    "or digit)\n", q->id);
		g_free(actor);
		return 2;
	}
	if (q->domains != NULL) {
		char **parts = g_strsplit_set(q->domains, ",\n", -1);

		for (char **p = parts; *p != NULL; p++)
			g_strstrip(*p);
		domains = g_strjoinv("\n", parts);
		g_strfreev(parts);
		q->domains = domains;
	}
	ret = query_shop_upsert(ctx->db, q, actor, &created, &error);
	if (ret < 0) {
		fprintf(stderr, "bouncectl: %s\n", error);
		g_free(error);
	} else
		printf("shop %s %s\n", q->id, created ? "added" : "updated");
	g_free(domains);
	g_free(actor);
	return ret < 0 ? 1 : 0;
}

int
cmd_shop(int argc, char **argv)
{
	static const struct option longopts[] = {CMD_COMMON_OPTIONS,
	    {"name", required_argument, NULL, 'n'},
	    {"domains", required_argument, NULL, 'd'},
	    {"strike-limit", required_argument, NULL, 'S'},
	    {"grace-days", required_argument, NULL, 'G'},
	    {"stale-days", required_argument, NULL, 'T'},
	    {"dry-run", required_argument, NULL, 'R'},
	    {NULL, 0, NULL, 0}};
	struct query_shop q = {NULL, NULL, NULL, NULL, NULL, 0, -1, 0, -1};
	struct cmd_ctx ctx = {0};
	int c, ret, bad = 0;

	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(shop_usage, stdout);
			return 0;
		case 'n':
			q.name = optarg;
			break;
		case 'd':
			q.domains = optarg;
			break;
		case 'S':
			bad |= shop_number("strike-limit", optarg, 1, 100,
			    &q.strike_limit);
			break;
		case 'G':
			bad |= shop_number("grace-days", optarg, 0, 365,
			    &q.grace_days);
			break;
		case 'T':
			bad |= shop_number("stale-days", optarg, 1, 3650,
			    &q.stale_days);
			break;
		case 'R':
			q.dry_run = strcmp(optarg, "yes") == 0 ? 1 :
			    strcmp(optarg, "no") == 0 ? 0 : (bad = -1);
			break;
		default:
			if (cmd_common_option(&ctx, c, optarg) != 1)
				bad = -1;
		}
	}
	if (bad || optind >= argc || (strcmp(argv[optind], "add") == 0 ?
	    optind + 2 != argc : strcmp(argv[optind], "list") != 0 ||
	    optind + 1 != argc)) {
		fputs(shop_usage, stderr);
		return 2;
	}
	if (cmd_open(&ctx, false, true) < 0) {
		cmd_close(&ctx);
		return 1;
	}
	if (strcmp(argv[optind], "add") == 0) {
		q.id = argv[optind + 1];
		ret = shop_add(&ctx, &q);
	} else
		ret = shop_list(&ctx);
	cmd_close(&ctx);
	return ret;
}
