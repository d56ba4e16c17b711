/*
 * json_out.c - the JSON Lines form of a report, as `bouncectl parse`
 * prints it.  Field order is fixed so golden files diff cleanly.  The
 * lines are written directly (no json-glib tree): building and
 * generating a JsonNode per line cost about a tenth of the parse time.
 */
#include <string.h>
#include <glib.h>

#include "bounced/json_out.h"
#include "parsers/classify.h"

static const char *const kind_names[] = {"none",      "dsn",      "bounce",
					 "autoreply", "feedback", "error"};

/* The lines being built: all lines of one report, written with one
   fwrite().  The buffer is reused across reports (it only grows). */
struct out_buf {
	char *s;
	size_t len, cap;
};

static struct out_buf out;

/* True for the bytes append_escaped() writes as an escape: '"', '\\',
   0x01-0x1e and 0x7f. */
static bool
needs_escape(unsigned char c)
{
	return c == '"' || c == '\\' || c < 0x1f || c == 0x7f;
}

/* True if one of the 8 bytes at p needs an escape.  In a word w,
   (w - 0x01..01 * c) & ~w & 0x80..80 is non-zero exactly when some byte
   of w is below c (c <= 0x80), and a byte equal to c is a zero byte of
   w ^ (0x01..01 * c). */
static inline bool
word_has_escape(const unsigned char *p)
{
	const guint64 ones = 0x0101010101010101ULL, highs = ones * 0x80;
	guint64 w, q, b, d;

	memcpy(&w, p, 8);
	q = w ^ (ones * '"');
	b = w ^ (ones * '\\');
	d = w ^ (ones * 0x7f);
	return ((((w - ones * 0x1f) & ~w) | ((q - ones) & ~q) |
		 ((b - ones) & ~b) | ((d - ones) & ~d)) &
		highs) != 0;
}

/* Returns how many of the n bytes at p need no escape before the first
   that does (n if none).  Eight bytes are tested at a time, the exact
   byte is then found one at a time. */
static size_t
plain_run(const unsigned char *p, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8)
		if (word_has_escape(p + i))
			break;
	/* the last word, overlapping the plain ones before it: a byte that
	   needs escaping in it must lie at i or after */
	if (i < n && n >= 8 && i + 8 > n && !word_has_escape(p + n - 8))
		return n;
	while (i < n && !needs_escape(p[i]))
		i++;
	return i;
}

/* Writes the n bytes at s at o as a JSON string body, escaped exactly as
   json-glib 1.6's generator does, so the output is byte-identical to the
   builder it replaced: '"' and '\\', \b \f \n \r \t by name, the other
   bytes 0x01-0x1e and 0x7f as \u00xx; everything else, 0x1f and bytes
   >= 0x80 (valid or not: report_set() keeps report strings valid UTF-8,
   a file name need not be), is copied as it is.  o must have room for
   6 * n bytes.  Returns the end of what was written. */
static char *
put_escaped(char *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	const unsigned char *run;

	while (p < end) {
		run = p;
		p += plain_run(p, (size_t)(end - p));
		memcpy(o, run, p - run);
		o += p - run;
		if (p == end)
			break;
		*o++ = '\\';
		switch (*p) {
		case '"':
		case '\\':
			*o++ = (char)*p;
			break;
		case '\b':
			*o++ = 'b';
			break;
		case '\f':
			*o++ = 'f';
			break;
		case '\n':
			*o++ = 'n';
			break;
		case '\r':
			*o++ = 'r';
			break;
		case '\t':
			*o++ = 't';
			break;
		default:
			memcpy(o, "u00", 3);
			o[3] = hex[*p >> 4];
			o[4] = hex[*p & 0xf];
			o += 5;
		}
		p++;
	}
	return o;
}

/* Makes room for n more bytes in b.  Rare: the buffer only grows. */
static G_GNUC_NO_INLINE void
grow(struct out_buf *b, size_t n)
{
	b->cap = MAX(b->cap * 2, MAX(b->len + n, 4096));
	b->s = g_realloc(b->s, b->cap);
}

static inline void
reserve(struct out_buf *b, size_t n)
{
	if (b->cap - b->len < n)
		grow(b, n);
}

/* Appends the C string s as it is.  Inline, so that for the string
   literals it is called with the length is known at compile time. */
static inline void
put_raw(struct out_buf *b, const char *s)
{
	size_t n = strlen(s);

	reserve(b, n);
	memcpy(b->s + b->len, s, n);
	b->len += n;
}

/* Appends value as a JSON string, or null for NULL or "".  The room for
   the worst case (every byte escaped as \u00xx) is taken first. */
static void
put_value(struct out_buf *b, const char *value)
{
	size_t vlen = value != NULL ? strlen(value) : 0;
	char *o;

	if (vlen == 0) {
		put_raw(b, "null");
		return;
	}
	reserve(b, 6 * vlen + 2);
	o = b->s + b->len;
	*o++ = '"';
	o = put_escaped(o, value, vlen);
	*o++ = '"';
	b->len = o - b->s;
}

/* Appends key, the literal text before a value (the comma, the quoted
   name and the colon: ",\"name\":"), then value as put_value() does. */
static inline void
add_str(struct out_buf *b, const char *key, const char *value)
{
	put_raw(b, key);
	put_value(b, value);
}

static void
add_original(struct out_buf *b, const struct bounce_original *o)
{
	add_str(b, ",\"original\":{\"message_id\":", o->message_id);
	add_str(b, ",\"envelope_id\":", o->envelope_id);
	add_str(b, ",\"from\":", o->from);
	add_str(b, ",\"to\":", o->to);
	add_str(b, ",\"subject\":", o->subject);
	add_str(b, ",\"date\":", o->date);
	put_raw(b, "}");
}

static void
add_rcpt(struct out_buf *b, const struct bounce_rcpt *r)
{
	static const struct bounce_rcpt none = {0};

	if (r == NULL)
		r = &none;
	add_str(b, ",\"recipient\":", r->recipient);
	add_str(b, ",\"action\":", r->action);
	add_str(b, ",\"status\":", r->status);
	add_str(b, ",\"replycode\":", r->replycode);
	add_str(b, ",\"reason\":",
		r == &none ? NULL : classify_reason_name(r->reason));
	put_raw(b, r->hardbounce ? ",\"hardbounce\":true"
				 : ",\"hardbounce\":false");
	add_str(b, ",\"side\":", classify_side_name(r->side));
	add_str(b, ",\"diagnostic\":", r->diagnostic);
	add_str(b, ",\"remote_mta\":", r->remote_mta);
}

/* Appends the line for r (NULL: the report without recipients). */
static void
add_line(struct out_buf *b, const char *file,
	 const struct bounce_report *report, const struct bounce_rcpt *r)
{
	add_str(b, "{\"file\":", file);
	add_str(b, ",\"kind\":", kind_names[report->kind]);
	add_rcpt(b, r);
	add_str(b, ",\"reporting_mta\":", report->reporting_mta);
	add_str(b, ",\"parser\":", report->parser);
	add_str(b, ",\"rule\":", r != NULL ? r->rule : NULL);
	add_str(b, ",\"date\":", report->date);
	add_original(b, &report->original);
	add_str(b, ",\"order_number\":", report->order_number);
	add_str(b, ",\"mail_type\":", report->mail_type);
	add_str(b, ",\"feedback_type\":", report->feedback_type);
	if (report->kind == BOUNCE_KIND_ERROR)
		add_str(b, ",\"error\":", report->error);
	put_raw(b, "}\n");
}

int
json_out_report(FILE *fp, const char *file, const struct bounce_report *report)
{
	guint i;

	out.len = 0;
	if (report->rcpts->len == 0)
		add_line(&out, file, report, NULL);
	for (i = 0; i < report->rcpts->len; i++)
		add_line(&out, file, report,
			 g_ptr_array_index(report->rcpts, i));
	fwrite(out.s, 1, out.len, fp);
	return MAX((int)report->rcpts->len, 1);
}

void
json_out_shutdown(void)
{
	g_free(out.s);
	memset(&out, 0, sizeof(out));
}
