/*
 * shop_sync.h - copies the shops of bounced.conf into the database.
 *
 * Used by `bouncectl db migrate` and by the daemon at start and on
 * SIGHUP, so both write shops the same way (one audited upsert each).
 */
#ifndef BOUNCED_SHOP_SYNC_H
#define BOUNCED_SHOP_SYNC_H

#include "config/config.h"

struct db;

/* Upserts every shop of cfg.  Returns 0 and sets *n_r to the number of
   shops written, or -1 with *error_r ("shop ID: why"; g_free) after the
   first failure. */
int shop_sync_all(struct db *db, const struct bounced_config *cfg, int *n_r,
    char **error_r);

#endif
