/*
 * test_json_out.c - json_out.c's string escaping against a plain
 * byte-by-byte reference (json-glib 1.6's rules, which the goldens were
 * made with) over random strings of every byte value, at every length
 * and alignment the word-at-a-time scan handles differently.
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>

#include "bounced/json_out.h"
#include "tests/test.h"

/* The reference: '"' and '\\' and \b \f \n \r \t by name, 0x01-0x1e and
   0x7f as \u00xx, everything else as it is. */
static void
escape_naive(GString *out, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '"':
			g_string_append(out, "\\\"");
			break;
		case '\\':
			g_string_append(out, "\\\\");
			break;
		case '\b':
			g_string_append(out, "\\b");
			break;
		case '\f':
			g_string_append(out, "\\f");
			break;
		case '\n':
			g_string_append(out, "\\n");
			break;
		case '\r':
			g_string_append(out, "\\r");
			break;
		case '\t':
			g_string_append(out, "\\t");
			break;
		default:
			if (*p < 0x1f || *p == 0x7f)
				g_string_append_printf(out, "\\u%04x", *p);
			else
				g_string_append_c(out, (char)*p);
		}
	}
}

/* A random string of len bytes 1..255, mostly plain text so runs of
   eight plain bytes occur, with the special bytes sprinkled in. */
static char *
random_text(guint32 *seed, size_t len)
{
	static const unsigned char special[] = {'"',  '\\', 0x01, 0x1e,
						0x1f, 0x20, 0x7f, 0x80,
						0xff, '\n', '\t', 0x0b};
	char *s = g_malloc(len + 1);
	size_t i;

	for (i = 0; i < len; i++) {
		*seed = *seed * 1103515245u + 12345u;
		if ((*seed >> 16) % 5 == 0)
			s[i] = (char)special[(*seed >> 8) % sizeof(special)];
		else if ((*seed >> 16) % 7 == 0)
			s[i] = (char)(1 + (*seed >> 4) % 255);
		else
			s[i] = (char)('a' + (*seed >> 20) % 26);
	}
	s[len] = '\0';
	return s;
}

/* The "file" field of the one line json_out_report() prints for an
   empty report whose file name is name, as printed between the quotes. */
static char *
printed_file_field(const char *name)
{
	struct bounce_report *report = report_new();
	char *buf = NULL, *start, *end;
	size_t size = 0;
	FILE *fp = open_memstream(&buf, &size);

	json_out_report(fp, name, report);
	fclose(fp);
	report_free(&report);
	start = strstr(buf, "{\"file\":\"") + 9;
	end = strstr(start, "\",\"kind\":");
	*end = '\0';
	memmove(buf, start, strlen(start) + 1);
	return buf;
}

static void
test_escaping_random(void)
{
	GString *want = g_string_new(NULL);
	guint32 seed = 7;
	size_t len;
	int round;

	test_begin("escaping equals the byte-by-byte reference");
	for (round = 0; round < 40; round++) {
		for (len = 1; len < 70; len++) {
			char *s = random_text(&seed, len);
			char *got = printed_file_field(s);

			g_string_truncate(want, 0);
			escape_naive(want, s);
			test_assert_str(got, want->str);
			free(got);
			g_free(s);
		}
	}
	test_end();
	g_string_free(want, TRUE);
}

int
main(void)
{
	test_escaping_random();
	json_out_shutdown();
	return test_exit();
}
