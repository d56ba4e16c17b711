/*
 * cmd_common.h - what the database subcommands of bouncectl share: the
 * --db / -c / libpq-environment precedence, output as table, CSV or JSON,
 * reading a message from a file or stdin.
 */
#ifndef BOUNCED_CMD_COMMON_H
#define BOUNCED_CMD_COMMON_H

#include <stdbool.h>
#include <glib.h>
#include <libpq-fe.h>

#include "config/config.h"
#include "db/db.h"

/* Long options every database subcommand accepts (merge into its own):
   --db CONNINFO, -c/--config FILE, --format table|csv|json, --help. */
#define CMD_COMMON_OPTIONS \
	{"db", required_argument, NULL, 'D'}, \
	{"config", required_argument, NULL, 'c'}, \
	{"format", required_argument, NULL, 'F'}, \
	{"help", no_argument, NULL, 'h'}

struct cmd_ctx {
	const char *db_arg;     /* --db */
	const char *config_arg; /* -c */
	const char *format;     /* "table" (default), "csv", "json" */
	struct bounced_config *cfg; /* loaded by cmd_open(), may be NULL */
	struct db *db;
};

/* Handles a common option c (as returned by getopt_long) with optarg.
   Returns 1 if handled, 0 if not common, -1 on a bad value (printed). */
int cmd_common_option(struct cmd_ctx *ctx, int c, const char *arg);

/* Loads the configuration (-c FILE, else the installed bounced.conf if it
   exists; need_config: it must exist) and connects: --db, else the
   configuration's database.conninfo, else libpq's environment.  Prints
   the error and returns -1 on failure.  With migrated, also refuses a
   schema that is not the one this build knows. */
int cmd_open(struct cmd_ctx *ctx, bool need_config, bool migrated);

/* Closes the database and frees the configuration. */
void cmd_close(struct cmd_ctx *ctx);

/* Prints res in ctx->format to stdout. */
void cmd_print(const struct cmd_ctx *ctx, const PGresult *res);

/* Reads a whole file ("-" = stdin) into *buf_r (g_free).  Returns 0, or
   -1 with a message printed. */
int cmd_read_file(const char *path, char **buf_r, size_t *len_r);

#endif
