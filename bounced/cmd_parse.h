/*
 * cmd_parse.h - `bouncectl parse`: files or stdin -> JSON Lines.
 */
#ifndef BOUNCED_CMD_PARSE_H
#define BOUNCED_CMD_PARSE_H

#include <stddef.h>
#include <glib.h>

/* Reads path ("-" = stdin) into *data_r and *len_r (g_free), keeping at
   most max + 1 bytes; *size_r gets the real size.  A regular file larger
   than max is not read at all.  Returns 0, or -1 with errno. */
int cmd_read_input(const char *path, size_t max, char **data_r,
    size_t *len_r, size_t *size_r);

#endif
