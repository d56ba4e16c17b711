/*
 * input.c - walks a parsed message once and collects what format parsers
 * need: decoded subject and sender, the human-readable text, the
 * delivery-status part, and the returned original.
 *
 * The walk never descends into an attached message (message/rfc822): the
 * original may itself be a bounce (a bounce of a bounce), and its text
 * must not be read as ours.
 */
#include <string.h>

#include "input.h"
#include "charset.h"
#include "textscan.h"

struct walk {
	GString *plain;
	GString *html;
	char *delivery_status;
	char *headers;
	GMimeMessage *attached;
};

char *
input_part_text(GMimePart *part, size_t max)
{
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	GMimeStream *mem;
	GByteArray *bytes;
	const char *charset;
	char *text;
	size_t len;

	if (content == NULL)
		return g_strdup("");
	mem = g_mime_stream_mem_new();
	g_mime_data_wrapper_write_to_stream(content, mem);
	bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	len = MIN(bytes->len, max);
	charset = g_mime_object_get_content_type_parameter(GMIME_OBJECT(part),
							   "charset");
	text = charset_to_utf8((const char *)bytes->data, len, charset);
	g_object_unref(mem);
	return text;
}

char *
input_first_addr(const char *value)
{
	const char *a;
	size_t n;

	if (value == NULL || !text_find_addr(value, strlen(value), &a, &n))
		return NULL;
	return text_clean_addr(a, n);
}

/* Appends text, keeping the total under INPUT_MAX_TEXT. */
static void
append_text(GString *to, const char *text)
{
	size_t room;

	if (to->len >= INPUT_MAX_TEXT)
		return;
	room = INPUT_MAX_TEXT - to->len;
	if (to->len > 0)
		g_string_append_c(to, '\n');
	g_string_append_len(to, text, MIN(strlen(text), room));
}

/* Strips tags from html, turning <br>, <p>, <div>, <tr> into line breaks
   and decoding the few entities bounces use. */
static char *
html_to_text(const char *html)
{
	GString *out = g_string_sized_new(strlen(html));
	const char *p;

	for (p = html; *p != '\0'; p++) {
		if (*p == '<') {
			const char *e = strchr(p, '>');

			if (e == NULL)
				break;
			if (text_starts_ci(p, "<br") ||
			    text_starts_ci(p, "<p") ||
			    text_starts_ci(p, "</p") ||
			    text_starts_ci(p, "<div") ||
			    text_starts_ci(p, "</div") ||
			    text_starts_ci(p, "<tr") ||
			    text_starts_ci(p, "</tr") ||
			    text_starts_ci(p, "<li"))
				g_string_append_c(out, '\n');
			p = e;
		} else if (text_starts_ci(p, "&lt;")) {
			g_string_append_c(out, '<');
			p += 3;
		} else if (text_starts_ci(p, "&gt;")) {
			g_string_append_c(out, '>');
			p += 3;
		} else if (text_starts_ci(p, "&amp;")) {
			g_string_append_c(out, '&');
			p += 4;
		} else if (text_starts_ci(p, "&nbsp;")) {
			g_string_append_c(out, ' ');
			p += 5;
		} else if (*p != '\r') {
			g_string_append_c(out, *p);
		}
	}
	return g_string_free(out, FALSE);
}

static bool
type_is(GMimeContentType *ct, const char *type, const char *subtype)
{
	return g_mime_content_type_is_type(ct, type, subtype);
}

static void
walk_leaf(struct walk *w, GMimePart *part)
{
	GMimeContentType *ct =
	    g_mime_object_get_content_type(GMIME_OBJECT(part));
	char *text;

	if (type_is(ct, "message", "delivery-status") ||
	    type_is(ct, "message", "global-delivery-status")) {
		if (w->delivery_status == NULL)
			w->delivery_status =
			    input_part_text(part, INPUT_MAX_TEXT);
		return;
	}
	if (type_is(ct, "text", "rfc822-headers") ||
	    type_is(ct, "message", "global-headers")) {
		if (w->headers == NULL)
			w->headers = input_part_text(part, INPUT_MAX_TEXT);
		return;
	}
	if (type_is(ct, "text", "plain")) {
		text = input_part_text(part, INPUT_MAX_TEXT);
		append_text(w->plain, text);
		g_free(text);
	} else if (type_is(ct, "text", "html") &&
		   !g_mime_part_is_attachment(part)) {
		char *html = input_part_text(part, INPUT_MAX_TEXT);

		text = html_to_text(html);
		append_text(w->html, text);
		g_free(text);
		g_free(html);
	}
}

static void
walk_object(struct walk *w, GMimeObject *obj)
{
	if (GMIME_IS_MULTIPART(obj)) {
		GMimeMultipart *mp = GMIME_MULTIPART(obj);
		int i, n = g_mime_multipart_get_count(mp);

		for (i = 0; i < n; i++)
			walk_object(w, g_mime_multipart_get_part(mp, i));
	} else if (GMIME_IS_MESSAGE_PART(obj)) {
		GMimeMessage *m =
		    g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));

		if (w->attached == NULL && m != NULL)
			w->attached = g_object_ref(m);
	} else if (GMIME_IS_PART(obj)) {
		walk_leaf(w, GMIME_PART(obj));
	}
}

void
input_init(struct bounce_input *in, GMimeMessage *msg)
{
	struct walk w = {g_string_new(NULL), g_string_new(NULL), NULL, NULL,
			 NULL};
	GMimeObject *body = g_mime_message_get_mime_part(msg);
	const char *from = g_mime_object_get_header(GMIME_OBJECT(msg), "From");

	memset(in, 0, sizeof(*in));
	in->msg = msg;
	in->subject = charset_fix_header(g_mime_message_get_subject(msg));
	if (in->subject == NULL)
		in->subject = g_strdup("");
	in->from = charset_fix_header(from != NULL ? from : "");
	in->from_addr = input_first_addr(in->from);
	if (in->from_addr == NULL)
		in->from_addr = g_strdup("");
	if (body != NULL)
		walk_object(&w, body);
	if (w.plain->len == 0) {
		/* HTML-only bounces: use the tag-stripped text. */
		GString *swap = w.plain;

		w.plain = w.html;
		w.html = swap;
	}
	in->body = g_string_free(w.plain, FALSE);
	g_string_free(w.html, TRUE);
	in->delivery_status = w.delivery_status;
	in->attached_headers = w.headers;
	in->attached = w.attached;
}

void
input_clear(struct bounce_input *in)
{
	g_free((char *)in->subject);
	g_free((char *)in->from);
	g_free((char *)in->from_addr);
	g_free((char *)in->body);
	g_free((char *)in->delivery_status);
	g_free((char *)in->attached_headers);
	g_clear_object(&in->attached);
	memset(in, 0, sizeof(*in));
}

const char *
input_header(const struct bounce_input *in, const char *name)
{
	return g_mime_object_get_header(GMIME_OBJECT(in->msg), name);
}
