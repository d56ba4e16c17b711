/*
 * cmd_db.c - `bouncectl db migrate|status`.
 *
 * migrate applies the schema migrations compiled into this build, then
 * synchronises the shops of bounced.conf (if there is one) into the
 * database.  status prints the database's and this build's schema
 * versions.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bounced/cmd_common.h"
#include "bounced/commands.h"
#include "bounced/shop_sync.h"
#include "db/query.h"

static const char db_usage[] =
    "usage: bouncectl db migrate [--db CONNINFO] [-c FILE]\n"
    "       bouncectl db status [--db CONNINFO] [-c FILE]\n"
    "\n"
    "migrate  apply the schema migrations, then copy the shops of the\n"
    "         configuration file into the database\n"
    "status   print the schema version of the database and of bouncectl\n"
    "\n"
    "The database is --db CONNINFO, else database.conninfo of -c FILE (or\n"
    "the installed bounced.conf), else libpq's PGHOST/PGDATABASE/...\n";

static int
db_migrate_cmd(struct cmd_ctx *ctx)
{
	char *error = NULL;
	int applied, version, shops;

	if (db_migrate(ctx->db, &applied, &error) < 0 ||
	    db_schema_version(ctx->db, &version, &error) < 0) {
		fprintf(stderr, "bouncectl: %s\n", error);
		g_free(error);
		return 1;
	}
	printf("schema version %d (%d migration%s applied)\n", version,
	    applied, applied == 1 ? "" : "s");
	shops = 0;
	if (ctx->cfg != NULL &&
	    shop_sync_all(ctx->db, ctx->cfg, &shops, &error) < 0) {
		fprintf(stderr, "bouncectl: %s\n", error);
		g_free(error);
		return 1;
	}
	if (ctx->cfg != NULL)
		printf("%d shop%s synchronised from %s\n", shops,
		    shops == 1 ? "" : "s", ctx->cfg->file);
	return 0;
}

static int
db_status_cmd(struct cmd_ctx *ctx)
{
	char *error = NULL;
	int version;

	if (db_schema_version(ctx->db, &version, &error) < 0) {
		fprintf(stderr, "bouncectl: %s\n", error);
		g_free(error);
		return 1;
	}
	printf("database schema version %d, bouncectl knows %d%s\n", version,
	    db_schema_known(), version < db_schema_known() ?
	    ": run 'bouncectl db migrate'" : version > db_schema_known() ?
	    ": upgrade bouncectl" : "");
	return version == db_schema_known() ? 0 : 1;
}

int
cmd_db(int argc, char **argv)
{
	static const struct option longopts[] = {CMD_COMMON_OPTIONS,
	    {NULL, 0, NULL, 0}};
	struct cmd_ctx ctx = {0};
	int c, ret;

	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		if (c == 'h') {
			fputs(db_usage, stdout);
			return 0;
		}
		if (cmd_common_option(&ctx, c, optarg) != 1) {
			fputs(db_usage, stderr);
			return 2;
		}
	}
	if (optind + 1 != argc || (strcmp(argv[optind], "migrate") != 0 &&
	    strcmp(argv[optind], "status") != 0)) {
		fputs(db_usage, stderr);
		return 2;
	}
	if (cmd_open(&ctx, false, false) < 0) {
		cmd_close(&ctx);
		return 1;
	}
	ret = strcmp(argv[optind], "migrate") == 0 ? db_migrate_cmd(&ctx) :
	    db_status_cmd(&ctx);
	cmd_close(&ctx);
	return ret;
}
