/*
 * db.c - the PostgreSQL connection, transactions and schema migrations.
 *
 * One PGconn per struct db.  Statements are static SQL text with $n
 * parameters (PQexecParams), optionally prepared once per connection
 * (PQprepare + PQexecPrepared).  The only multi-statement text run with
 * PQexec is a migration compiled into the binary, never user data.
 * Never logs; see db.h.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "db/db.h"
#include "db/migrations.h"

/* Any constant: bouncectl db migrate and bounced serialise on it. */
#define DB_MIGRATE_LOCK "4242010301"

struct db {
	PGconn *conn;
	GHashTable *prepared; /* static name -> present */
	char sqlstate[6];
};

int
db_schema_known(void)
{
	return db_migrations_count == 0 ? 0 :
	    db_migrations[db_migrations_count - 1].version;
}

/* Returns a copy of libpq's message without the trailing newline(s). */
static char *
db_strip(const char *msg)
{
	char *s = g_strdup(msg != NULL && *msg != '\0' ? msg : "unknown error");

	g_strchomp(s);
	for (char *p = s; *p != '\0'; p++)
		if (*p == '\n')
			*p = ' ';
	return s;
}

/* db/ never logs: server notices (e.g. "already exists, skipping") are
   dropped instead of going to stderr. */
static void
db_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int
db_open(const char *conninfo, struct db **db_r, char **error_r)
{
	PGconn *conn;
	char *msg;

	*db_r = NULL;
	conn = PQconnectdb(conninfo != NULL ? conninfo : "");
	if (conn == NULL) {
		*error_r = g_strdup("cannot allocate a database connection");
		return -1;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		msg = db_strip(PQerrorMessage(conn));
		*error_r = g_strdup_printf("cannot connect to the database "
		    "(%s): %s; check --db, 'database' in bounced.conf or "
		    "PGHOST/PGPORT/PGDATABASE/PGUSER",
		    conninfo != NULL && *conninfo != '\0' ? conninfo :
		    "libpq environment", msg);
		g_free(msg);
		PQfinish(conn);
		return -1;
	}
	PQsetNoticeProcessor(conn, db_notice, NULL);
	*db_r = g_new0(struct db, 1);
	(*db_r)->conn = conn;
	(*db_r)->prepared = g_hash_table_new(g_str_hash, g_str_equal);
	return 0;
}

void
db_close(struct db **db)
{
	if (db == NULL || *db == NULL)
		return;
	PQfinish((*db)->conn);
	g_hash_table_destroy((*db)->prepared);
	g_free(*db);
	*db = NULL;
}

int
db_ensure(struct db *db, char **error_r)
{
	char *msg;

	if (PQstatus(db->conn) == CONNECTION_OK)
		return 0;
	g_hash_table_remove_all(db->prepared);
	PQreset(db->conn);
	if (PQstatus(db->conn) == CONNECTION_OK)
		return 0;
	msg = db_strip(PQerrorMessage(db->conn));
	*error_r = g_strdup_printf("cannot reconnect to the database: %s", msg);
	g_free(msg);
	return -1;
}

bool
db_retry_after_loss(struct db *db, char **error_r)
{
	if (PQstatus(db->conn) == CONNECTION_OK)
		return false;
	g_free(*error_r);
	*error_r = NULL;
	return true;
}

PGconn *
db_conn(struct db *db)
{
	return db->conn;
}

const char *
db_last_sqlstate(struct db *db)
{
	return db->sqlstate;
}

bool
db_last_retryable(struct db *db)
{
	return strcmp(db->sqlstate, "40P01") == 0 ||
	    strcmp(db->sqlstate, "40001") == 0;
}

/* Checks res; on failure records the SQLSTATE, sets *error_r, clears res
   and returns NULL. */
static PGresult *
db_check(struct db *db, PGresult *res, char **error_r)
{
	const char *state;
	char *msg;

	if (res != NULL && (PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK)) {
		db->sqlstate[0] = '\0';
		return res;
	}
	state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	g_strlcpy(db->sqlstate, state != NULL ? state : "", sizeof(db->sqlstate));
	msg = db_strip(res != NULL && *PQresultErrorMessage(res) != '\0' ?
	    PQresultErrorMessage(res) : PQerrorMessage(db->conn));
	*error_r = g_strdup_printf("database: %s", msg);
	g_free(msg);
	PQclear(res);
	return NULL;
}

PGresult *
db_query_bin(struct db *db, const char *prepare_name, const char *sql,
    int nparams, const char *const *params, const int *lengths,
    const int *formats, char **error_r)
{
	PGresult *res;

	if (prepare_name == NULL)
		return db_check(db, PQexecParams(db->conn, sql, nparams, NULL,
		    params, lengths, formats, 0), error_r);
	if (!g_hash_table_contains(db->prepared, prepare_name)) {
		res = db_check(db, PQprepare(db->conn, prepare_name, sql,
		    nparams, NULL), error_r);
		if (res == NULL)
			return NULL;
		PQclear(res);
		g_hash_table_add(db->prepared, (char *)prepare_name);
	}
	return db_check(db, PQexecPrepared(db->conn, prepare_name, nparams,
	    params, lengths, formats, 0), error_r);
}

PGresult *
db_query(struct db *db, const char *prepare_name, const char *sql,
    int nparams, const char *const *params, char **error_r)
{
	return db_query_bin(db, prepare_name, sql, nparams, params, NULL,
	    NULL, error_r);
}

int
db_exec(struct db *db, const char *prepare_name, const char *sql,
    int nparams, const char *const *params, char **error_r)
{
	PGresult *res = db_query(db, prepare_name, sql, nparams, params,
	    error_r);

	if (res == NULL)
		return -1;
	PQclear(res);
	return 0;
}

int
db_begin(struct db *db, char **error_r)
{
	return db_exec(db, NULL, "BEGIN", 0, NULL, error_r);
}

int
db_commit(struct db *db, char **error_r)
{
	return db_exec(db, NULL, "COMMIT", 0, NULL, error_r);
}

void
db_rollback(struct db *db)
{
	PQclear(PQexec(db->conn, "ROLLBACK"));
}

int
db_schema_version(struct db *db, int *version_r, char **error_r)
{
	PGresult *res;

	*version_r = 0;
	res = db_query(db, NULL, "SELECT to_regclass('bounced_migrations') "
	    "IS NOT NULL", 0, NULL, error_r);
	if (res == NULL)
		return -1;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		PQclear(res);
		return 0;
	}
	PQclear(res);
	res = db_query(db, NULL, "SELECT coalesce(max(version), 0) "
	    "FROM bounced_migrations", 0, NULL, error_r);
	if (res == NULL)
		return -1;
	*version_r = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/* Applies migration m inside the current transaction. */
static int
db_apply(struct db *db, const struct db_migration *m, char **error_r)
{
	char version[16];
	const char *params[2] = {version, m->name};
	PGresult *res;

	res = db_check(db, PQexec(db->conn, m->sql), error_r);
	if (res == NULL) {
		char *e = *error_r;

		*error_r = g_strdup_printf("migration %s: %s", m->name, e);
		g_free(e);
		return -1;
	}
	PQclear(res);
	g_snprintf(version, sizeof(version), "%d", m->version);
	return db_exec(db, NULL, "INSERT INTO bounced_migrations "
	    "(version, name) VALUES ($1, $2)", 2, params, error_r);
}

int
db_migrate(struct db *db, int *applied_r, char **error_r)
{
	int version, known = db_schema_known();
	unsigned i;

	*applied_r = 0;
	if (db_begin(db, error_r) < 0)
		return -1;
	if (db_exec(db, NULL, "SELECT pg_advisory_xact_lock(" DB_MIGRATE_LOCK
	    ")", 0, NULL, error_r) < 0 ||
	    db_exec(db, NULL, "CREATE TABLE IF NOT EXISTS bounced_migrations ("
	    "version integer PRIMARY KEY, name text NOT NULL, "
	    "applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL,
	    error_r) < 0 ||
	    db_schema_version(db, &version, error_r) < 0)
		goto fail;
	if (version > known) {
		*error_r = g_strdup_printf("the database schema is version %d, "
		    "newer than this bounced knows (%d): upgrade bounced",
		    version, known);
		goto fail;
	}
	for (i = 0; i < db_migrations_count; i++) {
		if (db_migrations[i].version != (int)i + 1) {
			*error_r = g_strdup_printf("migration %s is out of "
			    "sequence (expected version %u)",
			    db_migrations[i].name, i + 1);
			goto fail;
		}
		if (db_migrations[i].version <= version)
			continue;
		if (db_apply(db, &db_migrations[i], error_r) < 0)
			goto fail;
		(*applied_r)++;
	}
	return db_commit(db, error_r);
fail:
	db_rollback(db);
	return -1;
}

int
db_check_schema(struct db *db, char **error_r)
{
	int version, known = db_schema_known();

	if (db_schema_version(db, &version, error_r) < 0)
		return -1;
	if (version == known)
		return 0;
	if (version < known)
		*error_r = g_strdup_printf("the database schema is version %d, "
		    "this bounced needs %d: run 'bouncectl db migrate'",
		    version, known);
	else
		*error_r = g_strdup_printf("the database schema is version %d, "
		    "newer than this bounced knows (%d): upgrade bounced",
		    version, known);
	return -1;
}
