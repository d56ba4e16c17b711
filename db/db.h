/*
 * db.h - the PostgreSQL connection: open/close, transactions, parameterised
 * statements, schema migrations.
 *
 * db/ never logs: every function that can fail returns -1 and sets
 * *error_r to a newly allocated one-line message (g_free it) that says
 * what went wrong and, where it can, what to do.  All SQL is either static
 * text or PQexecParams/PQexecPrepared with $n parameters; every PGresult
 * is cleared on every path.
 */
#ifndef BOUNCED_DB_H
#define BOUNCED_DB_H

#include <stdbool.h>
#include <libpq-fe.h>

struct db;

/* The schema version this build knows (the highest migration). */
int db_schema_known(void);

/* Connects with conninfo ("" or NULL: libpq's environment, PGHOST etc.).
   Returns 0 and sets *db_r, or -1 and *error_r. */
int db_open(const char *conninfo, struct db **db_r, char **error_r);

/* Closes *db and sets it to NULL.  NULL is a no-op. */
void db_close(struct db **db);

/* For the daemon: if the connection was lost, reconnects with the same
   parameters (PQreset) and forgets the prepared statements.  Returns 0
   when the connection is usable, else -1 and *error_r. */
int db_ensure(struct db *db, char **error_r);

/* After a statement on db failed with *error_r: true if the connection
   was lost (libpq notices that only when the connection is used), with
   *error_r freed and cleared, so the caller reconnects with db_ensure()
   and tries once more; false (error kept) for any other failure. */
bool db_retry_after_loss(struct db *db, char **error_r);

/* The underlying connection, owned by db. */
PGconn *db_conn(struct db *db);

/* Runs sql (static text, $n parameters from params, NULL = SQL NULL).
   Returns the result (caller PQclear()s it) when its status is COMMAND_OK
   or TUPLES_OK, else NULL and *error_r.  If prepare_name is non-NULL the
   statement is prepared once per connection under that name and reused
   (the name must be a static string, one per distinct sql). */
PGresult *db_query(struct db *db, const char *prepare_name, const char *sql,
    int nparams, const char *const *params, char **error_r);

/* Like db_query(), with lengths and formats as for PQexecParams (format 1:
   binary, e.g. bytea). */
PGresult *db_query_bin(struct db *db, const char *prepare_name,
    const char *sql, int nparams, const char *const *params,
    const int *lengths, const int *formats, char **error_r);

/* Like db_query() but discards the result.  Returns 0 or -1. */
int db_exec(struct db *db, const char *prepare_name, const char *sql,
    int nparams, const char *const *params, char **error_r);

/* SQLSTATE of the last failed db_query()/db_exec() ("" if none). */
const char *db_last_sqlstate(struct db *db);

/* True if the last failure was a deadlock or serialization failure, so
   the whole transaction may be retried. */
bool db_last_retryable(struct db *db);

/* BEGIN / COMMIT / ROLLBACK.  db_rollback() ignores errors. */
int db_begin(struct db *db, char **error_r);
int db_commit(struct db *db, char **error_r);
void db_rollback(struct db *db);

/* The schema version of the database: 0 if never migrated. */
int db_schema_version(struct db *db, int *version_r, char **error_r);

/* Applies every migration newer than the database's version, all in
   one transaction, serialised between processes by an advisory lock.
   *applied_r gets the number applied.  Refuses a database newer than this
   build. */
int db_migrate(struct db *db, int *applied_r, char **error_r);

/* For the daemon: 0 if the schema is exactly the known version, else -1
   and a message saying what to run. */
int db_check_schema(struct db *db, char **error_r);

#endif
