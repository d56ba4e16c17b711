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
	struct mime_headers *attached;
};

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
		} else if (*p != '&') {
			if (*p != '\r')
				g_string_append_c(out, *p);
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
		} else {
			g_string_append_c(out, *p);
		}
	}
	return g_string_free(out, FALSE);
}

static void
walk_leaf(struct walk *w, const struct mime_part *part)
{
	char *text;

	if (mime_part_is(part, "message", "delivery-status") ||
	    mime_part_is(part, "message", "global-delivery-status")) {
		if (w->delivery_status == NULL)
			w->delivery_status =
			    mime_part_text(part, INPUT_MAX_TEXT);
		return;
	}
	if (mime_part_is(part, "text", "rfc822-headers") ||
	    mime_part_is(part, "message", "global-headers")) {
		if (w->headers == NULL)
			w->headers = mime_part_text(part, INPUT_MAX_TEXT);
		return;
	}
	if (mime_part_is(part, "text", "plain")) {
		text = mime_part_text(part, INPUT_MAX_TEXT);
		append_text(w->plain, text);
		g_free(text);
	} else if (mime_part_is(part, "text", "html") &&
		   !mime_part_is_attachment(part)) {
		char *html = mime_part_text(part, INPUT_MAX_TEXT);

		text = html_to_text(html);
		append_text(w->html, text);
		g_free(text);
		g_free(html);
	}
}

/* Multipart children in order; an attached message is noted, never
   entered; mime.c bounds the depth. */
static void
walk_part(struct walk *w, const struct mime_part *part)
{
	guint i;

	if (part->children != NULL) {
		for (i = 0; i < part->children->len; i++)
			walk_part(w, g_ptr_array_index(part->children, i));
	} else if (part->message != NULL) {
		if (w->attached == NULL)
			w->attached = part->message->headers;
	} else if (!mime_part_is(part, "multipart", "*")) {
		walk_leaf(w, part);
	}
}

void
input_init(struct bounce_input *in, struct mime_message *msg)
{
	struct walk w = {g_string_new(NULL), g_string_new(NULL), NULL, NULL,
			 NULL};
	const char *from = mime_headers_get(msg->headers, "From");

	memset(in, 0, sizeof(*in));
	in->msg = msg;
	in->subject =
	    charset_fix_header(mime_headers_get_last(msg->headers, "Subject"));
	if (in->subject == NULL)
		in->subject = g_strdup("");
	in->from = charset_fix_header(from != NULL ? from : "");
	in->from_addr = input_first_addr(in->from);
	if (in->from_addr == NULL)
		in->from_addr = g_strdup("");
	walk_part(&w, msg->body);
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
	memset(in, 0, sizeof(*in));
}

const char *
input_header(const struct bounce_input *in, const char *name)
{
	return mime_headers_get(in->msg->headers, name);
}
