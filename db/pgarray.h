/*
 * pgarray.h - one-dimensional arrays in PostgreSQL's binary wire format,
 * so that many rows travel as a few statement parameters:
 * INSERT ... SELECT ... FROM unnest($1::text[], $2::bytea[], ...).
 *
 * Elements are raw bytes (text: UTF-8 without NUL; bytea: anything); no
 * escaping is needed.  Pass the finished array with format 1 (binary).
 */
#ifndef BOUNCED_PGARRAY_H
#define BOUNCED_PGARRAY_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

#define PGARRAY_BYTEA 17u /* element type oids (pg_type.dat) */
#define PGARRAY_TEXT  25u

struct pgarray {
	GByteArray *buf; /* header space, then (length, bytes) per element */
	guint32 elem_oid;
	guint32 n;
	bool has_null;
};

/* Starts an empty array of elem_oid elements.  Free with pgarray_clear(). */
void pgarray_init(struct pgarray *a, guint32 elem_oid);

/* Appends len bytes of s; s NULL appends SQL NULL. */
void pgarray_add(struct pgarray *a, const char *s, size_t len);

/* Appends the string s (NUL-terminated), or SQL NULL when s is NULL. */
void pgarray_add_str(struct pgarray *a, const char *s);

/* Appends v as a decimal string (for text[] columns cast in SQL). */
void pgarray_add_int(struct pgarray *a, gint64 v);

/* Writes the header and returns the array's bytes, with their length in
   *len_r; valid until the next pgarray_add() or pgarray_clear(). */
const char *pgarray_finish(struct pgarray *a, int *len_r);

/* Frees the buffer; a may be initialised again. */
void pgarray_clear(struct pgarray *a);

#endif
