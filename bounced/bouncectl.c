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
	{"parse", "[--order-header H] [--type-header H] [--max-size BYTES] FILE... | -",
	    "parse bounce messages and print one JSON object per recipient",
	    cmd_parse},
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
