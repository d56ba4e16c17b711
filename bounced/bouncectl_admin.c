/*
 * bouncectl_admin.c - the commands of bouncectl that need the database,
 * the configuration or SMTP, in a program of their own: bouncectl
 * (bouncectl.c) runs `parse` itself with only the parser's libraries
 * loaded and executes this program, with its own arguments, for every
 * other command.  Installed in PKGLIBEXECDIR; not meant to be run by
 * hand (`bouncectl --help` lists the commands).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <gmime/gmime.h>

#include "bounced/commands.h"
#include "parsers/bounce.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
} admin_commands[] = {
    {"db", cmd_db},           {"shop", cmd_shop},
    {"lookup", cmd_lookup},   {"report", cmd_report},
    {"suppression", cmd_suppression},
    {"ingest", cmd_ingest},   {"reprocess", cmd_reprocess},
    {"stats", cmd_stats},     {"notify", cmd_notify},
};

int
main(int argc, char **argv)
{
	size_t i;
	int ret;

	for (i = 0; argc >= 2 && i < G_N_ELEMENTS(admin_commands); i++) {
		if (strcmp(argv[1], admin_commands[i].name) != 0)
			continue;
		g_mime_init();
		ret = admin_commands[i].run(argc - 1, argv + 1);
		bounce_shutdown();
		g_mime_shutdown();
		return ret;
	}
	fprintf(stderr, "bouncectl-admin: run 'bouncectl --help' for the "
			"commands\n");
	return 2;
}
