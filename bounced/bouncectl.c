/*
 * bouncectl.c - the command-line tool: dispatches to subcommands.
 *
 * Every subcommand lives in its own cmd_*.c file and is listed in
 * commands[] below with its usage line, which --help prints.  This
 * program links only the parser's libraries and runs `parse` itself, so
 * that parsing thousands of files does not first pay for loading the
 * forty-odd libraries of PostgreSQL, libconfig and libetpan (16 of its
 * 23 ms of start-up); every other command is carried out by
 * bouncectl-admin (bouncectl_admin.c), which it executes with the same
 * arguments: the one beside this program when there is one (the build
 * tree), else the installed one in PKGLIBEXECDIR.  Its table names the
 * same commands; tests/man_pages.sh fails when one is missing there.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <gmime/gmime.h>

#include "bounced/commands.h"
#include "parsers/bounce.h"

static const struct bouncectl_command commands[] = {
    {"parse",
     "[--order-header H] [--type-header H] [--max-size BYTES] FILE... | -",
     "parse bounce messages and print one JSON object per recipient",
     cmd_parse},
    {"db", "migrate|status [--db CONNINFO] [-c FILE]",
     "apply the schema migrations and sync shops from bounced.conf", NULL},
    {"shop", "add ID [--name NAME] [--domains LIST] | list",
     "add, update or list shops in the database", NULL},
    {"lookup", "--order N [--shop S] [--format table|csv|json]",
     "every failure of an order, for support staff", NULL},
    {"report",
     "--shop S [--since DATE] [--until DATE] [--format table|csv|json]",
     "the undeliverable report of a shop", NULL},
    {"suppression", "list [--shop S] | check ADDR | remove ADDR --reason TEXT",
     "read the suppression list; un-suppress (audited)", NULL},
    {"ingest", "[--shop S] FILE... | -",
     "parse and record bounce messages from files or stdin", NULL},
    {"reprocess", "--shop S --since DATE",
     "re-parse stored mail and re-evaluate the rule", NULL},
    {"stats", "[--shop S] [--format table|csv|json|prometheus] [--output FILE]",
     "per shop and mailbox: messages, failures by reason, suppressions, "
     "backlog", NULL},
    {"notify", "--once [--strict] | --status",
     "send the mail error notifications waiting in the outbox", NULL},
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

/* The path of bouncectl-admin: beside this program if it is there, else
   the installed one; g_free. */
static char *
admin_path(void)
{
	char *self = g_file_read_link("/proc/self/exe", NULL);

	if (self != NULL) {
		char *dir = g_path_get_dirname(self);
		char *p = g_build_filename(dir, "bouncectl-admin", NULL);

		g_free(dir);
		g_free(self);
		if (g_file_test(p, G_FILE_TEST_IS_EXECUTABLE))
			return p;
		g_free(p);
	}
	return g_strdup(PKGLIBEXECDIR "/bouncectl-admin");
}

/* Executes bouncectl-admin with argv; returns only when that fails. */
static int
run_admin(char **argv)
{
	char *path = admin_path();

	execv(path, argv);
	fprintf(stderr,
		"bouncectl: cannot run %s: %s (bounced is not installed "
		"completely: run 'make install' again)\n",
		path, g_strerror(errno));
	g_free(path);
	return 3;
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
		if (commands[i].run == NULL)
			return run_admin(argv);
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
