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

/* The line being built, reused across lines (one allocation per run). */
static GString *line;

/* True for the bytes append_escaped() writes as an escape: '"', '\\',
   0x01-0x1e and 0x7f. */
static bool
needs_escape(unsigned char c)
{
	return c == '"' || c == '\\' || c < 0x1f || c == 0x7f;
}

/* Returns how many of the n bytes at p need no escape before the first
   that does (n if none).  Eight bytes are tested at a time: in a word w,
   (w - 0x01..01 * c) & ~w & 0x80..80 is non-zero exactly when some byte
   of w is below c (c <= 0x80), and a byte equal to c is a zero byte of
   w ^ (0x01..01 * c); the exact byte is then found one at a time. */
static size_t
plain_run(const unsigned char *p, size_t n)
{
	const guint64 ones = 0x0101010101010101ULL, highs = ones * 0x80;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		guint64 w, q, b, d;

		memcpy(&w, p + i, 8);
		q = w ^ (ones * '"');
		b = w ^ (ones * '\\');
		d = w ^ (ones * 0x7f);
		if ((((w - ones * 0x1f) & ~w) | ((q - ones) & ~q) |
		     ((b - ones) & ~b) | ((d - ones) & ~d)) &
		    highs)
			break;
	}
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

/* Adds "name":value, or "name":null for NULL or ""; a comma before it
   unless it opens an object.  Names are plain ASCII, never escaped.
   The room for the worst case is taken once, then written directly. */
static void
add_str(GString *b, const char *name, const char *value)
{
	size_t old = b->len, nlen = strlen(name);
	size_t vlen = value != NULL ? strlen(value) : 0;
	char *o;

	g_string_set_size(b, old + nlen + 6 * vlen + 9);
	o = b->str + old;
	if (old == 0 || o[-1] != '{')
		*o++ = ',';
	*o++ = '"';
	memcpy(o, name, nlen);
	o += nlen;
	if (vlen == 0) {
		memcpy(o, "\":null", 6);
		o += 6;
	} else {
		memcpy(o, "\":\"", 3);
		o = put_escaped(o + 3, value, vlen);
		*o++ = '"';
	}
	g_string_truncate(b, o - b->str);
}

static void
add_original(GString *b, const struct bounce_original *o)
{
	g_string_append(b, ",\"original\":{");
	add_str(b, "message_id", o->message_id);
	add_str(b, "envelope_id", o->envelope_id);
	add_str(b, "from", o->from);
	add_str(b, "to", o->to);
	add_str(b, "subject", o->subject);
	add_str(b, "date", o->date);
	g_string_append_c(b, '}');
}

static void
add_rcpt(GString *b, const struct bounce_rcpt *r)
{
	static const struct bounce_rcpt none = {0};

	if (r == NULL)
		r = &none;
	add_str(b, "recipient", r->recipient);
	add_str(b, "action", r->action);
	add_str(b, "status", r->status);
	add_str(b, "replycode", r->replycode);
	add_str(b, "reason",
		r == &none ? NULL : classify_reason_name(r->reason));
	g_string_append(b, r->hardbounce ? ",\"hardbounce\":true"
					 : ",\"hardbounce\":false");
	add_str(b, "side", classify_side_name(r->side));
	add_str(b, "diagnostic", r->diagnostic);
	add_str(b, "remote_mta", r->remote_mta);
}

static void
build_rcpt(GString *b, const char *file, const struct bounce_report *report,
	   const struct bounce_rcpt *r)
{
	g_string_append_c(b, '{');
	add_str(b, "file", file);
	add_str(b, "kind", kind_names[report->kind]);
	add_rcpt(b, r);
	add_str(b, "reporting_mta", report->reporting_mta);
	add_str(b, "parser", report->parser);
	add_str(b, "rule", r != NULL ? r->rule : NULL);
	add_str(b, "date", report->date);
	add_original(b, &report->original);
	add_str(b, "order_number", report->order_number);
	add_str(b, "mail_type", report->mail_type);
	add_str(b, "feedback_type", report->feedback_type);
	if (report->kind == BOUNCE_KIND_ERROR)
		add_str(b, "error", report->error);
	g_string_append(b, "}\n");
}

/* Writes one line for r (NULL: the report without recipients). */
static void
write_rcpt(FILE *fp, const char *file, const struct bounce_report *report,
	   const struct bounce_rcpt *r)
{
	if (line == NULL)
		line = g_string_sized_new(2048);
	g_string_truncate(line, 0);
	build_rcpt(line, file, report, r);
	fwrite(line->str, 1, line->len, fp);
}

int
json_out_report(FILE *fp, const char *file, const struct bounce_report *report)
{
	guint i;

	if (report->rcpts->len == 0) {
		write_rcpt(fp, file, report, NULL);
		return 1;
	}
	for (i = 0; i < report->rcpts->len; i++)
		write_rcpt(fp, file, report,
			   g_ptr_array_index(report->rcpts, i));
	return (int)report->rcpts->len;
}

void
json_out_shutdown(void)
{
	if (line != NULL)
		g_string_free(line, TRUE);
	line = NULL;
}
