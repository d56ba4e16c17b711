/*
 * recorder.h - records batches of parsed messages (store_record_batch())
 * on a thread of its own with a database connection of its own, so that
 * the poller fetches and parses the next batch meanwhile.
 *
 * At most one batch is in flight: recorder_start() hands it over,
 * recorder_wait() returns when it is committed (or failed).  The poller
 * acks messages only after recorder_wait() said they are committed.  The
 * thread never logs and blocks every signal (they reach the main thread).
 */
#ifndef BOUNCED_RECORDER_H
#define BOUNCED_RECORDER_H

#include <stdbool.h>
#include <glib.h>

#include "db/store.h"

struct recorder;

/* Connects to the database (conninfo as db_open()) and starts the
   thread.  Returns 0 and *r_r, or -1 and *error_r. */
int recorder_new(const char *conninfo, struct recorder **r_r, char **error_r);

/* Stops the thread (after its batch), disconnects, frees *r, sets it to
   NULL.  NULL is a no-op. */
void recorder_free(struct recorder **r);

/* Starts recording in[0..n-1] (borrowed, with everything they point to,
   until recorder_wait() returns).  No batch may be in flight. */
void recorder_start(struct recorder *r, struct store_input *in, guint n);

/* True while a batch is in flight. */
bool recorder_busy(const struct recorder *r);

/* Waits for the batch in flight.  Returns 0 (in[i].out filled) or -1
   with *error_r (g_free) and *db_lost_r: true when the database
   connection was lost (it reconnects before the next batch). */
int recorder_wait(struct recorder *r, bool *db_lost_r, char **error_r);

/* Forgets the cached shops (after shops changed); no batch may be in
   flight. */
void recorder_reload_shops(struct recorder *r);

#endif
