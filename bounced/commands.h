/*
 * commands.h - the subcommands of bouncectl.
 *
 * Each subcommand is a function taking the arguments after its name
 * (argv[0] is the subcommand name) and returning the process exit status:
 * 0 success, 1 failure (with a message on stderr), 2 bad usage.
 */
#ifndef BOUNCED_COMMANDS_H
#define BOUNCED_COMMANDS_H

struct bouncectl_command {
	const char *name;
	const char *usage;   /* one line: arguments after the name */
	const char *summary; /* one line: what it does */
	int (*run)(int argc, char **argv);
};

/* bounced/cmd_parse.c */
int cmd_parse(int argc, char **argv);

int cmd_db(int argc, char **argv); /* cmd_db.c (issue 3) */
int cmd_shop(int argc, char **argv); /* cmd_shop.c */
int cmd_lookup(int argc, char **argv); /* cmd_lookup.c */
int cmd_report(int argc, char **argv); /* cmd_lookup.c */
int cmd_suppression(int argc, char **argv); /* cmd_suppression.c */
int cmd_ingest(int argc, char **argv); /* cmd_ingest.c */
int cmd_reprocess(int argc, char **argv); /* cmd_ingest.c */
int cmd_stats(int argc, char **argv); /* cmd_stats.c (issue 6) */
int cmd_notify(int argc, char **argv); /* cmd_notify.c (issue 5) */

#endif
