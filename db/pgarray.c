/*
 * pgarray.c - binary-format arrays; see pgarray.h.
 *
 * The format (array_send() in PostgreSQL's arrayfuncs.c): int32 number of
 * dimensions, int32 "has nulls" flag, uint32 element type oid, then per
 * dimension int32 length and int32 lower bound, then per element int32
 * byte length (-1: NULL) and the bytes; all integers big-endian.  An
 * empty array has no dimensions.
 */
#include "config.h"

#include <string.h>

#include "db/pgarray.h"

#define PGARRAY_HEADER 20 /* one dimension */

static void
pgarray_put32(guint8 *p, guint32 v)
{
	p[0] = (guint8)(v >> 24);
	p[1] = (guint8)(v >> 16);
	p[2] = (guint8)(v >> 8);
	p[3] = (guint8)v;
}

void
pgarray_init(struct pgarray *a, guint32 elem_oid)
{
	a->buf = g_byte_array_sized_new(4096);
	g_byte_array_set_size(a->buf, PGARRAY_HEADER);
	a->elem_oid = elem_oid;
	a->n = 0;
	a->has_null = false;
}

void
pgarray_add(struct pgarray *a, const char *s, size_t len)
{
	guint8 word[4];

	g_assert(len <= G_MAXINT32);
	pgarray_put32(word, s != NULL ? (guint32)len : 0xffffffffu);
	g_byte_array_append(a->buf, word, 4);
	if (s != NULL)
		g_byte_array_append(a->buf, (const guint8 *)s, (guint)len);
	else
		a->has_null = true;
	a->n++;
}

void
pgarray_add_str(struct pgarray *a, const char *s)
{
	pgarray_add(a, s, s != NULL ? strlen(s) : 0);
}

void
pgarray_add_int(struct pgarray *a, gint64 v)
{
	char num[24];

	pgarray_add(a, num,
		    (size_t)g_snprintf(num, sizeof(num), "%" G_GINT64_FORMAT,
				       v));
}

const char *
pgarray_finish(struct pgarray *a, int *len_r)
{
	guint8 *h = a->buf->data;

	g_assert(a->buf->len <= G_MAXINT32);
	if (a->n == 0) { /* no dimensions: the 12 bytes before the dims */
		pgarray_put32(h + 8, 0);
		pgarray_put32(h + 12, 0);
		pgarray_put32(h + 16, a->elem_oid);
		*len_r = 12;
		return (const char *)h + 8;
	}
	pgarray_put32(h, 1);
	pgarray_put32(h + 4, a->has_null ? 1 : 0);
	pgarray_put32(h + 8, a->elem_oid);
	pgarray_put32(h + 12, a->n);
	pgarray_put32(h + 16, 1);
	*len_r = (int)a->buf->len;
	return (const char *)h;
}

void
pgarray_clear(struct pgarray *a)
{
	if (a->buf != NULL)
		g_byte_array_free(a->buf, TRUE);
	a->buf = NULL;
	a->n = 0;
}
