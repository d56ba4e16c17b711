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

#endif
