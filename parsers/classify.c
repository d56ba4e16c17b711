/*
 * classify.c - recipient -> reason, hard/soft and side.
 *
 * A pure function of what a parser recovered for one recipient: the report
 * kind, the Action, the RFC 3463 status, the SMTP reply code and the
 * diagnostic text.  The diagnostic is normalised once (ASCII lowercase,
 * white space collapsed, typographic apostrophes folded) and then only
 * searched with plain substring matching against the tables of
 * classify_table.c, so the cost is linear in the text for a fixed table
 * and hostile input cannot make it backtrack.  No I/O, no logging.
 *
 * How a failed recipient is decided (the semantics follow Sisimai so the
 * names compare; the reasoning for each step is at the function):
 *
 *   1. kind / parser verdicts: auto-reply -> vacation, ARF -> feedback,
 *      a reason the parser already set is kept;
 *   2. delivered / relayed / expanded or a 2.x.x status -> delivered;
 *   3. a provider text (Gmail, Yahoo, Microsoft, iCloud, docomo, au ...)
 *      decides outright: providers document what their text means and
 *      reuse vague codes (Gmail's 5.7.1) for many reasons;
 *   4. otherwise the status code and the first generic text are weighed
 *      against each other (classify_text_wins());
 *   5. nothing specific: class/subject of the code (x.6 contenterror,
 *      x.7 securityerror), SMTP syntax replies, then delayed -> expired,
 *      any other text -> onhold (also a failed 4.x.x: a temporary code
 *      alone does not say why the MTA gave up; Sisimai v5 agrees), no
 *      information -> undefined.

 *
 * Action "delayed" is classified the same way (so the shop can see what
 * is wrong early) but is never hard, and the rule is prefixed with
 * "action:delayed/" so db/ can tell it apart; it must not count.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <glib.h>

#include "classify.h"
#include "classify_table.h"

/* Keep in the order of enum bounce_reason (report.h). */
static const char *const reason_names[REASON_COUNT] = {
    "undefined",    "authfailure",     "badreputation", "blocked",
    "contenterror", "delivered",       "emailtoolarge", "exceedlimit",
    "expired",      "failedstarttls",  "feedback",      "filtered",
    "hasmoved",     "hostunknown",     "mailboxfull",   "mailererror",
    "networkerror", "norelaying",      "notaccept",     "notcompliantrfc",
    "onhold",       "policyviolation", "ratelimited",   "rejected",
    "requireptr",   "securityerror",   "spamdetected",  "suppressed",
    "suspend",      "syntaxerror",     "systemerror",   "systemfull",
    "userunknown",  "vacation",        "virusdetected",
};

/* The most patterns the index can number (both tables together);
   classify_index_build() asserts the tables fit. */
enum { CLASSIFY_MAX_PATTERNS = 4096 };

/* Normalised diagnostics up to this size live on the stack. */
enum { CLASSIFY_TEXT_STACK = 512 };

/* What classification works from: effective codes and normalised text. */
struct classify_input {
	const char *action; /* may be NULL */
	bool delayed;
	char status[16]; /* effective RFC 3463 code or "" */
	char reply[4];   /* effective reply code or "" */
	char *text;      /* normalised diagnostic: buf or g_malloc'd */
	size_t len;      /* strlen(text) */
	/* Filled by classify_input_scan() on the first table search: */
	bool scanned;
	/* Bit i set: pattern i of the index (classify_index) may occur in
	   text, because its key does (or it has none). */
	guint64 cand[CLASSIFY_MAX_PATTERNS / 64];
	char buf[CLASSIFY_TEXT_STACK];
};

/* The decision and why. */
struct classify_verdict {
	enum bounce_reason reason;
	enum classify_side_override side;
	char *rule; /* g_malloc'd */
};

/* ------------------------------------------------------------------ */
/* names                                                               */

const char *
classify_reason_name(enum bounce_reason reason)
{
	if ((int)reason < 0 || reason >= REASON_COUNT)
		return "undefined";
	return reason_names[reason];
}

enum bounce_reason
classify_reason_from_name(const char *name)
{
	int i;

	if (name == NULL)
		return REASON_COUNT;
	if (g_ascii_strcasecmp(name, "mesgtoobig") == 0)
		return REASON_EMAILTOOLARGE;
	/* Sisimai 5.0-5.3 names merged into ratelimited */
	if (g_ascii_strcasecmp(name, "speeding") == 0 ||
	    g_ascii_strcasecmp(name, "toomanyconn") == 0)
		return REASON_RATELIMITED;
	for (i = 0; i < REASON_COUNT; i++) {
		if (g_ascii_strcasecmp(name, reason_names[i]) == 0)
			return (enum bounce_reason)i;
	}
	return REASON_COUNT;
}

const char *
classify_side_name(enum bounce_side side)
{
	switch (side) {
	case BOUNCE_SIDE_RECIPIENT:
		return "recipient";
	case BOUNCE_SIDE_SENDER:
		return "sender";
	case BOUNCE_SIDE_NONE:
	default:
		return "none";
	}
}

/*
 * Hard = the address itself is dead: userunknown, hostunknown, hasmoved
 * always; notaccept (null MX) unless a code says it is temporary (4xx),
 * as Sisimai's IsHardBounce does.  Everything else is soft.
 */
bool
classify_is_hard(enum bounce_reason reason, const char *status,
		 const char *replycode)
{
	switch (reason) {
	case REASON_USERUNKNOWN:
	case REASON_HOSTUNKNOWN:
	case REASON_HASMOVED:
		return true;
	case REASON_NOTACCEPT:
		if (status != NULL && status[0] != '\0')
			return status[0] != '4';
		if (replycode != NULL && replycode[0] != '\0')
			return replycode[0] != '4';
		return true;
	default:
		return false;
	}
}

/* ------------------------------------------------------------------ */
/* text helpers                                                        */

/* classify_fold[c] is what classify_normalise() makes of byte c:
   CLASSIFY_FOLD_BLANK for '\0', white space and control characters
   (bytes up to ' ' and DEL), CLASSIFY_FOLD_E2 for 0xe2 (which may start
   a typographic quote), else c with ASCII lowercased.  Filled on first
   use by classify_fold_build(). */
enum { CLASSIFY_FOLD_BLANK = 0, CLASSIFY_FOLD_E2 = 1 };
static unsigned char classify_fold[256];
static bool classify_fold_filled;

/* Fills classify_fold[] unless it is filled. */
static void
classify_fold_build(void)
{
	unsigned c;

	if (classify_fold_filled)
		return;
	for (c = 0; c < 256; c++) {
		if (c <= ' ' || c == 0x7f)
			classify_fold[c] = CLASSIFY_FOLD_BLANK;
		else if (c == 0xe2)
			classify_fold[c] = CLASSIFY_FOLD_E2;
		else if (c >= 'A' && c <= 'Z')
			classify_fold[c] = (unsigned char)(c - 'A' + 'a');
		else
			classify_fold[c] = (unsigned char)c;
	}
	classify_fold_filled = true;
}

/* Returns p past its run of white space and control characters (bytes
   up to ' ' and DEL). */
static const unsigned char *
classify_skip_blanks(const unsigned char *p)
{
	while (*p != '\0' && (*p <= ' ' || *p == 0x7f))
		p++;
	return p;
}

/* Copies to *o the character at p, whose first byte is 0xe2, with
   U+2018/U+2019 folded to '\''; returns p past what it consumed. */
static const unsigned char *
classify_normalise_e2(const unsigned char *p, char **o)
{
	if (p[1] == 0x80 && (p[2] == 0x98 || p[2] == 0x99)) {
		*(*o)++ = '\'';
		return p + 3;
	}
	*(*o)++ = (char)*p;
	return p + 1;
}

/* Copies s into buf (size bytes) with ASCII lowercased, every run of
   white space (and control characters) turned into one space, leading
   and trailing space removed, and U+2019/U+2018 folded to '\''.  Other
   UTF-8 bytes are copied unchanged.  NULL becomes "".  Returns buf, or a
   g_malloc'd copy when s does not fit in buf, and sets *len to the
   length of the copy. */
static char *
classify_normalise(const char *s, char *buf, size_t size, size_t *len)
{
	/* the copy never grows: runs of blanks and the 3-byte quotes
	   shrink, everything else is copied byte for byte */
	size_t need = s != NULL ? strlen(s) + 1 : 1;
	char *out = need <= size ? buf : g_malloc(need), *o = out;
	const unsigned char *p =
	    s != NULL ? (const unsigned char *)s : (const unsigned char *)"";
	unsigned char f;

	classify_fold_build();
	for (;;) {
		/* the common case: bytes copied, ASCII lowercased */
		while ((f = classify_fold[*p]) > CLASSIFY_FOLD_E2) {
			*o++ = (char)f;
			p++;
		}
		if (*p == '\0')
			break;
		if (f == CLASSIFY_FOLD_E2) {
			p = classify_normalise_e2(p, &o);
		} else {
			p = classify_skip_blanks(p);
			/* one space between words, none at either end */
			if (o > out && *p != '\0')
				*o++ = ' ';
		}
	}
	*o = '\0';
	*len = (size_t)(o - out);
	return out;
}

/* ------------------------------------------------------------------ */
/* pattern index                                                       */

/* Hash buckets of the pattern index (a power of two). */
enum {
	CLASSIFY_BUCKET_BITS = 12,
	CLASSIFY_BUCKETS = 1 << CLASSIFY_BUCKET_BITS
};

/* Bytes of a key: every pattern of our tables has a segment this long. */
enum { CLASSIFY_KEY_LEN = 4 };

/* Longest pattern segment classify_pattern_match() can find, plus one. */
enum { CLASSIFY_SEGMENT_MAX = 256 };

/* Entry offset of a pattern that is only a candidate where its key
   occurs (classify_entry_offset()). */
enum { CLASSIFY_ENTRY_CANDIDATE = 0xffff };

/* The tables classify_table_find() searches, by enum classify_table;
   the index numbers their patterns in this order. */
enum classify_table {
	CLASSIFY_TABLE_PROVIDER = 0,
	CLASSIFY_TABLE_TEXT,
	CLASSIFY_TABLE_COUNT,
};

static const struct classify_pattern *const classify_tables[] = {
    classify_provider_patterns,
    classify_text_patterns,
};

/*
 * Every pattern of classify_tables[] is filed under one key: 4 bytes in a
 * row inside one of its segments, those whose hash bucket the fewest
 * 4-byte runs of all patterns share (so "user" or " not" key few
 * patterns).  A text can only contain a pattern if it contains its key,
 * so one walk over the text (classify_input_scan()) marks the few
 * candidates and classify_table_find() tests only those, in table order.
 * Patterns without a segment of 4 bytes are always candidates.
 *
 * Built on first use (the tables are fixed) and freed by
 * classify_shutdown(); parsing runs on one thread.
 */
static struct {
	bool built;
	/* table t has the numbers start[t] .. start[t + 1] - 1 */
	size_t start[CLASSIFY_TABLE_COUNT + 1];
	size_t words; /* guint64 words of a candidate set */
	const struct classify_pattern **patterns; /* by number */
	/* bucket h files entries first[h] .. first[h + 1] - 1: the key
	   (classify_gram()) and number of a pattern, by number */
	guint16 *first; /* CLASSIFY_BUCKETS + 1 */
	guint32 *keys;
	guint16 *numbers;
	/* where the key starts in a pattern without '*', which is then
	   compared in full where its key occurs (classify_input_hit()), or
	   CLASSIFY_ENTRY_CANDIDATE */
	guint16 *offsets;
	guint16 *lengths; /* strlen() of the pattern */
	/* by number: true if a set candidate bit means the text contains
	   the pattern (entry offset not CLASSIFY_ENTRY_CANDIDATE) */
	bool *exact;
	guint64 *always; /* candidate set of the patterns without a key */
} classify_index;

/* Returns the CLASSIFY_KEY_LEN bytes at p as one number. */
static guint32
classify_gram(const unsigned char *p)
{
	return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 |
	       p[3];
}

/* Returns the index bucket of gram (a Fibonacci hash). */
static unsigned
classify_bucket(guint32 gram)
{
	return (unsigned)((gram * 2654435761u) >> (32 - CLASSIFY_BUCKET_BITS));
}

/* Walks the CLASSIFY_KEY_LEN-byte runs inside the segments (no '*') of
   a pattern, in order: start with {pattern}, then call
   classify_gram_next() until it returns false. */
struct classify_grams {
	const char *pattern;
	size_t pos;   /* next byte of pattern to read */
	size_t run;   /* bytes of the current segment read so far */
	guint32 gram; /* the last CLASSIFY_KEY_LEN of them */
};

/* Advances g to the next run; returns false at the end of the pattern,
   else true with g->gram the run, starting at g->pattern +
   g->pos - CLASSIFY_KEY_LEN. */
static bool
classify_gram_next(struct classify_grams *g)
{
	unsigned char c;

	while ((c = (unsigned char)g->pattern[g->pos]) != '\0') {
		g->pos++;
		if (c == '*') {
			g->run = 0;
			continue;
		}
		g->gram = g->gram << 8 | c;
		if (++g->run >= CLASSIFY_KEY_LEN)
			return true;
	}
	return false;
}

/* Adds 1 to freq[] at the bucket of every key-long run inside a segment
   of pattern. */
static void
classify_pattern_count(const char *pattern, unsigned *freq)
{
	struct classify_grams g = {pattern, 0, 0, 0};

	while (classify_gram_next(&g))
		freq[classify_bucket(g.gram)]++;
}

/* Sets *key to the key of pattern: of the key-long runs inside its
   segments the first whose bucket has the lowest freq[]; *at to where it
   starts in pattern.  Returns false if no segment is that long. */
static bool
classify_pattern_key(const char *pattern, const unsigned *freq, guint32 *key,
		     size_t *at)
{
	struct classify_grams g = {pattern, 0, 0, 0};
	bool found = false;
	unsigned best = 0, f;

	while (classify_gram_next(&g)) {
		f = freq[classify_bucket(g.gram)];
		if (!found || f < best) {
			*key = g.gram;
			*at = g.pos - CLASSIFY_KEY_LEN;
			best = f;
			found = true;
		}
	}
	return found;
}

/* Returns the offset of the key in an entry of pattern whose key starts
   at at: CLASSIFY_ENTRY_CANDIDATE when pattern has a '*' or is too long
   for classify_pattern_match(), which then decides. */
static guint16
classify_entry_offset(const char *pattern, size_t at)
{
	if (strchr(pattern, '*') != NULL ||
	    strlen(pattern) >= CLASSIFY_SEGMENT_MAX)
		return CLASSIFY_ENTRY_CANDIDATE;
	return (guint16)at;
}

/* Sets bit i of the candidate set cand. */
static void
classify_cand_add(guint64 *cand, size_t i)
{
	cand[i / 64] |= (guint64)1 << (i % 64);
}

/* Numbers the patterns of classify_tables[] into classify_index.patterns
   and .start[]. */
static void
classify_index_number(void)
{
	size_t t, i, n = 0;

	for (t = 0; t < CLASSIFY_TABLE_COUNT; t++) {
		classify_index.start[t] = n;
		for (i = 0; classify_tables[t][i].text != NULL; i++)
			n++;
	}
	classify_index.start[CLASSIFY_TABLE_COUNT] = n;
	g_assert(n <= CLASSIFY_MAX_PATTERNS);
	classify_index.words = (n + 63) / 64;
	classify_index.patterns = g_new(const struct classify_pattern *, n + 1);
	for (t = 0, n = 0; t < CLASSIFY_TABLE_COUNT; t++)
		for (i = 0; classify_tables[t][i].text != NULL; i++, n++)
			classify_index.patterns[n] = &classify_tables[t][i];
}

/* Files every numbered pattern under its key (classify_pattern_key()),
   or in classify_index.always. */
static void
classify_index_file(void)
{
	size_t n = classify_index.start[CLASSIFY_TABLE_COUNT], i;
	unsigned *freq = g_new0(unsigned, CLASSIFY_BUCKETS);
	guint32 *key = g_new(guint32, n + 1);
	size_t *at = g_new(size_t, n + 1);
	bool *keyed = g_new(bool, n + 1);
	guint16 *next = g_new(guint16, CLASSIFY_BUCKETS);
	const char *text;
	unsigned h;

	for (i = 0; i < n; i++)
		classify_pattern_count(classify_index.patterns[i]->text, freq);
	classify_index.first = g_new0(guint16, CLASSIFY_BUCKETS + 1);
	classify_index.keys = g_new(guint32, n + 1);
	classify_index.numbers = g_new(guint16, n + 1);
	classify_index.offsets = g_new(guint16, n + 1);
	classify_index.lengths = g_new(guint16, n + 1);
	classify_index.exact = g_new0(bool, n + 1);
	classify_index.always = g_new0(guint64, classify_index.words + 1);
	for (i = 0; i < n; i++) {
		keyed[i] = classify_pattern_key(
		    classify_index.patterns[i]->text, freq, &key[i], &at[i]);
		if (keyed[i])
			classify_index.first[classify_bucket(key[i]) + 1]++;
		else
			classify_cand_add(classify_index.always, i);
	}
	for (h = 0; h < CLASSIFY_BUCKETS; h++) {
		classify_index.first[h + 1] += classify_index.first[h];
		next[h] = classify_index.first[h];
	}
	for (i = 0; i < n; i++) {
		if (!keyed[i])
			continue;
		text = classify_index.patterns[i]->text;
		h = next[classify_bucket(key[i])]++;
		classify_index.keys[h] = key[i];
		classify_index.numbers[h] = (guint16)i;
		classify_index.offsets[h] = classify_entry_offset(text, at[i]);
		classify_index.lengths[h] = (guint16)strlen(text);
		classify_index.exact[i] =
		    classify_index.offsets[h] != CLASSIFY_ENTRY_CANDIDATE;
	}
	g_free(next);
	g_free(keyed);
	g_free(at);
	g_free(key);
	g_free(freq);
}

/* Builds classify_index unless it is built. */
static void
classify_index_build(void)
{
	if (classify_index.built)
		return;
	classify_index_number();
	classify_index_file();
	classify_index.built = true;
}

void
classify_shutdown(void)
{
	g_free(classify_index.patterns);
	g_free(classify_index.first);
	g_free(classify_index.keys);
	g_free(classify_index.numbers);
	g_free(classify_index.offsets);
	g_free(classify_index.lengths);
	g_free(classify_index.exact);
	g_free(classify_index.always);
	memset(&classify_index, 0, sizeof(classify_index));
}

/* The key of index entry e occurs in in->text at at: marks its pattern
   in in->cand, if it has no '*' only when it occurs there in full. */
static void
classify_input_hit(struct classify_input *in, size_t e, const unsigned char *at)
{
	const unsigned char *text = (const unsigned char *)in->text;
	size_t off = classify_index.offsets[e], len, i;

	i = classify_index.numbers[e];
	if (off == CLASSIFY_ENTRY_CANDIDATE) {
		classify_cand_add(in->cand, i);
		return;
	}
	len = classify_index.lengths[e];
	if ((size_t)(at - text) >= off &&
	    in->len - (size_t)(at - text - off) >= len &&
	    memcmp(at - off, classify_index.patterns[i]->text, len) == 0)
		classify_cand_add(in->cand, i);
}

/* Marks in in->cand the patterns that may occur in in->text: those
   without a key, those with '*' whose key occurs, and those without '*'
   that occur in full (classify_input_hit()).  Linear in the text: a
   bucket files a fixed number of patterns, each compared over at most
   its own (bounded) length. */
static void
classify_input_scan(struct classify_input *in)
{
	const unsigned char *p = (const unsigned char *)in->text;
	const unsigned char *end = p + in->len;
	guint32 gram;
	size_t e, last;
	unsigned h;

	classify_index_build();
	memcpy(in->cand, classify_index.always,
	       classify_index.words * sizeof(guint64));
	in->scanned = true;
	if (in->len < CLASSIFY_KEY_LEN)
		return;
	/* gram holds the 4 bytes ending at p */
	gram = classify_gram(p) >> 8;
	for (p += CLASSIFY_KEY_LEN - 1; p < end; p++) {
		gram = gram << 8 | *p;
		h = classify_bucket(gram);
		last = classify_index.first[h + 1];
		for (e = classify_index.first[h]; e < last; e++)
			if (classify_index.keys[e] == gram)
				classify_input_hit(in, e,
						   p - (CLASSIFY_KEY_LEN - 1));
	}
}

/* Returns true if text contains pattern, where '*' in pattern means
   "followed somewhere later by".  Each segment is found with strstr
   after the end of the previous one, so the scan is linear. */
static bool
classify_pattern_match(const char *text, const char *pattern)
{
	char seg[CLASSIFY_SEGMENT_MAX];
	const char *star;
	size_t n;

	while (*pattern != '\0') {
		star = strchr(pattern, '*');
		n = star != NULL ? (size_t)(star - pattern) : strlen(pattern);
		if (n >= sizeof(seg))
			return false; /* no such pattern in our tables */
		if (n > 0) {
			memcpy(seg, pattern, n);
			seg[n] = '\0';
			if ((text = strstr(text, seg)) == NULL)
				return false;
			text += n;
		}
		if (star == NULL)
			break;
		pattern = star + 1;
	}
	return true;
}

/* Returns true if prefix is NULL or the effective status (the reply code
   when there is no status) starts with prefix. */
static bool
classify_code_gate(const struct classify_input *in, const char *prefix)
{
	const char *code = in->status[0] != '\0' ? in->status : in->reply;

	if (prefix == NULL)
		return true;
	return strncmp(code, prefix, strlen(prefix)) == 0;
}

/* Returns true if pattern number i of the index matches in (its status
   gate, then its text). */
static bool
classify_pattern_fits(const struct classify_input *in, size_t i)
{
	const struct classify_pattern *p = classify_index.patterns[i];

	return classify_code_gate(in, p->code) &&
	       (classify_index.exact[i] ||
		classify_pattern_match(in->text, p->text));
}

/* Returns the first entry of table t matching the text (and its status
   gate) of in, or NULL.  Scans in on first use. */
static const struct classify_pattern *
classify_table_find(enum classify_table t, struct classify_input *in)
{
	size_t first, end, w, i;
	guint64 bits;

	if (in->text[0] == '\0')
		return NULL;
	if (!in->scanned)
		classify_input_scan(in);
	first = classify_index.start[t];
	end = classify_index.start[t + 1];
	for (w = first / 64; w * 64 < end; w++) {
		bits = in->cand[w];
		if (w == first / 64)
			bits &= ~(guint64)0 << (first % 64);
		for (; bits != 0; bits &= bits - 1) {
			i = w * 64 + (size_t)__builtin_ctzll(bits);
			if (i >= end)
				return NULL;
			if (classify_pattern_fits(in, i))
				return classify_index.patterns[i];
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* codes                                                               */

/* Returns the length of a run of 1..3 digits at s, or 0. */
static size_t
classify_digits(const char *s)
{
	size_t n = 0;

	while (n < 4 && g_ascii_isdigit(s[n]))
		n++;
	return n >= 1 && n <= 3 ? n : 0;
}

/* Copies into buf (size 16) the first RFC 3463 code of class 4 or 5 in
   text that stands alone ("5.1.1", not part of "4.16.55.1" or an IP).
   Returns true if found.  Class 2 is never taken from free text: version
   numbers ("Postfix 2.11.3") look the same. */
static bool
classify_find_status(const char *text, char buf[16])
{
	const char *p, *q;
	size_t a, b;

	for (p = text; *p != '\0'; p++) {
		if ((*p != '4' && *p != '5') || p[1] != '.')
			continue;
		if (p > text && (g_ascii_isdigit(p[-1]) || p[-1] == '.'))
			continue;
		if ((a = classify_digits(p + 2)) == 0 || p[2 + a] != '.')
			continue;
		if ((b = classify_digits(p + 3 + a)) == 0)
			continue;
		q = p + 3 + a + b;
		if (g_ascii_isdigit(*q) || (*q == '.' && g_ascii_isdigit(q[1])))
			continue;
		memcpy(buf, p, (size_t)(q - p));
		buf[q - p] = '\0';
		return true;
	}
	return false;
}

/* Copies into buf the first SMTP reply code (2xx/4xx/5xx standing alone,
   followed by space, '-' or the end) in text.  Returns true if found. */
static bool
classify_find_reply(const char *text, char buf[4])
{
	const char *p;

	for (p = text; *p != '\0'; p++) {
		if (*p != '2' && *p != '4' && *p != '5')
			continue;
		if (p > text && (g_ascii_isalnum(p[-1]) || p[-1] == '.' ||
				 p[-1] == ':' || p[-1] == '-'))
			continue;
		if (!g_ascii_isdigit(p[1]) || !g_ascii_isdigit(p[2]))
			continue;
		if (p[3] != '\0' && p[3] != ' ' && p[3] != '-')
			continue;
		memcpy(buf, p, 3);
		buf[3] = '\0';
		return true;
	}
	return false;
}

/* Returns true if code carries no detail: "" or "x.0.0". */
static bool
classify_status_vague(const char *code)
{
	return code[0] == '\0' || strcmp(code + 1, ".0.0") == 0;
}

/* Returns the reason the exact code stands for, or REASON_UNDEFINED. */
static enum bounce_reason
classify_status_reason(const char *code)
{
	const struct classify_code *c;

	if (code[0] == '\0')
		return REASON_UNDEFINED;
	for (c = classify_status_codes; c->code != NULL; c++) {
		/* the first three bytes before strcmp(): table codes are at
		   least "x.y", so a shorter code stops at its '\0' */
		if (c->code[0] == code[0] && c->code[1] == code[1] &&
		    c->code[2] == code[2] && strcmp(c->code, code) == 0)
			return c->reason;
	}
	return REASON_UNDEFINED;
}

/* Returns what the reply code alone says (Sisimai: 525 = account
   disabled, 521/556 = does not accept mail, 523/524/538 = TLS/auth
   encryption), or REASON_UNDEFINED. */
static enum bounce_reason
classify_reply_reason(const char *reply)
{
	if (strcmp(reply, "525") == 0)
		return REASON_SUSPEND;
	if (strcmp(reply, "521") == 0 || strcmp(reply, "556") == 0)
		return REASON_NOTACCEPT;
	if (strcmp(reply, "523") == 0 || strcmp(reply, "524") == 0 ||
	    strcmp(reply, "538") == 0)
		return REASON_FAILEDSTARTTLS;
	return REASON_UNDEFINED;
}

/* Returns true if the normalised text says it answered the DATA
   command (the end of the message). */
static bool
classify_answered_data(const char *text)
{
	return strstr(text, "end of data") != NULL ||
	       strstr(text, "in reply to data command") != NULL ||
	       strstr(text, "after data") != NULL;
}

/* ------------------------------------------------------------------ */
/* precedence                                                          */

/*
 * Rank of a reason in the first, decisive round (Sisimai's classorder[0]:
 * a status code or a text of these reasons settles it, earlier beats
 * later).  0 = a reason that is only tried when none of these applies.
 */
static int
classify_rank(enum bounce_reason reason)
{
	static const enum bounce_reason order[] = {
	    REASON_MAILBOXFULL,  REASON_EMAILTOOLARGE,   REASON_EXCEEDLIMIT,
	    REASON_SUSPEND,      REASON_HASMOVED,        REASON_NORELAYING,
	    REASON_AUTHFAILURE,  REASON_USERUNKNOWN,     REASON_FILTERED,
	    REASON_REQUIREPTR,   REASON_NOTCOMPLIANTRFC, REASON_BADREPUTATION,
	    REASON_CONTENTERROR, REASON_REJECTED,        REASON_HOSTUNKNOWN,
	    REASON_SPAMDETECTED, REASON_RATELIMITED,     REASON_BLOCKED,
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(order); i++) {
		if (order[i] == reason)
			return (int)i + 1;
	}
	return 0;
}

/* Reasons a code gives only tentatively; a text may still say better
   (Sisimai's "should be retried" list). */
static bool
classify_tentative(enum bounce_reason reason)
{
	switch (reason) {
	case REASON_UNDEFINED:
	case REASON_ONHOLD:
	case REASON_SYSTEMERROR:
	case REASON_SECURITYERROR:
	case REASON_EXPIRED:
	case REASON_NETWORKERROR:
	case REASON_HOSTUNKNOWN:
	case REASON_USERUNKNOWN:
		return true;
	default:
		return false;
	}
}

/*
 * Status code said s, the text said t: returns true if the text wins.
 *
 * - Both in the decisive round: the earlier one wins.  So 5.1.1 with
 *   "mailbox full" is mailboxfull (full is checked first and a full
 *   mailbox exists), but 5.2.2 with "user unknown" stays mailboxfull.
 * - 5.1.x user unknown loses to a text saying blocked/rejected/not
 *   accept: servers answer 5.1.1 to a blocklisted sender as well.
 * - 5.2.x (filtered) with a user-unknown text stays filtered: that is
 *   how carriers report their reception filter.
 * - 5.1.2 host unknown loses to a DNS/network text (a lookup failure is
 *   not proof the domain is gone).
 * - A decisive code beats a text that is not decisive; a tentative code
 *   (5.7.x securityerror, 4.4.x, x.0.0) loses to any text.
 */
static bool
classify_text_wins(enum bounce_reason s, enum bounce_reason t)
{
	int rs = classify_rank(s), rt = classify_rank(t);

	if (s == REASON_USERUNKNOWN &&
	    (t == REASON_BLOCKED || t == REASON_REJECTED ||
	     t == REASON_NOTACCEPT))
		return true;
	if (s == REASON_FILTERED && t == REASON_USERUNKNOWN)
		return false;
	if (s == REASON_HOSTUNKNOWN && t == REASON_NETWORKERROR)
		return true;
	if (s == REASON_CONTENTERROR && t == REASON_SPAMDETECTED)
		return true;
	if (rs != 0 && rt != 0)
		return rt < rs;
	if (rs != 0)
		return false;
	if (rt != 0)
		return true;
	return classify_tentative(s);
}

/* ------------------------------------------------------------------ */
/* decision                                                            */

static void
classify_set(struct classify_verdict *v, enum bounce_reason reason,
	     enum classify_side_override side, char *rule)
{
	v->reason = reason;
	v->side = side;
	g_free(v->rule);
	v->rule = rule;
}

/* Returns a rule string for a matched table entry. */
static char *
classify_pattern_rule(const struct classify_pattern *p)
{
	if (p->tag != NULL)
		return g_strconcat("provider:", p->tag, NULL);
	return g_strconcat("text:", p->text, NULL);
}

/* Nothing specific matched: decide from the class and subject of the
   code, then from whether it was temporary, then from whether there was
   any text at all. */
static void
classify_fallback(const struct classify_input *in, struct classify_verdict *v)
{
	const char *st = in->status;
	int reply = in->reply[0] != '\0' ? atoi(in->reply) : 0;

	if (st[0] != '\0' && st[2] == '6' && st[3] == '.')
		classify_set(v, REASON_CONTENTERROR, CLASSIFY_SIDE_DEFAULT,
			     g_strconcat("class:", st, NULL));
	else if (st[0] != '\0' && st[2] == '7' && st[3] == '.')
		classify_set(v, REASON_SECURITYERROR, CLASSIFY_SIDE_DEFAULT,
			     g_strconcat("class:", st, NULL));
	else if ((reply > 500 && reply < 508) || (reply > 400 && reply < 408))
		classify_set(v, REASON_SYNTAXERROR, CLASSIFY_SIDE_DEFAULT,
			     g_strconcat("reply:", in->reply, NULL));
	else if (in->delayed)
		/* still being retried: at worst it will expire */
		classify_set(v, REASON_EXPIRED, CLASSIFY_SIDE_DEFAULT,
			     g_strdup("fallback:expired"));
	else if (in->text[0] != '\0')
		classify_set(v, REASON_ONHOLD, CLASSIFY_SIDE_DEFAULT,
			     g_strdup("fallback:onhold"));
	else
		classify_set(v, REASON_UNDEFINED, CLASSIFY_SIDE_DEFAULT,
			     g_strdup("fallback:undefined"));
}

/* Decides a failed (or delayed) recipient; see the file comment. */
static void
classify_failure(struct classify_input *in, struct classify_verdict *v)
{
	const struct classify_pattern *p;
	enum bounce_reason s, t = REASON_UNDEFINED;

	p = classify_table_find(CLASSIFY_TABLE_PROVIDER, in);
	if (p != NULL) {
		classify_set(v, p->reason, p->side, classify_pattern_rule(p));
		return;
	}
	s = classify_status_reason(in->status);
	p = classify_table_find(CLASSIFY_TABLE_TEXT, in);
	if (p != NULL)
		t = p->reason;
	else
		t = classify_reply_reason(in->reply);

	/* A user-unknown text answering DATA is a content filter.  (Sisimai
	   v5 also files it as filtered when no command is known, but it
	   learns the command from parts of the bounce our parsers do not
	   pass on, e.g. Postfix's "in reply to RCPT TO" prose; without it
	   that rule turned real unknown users into filtered.) */
	if (t == REASON_USERUNKNOWN && s != REASON_USERUNKNOWN &&
	    classify_answered_data(in->text))
		t = REASON_FILTERED;

	if (t != REASON_UNDEFINED &&
	    (s == REASON_UNDEFINED || classify_text_wins(s, t)))
		classify_set(v, t, p != NULL ? p->side : CLASSIFY_SIDE_DEFAULT,
			     p != NULL
				 ? classify_pattern_rule(p)
				 : g_strconcat("reply:", in->reply, NULL));
	else if (s != REASON_UNDEFINED)
		classify_set(v, s, CLASSIFY_SIDE_DEFAULT,
			     g_strconcat("status:", in->status, NULL));
	else
		classify_fallback(in, v);
}

/* Fills in from rcpt: the effective codes (a vague "5.0.0" or missing
   status is replaced by the code in the diagnostic, as Exim and OpenSMTPD
   put the real one only there) and the normalised text. */
static void
classify_input_init(struct classify_input *in, const struct bounce_rcpt *rcpt)
{
	/* cand is filled by classify_input_scan(), buf by
	   classify_normalise() */
	memset(in, 0, offsetof(struct classify_input, cand));
	in->action = rcpt->action;
	in->delayed = rcpt->action != NULL &&
		      g_ascii_strcasecmp(rcpt->action, "delayed") == 0;
	in->text = classify_normalise(rcpt->diagnostic, in->buf,
				      sizeof(in->buf), &in->len);
	g_strlcpy(in->status, rcpt->status, sizeof(in->status));
	g_strlcpy(in->reply, rcpt->replycode, sizeof(in->reply));
	if (classify_status_vague(in->status))
		(void)classify_find_status(in->text, in->status);
	if (in->reply[0] == '\0')
		(void)classify_find_reply(in->text, in->reply);
}

/* Returns true if the action or status says the mail arrived. */
static bool
classify_is_delivered(const struct bounce_rcpt *rcpt)
{
	static const char *const ok[] = {"delivered", "relayed", "expanded",
					 "deliverable"};
	size_t i;

	if (rcpt->status[0] == '2')
		return true;
	for (i = 0; rcpt->action != NULL && i < G_N_ELEMENTS(ok); i++) {
		if (g_ascii_strcasecmp(rcpt->action, ok[i]) == 0)
			return true;
	}
	return false;
}

/* Decides any recipient, before hard/side are derived. */
static void
classify_decide(enum bounce_kind kind, const struct bounce_rcpt *rcpt,
		struct classify_input *in, struct classify_verdict *v)
{
	enum bounce_reason preset = rcpt->reason;

	if (kind == BOUNCE_KIND_AUTOREPLY)
		classify_set(v, REASON_VACATION, CLASSIFY_SIDE_DEFAULT,
			     g_strdup("kind:autoreply"));
	else if (kind == BOUNCE_KIND_FEEDBACK || preset == REASON_FEEDBACK)
		classify_set(v, REASON_FEEDBACK, CLASSIFY_SIDE_DEFAULT,
			     g_strdup("kind:feedback"));
	else if (preset > REASON_UNDEFINED && preset < REASON_COUNT)
		classify_set(
		    v, preset, CLASSIFY_SIDE_DEFAULT,
		    rcpt->rule != NULL && rcpt->rule[0] != '\0'
			? g_strdup(rcpt->rule)
			: g_strconcat("parser:", reason_names[preset], NULL));
	else if (classify_is_delivered(rcpt))
		classify_set(v, REASON_DELIVERED, CLASSIFY_SIDE_DEFAULT,
			     g_strconcat("action:",
					 rcpt->action != NULL ? rcpt->action
							      : "delivered",
					 NULL));
	else
		classify_failure(in, v);
}

static enum bounce_side
classify_side(const struct classify_verdict *v)
{
	switch (v->side) {
	case CLASSIFY_SIDE_RECIPIENT:
		return BOUNCE_SIDE_RECIPIENT;
	case CLASSIFY_SIDE_SENDER:
		return BOUNCE_SIDE_SENDER;
	case CLASSIFY_SIDE_NONE:
		return BOUNCE_SIDE_NONE;
	case CLASSIFY_SIDE_DEFAULT:
	default:
		return classify_reason_sides[v->reason];
	}
}

void
classify_rcpt(enum bounce_kind kind, struct bounce_rcpt *rcpt)
{
	struct classify_input in;
	struct classify_verdict v = {REASON_UNDEFINED, CLASSIFY_SIDE_DEFAULT,
				     NULL};

	if (rcpt == NULL)
		return;
	classify_input_init(&in, rcpt);
	classify_decide(kind, rcpt, &in, &v);

	rcpt->reason = v.reason;
	rcpt->side = classify_side(&v);
	rcpt->hardbounce = !in.delayed && kind != BOUNCE_KIND_AUTOREPLY &&
			   classify_is_hard(v.reason, in.status, in.reply);
	g_free(rcpt->rule);
	if (in.delayed && v.reason != REASON_DELIVERED &&
	    kind != BOUNCE_KIND_AUTOREPLY) {
		rcpt->rule = g_strconcat("action:delayed/", v.rule, NULL);
		g_free(v.rule);
	} else {
		rcpt->rule = v.rule;
	}
	if (in.text != in.buf)
		g_free(in.text);
}

void
classify_report(struct bounce_report *report)
{
	guint i;

	if (report == NULL || report->rcpts == NULL)
		return;
	for (i = 0; i < report->rcpts->len; i++)
		classify_rcpt(report->kind,
			      g_ptr_array_index(report->rcpts, i));
}
