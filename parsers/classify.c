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

/* The SMTP command a diagnostic says it answered, when it says so. */
enum classify_command {
	CMD_UNKNOWN = 0,
	CMD_MAIL,
	CMD_RCPT,
	CMD_DATA,
};

/* A 256-bit set of hashed byte pairs. */
struct classify_mask {
	guint64 w[4];
};

/* What classification works from: effective codes and normalised text. */
struct classify_input {
	const char *action; /* may be NULL */
	bool delayed;
	char status[16]; /* effective RFC 3463 code or "" */
	char reply[4];   /* effective reply code or "" */
	char *text;      /* normalised diagnostic, owned */
	enum classify_command command;
	/* Which byte pairs occur in text (bit a << 8 | b): a pattern segment
	   whose first pair is absent cannot match, so most of the table is
	   skipped without a substring search. */
	unsigned char pairs[65536 / 8];
	/* The same pairs folded into 256 bits (classify_mask_add()): a few
	   ANDs against a pattern's mask reject most of a table. */
	struct classify_mask pair_mask;
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

/* Returns a g_malloc'd copy of s with ASCII lowercased, every run of
   white space (and control characters) turned into one space, leading
   and trailing space removed, and U+2019/U+2018 folded to '\''.  Other
   UTF-8 bytes are copied unchanged.  NULL becomes "". */
static char *
classify_normalise(const char *s)
{
	/* the copy never grows: runs of blanks and the 3-byte quotes
	   shrink, everything else is copied byte for byte */
	char *out = g_malloc(s != NULL ? strlen(s) + 1 : 1), *o = out;
	const unsigned char *p = (const unsigned char *)s;
	bool space = false;

	while (p != NULL && *p != '\0') {
		if (*p <= ' ' || *p == 0x7f) {
			space = o > out;
			p++;
			continue;
		}
		if (space)
			*o++ = ' ';
		space = false;
		if (p[0] == 0xe2 && p[1] == 0x80 &&
		    (p[2] == 0x98 || p[2] == 0x99)) {
			*o++ = '\'';
			p += 3;
			continue;
		}
		*o++ = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
		p++;
	}
	*o = '\0';
	return out;
}

/* Sets the bit of the byte pair a, b in m. */
static void
classify_mask_add(struct classify_mask *m, unsigned a, unsigned b)
{
	unsigned bit = (a * 31u + b) & 255u;

	m->w[bit >> 6] |= (guint64)1 << (bit & 63u);
}

/* True if every bit of sub is set in super. */
static bool
classify_mask_within(const struct classify_mask *sub,
		     const struct classify_mask *super)
{
	return ((sub->w[0] & ~super->w[0]) | (sub->w[1] & ~super->w[1]) |
		(sub->w[2] & ~super->w[2]) | (sub->w[3] & ~super->w[3])) == 0;
}

/* Records every byte pair of in->text in in->pairs and in->pair_mask. */
static void
classify_index_pairs(struct classify_input *in)
{
	const unsigned char *p = (const unsigned char *)in->text;

	memset(in->pairs, 0, sizeof(in->pairs));
	memset(&in->pair_mask, 0, sizeof(in->pair_mask));
	for (; p[0] != '\0' && p[1] != '\0'; p++) {
		unsigned pair = (unsigned)p[0] << 8 | p[1];

		in->pairs[pair >> 3] |= 1u << (pair & 7);
		classify_mask_add(&in->pair_mask, p[0], p[1]);
	}
}

/* Returns the mask of the pairs classify_pairs_allow() checks in
   pattern: those inside a segment (no '*' in the pair). */
static void
classify_pattern_mask(const char *pattern, struct classify_mask *m)
{
	const unsigned char *p = (const unsigned char *)pattern;

	memset(m, 0, sizeof(*m));
	for (; p[0] != '\0' && p[1] != '\0'; p++)
		if (p[0] != '*' && p[1] != '*')
			classify_mask_add(m, p[0], p[1]);
}

/* The pattern masks of each table, built on first use (the tables are
   fixed) and freed by classify_shutdown().  Parsing runs on one thread. */
static struct {
	const struct classify_pattern *table;
	struct classify_mask *masks;
} classify_masks[2];

static const struct classify_mask *
classify_table_masks(const struct classify_pattern *table)
{
	size_t i, n;

	for (i = 0; i < G_N_ELEMENTS(classify_masks); i++) {
		if (classify_masks[i].table == table)
			return classify_masks[i].masks;
		if (classify_masks[i].table == NULL)
			break;
	}
	g_assert(i < G_N_ELEMENTS(classify_masks));
	for (n = 0; table[n].text != NULL; n++)
		;
	classify_masks[i].masks = g_new(struct classify_mask, n + 1);
	for (n = 0; table[n].text != NULL; n++)
		classify_pattern_mask(table[n].text,
				      &classify_masks[i].masks[n]);
	classify_masks[i].table = table;
	return classify_masks[i].masks;
}

void
classify_shutdown(void)
{
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(classify_masks); i++) {
		g_free(classify_masks[i].masks);
		classify_masks[i].masks = NULL;
		classify_masks[i].table = NULL;
	}
}

/* True unless some byte pair inside a segment of pattern (split at '*')
   is missing from text: then that segment cannot occur in text, so the
   pattern cannot match.  Checking every pair, not only the first, rejects
   nearly all of a table with bit tests and leaves few strstr() calls. */
static bool
classify_pairs_allow(const unsigned char *pairs, const char *pattern)
{
	const unsigned char *p = (const unsigned char *)pattern;

	for (; p[0] != '\0' && p[1] != '\0'; p++) {
		unsigned pair = (unsigned)p[0] << 8 | p[1];

		if (p[0] == '*' || p[1] == '*')
			continue;
		if (!(pairs[pair >> 3] & (1u << (pair & 7))))
			return false;
	}
	return true;
}

/* Returns true if text contains pattern, where '*' in pattern means
   "followed somewhere later by".  Each segment is found with strstr
   after the end of the previous one, so the scan is linear. */
static bool
classify_pattern_match(const char *text, const char *pattern)
{
	char seg[256];
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

/* Returns the first entry of table matching text (and its status gate),
   or NULL. */
static const struct classify_pattern *
classify_table_find(const struct classify_pattern *table,
		    const struct classify_input *in)
{
	const struct classify_pattern *p;
	const struct classify_mask *mask;

	if (in->text[0] == '\0')
		return NULL;
	mask = classify_table_masks(table);
	for (p = table; p->text != NULL; p++, mask++) {
		if (classify_mask_within(mask, &in->pair_mask) &&
		    classify_code_gate(in, p->code) &&
		    classify_pairs_allow(in->pairs, p->text) &&
		    classify_pattern_match(in->text, p->text))
			return p;
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
		if (strcmp(c->code, code) == 0)
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

/* Returns the SMTP command the normalised text says it answered. */
static enum classify_command
classify_find_command(const char *text)
{
	if (strstr(text, "end of data") != NULL ||
	    strstr(text, "in reply to data command") != NULL ||
	    strstr(text, "after data") != NULL)
		return CMD_DATA;
	if (strstr(text, "rcpt to") != NULL)
		return CMD_RCPT;
	if (strstr(text, "mail from command") != NULL ||
	    strstr(text, "after mail from") != NULL)
		return CMD_MAIL;
	return CMD_UNKNOWN;
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
		return g_strdup_printf("provider:%s", p->tag);
	return g_strdup_printf("text:%s", p->text);
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
			     g_strdup_printf("class:%s", st));
	else if (st[0] != '\0' && st[2] == '7' && st[3] == '.')
		classify_set(v, REASON_SECURITYERROR, CLASSIFY_SIDE_DEFAULT,
			     g_strdup_printf("class:%s", st));
	else if ((reply > 500 && reply < 508) || (reply > 400 && reply < 408))
		classify_set(v, REASON_SYNTAXERROR, CLASSIFY_SIDE_DEFAULT,
			     g_strdup_printf("reply:%s", in->reply));
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
classify_failure(const struct classify_input *in, struct classify_verdict *v)
{
	const struct classify_pattern *p;
	enum bounce_reason s, t = REASON_UNDEFINED;

	p = classify_table_find(classify_provider_patterns, in);
	if (p != NULL) {
		classify_set(v, p->reason, p->side, classify_pattern_rule(p));
		return;
	}
	s = classify_status_reason(in->status);
	p = classify_table_find(classify_text_patterns, in);
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
	    in->command == CMD_DATA)
		t = REASON_FILTERED;

	if (t != REASON_UNDEFINED &&
	    (s == REASON_UNDEFINED || classify_text_wins(s, t)))
		classify_set(v, t, p != NULL ? p->side : CLASSIFY_SIDE_DEFAULT,
			     p != NULL
				 ? classify_pattern_rule(p)
				 : g_strdup_printf("reply:%s", in->reply));
	else if (s != REASON_UNDEFINED)
		classify_set(v, s, CLASSIFY_SIDE_DEFAULT,
			     g_strdup_printf("status:%s", in->status));
	else
		classify_fallback(in, v);
}

/* Fills in from rcpt: the effective codes (a vague "5.0.0" or missing
   status is replaced by the code in the diagnostic, as Exim and OpenSMTPD
   put the real one only there) and the normalised text. */
static void
classify_input_init(struct classify_input *in, const struct bounce_rcpt *rcpt)
{
	/* pairs is cleared by classify_index_pairs(), not twice */
	memset(in, 0, offsetof(struct classify_input, pairs));
	in->action = rcpt->action;
	in->delayed = rcpt->action != NULL &&
		      g_ascii_strcasecmp(rcpt->action, "delayed") == 0;
	in->text = classify_normalise(rcpt->diagnostic);
	classify_index_pairs(in);
	g_strlcpy(in->status, rcpt->status, sizeof(in->status));
	g_strlcpy(in->reply, rcpt->replycode, sizeof(in->reply));
	if (classify_status_vague(in->status))
		(void)classify_find_status(in->text, in->status);
	if (in->reply[0] == '\0')
		(void)classify_find_reply(in->text, in->reply);
	in->command = classify_find_command(in->text);
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
		const struct classify_input *in, struct classify_verdict *v)
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
			: g_strdup_printf("parser:%s", reason_names[preset]));
	else if (classify_is_delivered(rcpt))
		classify_set(v, REASON_DELIVERED, CLASSIFY_SIDE_DEFAULT,
			     g_strdup_printf("action:%s", rcpt->action != NULL
							      ? rcpt->action
							      : "delivered"));
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
	    kind != BOUNCE_KIND_AUTOREPLY)
		rcpt->rule = g_strdup_printf("action:delayed/%s", v.rule);
	else
		rcpt->rule = g_strdup(v.rule);
	g_free(v.rule);
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
