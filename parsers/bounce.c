/*
 * bounce.c - the parse pipeline: bytes -> struct bounce_report.
 *
 * Steps: size and sanity checks, line-end normalisation (CRLF and CR-only
 * become LF so all three parse identically), the MIME structure scan
 * (mime.c; GMime decodes the pieces, with Japanese charset fallbacks),
 * the registry of format parsers, recovery of the original and its order
 * number, then classification.  Nothing here does
 * I/O or logs; every failure becomes a report of kind ERROR.
 */
#include <string.h>
#include <gmime/gmime.h>

#include "bounce.h"
#include "charset.h"
#include "classify.h"
#include "dsn.h"
#include "input.h"
#include "mime.h"
#include "original.h"
#include "registry.h"

static GMimeParserOptions *parser_options;

GMimeParserOptions *
bounce_parser_options(void)
{
	static const char *fallbacks[] = {"utf-8", "euc-jp", "cp932",
					  "iso-8859-1", NULL};

	if (parser_options == NULL) {
		parser_options = g_mime_parser_options_new();
		g_mime_parser_options_set_fallback_charsets(parser_options,
							    fallbacks);
		g_mime_parser_options_set_rfc2047_compliance_mode(
		    parser_options, GMIME_RFC_COMPLIANCE_LOOSE);
		g_mime_parser_options_set_address_compliance_mode(
		    parser_options, GMIME_RFC_COMPLIANCE_LOOSE);
		charset_preload(fallbacks);
	}
	return parser_options;
}

void
bounce_shutdown(void)
{
	if (parser_options != NULL)
		g_mime_parser_options_free(parser_options);
	parser_options = NULL;
	charset_shutdown();
	classify_shutdown();
}

/* Returns a copy of data with CRLF and lone CR turned into LF, or NULL
   when data has no CR (the common case: no copy is needed). */
static char *
normalise_eol(const char *data, size_t len, size_t *len_r)
{
	const char *cr = memchr(data, '\r', len);
	char *out, *o;
	size_t i;

	if (cr == NULL)
		return NULL;
	out = o = g_malloc(len + 1);
	/* a line at a time: the text up to the next CR, then one LF for the
	   CR and an LF after it */
	for (i = 0; i < len;) {
		size_t run = (cr != NULL ? (size_t)(cr - data) : len) - i;

		memcpy(o, data + i, run);
		o += run;
		i += run;
		if (i == len)
			break;
		*o++ = '\n';
		i++;
		if (i < len && data[i] == '\n')
			i++;
		cr = i < len ? memchr(data + i, '\r', len - i) : NULL;
	}
	*o = '\0';
	*len_r = o - out;
	return out;
}

/* True if the len bytes at text start like a message: a header field
   name and colon, or an mbox "From " line. */
static bool
looks_like_message(const char *text, size_t len)
{
	size_t i;

	if (len >= 5 && memcmp(text, "From ", 5) == 0)
		return true;
	for (i = 0;
	     i < len && text[i] > ' ' && text[i] < 0x7f && text[i] != ':'; i++)
		;
	return i < len && text[i] == ':' && i > 0;
}

static void
fill_report_header(const struct bounce_input *in, struct bounce_report *r)
{
	const char *date = input_header(in, "Date");

	report_set_default(&r->subject, in->subject);
	report_set_default(&r->from, in->from_addr);
	if (r->date == NULL)
		r->date = dsn_iso_date(date);
}

static void
parse_message(struct mime_message *msg, const struct bounce_options *opts,
	      struct bounce_report *report)
{
	struct bounce_input in;

	input_init(&in, msg);
	fill_report_header(&in, report);
	if (registry_parse(&in, report) == 1) {
		original_extract(&in, opts, report);
		classify_report(report);
	} else {
		report->kind = BOUNCE_KIND_NONE;
		report->parser = "none";
	}
	input_clear(&in);
}

struct bounce_report *
bounce_too_large(size_t len, size_t max)
{
	struct bounce_report *report = report_new();
	char *why = g_strdup_printf("message too large: %zu bytes, limit %zu",
				    len, max);

	report->parser = "none";
	report_set_error(report, why);
	g_free(why);
	return report;
}

struct bounce_report *
bounce_parse(const char *data, size_t len, const struct bounce_options *optsp)
{
	struct bounce_options opts = {BOUNCE_DEFAULT_MAX_SIZE,
				      BOUNCE_DEFAULT_ORDER_HEADER,
				      BOUNCE_DEFAULT_TYPE_HEADER};
	struct bounce_report *report = report_new();
	struct mime_message *msg;
	char *copy;

	if (optsp != NULL) {
		opts.max_size =
		    optsp->max_size ? optsp->max_size : opts.max_size;
		opts.order_header = optsp->order_header ? optsp->order_header
							: opts.order_header;
		opts.type_header =
		    optsp->type_header ? optsp->type_header : opts.type_header;
	}
	report->parser = "none";
	if (len == 0) {
		report_set_error(report, "empty message");
		return report;
	}
	if (len > opts.max_size) {
		report_free(&report);
		return bounce_too_large(len, opts.max_size);
	}
	if ((copy = normalise_eol(data, len, &len)) != NULL)
		data = copy;
	if (!looks_like_message(data, len)) {
		report_set_error(report, "not a mail message: no header at "
					 "the start");
	} else if ((msg = mime_message_parse(
			data, len, len >= 5 && memcmp(data, "From ", 5) == 0,
			bounce_parser_options())) == NULL) {
		report_set_error(report, "MIME structure could not be parsed");
	} else {
		parse_message(msg, &opts, report);
		mime_message_free(&msg);
	}
	g_free(copy);
	return report;
}
