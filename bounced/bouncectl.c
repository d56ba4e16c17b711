/*
 * bouncectl.c - the command-line tool: dispatches to subcommands.
 *
 * Every subcommand lives in its own cmd_*.c file and is listed in
 * commands[] below with its usage line, which --help prints.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <gmime/gmime.h>

#include "bounced/commands.h"
#include "parsers/bounce.h"

static const struct bouncectl_command commands[] = {
    {"parse",
     "[--order-header H] [--type-header H] [--max-size BYTES] FILE... | -",
     "parse bounce messages and print one JSON object per recipient",
     cmd_parse},
    {"db", "migrate|status [--db CONNINFO] [-c FILE]",
     "apply the schema migrations and sync shops from bounced.conf", cmd_db},
    {"shop", "add ID [--name NAME] [--domains LIST] | list",
     "add, update or list shops in the database", cmd_shop},
    {"lookup", "--order N [--shop S] [--format table|csv|json]",
     "every failure of an order, for support staff", cmd_lookup},
    {"report",
     "--shop S [--since DATE] [--until DATE] [--format table|csv|json]",
     "the undeliverable report of a shop", cmd_report},
    {"suppression", "list [--shop S] | check ADDR | remove ADDR --reason TEXT",
     "read the suppression list; un-suppress (audited)", cmd_suppression},
    {"ingest", "[--shop S] FILE... | -",
     "parse and record bounce messages from files or stdin", cmd_ingest},
    {"reprocess", "--shop S --since DATE",
     "re-parse stored mail and re-evaluate the rule", cmd_reprocess},
    {"stats", "[--shop S] [--format table|csv|json|prometheus] [--output FILE]",
     "per shop and mailbox: messages, failures by reason, suppressions, "
     "backlog", cmd_stats},
    {"notify", "--once [--strict] | --status",
     "send the mail error notifications waiting in the outbox", cmd_notify},
};

static void
usage(FILE *fp)
{
	size_t i;

	fprintf(fp, "usage: bouncectl COMMAND [OPTIONS] [ARGS]\n"
		    "       bouncectl --help | --version\n\ncommands:\n");
	for (i = 0; i < G_N_ELEMENTS(commands); i++)
		fprintf(fp, "  %s %s\n      %s\n", commands[i].name,
			commands[i].usage, commands[i].summary);
	fprintf(fp, "\n'bouncectl COMMAND --help' describes one command.\n");
}

int
main(int argc, char **argv)
{
	size_t i;
	int ret;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("bouncectl (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
		return 0;
	}
	for (i = 0; i < G_N_ELEMENTS(commands); i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		g_mime_init();
		ret = commands[i].run(argc - 1, argv + 1);
		bounce_shutdown();
		g_mime_shutdown();
		return ret;
	}
	fprintf(stderr, "bouncectl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
