/*
 * textscan.c - linear-time text helpers for plain-text bounces.
 *
 * No regular expressions: hostile bodies must not make us backtrack.
 * text_find_ci() is a naive search bounded by needle length, and the
 * needles are short constant markers, so cost is O(len(hay) * len(needle))
 * with len(needle) a small constant.
 */
#include <string.h>

#include "textscan.h"

static char
ascii_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static char
ascii_upper(char c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/* The expected cost of searching bounce text for a byte of a needle:
   how often the byte occurs in either case, per thousand bytes of a
   bounce corpus (at least 1), plus 3 for a letter, whose other case
   costs a second memchr() pass (about as dear as a few candidate checks
   per thousand bytes).  UTF-8 continuation bytes (0x80-0xbf) are spread
   over 64 values; a lead byte is shared by a whole script.  NUL and LF
   never anchor. */
static const unsigned char anchor_cost[256] = {
    255, 1,  1,  1,  1,  1,  1,  1,  1,  3,  255, 1,  1,  1,  1,  1,  /* 0x00 */
    1,   1,  1,  1,  1,  1,  1,  1,  1,  1,  1,   4,  1,  1,  1,  1,  /* 0x10 */
    74,  2,  2,  1,  6,  1,  1,  1,  5,  3,  1,   3,  3,  27, 27, 4,  /* 0x20 */
    30,  18, 24, 8,  10, 10, 7,  7,  5,  4,  20,  4,  4,  4,  4,  5,  /* 0x30 */
    6,   40, 22, 30, 26, 77, 15, 14, 18, 39, 13,  9,  23, 31, 41, 53, /* 0x40 */
    27,  5,  37, 43, 62, 23, 12, 8,  11, 15, 5,   2,  1,  1,  1,  1,  /* 0x50 */
    1,   40, 22, 30, 26, 77, 15, 14, 18, 39, 13,  9,  23, 31, 41, 53, /* 0x60 */
    27,  5,  37, 43, 62, 23, 12, 8,  11, 15, 5,   1,  1,  1,  1,  1,  /* 0x70 */
    15,  15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  15, 15, 15, 15, 15, /* 0x80 */
    15,  15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  15, 15, 15, 15, 15, /* 0x90 */
    15,  15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  15, 15, 15, 15, 15, /* 0xa0 */
    15,  15, 15, 15, 15, 15, 15, 15, 15, 15, 15,  15, 15, 15, 15, 15, /* 0xb0 */
    30,  30, 30, 30, 30, 30, 30, 30, 30, 30, 30,  30, 30, 30, 30, 30, /* 0xc0 */
    30,  30, 30, 30, 30, 30, 30, 30, 30, 30, 30,  30, 30, 30, 30, 30, /* 0xd0 */
    30,  30, 30, 30, 30, 30, 30, 30, 30, 30, 30,  30, 30, 30, 30, 30, /* 0xe0 */
    30,  30, 30, 30, 30, 30, 30, 30, 30, 30, 30,  30, 30, 30, 30, 30, /* 0xf0 */
};

/* Below this many bytes of text the needle's first byte anchors: picking
   a rarer one would cost more than it saves. */
#define ANCHOR_MIN_TEXT 64

/* Returns the index of the byte of the n-byte needle that is cheapest to
   search for (see anchor_cost[]); the first of equals. */
static size_t
pick_anchor(const char *needle, size_t n)
{
	size_t i, best = 0;
	unsigned best_cost = anchor_cost[(unsigned char)needle[0]];

	for (i = 1; i < n; i++)
		if (anchor_cost[(unsigned char)needle[i]] < best_cost) {
			best = i;
			best_cost = anchor_cost[(unsigned char)needle[i]];
		}
	return best;
}

/* Returns the first start of the n-byte needle (n > 0) in [p, e),
   ignoring ASCII case, or NULL.  memchr() finds the candidates for the
   needle's rarest byte (the anchor, at offset k) in each case, so a miss
   costs one or two vector scans; candidates are checked in text order,
   so the first one that matches is the first occurrence. */
static const char *
range_find_ci(const char *p, const char *e, const char *needle, size_t n)
{
	size_t k;
	char lo, up;
	const char *last, *a, *b, *c;

	if (e - p < (ptrdiff_t)n)
		return NULL;
	k = e - p >= ANCHOR_MIN_TEXT ? pick_anchor(needle, n) : 0;
	lo = ascii_lower(needle[k]);
	up = ascii_upper(needle[k]);
	last = e - n + k; /* the anchor of the last possible start */
	p += k;
	a = memchr(p, lo, last - p + 1);
	b = up != lo ? memchr(p, up, last - p + 1) : NULL;
	while (a != NULL || b != NULL) {
		c = b == NULL || (a != NULL && a < b) ? a : b;
		if (text_same_ci(c - k, needle, n))
			return c - k;
		if (c == a)
			a = c < last ? memchr(c + 1, lo, last - c) : NULL;
		else
			b = c < last ? memchr(c + 1, up, last - c) : NULL;
	}
	return NULL;
}

const char *
text_find_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	if (n == 0)
		return hay;
	return range_find_ci(hay, hay + strlen(hay), needle, n);
}

bool
text_has_ci(const char *hay, const char *needle)
{
	return hay != NULL && text_find_ci(hay, needle) != NULL;
}

bool
text_has_any_ci(const char *hay, const char *const *needles)
{
	const char *end;

	if (hay == NULL || needles == NULL)
		return false;
	end = hay + strlen(hay);
	for (; *needles != NULL; needles++)
		if (**needles == '\0' ||
		    range_find_ci(hay, end, *needles, strlen(*needles)) != NULL)
			return true;
	return false;
}

static bool
is_local_char(unsigned char c)
{
	return g_ascii_isalnum(c) || c >= 0x80 ||
	       strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL;
}

static bool
is_domain_char(unsigned char c)
{
	return g_ascii_isalnum(c) || c >= 0x80 || c == '-' || c == '.' ||
	       c == '_';
}

/* Given the position of '@' in s[0..n), finds the extent of the address
   around it.  Returns false if either side is empty or the domain is not
   dotted. */
static bool
addr_around(const char *s, size_t n, size_t at, size_t *start_r, size_t *end_r)
{
	size_t b = at, e = at + 1;
	bool dot = false;

	while (b > 0 && is_local_char((unsigned char)s[b - 1]))
		b--;
	if (e < n && s[e] == '[') {
		while (e < n && s[e] != ']')
			e++;
		if (e == n)
			return false;
		e++;
		dot = true;
	} else {
		while (e < n && is_domain_char((unsigned char)s[e])) {
			dot = dot || (s[e] == '.' && e + 1 < n &&
				      is_domain_char((unsigned char)s[e + 1]) &&
				      s[e + 1] != '.');
			e++;
		}
	}
	while (e > at + 1 && s[e - 1] == '.')
		e--;
	while (b < at && s[b] == '.')
		b++;
	if (b == at || e == at + 1 || !dot)
		return false;
	*start_r = b;
	*end_r = e;
	return true;
}

bool
text_find_addr(const char *s, size_t n, const char **start_r, size_t *len_r)
{
	const char *at = s, *end = s + n;
	size_t b, e;

	while ((at = memchr(at, '@', end - at)) != NULL) {
		if (addr_around(s, n, at - s, &b, &e)) {
			*start_r = s + b;
			*len_r = e - b;
			return true;
		}
		at++;
	}
	return false;
}

char *
text_clean_addr(const char *s, size_t n)
{
	const char *at;
	char *addr, *domain;

	while (n > 0 && strchr("<\"' \t(", *s) != NULL) {
		s++;
		n--;
	}
	while (n > 0 && strchr(">\"' \t.,;:)", s[n - 1]) != NULL)
		n--;
	if (n == 0 || n > 320 || (at = memchr(s, '@', n)) == NULL)
		return NULL;
	if (at == s || at == s + n - 1)
		return NULL;
	addr = g_strndup(s, n);
	if (!g_utf8_validate(addr, -1, NULL)) {
		g_free(addr);
		return NULL;
	}
	domain = strrchr(addr, '@') + 1;
	for (; *domain != '\0'; domain++)
		*domain = g_ascii_tolower(*domain);
	return addr;
}

const char *
text_line_end(const char *p)
{
	const char *e = strchr(p, '\n');

	return e != NULL ? e : p + strlen(p);
}

/* True if needle occurs, ignoring ASCII case, within [p, e).  An empty
   needle matches only a line that the end of the text ends. */
static bool
range_has_ci(const char *p, const char *e, const char *needle)
{
	size_t n = strlen(needle);

	if (n == 0)
		return p <= e && memchr(p, '\0', e - p + 1) != NULL;
	return range_find_ci(p, e, needle, n) != NULL;
}

bool
text_line_has_any(const char *p, const char *e, const char *const *needles)
{
	if (needles == NULL)
		return false;
	for (; *needles != NULL; needles++)
		if (range_has_ci(p, e, *needles))
			return true;
	return false;
}

const char *
text_first_line_with_any(const char *p, const char *const *needles)
{
	const char *end = p + strlen(p), *best = NULL, *hit;

	if (needles == NULL)
		return NULL;
	for (; *needles != NULL; needles++) {
		size_t n = strlen(*needles);

		if (n == 0) /* only a last line without '\n' */
			hit = end > p && end[-1] != '\n' ? end : NULL;
		else
			hit = range_find_ci(
			    p, best != NULL ? MIN(end, best + n - 1) : end,
			    *needles, n);
		if (hit != NULL && (best == NULL || hit < best))
			best = hit;
	}
	while (best != NULL && best > p && best[-1] != '\n')
		best--;
	return best;
}

const char *
text_next_line(const char *e)
{
	return *e != '\0' ? e + 1 : e;
}

bool
text_line_blank(const char *p, const char *e)
{
	for (; p < e; p++)
		if (!g_ascii_isspace(*p))
			return false;
	return true;
}

/* Finds the start of scanning per spec, or NULL if a required begin
   marker is missing. */
static const char *
scan_start(const char *body, const struct textscan_spec *spec)
{
	const char *p;

	if (spec->begin == NULL)
		return body;
	if ((p = text_first_line_with_any(body, spec->begin)) != NULL)
		return text_next_line(text_line_end(p));
	return spec->begin_required ? NULL : body;
}

static void
append_diag(GString *diag, const char *p, const char *e)
{
	while (p < e && g_ascii_isspace(*p))
		p++;
	if (p >= e)
		return;
	if (diag->len > 0)
		g_string_append_c(diag, ' ');
	g_string_append_len(diag, p, e - p);
}

static void
finish_rcpt(struct bounce_rcpt *rcpt, GString *diag)
{
	if (rcpt == NULL)
		return;
	if (diag->len > 0) {
		report_set_default(&rcpt->diagnostic, diag->str);
		if (rcpt->status[0] == '\0')
			report_set_status(rcpt, diag->str);
		if (rcpt->replycode[0] == '\0')
			report_set_replycode(rcpt, diag->str);
	}
	g_string_truncate(diag, 0);
}

/* Starts or finds the recipient for the address at a/alen. */
static struct bounce_rcpt *
scan_rcpt(struct bounce_report *report, const char *a, size_t alen, int *count)
{
	char *addr = text_clean_addr(a, alen);
	struct bounce_rcpt *rcpt;

	if (addr == NULL)
		return NULL;
	if ((rcpt = report_find_rcpt(report, addr)) == NULL) {
		rcpt = report_add_rcpt(report);
		rcpt->recipient = addr;
		rcpt->action = g_strdup("failed");
	} else {
		g_free(addr);
	}
	(*count)++;
	return rcpt;
}

bool
text_is_rcpt(const struct bounce_rcpt *rcpt, const char *a, size_t alen)
{
	char *addr;
	bool same;

	if (rcpt == NULL || rcpt->recipient == NULL)
		return false;
	addr = text_clean_addr(a, alen);
	same = addr != NULL && g_ascii_strcasecmp(addr, rcpt->recipient) == 0;
	g_free(addr);
	return same;
}

int
textscan_failed_list(const char *value, struct bounce_report *report)
{
	char **list;
	int n = 0;
	size_t i;

	if (value == NULL)
		return 0;
	list = g_strsplit(value, ",", -1);
	for (i = 0; list[i] != NULL; i++) {
		const char *a;
		size_t alen;
		char *addr = NULL;
		struct bounce_rcpt *r;

		if (text_find_addr(list[i], strlen(list[i]), &a, &alen))
			addr = text_clean_addr(a, alen);
		if (addr == NULL || report_find_rcpt(report, addr) != NULL) {
			g_free(addr);
			continue;
		}
		r = report_add_rcpt(report);
		r->recipient = addr;
		r->action = g_strdup("failed");
		n++;
	}
	g_strfreev(list);
	return n;
}

/* True if diag is only a short label such as "because:" or "Remote host
   said:" so far: the reply is the paragraph after the blank line. */
static bool
diag_is_label(const GString *diag)
{
	return diag->len > 0 && diag->len <= 40 &&
	       diag->str[diag->len - 1] == ':';
}

int
textscan_recipients(const char *body, const struct textscan_spec *spec,
		    struct bounce_report *report)
{
	GString *diag = g_string_new(NULL);
	struct bounce_rcpt *rcpt = NULL;
	const char *p, *e, *a, *stop;
	size_t alen;
	int count = 0;

	if ((p = scan_start(body, spec)) == NULL)
		goto out;
	stop = text_first_line_with_any(p, spec->end);
	for (; *p != '\0' && p != stop; p = text_next_line(e)) {
		e = text_line_end(p);
		if (text_find_addr(p, e - p, &a, &alen) &&
		    !text_line_has_any(p, e, spec->ignore) &&
		    !text_is_rcpt(rcpt, a, alen)) {
			finish_rcpt(rcpt, diag);
			rcpt = scan_rcpt(report, a, alen, &count);
			a += alen;
			while (a < e && strchr(">:;,)] \t", *a) != NULL)
				a++;
			append_diag(diag, a, e);
			continue;
		}
		if (text_line_blank(p, e)) {
			if (diag->len > 0 && !diag_is_label(diag)) {
				finish_rcpt(rcpt, diag);
				rcpt = NULL;
			}
			continue;
		}
		if (rcpt != NULL)
			append_diag(diag, p, e);
	}
	finish_rcpt(rcpt, diag);
out:
	g_string_free(diag, TRUE);
	return count;
}

char *
text_section(const char *body, const char *const *begin, const char *const *end)
{
	const char *start = text_first_line_with_any(body, begin), *p;

	if (start == NULL)
		return NULL;
	p = text_next_line(text_line_end(start));
	if ((p = text_first_line_with_any(p, end)) == NULL)
		p = start + strlen(start);
	return g_strndup(start, p - start);
}
