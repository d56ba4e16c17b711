/*
 * mime.c - one pass over a message's bytes: header fields, the multipart
 * tree and the attached messages, as pointers into the input.
 *
 * See mime.h for the rules.  Every line is looked at once per enclosing
 * boundary (at most MIME_MAX_DEPTH), so time stays linear; recursion is
 * bounded by the same cap.  Values are decoded by GMime only when a
 * reader asks for them.
 */
#include <string.h>

#include "mime.h"
#include "charset.h"
#include "textscan.h"

struct mime_field {
	const char *name;
	size_t name_len;
	const char *raw; /* after the colon, continuation lines included */
	size_t raw_len;
	const char *value; /* decoded on first use, in the headers' arena */
};

/* Storage for decoded values: chunks freed together with the headers,
   so a value costs no allocation of its own. */
struct arena_chunk {
	struct arena_chunk *next;
	size_t used, size;
	char data[];
};

#define ARENA_CHUNK   1024
#define FIELDS_INLINE 8

struct mime_headers {
	struct mime_field *fields; /* first, or allocated when it grew */
	size_t len, cap;
	GMimeParserOptions *options;
	struct arena_chunk *arena; /* newest first; NULL until a value */
	struct mime_field first[FIELDS_INLINE];
};

/* Boundary stack.  Level 0 is the mbox "From " line (GMime ends an mbox
   message there); levels 1.. are multipart boundaries, innermost last. */
struct scan {
	const char *end;
	bool mbox;
	int nbounds;
	const char *bound[MIME_MAX_DEPTH + 1];
	size_t blen[MIME_MAX_DEPTH + 1];
	GMimeParserOptions *options;
};

/* Where a scan stopped: at a boundary line of level (or -1 at the end of
   the input); end is true for a closing "--BOUNDARY--" line. */
struct hit {
	int level;
	bool end;
};

/* --- header fields ------------------------------------------------------- */

static struct mime_headers *
headers_new(GMimeParserOptions *options)
{
	struct mime_headers *h = g_new(struct mime_headers, 1);

	h->fields = h->first;
	h->len = 0;
	h->cap = FIELDS_INLINE;
	h->options = options;
	h->arena = NULL;
	return h;
}

void
mime_headers_free(struct mime_headers **headers)
{
	struct mime_headers *h = *headers;
	struct arena_chunk *c, *next;

	if (h == NULL)
		return;
	for (c = h->arena; c != NULL; c = next) {
		next = c->next;
		g_free(c);
	}
	if (h->fields != h->first)
		g_free(h->fields);
	g_free(h);
	*headers = NULL;
}

/* Appends f; the array moves out of h->first when it fills up. */
static void
fields_append(struct mime_headers *h, const struct mime_field *f)
{
	if (h->len == h->cap) {
		struct mime_field *grown = g_new(struct mime_field, h->cap * 2);

		memcpy(grown, h->fields, h->len * sizeof(*grown));
		if (h->fields != h->first)
			g_free(h->fields);
		h->fields = grown;
		h->cap *= 2;
	}
	h->fields[h->len++] = *f;
}

/* Returns n bytes of storage that live as long as h. */
static char *
arena_alloc(struct mime_headers *h, size_t n)
{
	struct arena_chunk *c = h->arena;
	char *p;

	if (c == NULL || c->size - c->used < n) {
		size_t size = MAX(n, ARENA_CHUNK - sizeof(*c));

		c = g_malloc(sizeof(*c) + size);
		c->used = 0;
		c->size = size;
		/* A big one-off value goes behind the current chunk, which
		   keeps its room. */
		if (h->arena != NULL && size > ARENA_CHUNK - sizeof(*c)) {
			c->next = h->arena->next;
			h->arena->next = c;
		} else {
			c->next = h->arena;
			h->arena = c;
		}
	}
	p = c->data + c->used;
	c->used += n;
	return p;
}

/* Gives back the end of the latest arena_alloc() at p: only used bytes
   of it stay taken.  A no-op when p is not in the newest chunk. */
static void
arena_trim(struct mime_headers *h, const char *p, size_t used)
{
	struct arena_chunk *c = h->arena;

	if (c != NULL && p >= c->data && p <= c->data + c->used)
		c->used = (p - c->data) + used;
}

size_t
mime_headers_count(const struct mime_headers *headers)
{
	return headers->len;
}

/* True if field f is named by the n bytes at name, ignoring ASCII
   case. */
static bool
field_named(const struct mime_field *f, const char *name, size_t n)
{
	return f->name_len == n && text_same_ci(f->name, name, n);
}

bool
mime_headers_name_is(const struct mime_headers *headers, size_t i,
		     const char *name)
{
	return mime_headers_name_is_n(headers, i, name, strlen(name));
}

bool
mime_headers_name_is_n(const struct mime_headers *headers, size_t i,
		       const char *name, size_t n)
{
	return field_named(&headers->fields[i], name, n);
}

/* True if the len bytes at s hold "=?". */
static bool
has_eword_start(const char *s, size_t len)
{
	const char *p = s, *end = s + len, *q;

	while (p < end && (q = memchr(p, '=', end - p)) != NULL) {
		if (q + 1 < end && q[1] == '?')
			return true;
		p = q + 1;
	}
	return false;
}

/* False for text (len bytes, no NUL) without an encoded word that is
   7-bit or valid UTF-8, which GMime's decoder returns unchanged (checked
   over random strings, tests/test_parse.c), so most fields skip it. */
static bool
needs_decoding(const char *s, size_t len)
{
	if (has_eword_start(s, len))
		return true;
	/* GMime decodes each raw 8-bit word with the first fallback charset
	   that fits it, and UTF-8 always comes first: valid UTF-8 comes back
	   unchanged, only after an iconv_open() per word. */
	return charset_utf8_valid_len(s, len) != len &&
	       charset_has_8bit(s, len);
}

static bool
is_lwsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Returns the first CR or LF in [p, e), or e.  *cr and *nl hold the
   first CR and LF found so far (NULL: none left) and move forward only,
   so a walk over a value reads each byte at most twice. */
static const char *
next_break(const char *p, const char *e, const char **cr, const char **nl)
{
	if (*cr != NULL && *cr < p)
		*cr = memchr(p, '\r', e - p);
	if (*nl != NULL && *nl < p)
		*nl = memchr(p, '\n', e - p);
	if (*cr == NULL)
		return *nl != NULL ? *nl : e;
	return *nl != NULL && *nl < *cr ? *nl : *cr;
}

/* As g_mime_utils_header_unfold() on the first len bytes of raw (up to a
   NUL): white space (space, tab, CR, LF) trimmed at both ends, CR and LF
   dropped inside (tests/test_parse.c compares them).  Returns the text,
   stored in h's arena, and its length in *len_r. */
static const char *
unfold(struct mime_headers *h, const char *raw, size_t len, size_t *len_r)
{
	const char *end = memchr(raw, '\0', len);
	const char *last, *brk, *cr, *nl;
	char *out, *o;

	end = end != NULL ? end : raw + len;
	while (raw < end && is_lwsp(*raw))
		raw++;
	for (last = end; last > raw && is_lwsp(last[-1]); last--)
		;
	o = out = arena_alloc(h, last - raw + 1);
	cr = memchr(raw, '\r', last - raw);
	nl = memchr(raw, '\n', last - raw);
	while (raw < last) {
		brk = next_break(raw, last, &cr, &nl);
		memcpy(o, raw, brk - raw);
		o += brk - raw;
		raw = brk < last ? brk + 1 : last;
	}
	*o = '\0';
	*len_r = o - out;
	arena_trim(h, out, *len_r + 1);
	return out;
}

/* --- RFC 2047 fast path ---------------------------------------------------

   GMime's decoder opens an iconv descriptor per run of encoded words and
   goes through its token lists; bounces mostly carry one simple shape:
   ASCII words and whole base64 encoded words in ISO-2022-JP or UTF-8,
   separated by blanks.  That shape is decoded here with the cached
   converters of charset.c, following GMime's rules: blanks between two
   encoded words are dropped, other blanks and words are kept, and the
   bytes of a run of encoded words with the same charset and encoding are
   joined before conversion.  (GMime's base64 state ends at a padded
   word: it drops the rest of the run, so a padded word that is not the
   last of its run goes to GMime too.)  Anything else (Q encoding, other
   charsets, 8-bit or control bytes, words glued to encoded words, payloads that
   do not decode or convert cleanly) goes to GMime; tests/test_parse.c compares
   both. */

/* An encoded word's charset (a pointer into the text) and payload. */
struct eword {
	const char *charset;
	size_t charset_len;
	const char *payload;
	size_t payload_len;
};

/* True if [p, e) is exactly "=?CHARSET?B?PAYLOAD?=" with CHARSET
   ISO-2022-JP or UTF-8 (any case) and B or b; fills w. */
static bool
eword_parse(const char *p, const char *e, struct eword *w)
{
	const char *q;

	if (e - p < 8 || p[0] != '=' || p[1] != '?' || e[-2] != '?' ||
	    e[-1] != '=')
		return false;
	w->charset = p + 2;
	if ((q = memchr(w->charset, '?', e - w->charset)) == NULL)
		return false;
	w->charset_len = q - w->charset;
	if (!((w->charset_len == 11 &&
	       text_same_ci(w->charset, "ISO-2022-JP", 11)) ||
	      (w->charset_len == 5 && text_same_ci(w->charset, "UTF-8", 5))))
		return false;
	if (e - q < 5 || (q[1] != 'B' && q[1] != 'b') || q[2] != '?')
		return false;
	w->payload = q + 3;
	w->payload_len = (e - 2) - w->payload;
	return true;
}

/* True if a and b may be joined into one run: the same charset and
   encoding letter, byte for byte, as GMime compares them. */
static bool
eword_same_run(const struct eword *a, const struct eword *b)
{
	return a->charset_len == b->charset_len &&
	       memcmp(a->charset, b->charset, a->charset_len + 2) == 0;
}

/* The value of each base64 digit; -1 for any other byte. */
static const gint8 base64_values[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, 62, -1, -1, -1, 63, 52, 53, 54, 55, 56, 57, 58, 59, 60,
    61, -1, -1, -1, -1, -1, -1, -1, 0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
    11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1,
    -1, -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42,
    43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

/* Decodes the quad at p, of which only the first digits are real (the
   rest is padding, read as 0), onto o; false for a byte that is no
   base64 digit. */
static bool
base64_quad(const unsigned char *p, size_t digits, char *o)
{
	int a = base64_values[p[0]], b = base64_values[p[1]];
	int c = digits > 2 ? base64_values[p[2]] : 0;
	int d = digits > 3 ? base64_values[p[3]] : 0;
	guint32 quad;

	if ((a | b | c | d) < 0)
		return false;
	quad =
	    (guint32)a << 18 | (guint32)b << 12 | (guint32)c << 6 | (guint32)d;
	o[0] = (char)(quad >> 16);
	o[1] = (char)(quad >> 8);
	o[2] = (char)quad;
	return true;
}

/* Bytes written into caller storage of cap bytes; buf_add() refuses to
   overflow it (the decoder then leaves the value to GMime). */
struct buf {
	char *s;
	size_t len, cap;
};

static bool
buf_add(struct buf *b, const char *p, size_t n)
{
	if (n > b->cap - b->len)
		return false;
	memcpy(b->s + b->len, p, n);
	b->len += n;
	return true;
}

/* Appends the base64 payload of w to out; false unless it is whole
   quads of base64 digits with at most two '=' at the very end (or out
   is full).  Sets *padded_r if there was an '='. */
static bool
eword_decode(const struct eword *w, struct buf *out, bool *padded_r)
{
	const unsigned char *p = (const unsigned char *)w->payload;
	size_t n = w->payload_len, pad = 0, i;

	if (n == 0 || n % 4 != 0 || n / 4 * 3 > out->cap - out->len)
		return false;
	while (pad < 2 && p[n - 1 - pad] == '=')
		pad++;
	*padded_r = pad > 0;
	for (i = 0; i < n; i += 4) {
		if (!base64_quad(p + i, i + 4 < n ? 4 : 4 - pad,
				 out->s + out->len))
			return false;
		out->len += 3;
	}
	out->len -= pad;
	return true;
}

/* Converts the joined bytes of a run to UTF-8 onto out; false if they
   hold a control byte (ESC aside in ISO-2022-JP), do not convert
   cleanly or do not fit. */
static bool
eword_flush(const struct eword *w, const struct buf *bytes, struct buf *out)
{
	bool jis = w->charset_len == 11, ok;
	char *utf8;
	size_t i;

	for (i = 0; i < bytes->len; i++) {
		unsigned char c = (unsigned char)bytes->s[i];

		if ((c < 0x20 && !(jis && c == 0x1b)) || c == 0x7f)
			return false;
	}
	if (!jis)
		return g_utf8_validate(bytes->s, bytes->len, NULL) &&
		       buf_add(out, bytes->s, bytes->len);
	if ((utf8 = charset_convert_strict(bytes->s, bytes->len,
					   "ISO-2022-JP")) == NULL)
		return false;
	ok = buf_add(out, utf8, strlen(utf8));
	g_free(utf8);
	return ok;
}

/* True for the bytes a plain word may hold: printable ASCII. */
static bool
plain_word(const char *p, const char *e)
{
	for (; p < e; p++)
		if (*p <= ' ' || *p >= 0x7f || (p[0] == '=' && p[1] == '?'))
			return false;
	return true;
}

/* Decodes text (unfolded: no leading or trailing blank, no CR or LF) of
   the simple shape onto out, with run as room for the joined bytes of a
   run; false (out undefined) for GMime. */
static bool
decode_simple(const char *text, struct buf *out, struct buf *run)
{
	struct eword cur = {0}, w;
	const char *p = text, *blank = text;
	bool in_run = false, padded = false, ok = true;

	while (ok && *p != '\0') {
		const char *e = p;

		e += strcspn(e, " \t");
		if (eword_parse(p, e, &w)) {
			if (in_run && (padded || !eword_same_run(&cur, &w)))
				ok = false;
			else if (!in_run)
				ok = buf_add(out, blank, p - blank);
			ok = ok && eword_decode(&w, run, &padded);
			cur = w;
			in_run = true;
		} else if (plain_word(p, e)) {
			if (in_run)
				ok = eword_flush(&cur, run, out);
			run->len = 0;
			in_run = false;
			ok = ok && buf_add(out, blank, e - blank);
		} else {
			ok = false;
		}
		for (blank = p = e; *p == ' ' || *p == '\t'; p++)
			;
	}
	return ok && (!in_run || eword_flush(&cur, run, out));
}

/* Stores the decoded form of the unfolded text (len bytes) in h's arena
   and returns it.  Decoded text outgrows neither twice the input (base64
   yields 3 bytes per 4, ISO-2022-JP at most 3 UTF-8 bytes per 2) nor
   does a run's bytes outgrow the input; GMime decodes what does not fit
   or is not of the simple shape. */
static const char *
decode_value(struct mime_headers *h, const char *unfolded, size_t len)
{
	struct buf out = {arena_alloc(h, 2 * len + 1), 0, 2 * len};
	struct buf run = {arena_alloc(h, len + 1), 0, len};
	bool ok = decode_simple(unfolded, &out, &run);
	char *gm;

	arena_trim(h, run.s, 0);
	if (ok) {
		out.s[out.len] = '\0';
		arena_trim(h, out.s, out.len + 1);
		return out.s;
	}
	arena_trim(h, out.s, 0);
	gm = g_mime_utils_header_decode_text(h->options, unfolded);
	out.s = arena_alloc(h, strlen(gm) + 1);
	memcpy(out.s, gm, strlen(gm) + 1);
	g_free(gm);
	return out.s;
}

/* Decodes as GMime's g_mime_header_get_value() does: unfold, then
   RFC 2047 and 8-bit fallback decoding with the parser options. */
const char *
mime_headers_value(struct mime_headers *headers, size_t i)
{
	struct mime_field *f = &headers->fields[i];
	const char *unfolded;
	size_t len;

	if (f->value != NULL)
		return f->value;
	unfolded = unfold(headers, f->raw, f->raw_len, &len);
	f->value = needs_decoding(unfolded, len)
		       ? decode_value(headers, unfolded, len)
		       : unfolded;
	return f->value;
}

const char *
mime_headers_get(struct mime_headers *headers, const char *name)
{
	return mime_headers_get_n(headers, name, strlen(name));
}

const char *
mime_headers_get_n(struct mime_headers *headers, const char *name, size_t len)
{
	size_t i, n = headers->len;

	for (i = 0; i < n; i++)
		if (field_named(&headers->fields[i], name, len))
			return mime_headers_value(headers, i);
	return NULL;
}

const char *
mime_headers_get_last(struct mime_headers *headers, const char *name)
{
	size_t i = headers->len, len = strlen(name);

	while (i-- > 0)
		if (field_named(&headers->fields[i], name, len))
			return mime_headers_value(headers, i);
	return NULL;
}

/* True for the bytes that end a field name: controls, space, ':' and
   DEL. */
static const bool name_stops[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

/* Adds the field on line p..e if it is one (NAME [WSP] ":"); returns
   false for an invalid line, which GMime skips. */
static bool
add_field(struct mime_headers *h, const char *p, const char *e)
{
	struct mime_field f = {0};
	const char *q = p;

	while (q < e && !name_stops[(unsigned char)*q])
		q++;
	f.name = p;
	f.name_len = q - p;
	while (q < e && (*q == ' ' || *q == '\t'))
		q++;
	if (q == e || *q != ':')
		return false;
	f.raw = q + 1;
	f.raw_len = e - f.raw;
	fields_append(h, &f);
	return true;
}

/* GMime files a message's Content-* fields under its body part, not under
   the message.  Moves them from h into a new list and returns it. */
static struct mime_headers *
split_content_fields(struct mime_headers *h)
{
	struct mime_headers *content = headers_new(h->options);
	size_t i, kept = 0;

	for (i = 0; i < h->len; i++) {
		const struct mime_field *f = &h->fields[i];

		if (f->name_len >= 8 && text_same_ci(f->name, "Content-", 8)) {
			struct mime_field moved = *f;

			moved.value = NULL; /* h's arena holds a decoded one */
			fields_append(content, &moved);
		} else
			h->fields[kept++] = *f;
	}
	h->len = kept;
	return content;
}

/* --- lines and boundaries ------------------------------------------------ */

static const char *
line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', end - p);

	return nl != NULL ? nl : end;
}

static const char *
after_line(const char *e, const char *end)
{
	return e < end ? e + 1 : end;
}

static bool
only_wsp(const char *p, const char *e)
{
	for (; p < e; p++)
		if (*p != ' ' && *p != '\t')
			return false;
	return true;
}

/* Returns the innermost boundary the line p..e is, or level -1. */
static struct hit
match_boundary(const struct scan *s, const char *p, const char *e)
{
	struct hit h = {-1, false};
	int i;

	if (s->mbox && e - p >= 5 && memcmp(p, "From ", 5) == 0)
		return (struct hit){0, true};
	if (e - p < 2 || p[0] != '-' || p[1] != '-')
		return h;
	for (i = s->nbounds - 1; i >= 1; i--) {
		const char *r = p + 2 + s->blen[i];

		if (r > e || memcmp(p + 2, s->bound[i], s->blen[i]) != 0)
			continue;
		if (only_wsp(r, e))
			return (struct hit){i, false};
		if (e - r >= 2 && r[0] == '-' && r[1] == '-' &&
		    only_wsp(r + 2, e))
			return (struct hit){i, true};
	}
	return h;
}

/* False if the line at p cannot be a boundary (match_boundary()), told
   by its first byte alone: most header lines are not. */
static bool
may_be_boundary(const struct scan *s, const char *p)
{
	return *p == '-' || s->mbox;
}

/* How a header block ended.  TRUNCATED: the input ends inside what can
   only be a field name (no colon yet); GMime fails such a block. */
enum fields_end { FIELDS_BLANK, FIELDS_BOUNDARY, FIELDS_EOF, FIELDS_TRUNCATED };

struct fields {
	enum fields_end end;
	struct hit hit;     /* FIELDS_BOUNDARY: which */
	bool first_invalid; /* the first line is neither blank nor a field */
};

static bool
is_name_only(const char *p, const char *e)
{
	for (; p < e; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f || *p == ':')
			return false;
	return true;
}

/* Extends the last field over the continuation line ending at e. */
static void
continue_field(struct mime_headers *h, const char *e)
{
	struct mime_field *f = &h->fields[h->len - 1];

	f->raw_len = e - f->raw;
}

/* Reads fields from *pos up to a blank line (*pos after it), a boundary
   line (*pos at it) or the end of the input. */
static struct fields
scan_fields(const struct scan *s, const char **pos, struct mime_headers *h)
{
	struct fields r = {FIELDS_EOF, {-1, false}, false};
	const char *p = *pos;
	bool open = false; /* the last line started a valid field */

	while (p < s->end) {
		const char *e = line_end(p, s->end);

		if (may_be_boundary(s, p) &&
		    (r.hit = match_boundary(s, p, e)).level >= 0) {
			r.end = FIELDS_BOUNDARY;
			break;
		}
		if (e == p) {
			r.end = FIELDS_BLANK;
			p = after_line(e, s->end);
			break;
		}
		if (e == s->end && is_name_only(p, e)) {
			r.end = FIELDS_TRUNCATED;
			p = e;
			break;
		}
		if (*p == ' ' || *p == '\t') {
			if (open)
				continue_field(h, e);
		} else {
			open = add_field(h, p, e);
		}
		if (p == *pos) /* GMime wants a named field first */
			r.first_invalid = !open || *p == ':';
		p = after_line(e, s->end);
	}
	*pos = p;
	return r;
}

/* True if GMime would refuse a message whose header block read as f:
   the first line is no field, the block is cut inside a name, or the
   input ends before any field. */
static bool
fields_refused(const struct fields *f, const struct mime_headers *h)
{
	return f->first_invalid || f->end == FIELDS_TRUNCATED ||
	       (f->end == FIELDS_EOF && h->len == 0);
}

/* Returns the start of the first line after the one at p that starts
   with '-', or end: outside an mbox only such a line can be a boundary
   (match_boundary()), and base64 content has no '-' at all. */
static const char *
next_dash_line(const char *p, const char *end)
{
	const char *q;

	for (q = p; (q = memchr(q, '-', end - q)) != NULL; q++)
		if (q > p && q[-1] == '\n')
			return q;
	return end;
}

/* Skips content from *pos to the next boundary line (*pos at it) or the
   end; sets the content range, without the line break that belongs to
   the boundary. */
static struct hit
scan_content(const struct scan *s, const char **pos, const char **start_r,
	     size_t *len_r)
{
	const char *p = *pos;
	struct hit hit = {-1, false};

	*start_r = p;
	while (p < s->end) {
		const char *e;

		if (!s->mbox && *p != '-') {
			p = next_dash_line(p, s->end);
			continue;
		}
		e = line_end(p, s->end);
		if ((hit = match_boundary(s, p, e)).level >= 0) {
			*len_r = p > *start_r ? (size_t)(p - 1 - *start_r) : 0;
			*pos = p;
			return hit;
		}
		p = after_line(e, s->end);
	}
	*len_r = s->end - *start_r;
	*pos = s->end;
	return hit;
}

/* --- parts --------------------------------------------------------------- */

static void part_free(struct mime_part *part);

void
mime_message_free(struct mime_message **msg)
{
	if (*msg == NULL)
		return;
	mime_headers_free(&(*msg)->headers);
	part_free((*msg)->body);
	g_free(*msg);
	*msg = NULL;
}

static void
part_free(struct mime_part *part)
{
	guint i;

	if (part == NULL)
		return;
	if (part->children != NULL) {
		for (i = 0; i < part->children->len; i++)
			part_free(g_ptr_array_index(part->children, i));
		g_ptr_array_free(part->children, TRUE);
	}
	mime_headers_free(&part->headers);
	mime_message_free(&part->message);
	mime_ctype_clear(&part->type);
	g_free(part);
}

/* A part described by headers (taken over); the type comes from the last
   Content-Type, else the default of the parent. */
static struct mime_part *
part_new(struct mime_headers *headers, bool in_digest)
{
	struct mime_part *part = g_new0(struct mime_part, 1);
	const char *ct = mime_headers_get_last(headers, "Content-Type");
	const char *cte =
	    mime_headers_get_last(headers, "Content-Transfer-Encoding");

	part->headers = headers;
	if (ct != NULL) {
		mime_ctype_parse(&part->type, ct, headers->options);
	} else {
		part->type.type = in_digest ? "message" : "text";
		part->type.subtype = in_digest ? "rfc822" : "plain";
	}
	part->encoding = cte != NULL ? g_mime_content_encoding_from_string(cte)
				     : GMIME_CONTENT_ENCODING_DEFAULT;
	return part;
}

static bool
is_message_type(const struct mime_part *part)
{
	if (!mime_part_is(part, "message", "rfc822") &&
	    !mime_part_is(part, "message", "rfc2822") &&
	    !mime_part_is(part, "message", "news") &&
	    !mime_part_is(part, "message", "global"))
		return false;
	return part->encoding != GMIME_CONTENT_ENCODING_BASE64 &&
	       part->encoding != GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE &&
	       part->encoding != GMIME_CONTENT_ENCODING_UUENCODE;
}

static struct hit parse_body(struct scan *s, struct mime_part *part,
			     const char **pos, int depth);

/* One child of a multipart, from after its boundary line.  A child whose
   fields end at a boundary without any field is dropped, as GMime does. */
static struct hit
parse_child(struct scan *s, struct mime_part *parent, const char **pos,
	    int depth)
{
	struct mime_headers *h = headers_new(s->options);
	struct mime_part *child;
	const char *start = *pos;
	struct fields f = scan_fields(s, pos, h);

	if (f.end == FIELDS_TRUNCATED ||
	    (f.end == FIELDS_BOUNDARY && h->len == 0) ||
	    (f.end == FIELDS_EOF && *pos == start)) {
		mime_headers_free(&h);
		return f.hit;
	}
	child = part_new(h, mime_part_is(parent, "multipart", "digest"));
	g_ptr_array_add(parent->children, child);
	if (f.end != FIELDS_BLANK)
		return f.hit;
	return parse_body(s, child, pos, depth + 1);
}

static struct hit
parse_multipart(struct scan *s, struct mime_part *part, const char **pos,
		int depth)
{
	const char *boundary = mime_part_param(part, "boundary");
	const char *start;
	size_t len;
	int mine;
	struct hit hit;

	part->children = g_ptr_array_new();
	if (boundary == NULL || depth >= MIME_MAX_DEPTH)
		return scan_content(s, pos, &start, &len);
	mine = s->nbounds++;
	s->bound[mine] = boundary;
	s->blen[mine] = strlen(boundary);
	hit = scan_content(s, pos, &start, &len); /* the preamble */
	while (hit.level == mine && !hit.end) {
		*pos = after_line(line_end(*pos, s->end), s->end);
		hit = parse_child(s, part, pos, depth);
	}
	if (hit.level == mine) { /* the closing line; skip the epilogue */
		*pos = after_line(line_end(*pos, s->end), s->end);
		s->nbounds--;
		return scan_content(s, pos, &start, &len);
	}
	s->nbounds--;
	return hit;
}

/* The attached message of a message/rfc822 part; none when the part is
   empty. */
static struct hit
parse_attached(struct scan *s, struct mime_part *part, const char **pos,
	       int depth)
{
	struct mime_message *msg;
	struct hit hit = {-1, false};
	struct fields f;

	if (*pos == s->end ||
	    (hit = match_boundary(s, *pos, line_end(*pos, s->end))).level >= 0)
		return hit;
	msg = g_new0(struct mime_message, 1);
	msg->headers = headers_new(s->options);
	f = scan_fields(s, pos, msg->headers);
	if (f.end == FIELDS_TRUNCATED) {
		mime_headers_free(&msg->headers);
		g_free(msg);
		return f.hit;
	}
	part->message = msg;
	msg->body = part_new(split_content_fields(msg->headers), false);
	if (f.end != FIELDS_BLANK)
		return f.hit;
	return parse_body(s, msg->body, pos, depth + 1);
}

static struct hit
parse_body(struct scan *s, struct mime_part *part, const char **pos, int depth)
{
	if (mime_part_is(part, "multipart", "*"))
		return parse_multipart(s, part, pos, depth);
	if (depth < MIME_MAX_DEPTH && is_message_type(part))
		return parse_attached(s, part, pos, depth);
	return scan_content(s, pos, &part->content, &part->content_len);
}

struct mime_message *
mime_message_parse(const char *data, size_t len, bool mbox,
		   GMimeParserOptions *options)
{
	struct scan s = {data + len, mbox, 1, {NULL}, {0}, options};
	struct mime_message *msg = g_new0(struct mime_message, 1);
	const char *pos = data;
	struct fields f;

	if (mbox)
		pos = after_line(line_end(pos, s.end), s.end);
	msg->headers = headers_new(options);
	f = scan_fields(&s, &pos, msg->headers);
	if (fields_refused(&f, msg->headers)) {
		mime_headers_free(&msg->headers);
		g_free(msg);
		return NULL;
	}
	msg->body = part_new(split_content_fields(msg->headers), false);
	if (f.end == FIELDS_BLANK)
		parse_body(&s, msg->body, &pos, 0);
	return msg;
}

struct mime_headers *
mime_headers_parse(const char *data, size_t len, GMimeParserOptions *options)
{
	struct scan s = {data + len, false, 1, {NULL}, {0}, options};
	struct mime_headers *h = headers_new(options);
	const char *pos = data;
	struct fields f;
	struct mime_headers *content;

	if (len >= 5 && memcmp(data, "From ", 5) == 0) /* GMime skips it */
		pos = after_line(line_end(pos, s.end), s.end);
	f = scan_fields(&s, &pos, h);
	content = split_content_fields(h);

	mime_headers_free(&content);
	if (f.first_invalid)
		h->len = 0;
	return h;
}

/* --- Content-Type ---------------------------------------------------------

   GMime builds a GMimeContentType (a GObject with a parameter list) for
   each part.  Most values are plain "type/subtype; name=value" text, so
   those are split here into one buffer; any other syntax (comments,
   RFC 2231 or encoded-word parameters, escapes, 8-bit bytes, repeated
   names) goes to g_mime_content_type_parse(), so results are the same. */

#define CTYPE_MAX_PARAMS 6

/* True for an RFC 2045 token character other than '*' and '%' (which
   RFC 2231 gives a meaning in parameters). */
static bool
ctype_token_char(unsigned char c)
{
	switch (c) {
	case '(':
	case ')':
	case '<':
	case '>':
	case '@':
	case ',':
	case ';':
	case ':':
	case '\\':
	case '"':
	case '/':
	case '[':
	case ']':
	case '?':
	case '=':
	case '*':
	case '%':
		return false;
	default:
		return c > ' ' && c < 0x7f;
	}
}

/* Copies the token at *p to *o with its NUL; false if there is none. */
static bool
ctype_token(const char **p, char **o)
{
	const char *s = *p, *q = s;
	char *w = *o;

	while (ctype_token_char((unsigned char)*q))
		*w++ = *q++;
	*w++ = '\0';
	*p = q;
	*o = w;
	return q > s;
}

/* Copies the quoted-string at *p (opening quote included) unquoted to *o
   with its NUL; false for an escape, a control or 8-bit byte, an
   encoded word or a missing closing quote. */
static bool
ctype_quoted(const char **p, char **o)
{
	const char *s = ++*p;

	for (; **p != '"'; (*p)++) {
		unsigned char c = (unsigned char)**p;

		if (c < ' ' || c >= 0x7f || c == '\\' ||
		    (c == '?' && *p > s && (*p)[-1] == '='))
			return false;
		*(*o)++ = (char)c;
	}
	*(*o)++ = '\0';
	(*p)++;
	return true;
}

static void
ctype_skip_blanks(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

/* True if one of the pairs split so far is named name. */
static bool
ctype_repeated(const struct mime_ctype *ct, const char *name)
{
	const char *q = ct->params;
	size_t i;

	for (i = 0; i < ct->nparams; i++) {
		if (g_ascii_strcasecmp(q, name) == 0)
			return true;
		q += strlen(q) + 1;
		q += strlen(q) + 1;
	}
	return false;
}

/* Splits a simple value into ct (buf already allocated, large enough);
   false if it is not simple. */
static bool
ctype_split(struct mime_ctype *ct, const char *p)
{
	char *o = ct->buf, *name;

	ctype_skip_blanks(&p);
	ct->type = o;
	if (!ctype_token(&p, &o) || *p++ != '/')
		return false;
	ct->subtype = o;
	if (!ctype_token(&p, &o))
		return false;
	ct->params = o;
	for (ctype_skip_blanks(&p); *p != '\0'; ctype_skip_blanks(&p)) {
		if (*p++ != ';' || ct->nparams == CTYPE_MAX_PARAMS)
			return false;
		ctype_skip_blanks(&p);
		name = o;
		if (!ctype_token(&p, &o) || *p++ != '=' ||
		    ctype_repeated(ct, name))
			return false;
		if (*p == '"' ? !ctype_quoted(&p, &o) : !ctype_token(&p, &o))
			return false;
		ct->nparams++;
	}
	return true;
}

void
mime_ctype_parse(struct mime_ctype *ct, const char *value,
		 GMimeParserOptions *options)
{
	memset(ct, 0, sizeof(*ct));
	ct->buf = g_malloc(strlen(value) + 1);
	if (ctype_split(ct, value))
		return;
	g_free(ct->buf);
	memset(ct, 0, sizeof(*ct));
	ct->gm = g_mime_content_type_parse(options, value);
	ct->type = g_mime_content_type_get_media_type(ct->gm);
	ct->subtype = g_mime_content_type_get_media_subtype(ct->gm);
}

void
mime_ctype_clear(struct mime_ctype *ct)
{
	g_free(ct->buf);
	g_clear_object(&ct->gm);
	memset(ct, 0, sizeof(*ct));
}

/* As g_ascii_strcasecmp(a, b) == 0, without a call per byte. */
static bool
same_ci(const char *a, const char *b)
{
	size_t n = strlen(b);

	return text_same_ci(a, b, n) && a[n] == '\0';
}

bool
mime_ctype_is(const struct mime_ctype *ct, const char *type,
	      const char *subtype)
{
	if (ct->gm != NULL)
		return g_mime_content_type_is_type(ct->gm, type, subtype);
	if (strcmp(type, "*") != 0 && !same_ci(ct->type, type))
		return false;
	return strcmp(subtype, "*") == 0 || same_ci(ct->subtype, subtype);
}

const char *
mime_ctype_param(const struct mime_ctype *ct, const char *name)
{
	const char *q = ct->params;
	size_t i;

	if (ct->gm != NULL)
		return g_mime_content_type_get_parameter(ct->gm, name);
	for (i = 0; i < ct->nparams; i++) {
		const char *value = q + strlen(q) + 1;

		if (g_ascii_strcasecmp(q, name) == 0)
			return value;
		q = value + strlen(value) + 1;
	}
	return NULL;
}

/* --- part queries -------------------------------------------------------- */

bool
mime_part_is(const struct mime_part *part, const char *type,
	     const char *subtype)
{
	return mime_ctype_is(&part->type, type, subtype);
}

const char *
mime_part_param(const struct mime_part *part, const char *name)
{
	return mime_ctype_param(&part->type, name);
}

bool
mime_part_is_attachment(const struct mime_part *part)
{
	const char *value =
	    mime_headers_get_last(part->headers, "Content-Disposition");
	GMimeContentDisposition *d;
	bool attachment;

	if (value == NULL)
		return false;
	d = g_mime_content_disposition_parse(part->headers->options, value);
	attachment = d != NULL && g_mime_content_disposition_is_attachment(d);
	g_clear_object(&d);
	return attachment;
}

/* Uuencoded data starts after a "begin " line; without one GMime's
   decoder yields nothing.  Returns the start of the data or NULL. */
static const char *
uu_begin(const char *p, const char *end)
{
	while (p < end) {
		const char *e = line_end(p, end);

		if (e - p >= 6 && memcmp(p, "begin ", 6) == 0)
			return e < end ? e + 1 : NULL;
		p = after_line(e, end);
	}
	return NULL;
}

/* Undoes base64, quoted-printable or uuencode; returns a new buffer and
   its length in *len_r, or NULL when the content is not encoded. */
static char *
decode_content(const struct mime_part *part, size_t *len_r)
{
	const char *in = part->content, *end = in + part->content_len;
	GMimeEncoding state;
	char *out;

	if (part->encoding != GMIME_CONTENT_ENCODING_BASE64 &&
	    part->encoding != GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE &&
	    part->encoding != GMIME_CONTENT_ENCODING_UUENCODE)
		return NULL;
	g_mime_encoding_init_decode(&state, part->encoding);
	if (part->encoding == GMIME_CONTENT_ENCODING_UUENCODE) {
		if ((in = uu_begin(in, end)) == NULL) {
			*len_r = 0;
			return g_strdup("");
		}
		state.state |= GMIME_UUDECODE_STATE_BEGIN;
	}
	out = g_malloc(g_mime_encoding_outlen(&state, end - in) + 1);
	*len_r = g_mime_encoding_flush(&state, in, end - in, out);
	return out;
}

char *
mime_part_text(const struct mime_part *part, size_t max)
{
	const char *data = part->content;
	size_t len = part->content_len;
	char *decoded, *text;

	if (data == NULL)
		return g_strdup("");
	if ((decoded = decode_content(part, &len)) != NULL)
		data = decoded;
	text = charset_to_utf8(data, MIN(len, max),
			       mime_part_param(part, "charset"));
	g_free(decoded);
	return text;
}
