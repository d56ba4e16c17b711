/*
 * dsn.c - RFC 3464 multipart/report delivery status notifications and
 * RFC 6533 global (UTF-8) ones.
 *
 * The delivery-status part is a sequence of header-like field groups
 * (RFC 3464 section 2.1): one per-message group, then one group per
 * recipient.  Fields may be folded (continuation lines start with white
 * space).  Real MTAs bend this: missing blank lines between groups,
 * missing Status, Status 5.0.0 with the real code only in the
 * Diagnostic-Code (Exim), no Diagnostic-Code at all with the reply in the
 * human-readable part (OpenSMTPD).  The human-readable text fills what
 * the fields lack.
 */
#include <string.h>
#include <gmime/gmime.h>

#include "dsn.h"
#include "formats.h"
#include "textscan.h"

const char *
dsn_strip_type(const char *value)
{
	const char *semi = strchr(value, ';');
	const char *p;

	if (semi == NULL)
		return value;
	for (p = value; p < semi; p++)
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_' && *p != ' ')
			return value;
	for (p = semi + 1; *p == ' ' || *p == '\t'; p++)
		;
	return p;
}

static int
hexval(char c)
{
	if (g_ascii_isdigit(c))
		return c - '0';
	c = g_ascii_tolower(c);
	return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* The decoded text is written straight into a buffer the size of value:
   it never grows (+HH is one byte from three, \x{H...} at most four
   UTF-8 bytes from at least five, and those from nine). */
char *
dsn_decode_xtext(const char *value)
{
	char *out = g_malloc(strlen(value) + 1), *o = out;
	const char *p;

	for (p = value; *p != '\0'; p++) {
		if (p[0] == '\\' && p[1] == 'x' && p[2] == '{') {
			const char *e = strchr(p + 3, '}');
			char *hex =
			    e != NULL ? g_strndup(p + 3, e - p - 3) : NULL;
			gunichar c =
			    hex != NULL ? g_ascii_strtoull(hex, NULL, 16) : 0;

			g_free(hex);
			if (e != NULL && e - p <= 10 && g_unichar_validate(c) &&
			    c != 0) {
				o += g_unichar_to_utf8(c, o);
				p = e;
				continue;
			}
		}
		if (p[0] == '+' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
			*o++ = (char)(hexval(p[1]) * 16 + hexval(p[2]));
			p += 2;
			continue;
		}
		*o++ = *p;
	}
	*o = '\0';
	return out;
}

/* Returns dt as g_date_time_format(dt, "%Y-%m-%dT%H:%M:%S%:z") does
   (GLib 2.74: the year unpadded, the offset's sign, hours and minutes,
   seconds dropped), without its format parser and locale lookups. */
static char *
iso_format(GDateTime *dt)
{
	int y, mo, d;
	int off = (int)(g_date_time_get_utc_offset(dt) / G_TIME_SPAN_SECOND);
	char sign = off >= 0 ? '+' : '-';

	g_date_time_get_ymd(dt, &y, &mo, &d);
	off = ABS(off);
	return g_strdup_printf(
	    "%d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", y, mo, d,
	    g_date_time_get_hour(dt), g_date_time_get_minute(dt),
	    g_date_time_get_second(dt), sign, off / 3600, off / 60 % 60);
}

/* --- the plain RFC 5322 date, without GMime ------------------------------

   Nearly every date is "[Www, ]D[D] Mon YYYY HH:MM:SS +hhmm".  GMime reads
   that form with its RFC 822 parser and, when the fields make a valid
   date, builds the GDateTime from them unchanged; iso_format() then
   prints the same fields.  So the fast path reads exactly that form,
   checks the date the way g_date_time_new() does, and prints it; anything
   else (other spellings, zone names, comments glued to the zone, invalid
   dates that GMime retries with its lenient parser) goes to GMime.
   tests/test_parse.c compares both over generated dates. */

/* Reads n digits at *p into *v; false if any is not a digit. */
static bool
date_digits(const char **p, int n, int *v)
{
	*v = 0;
	for (; n > 0; n--, (*p)++) {
		if (!g_ascii_isdigit(**p))
			return false;
		*v = *v * 10 + (**p - '0');
	}
	return true;
}

/* Skips blanks at *p; false if there were none. */
static bool
date_blanks(const char **p)
{
	const char *s = *p;

	while (**p == ' ' || **p == '\t')
		(*p)++;
	return *p > s;
}

/* Returns the index of the three letters at *p in names (case ignored)
   and moves past them, or returns -1. */
static int
date_name(const char **p, const char *const *names, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (text_same_ci(*p, names[i], 3)) {
			*p += 3;
			return i;
		}
	}
	return -1;
}

/* The fields of a date in the plain form. */
struct plain_date {
	int year, month, day, hour, min, sec, zone; /* zone: +-hhmm */
};

/* Reads "[Www, ]D[D] Mon YYYY " at p; returns the position after it or
   NULL. */
static const char *
plain_date_day(const char *p, struct plain_date *d)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed",
					   "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
					     "May", "Jun", "Jul", "Aug",
					     "Sep", "Oct", "Nov", "Dec"};
	int ndigits;

	if (g_ascii_isalpha(*p)) {
		if (date_name(&p, days, 7) < 0 ||
		    (*p != ',' && *p != ' ' && *p != '\t'))
			return NULL;
		p++;
		date_blanks(&p);
	}
	ndigits = g_ascii_isdigit(p[0]) && g_ascii_isdigit(p[1]) ? 2 : 1;
	if (!date_digits(&p, ndigits, &d->day) || !date_blanks(&p) ||
	    (d->month = date_name(&p, months, 12)) < 0 || !date_blanks(&p) ||
	    !date_digits(&p, 4, &d->year) || !date_blanks(&p))
		return NULL;
	d->month++;
	return p;
}

/* Reads "HH:MM:SS +hhmm" and the end or a blank at p. */
static bool
plain_date_time(const char *p, struct plain_date *d)
{
	int sign;

	if (!date_digits(&p, 2, &d->hour) || *p++ != ':' ||
	    !date_digits(&p, 2, &d->min) || *p++ != ':' ||
	    !date_digits(&p, 2, &d->sec) || !date_blanks(&p) ||
	    (*p != '+' && *p != '-'))
		return false;
	sign = *p++ == '-' ? -1 : 1;
	if (!date_digits(&p, 4, &d->zone) ||
	    (*p != '\0' && *p != ' ' && *p != '\t'))
		return false;
	d->zone *= sign;
	return true;
}

/* True if d is a date and time g_date_time_new() accepts, in a year
   GMime accepts, with a zone of at most 23:59. */
static bool
plain_date_valid(const struct plain_date *d)
{
	static const int mdays[] = {31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int zone = ABS(d->zone);
	bool leap =
	    (d->year % 4 == 0 && d->year % 100 != 0) || d->year % 400 == 0;

	return d->year >= 1969 && d->day >= 1 &&
	       d->day <= mdays[d->month - 1] + (d->month == 2 && leap) &&
	       d->hour < 24 && d->min < 60 && d->sec < 60 && zone / 100 < 24 &&
	       zone % 100 < 60;
}

/* Writes the two digits of v (0-99) at o; returns o + 2. */
static char *
put2(char *o, int v)
{
	o[0] = (char)('0' + v / 10);
	o[1] = (char)('0' + v % 10);
	return o + 2;
}

/* Returns the ISO form of a plain date, as iso_format() prints it, or
   NULL when date is not in the plain form (see above). */
static char *
plain_iso_date(const char *date)
{
	struct plain_date d;
	const char *p = date;
	char iso[32], *o = iso;
	int zone;

	date_blanks(&p);
	if ((p = plain_date_day(p, &d)) == NULL || !plain_date_time(p, &d) ||
	    !plain_date_valid(&d))
		return NULL;
	zone = ABS(d.zone);
	o = put2(put2(o, d.year / 100), d.year % 100);
	*o++ = '-';
	o = put2(o, d.month);
	*o++ = '-';
	o = put2(o, d.day);
	*o++ = 'T';
	o = put2(o, d.hour);
	*o++ = ':';
	o = put2(o, d.min);
	*o++ = ':';
	o = put2(o, d.sec);
	*o++ = d.zone < 0 ? '-' : '+';
	o = put2(o, zone / 100);
	*o++ = ':';
	o = put2(o, zone % 100);
	return g_strndup(iso, o - iso);
}

char *
dsn_iso_date(const char *date)
{
	GDateTime *dt;
	char *iso;

	if (date == NULL)
		return NULL;
	if ((iso = plain_iso_date(date)) != NULL)
		return iso;
	if ((dt = g_mime_utils_header_decode_date(date)) == NULL)
		return NULL;
	iso = iso_format(dt);
	g_date_time_unref(dt);
	return iso;
}

/* One field while splitting: which name (if a field is open) and the
   unfolded value (kept only for the names read here). */
struct dsn_field {
	bool named;
	int id; /* enum dsn_name */
	GString *value;
};

struct dsn_state {
	struct bounce_report *report;
	struct bounce_rcpt *rcpt; /* current per-recipient group or NULL */
	bool rcpt_has_final;
	int count;
};

static char *
clean_addr_field(const char *value)
{
	char *decoded = dsn_decode_xtext(dsn_strip_type(value));
	char *addr = text_clean_addr(decoded, strlen(decoded));

	g_free(decoded);
	return addr;
}

static struct bounce_rcpt *
state_rcpt(struct dsn_state *st)
{
	if (st->rcpt == NULL) {
		st->rcpt = report_add_rcpt(st->report);
		st->rcpt_has_final = false;
		st->count++;
	}
	return st->rcpt;
}

/* Sets *field to the MTA name of an RFC 3464 mta-name field: the type
   prefix and a trailing comment such as "(192.0.2.1)" dropped. */
static void
set_mta_name(char **field, const char *value)
{
	const char *name = dsn_strip_type(value);
	const char *paren = strstr(name, " (");
	char *copy;

	if (paren == NULL) {
		report_set(field, name);
		return;
	}
	copy = g_strndup(name, (size_t)(paren - name));
	report_set(field, copy);
	g_free(copy);
}

/* Sets *field to value (stripped already) in ASCII lower case.  Short
   values, all real ones, are lowered on the stack. */
static void
set_lower(char **field, const char *value)
{
	char buf[64], *copy;
	size_t i, n = strlen(value);

	if (n >= sizeof(buf)) {
		copy = g_ascii_strdown(value, -1);
		report_set(field, copy);
		g_free(copy);
		return;
	}
	for (i = 0; i <= n; i++)
		buf[i] = g_ascii_tolower(value[i]);
	report_set(field, buf);
}

static void
set_diagnostic(struct bounce_rcpt *rcpt, const char *value)
{
	const char *text = dsn_strip_type(value);

	report_set(&rcpt->diagnostic, text);
	if (rcpt->replycode[0] == '\0')
		report_set_replycode(rcpt, text);
}

static void
set_status(struct bounce_rcpt *rcpt, const char *value)
{
	report_set_status(rcpt, value);
}

/* The fields read here; any other name is ignored (but still ends the
   field before it). */
enum dsn_name {
	DSN_OTHER,
	/* per-recipient fields */
	DSN_FINAL_RECIPIENT,
	DSN_ORIGINAL_RECIPIENT,
	DSN_ACTION,
	DSN_STATUS,
	DSN_DIAGNOSTIC_CODE,
	DSN_REMOTE_MTA,
	DSN_LAST_ATTEMPT_DATE,
	DSN_WILL_RETRY_UNTIL,
	DSN_FINAL_LOG_ID,
	/* per-message fields */
	DSN_REPORTING_MTA,
	DSN_ORIGINAL_ENVELOPE_ID,
	DSN_ARRIVAL_DATE,
};

/* True for the names of per-recipient fields: a group is started for
   them, even for those whose value is not kept. */
static bool
is_rcpt_field(enum dsn_name id)
{
	return id >= DSN_FINAL_RECIPIENT && id <= DSN_FINAL_LOG_ID;
}

/* Returns the id of the n-byte field name, ignoring ASCII case. */
static enum dsn_name
field_id(const char *name, size_t n)
{
	static const struct {
		const char *name;
		enum dsn_name id;
	} names[] = {
	    {"Final-Recipient", DSN_FINAL_RECIPIENT},
	    {"Original-Recipient", DSN_ORIGINAL_RECIPIENT},
	    {"Action", DSN_ACTION},
	    {"Status", DSN_STATUS},
	    {"Diagnostic-Code", DSN_DIAGNOSTIC_CODE},
	    {"Remote-MTA", DSN_REMOTE_MTA},
	    {"Last-Attempt-Date", DSN_LAST_ATTEMPT_DATE},
	    {"Will-Retry-Until", DSN_WILL_RETRY_UNTIL},
	    {"Final-Log-ID", DSN_FINAL_LOG_ID},
	    {"Reporting-MTA", DSN_REPORTING_MTA},
	    {"Original-Envelope-Id", DSN_ORIGINAL_ENVELOPE_ID},
	    {"Arrival-Date", DSN_ARRIVAL_DATE},
	};
	size_t i;

	/* name holds no NUL, so a table name that is shorter differs
	   within n bytes (text_same_ci() stops there), and one that is
	   longer has no NUL at n */
	for (i = 0; i < G_N_ELEMENTS(names); i++)
		if (text_same_ci(name, names[i].name, n) &&
		    names[i].name[n] == '\0')
			return names[i].id;
	return DSN_OTHER;
}

/* Applies a per-recipient field to the current group. */
static void
rcpt_field(struct dsn_state *st, enum dsn_name id, const char *value)
{
	struct bounce_rcpt *r;

	if (id == DSN_FINAL_RECIPIENT) {
		if (st->rcpt != NULL && st->rcpt_has_final)
			st->rcpt = NULL;
		r = state_rcpt(st);
		g_free(r->recipient);
		r->recipient = clean_addr_field(value);
		st->rcpt_has_final = true;
		return;
	}
	r = state_rcpt(st);
	if (id == DSN_ORIGINAL_RECIPIENT) {
		g_free(r->original_recipient);
		r->original_recipient = clean_addr_field(value);
	} else if (id == DSN_ACTION) {
		set_lower(&r->action, value);
	} else if (id == DSN_STATUS) {
		set_status(r, value);
	} else if (id == DSN_DIAGNOSTIC_CODE) {
		set_diagnostic(r, value);
	} else if (id == DSN_REMOTE_MTA) {
		set_mta_name(&r->remote_mta, value);
	} else if (id == DSN_LAST_ATTEMPT_DATE) {
		g_free(r->last_attempt);
		r->last_attempt = dsn_iso_date(value);
	}
}

static void
message_field(struct dsn_state *st, enum dsn_name id, const char *value)
{
	struct bounce_report *r = st->report;

	if (id == DSN_REPORTING_MTA)
		set_mta_name(&r->reporting_mta, value);
	else if (id == DSN_ORIGINAL_ENVELOPE_ID)
		report_set(&r->original.envelope_id, value);
	else if (id == DSN_ARRIVAL_DATE && r->date == NULL)
		r->date = dsn_iso_date(value);
}

/* Strips leading and trailing white space from value in place as
   g_strstrip() does, but from the known length, without moving the text;
   returns the stripped text (inside value). */
static char *
strip_value(GString *value)
{
	char *s = value->str;

	while (value->len > 0 && g_ascii_isspace(s[value->len - 1]))
		value->len--;
	s[value->len] = '\0';
	while (g_ascii_isspace(*s))
		s++;
	return s;
}

/* Applies the field read so far, if any, and forgets it.  The value is
   stripped in place: the buffer is emptied afterwards anyway. */
static void
apply_field(struct dsn_state *st, struct dsn_field *f)
{
	char *value;

	if (!f->named)
		return;
	f->named = false;
	if (f->id == DSN_OTHER)
		return;
	value = strip_value(f->value);
	if (is_rcpt_field(f->id))
		rcpt_field(st, f->id, value);
	else
		message_field(st, f->id, value);
	g_string_truncate(f->value, 0);
}

/* Returns how many of the n bytes at p are blanks (space, tab) before
   the first other byte. */
static size_t
blank_prefix(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i;
}

/* Handles one line of n bytes (no line end): a continuation, a new
   field, or a group break. */
static void
split_line(struct dsn_state *st, struct dsn_field *f, const char *line,
	   size_t n)
{
	size_t lead = blank_prefix(line, n);
	const char *colon, *name, *name_end;

	if (lead == n) {
		apply_field(st, f);
		st->rcpt = NULL;
		return;
	}
	if (lead > 0 && f->named) {
		if (f->id != DSN_OTHER) {
			g_string_append_c(f->value, ' ');
			g_string_append_len(f->value, line + lead, n - lead);
		}
		return;
	}
	apply_field(st, f);
	colon = memchr(line, ':', n);
	if (colon == NULL || colon == line || colon - line > 64)
		return;
	/* the name as g_strstrip() leaves it */
	for (name = line; name < colon && g_ascii_isspace(*name); name++)
		;
	for (name_end = colon; name_end > name && g_ascii_isspace(name_end[-1]);
	     name_end--)
		;
	f->named = true;
	f->id = field_id(name, name_end - name);
	g_string_truncate(f->value, 0);
	if (f->id != DSN_OTHER)
		g_string_append_len(f->value, colon + 1, line + n - colon - 1);
}

int
dsn_parse_fields(const char *text, struct bounce_report *report)
{
	struct dsn_state st = {report, NULL, false, 0};
	struct dsn_field f = {false, DSN_OTHER, g_string_new(NULL)};
	const char *p = text, *end = text + strlen(text), *nl;

	/* every line, as g_strsplit(text, "\n") makes them: a text that
	   ends with '\n' has an empty last line */
	for (;;) {
		size_t n;

		nl = memchr(p, '\n', end - p);
		n = (nl != NULL ? nl : end) - p;
		if (n > 0 && p[n - 1] == '\r')
			n--;
		split_line(&st, &f, p, n);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	apply_field(&st, &f);
	g_string_free(f.value, TRUE);
	return st.count;
}

/* --- the registry entry ------------------------------------------------ */

/* A vague status (X.0.0) yields to a specific code of the same class in
   the diagnostic: Exim and OpenSMTPD always say 5.0.0. */
static void
sharpen_status(struct bounce_rcpt *r)
{
	struct bounce_rcpt probe = {0};

	if (r->diagnostic == NULL || !report_set_status(&probe, r->diagnostic))
		return;
	if (r->status[0] == '\0' || (g_str_has_suffix(r->status, ".0.0") &&
				     probe.status[0] == r->status[0]))
		memcpy(r->status, probe.status, sizeof(r->status));
}

static void
infer_action(struct bounce_rcpt *r)
{
	if (r->action != NULL && *r->action != '\0')
		return;
	g_free(r->action);
	if (r->status[0] == '2')
		r->action = g_strdup("delivered");
	else if (r->status[0] == '4')
		r->action = g_strdup("delayed");
	else
		r->action = g_strdup("failed");
}

/* Postfix says which SMTP command the reply answered only in the
   human-readable part ("... (in reply to end of DATA command)"), not in
   the Diagnostic-Code.  The command matters: docomo's "550 Unknown user"
   after DATA is its content filter, not a missing mailbox.  Appends that
   note to the recipient's diagnostic when the diagnostic lacks it. */
static void
add_command_note(struct bounce_rcpt *r, const char *text_diag)
{
	const char *note, *end;
	char *joined;

	if (r->diagnostic == NULL || text_diag == NULL ||
	    text_has_ci(r->diagnostic, "in reply to") ||
	    (note = text_find_ci(text_diag, "(in reply to ")) == NULL ||
	    (end = strchr(note, ')')) == NULL)
		return;
	joined = g_strdup_printf("%s %.*s", r->diagnostic,
				 (int)(end - note + 1), note);
	report_set(&r->diagnostic, joined);
	g_free(joined);
}

/* True if reading the human-readable text could change nothing below:
   every recipient has an address (or an original one) and a diagnostic,
   and the text holds no "(in".  A command note needs "(in reply to " in
   the diagnostic read from the text, and that diagnostic is the text's
   own lines joined with spaces and cleaned (blank runs become one
   space, nothing is removed), so its "(in" stands in one line of the
   text.  Saves the scan of most DSNs, whose fields say it all. */
static bool
text_adds_nothing(const struct bounce_input *in,
		  const struct bounce_report *report)
{
	guint i;

	for (i = 0; i < report->rcpts->len; i++) {
		const struct bounce_rcpt *r =
		    g_ptr_array_index(report->rcpts, i);

		if ((r->recipient == NULL && r->original_recipient == NULL) ||
		    r->diagnostic == NULL || *r->diagnostic == '\0')
			return false;
	}
	return !text_has_ci(in->body, "(in");
}

/* Fills r's missing address and diagnostic from text, the recipients
   read from the human-readable part (NULL: reading it adds nothing, see
   text_adds_nothing()); only is true if r is the report's one
   recipient.  Then completes its reply code, status and action. */
static void
fill_rcpt(struct bounce_rcpt *r, const struct bounce_report *text, bool only)
{
	struct bounce_rcpt *t = NULL;

	if (r->recipient == NULL && r->original_recipient != NULL)
		r->recipient = g_strdup(r->original_recipient);
	if (r->recipient == NULL && text != NULL && text->rcpts->len == 1 &&
	    only)
		r->recipient = g_strdup(
		    ((struct bounce_rcpt *)g_ptr_array_index(text->rcpts, 0))
			->recipient);
	if (text != NULL)
		t = report_find_rcpt(text, r->recipient);
	if (t != NULL && t->diagnostic != NULL &&
	    (r->diagnostic == NULL || *r->diagnostic == '\0'))
		report_set(&r->diagnostic, t->diagnostic);
	else if (t != NULL)
		add_command_note(r, t->diagnostic);
	if (r->replycode[0] == '\0' && r->diagnostic != NULL)
		report_set_replycode(r, r->diagnostic);
	sharpen_status(r);
	infer_action(r);
}

/* Fills recipients' missing address and diagnostic from the
   human-readable part, which is read only if that can change something
   (a report of no recipients read stands for it otherwise). */
static void
fill_from_text(const struct bounce_input *in, struct bounce_report *report)
{
	/* Separator lines before a quoted original.  Anchored with dashes
	   or "follows": a preamble sentence such as "delete your own text
	   from the attached returned message" must not end the scan. */
	static const char *const end[] = {"-- original message",
					  "original message follows",
					  "returned message follows",
					  "message headers follow",
					  "------ This is a copy",
					  "--- Below this line",
					  "Below is a copy of the original",
					  NULL};
	struct textscan_spec spec = {NULL, false, end, NULL};
	struct bounce_report *text = NULL;
	guint i;

	if (!text_adds_nothing(in, report)) {
		text = report_new();
		textscan_recipients(in->body, &spec, text);
	}
	for (i = 0; i < report->rcpts->len; i++)
		fill_rcpt(g_ptr_array_index(report->rcpts, i), text,
			  report->rcpts->len == 1);
	report_free(&text);
}

static int
finish(const struct bounce_input *in, struct bounce_report *report)
{
	fill_from_text(in, report);
	report_drop_nameless(report);
	if (report->rcpts->len == 0)
		return 0;
	report->kind = BOUNCE_KIND_DSN;
	return 1;
}

static int
parse(const struct bounce_input *in, struct bounce_report *report)
{
	if (in->delivery_status == NULL ||
	    dsn_parse_fields(in->delivery_status, report) == 0)
		return 0;
	return finish(in, report);
}

const struct bounce_parser fmt_dsn = {"rfc3464", parse};

/* Returns the start of the first line of text beginning with name
   (case-insensitive), or NULL. */
static const char *
find_field_line(const char *text, const char *name)
{
	const char *p = text;

	while (p != NULL && *p != '\0') {
		if (text_starts_ci(p, name))
			return p;
		p = strchr(p, '\n');
		p = p != NULL ? p + 1 : NULL;
	}
	return NULL;
}

/* Delivery-status fields written into the text itself: a DSN forwarded
   as text, or MTAs that paste the fields into a single-part bounce
   (Sisimai's "unknown MTA #5" shape). */
static int
parse_text(const struct bounce_input *in, struct bounce_report *report)
{
	const char *start, *mta;

	if (in->delivery_status != NULL ||
	    (start = find_field_line(in->body, "Final-Recipient:")) == NULL ||
	    (find_field_line(start, "Action:") == NULL &&
	     find_field_line(start, "Status:") == NULL))
		return 0;
	mta = find_field_line(in->body, "Reporting-MTA:");
	if (mta != NULL && mta < start)
		start = mta;
	if (dsn_parse_fields(start, report) == 0)
		return 0;
	return finish(in, report);
}

const struct bounce_parser fmt_dsn_text = {"rfc3464-text", parse_text};
