/*
 * report.c - struct bounce_report construction and cleanup.
 *
 * Every string stored through report_set() is valid UTF-8 on one line, so
 * consumers (JSON, SQL, notification mail) never see raw bytes or line
 * breaks from hostile input.
 */
#include <string.h>

#include "report.h"
#include "charset.h"

struct bounce_report *
report_new(void)
{
	struct bounce_report *report = g_new0(struct bounce_report, 1);

	report->rcpts = g_ptr_array_new();
	return report;
}

static void
rcpt_free(struct bounce_rcpt *rcpt)
{
	g_free(rcpt->recipient);
	g_free(rcpt->original_recipient);
	g_free(rcpt->action);
	g_free(rcpt->diagnostic);
	g_free(rcpt->remote_mta);
	g_free(rcpt->last_attempt);
	g_free(rcpt->rule);
	g_free(rcpt);
}

static void
original_clear(struct bounce_original *o)
{
	g_free(o->message_id);
	g_free(o->envelope_id);
	g_free(o->from);
	g_free(o->to);
	g_free(o->subject);
	g_free(o->date);
	memset(o, 0, sizeof(*o));
}

static void
rcpts_clear(struct bounce_report *report)
{
	guint i;

	for (i = 0; i < report->rcpts->len; i++)
		rcpt_free(g_ptr_array_index(report->rcpts, i));
	g_ptr_array_set_size(report->rcpts, 0);
}

void
report_free(struct bounce_report **reportp)
{
	struct bounce_report *report;

	if (reportp == NULL || (report = *reportp) == NULL)
		return;
	rcpts_clear(report);
	g_ptr_array_free(report->rcpts, TRUE);
	original_clear(&report->original);
	g_free(report->error);
	g_free(report->reporting_mta);
	g_free(report->date);
	g_free(report->subject);
	g_free(report->from);
	g_free(report->feedback_type);
	g_free(report->order_number);
	g_free(report->mail_type);
	g_free(report);
	*reportp = NULL;
}

struct bounce_rcpt *
report_add_rcpt(struct bounce_report *report)
{
	struct bounce_rcpt *rcpt = g_new0(struct bounce_rcpt, 1);

	g_ptr_array_add(report->rcpts, rcpt);
	return rcpt;
}

struct bounce_rcpt *
report_find_rcpt(const struct bounce_report *report, const char *addr)
{
	guint i;

	if (addr == NULL)
		return NULL;
	for (i = 0; i < report->rcpts->len; i++) {
		struct bounce_rcpt *r = g_ptr_array_index(report->rcpts, i);

		if (r->recipient != NULL &&
		    g_ascii_strcasecmp(r->recipient, addr) == 0)
			return r;
	}
	return NULL;
}

/* Longest string a report keeps, in bytes; longer text is cut at a
   character boundary.  Diagnostics are a few hundred bytes in practice. */
#define REPORT_MAX_FIELD 4000

/* True if the n-byte UTF-8 character at p is a control, a space, U+00A0
   or U+3000: these all become one separating space. */
static bool
is_blank_char(const unsigned char *p, size_t n)
{
	if (n == 1)
		return p[0] <= ' ' || p[0] == 0x7f;
	if (n == 2)
		return p[0] == 0xc2 && p[1] == 0xa0;
	return n == 3 && p[0] == 0xe3 && p[1] == 0x80 && p[2] == 0x80;
}

/* Returns how many of the (at most max, all readable) bytes at p are
   printable ASCII before the first other byte.  Eight bytes are tested at a
   time where the string has them: in a word w, (w - 0x01..01 * c) & ~w &
   0x80..80 is non-zero exactly when some byte of w is below c, bytes of 0x80
   and up have their top bit set, and 0x7f is a zero byte of w ^ 0x7f..7f. */
static size_t
printable_run(const unsigned char *p, size_t max)
{
	const guint64 ones = 0x0101010101010101ULL, highs = ones * 0x80;
	size_t i = 0;

	for (; i + 8 <= max; i += 8) {
		guint64 w, d;

		memcpy(&w, p + i, 8);
		d = w ^ (ones * 0x7f);
		if ((((w - ones * 0x21) & ~w) | w | ((d - ones) & ~d)) & highs)
			break;
	}
	while (i < max && p[i] > ' ' && p[i] < 0x7f)
		i++;
	return i;
}

/* True if the word w (eight bytes of text) may hold a byte that is not
   printable ASCII or two spaces side by side.  Cheap tests that err only
   towards true: (w - 0x01..01 * c) & ~w & 0x80..80 is non-zero exactly
   when some byte is below c, and w + 0x01..01 and w itself set a top bit
   for 0x7f and for bytes of 0x80 and up.  In x = w ^ 0x20..20 a space is
   a zero byte; (x - 0x01..01) & ~x marks it (and maybe a byte after it,
   by the borrow), and bytes next to each other in memory are next to
   each other in the word in either byte order, so m & (m << 8) finds a
   marked pair. */
static bool
word_may_be_unclean(guint64 w)
{
	const guint64 ones = 0x0101010101010101ULL, highs = ones * 0x80;
	guint64 x = w ^ (ones * ' '), m = (x - ones) & ~x & highs;

	return ((((w - ones * 0x20) & ~w) | (w + ones) | w) & highs) != 0 ||
	       (m & (m << 8)) != 0;
}

/* True if the len bytes at s are certainly what clean_line() would make
   of them: printable ASCII and single spaces between words, no space at
   either end (false may also mean "cannot tell quickly").  From 8 bytes
   on, whole words are tested, the last one overlapping the one before;
   a space pair across two words is caught by the byte tests. */
static bool
is_clean_ascii(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i;
	guint64 w;

	if (len < 8) {
		for (i = 0; i < len; i++)
			if (p[i] <= ' ' || p[i] >= 0x7f)
				return false;
		return len > 0;
	}
	if (p[0] == ' ' || p[len - 1] == ' ')
		return false;
	for (i = 0;; i += 8) {
		if (i + 8 > len)
			i = len - 8;
		memcpy(&w, p + i, 8);
		if (word_may_be_unclean(w) ||
		    (i > 0 && p[i] == ' ' && p[i - 1] == ' '))
			return false;
		if (i + 8 == len)
			return true;
	}
}

/* Returns a clean one-line UTF-8 copy of value: invalid bytes become
   U+FFFD, controls become spaces, white-space runs collapse, and the
   ends are trimmed.  Valid text (the common case) is not copied first,
   and characters are copied as bytes: valid UTF-8 has one encoding. */
static char *
clean_line(const char *value)
{
	char *valid = NULL, *out, *o;
	bool space = false;
	const unsigned char *p, *end;
	size_t n, len = strlen(value), room;

	if (len <= REPORT_MAX_FIELD && is_clean_ascii(value, len))
		return g_memdup2(value, len + 1);
	if (charset_has_8bit(value, len) &&
	    !g_utf8_validate(value, len, NULL)) {
		value = valid = g_utf8_make_valid(value, len);
		len = strlen(value);
	}
	end = (const unsigned char *)value + len;
	/* the copy never grows: a blank run of n >= 1 bytes becomes one */
	o = out = g_malloc(len + 1);
	for (p = (const unsigned char *)value;
	     *p != '\0' && (size_t)(o - out) < REPORT_MAX_FIELD; p += n) {
		if (*p > ' ' && *p < 0x7f) {
			/* printable ASCII, the common case: the first byte,
			   then the rest of the run while there is room */
			if (space)
				*o++ = ' ';
			space = false;
			*o++ = (char)*p;
			room = (size_t)(o - out) < REPORT_MAX_FIELD
				   ? REPORT_MAX_FIELD - (size_t)(o - out)
				   : 0;
			n = printable_run(p + 1,
					  MIN(room, (size_t)(end - p - 1)));
			memcpy(o, p + 1, n);
			o += n;
			n++;
			continue;
		}
		n = (size_t)g_utf8_skip[*p];
		if (is_blank_char(p, n)) {
			space = o > out;
			continue;
		}
		if (space)
			*o++ = ' ';
		space = false;
		memcpy(o, p, n);
		o += n;
	}
	*o = '\0';
	g_free(valid);
	return out;
}

void
report_set(char **field, const char *value)
{
	g_free(*field);
	*field = value != NULL ? clean_line(value) : NULL;
}

void
report_set_default(char **field, const char *value)
{
	if (*field == NULL || **field == '\0')
		report_set(field, value);
}

/* Returns the length of an RFC 3463 code at s (class 2/4/5, subject 1-3
   digits, detail 1-3 digits), or 0. */
static size_t
status_len(const char *s)
{
	size_t i = 1, n;

	if (s[0] != '2' && s[0] != '4' && s[0] != '5')
		return 0;
	if (s[1] != '.')
		return 0;
	for (n = 0, i = 2; g_ascii_isdigit(s[i]) && n < 3; i++, n++)
		;
	if (n == 0 || s[i] != '.')
		return 0;
	for (n = 0, i++; g_ascii_isdigit(s[i]) && n < 3; i++, n++)
		;
	if (n == 0 || g_ascii_isdigit(s[i]) || s[i] == '.')
		return 0;
	return i;
}

bool
report_set_status(struct bounce_rcpt *rcpt, const char *text)
{
	const char *p;

	if (text == NULL)
		return false;
	for (p = text; *p != '\0'; p++) {
		size_t n;

		if (p > text && (g_ascii_isdigit(p[-1]) || p[-1] == '.'))
			continue;
		if ((n = status_len(p)) == 0)
			continue;
		memcpy(rcpt->status, p, n);
		rcpt->status[n] = '\0';
		return true;
	}
	return false;
}

bool
report_set_replycode(struct bounce_rcpt *rcpt, const char *text)
{
	const char *p;

	if (text == NULL)
		return false;
	for (p = text; *p != '\0'; p++) {
		if (p > text && (g_ascii_isalnum(p[-1]) || p[-1] == '.' ||
				 p[-1] == '-' || p[-1] == '/'))
			continue;
		if ((p[0] != '2' && p[0] != '4' && p[0] != '5') ||
		    !g_ascii_isdigit(p[1]) || !g_ascii_isdigit(p[2]))
			continue;
		if (p[1] > '5')
			continue;
		if (p[3] != ' ' && p[3] != '-' && p[3] != '\0')
			continue;
		memcpy(rcpt->replycode, p, 3);
		rcpt->replycode[3] = '\0';
		return true;
	}
	return false;
}

void
report_drop_nameless(struct bounce_report *report)
{
	guint i = 0;

	while (i < report->rcpts->len) {
		struct bounce_rcpt *r = g_ptr_array_index(report->rcpts, i);

		if (r->recipient != NULL) {
			i++;
			continue;
		}
		rcpt_free(r);
		g_ptr_array_remove_index(report->rcpts, i);
	}
}

void
report_set_error(struct bounce_report *report, const char *why)
{
	rcpts_clear(report);
	report->kind = BOUNCE_KIND_ERROR;
	report_set(&report->error, why);
}
