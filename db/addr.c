/*
 * addr.c - address normalisation (IDNA via libidn2) and sender-domain
 * attribution.  See addr.h.  Pure: no I/O, no logging.
 */
#include "config.h"

#include <string.h>
#include <glib.h>
#include <idn2.h>

#include "db/addr.h"

/* Lowercases ASCII letters of s in place. */
static void
addr_ascii_down(char *s)
{
	for (; *s != '\0'; s++)
		*s = g_ascii_tolower(*s);
}

/* True if domain is only dot-separated labels of ASCII letters, digits
   and hyphens that IDNA leaves as they are but for case: 1 to 63 bytes a
   label, 253 in all, no hyphen first or last in a label nor in its third
   and fourth places (the form of A-labels, "xn--", which libidn2 decodes
   and checks).  Most domains are; they need not go through libidn2,
   which costs microseconds each (tests/test_addr.c checks both ways
   agree). */
static bool
addr_domain_plain(const char *domain)
{
	size_t label = 0, n;
	const char *p;

	for (p = domain, n = 0; *p != '\0'; p++, n++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return false;
			label = 0;
		} else if (g_ascii_isalnum(*p) ||
			   (*p == '-' && label != 0 &&
			    !(label == 3 && p[-1] == '-'))) {
			if (++label > 63)
				return false;
		} else
			return false;
	}
	return n > 0 && n <= 253 && label > 0 && p[-1] != '-';
}

/* Converts a domain to its lowercase A-label form; NULL if invalid. */
static char *
addr_domain_ascii(const char *domain)
{
	char *out = NULL, *ret;
	int rc;

	if (addr_domain_plain(domain))
		return g_ascii_strdown(domain, -1);
	rc = idn2_to_ascii_8z(domain, &out, IDN2_NFC_INPUT |
	    IDN2_NONTRANSITIONAL);
	if (rc != IDN2_OK) {
		idn2_free(out);
		out = NULL;
		rc = idn2_to_ascii_8z(domain, &out, IDN2_NFC_INPUT |
		    IDN2_TRANSITIONAL);
	}
	if (rc != IDN2_OK) {
		idn2_free(out);
		return NULL;
	}
	ret = g_strdup(out);
	idn2_free(out);
	addr_ascii_down(ret);
	return ret;
}

/* Converts an A-label domain to UTF-8 (or a copy if it cannot). */
static char *
addr_domain_utf8(const char *ascii)
{
	char *out = NULL, *ret;

	if (addr_domain_plain(ascii)) /* no A-label: nothing to decode */
		return g_ascii_strdown(ascii, -1);
	if (idn2_to_unicode_8z8z(ascii, &out, 0) != IDN2_OK) {
		idn2_free(out);
		return g_strdup(ascii);
	}
	ret = g_utf8_strdown(out, -1);
	idn2_free(out);
	return ret;
}

int
addr_normalize(const char *addr, char **ascii_r, char **utf8_r,
    char **error_r)
{
	char *s, *at, *domain;
	size_t len;

	*ascii_r = NULL;
	if (utf8_r != NULL)
		*utf8_r = NULL;
	if (addr == NULL || !g_utf8_validate(addr, -1, NULL)) {
		*error_r = g_strdup("not an e-mail address (empty or not "
		    "UTF-8)");
		return -1;
	}
	s = g_strstrip(g_strdup(addr));
	len = strlen(s);
	if (len >= 2 && s[0] == '<' && s[len - 1] == '>') {
		memmove(s, s + 1, len - 2);
		s[len - 2] = '\0';
	}
	at = strrchr(s, '@');
	if (at == NULL || at == s || at[1] == '\0' ||
	    strpbrk(s, " \t\r\n<>,;") != NULL || len > 512) {
		*error_r = g_strdup_printf("'%s' is not an e-mail address "
		    "(want local@domain)", addr);
		g_free(s);
		return -1;
	}
	*at = '\0';
	domain = at + 1;
	if (domain[strlen(domain) - 1] == '.')
		domain[strlen(domain) - 1] = '\0';
	if ((domain = addr_domain_ascii(domain)) == NULL) {
		*error_r = g_strdup_printf("'%s' is not an e-mail address "
		    "(invalid domain)", addr);
		g_free(s);
		return -1;
	}
	*ascii_r = g_strconcat(s, "@", domain, NULL);
	if (utf8_r != NULL) {
		char *u = addr_domain_utf8(domain);

		*utf8_r = g_strconcat(s, "@", u, NULL);
		g_free(u);
	}
	g_free(domain);
	g_free(s);
	return 0;
}

char *
addr_from_header(const char *value)
{
	const char *lt, *gt;
	char *s, *p;

	if (value == NULL)
		return NULL;
	if ((lt = strrchr(value, '<')) != NULL &&
	    (gt = strchr(lt, '>')) != NULL)
		s = g_strndup(lt + 1, gt - lt - 1);
	else {
		s = g_strdup(value);
		if ((p = strchr(s, '(')) != NULL)
			*p = '\0';
	}
	g_strstrip(s);
	if (strchr(s, '@') == NULL || strpbrk(s, " \t") != NULL) {
		g_free(s);
		return NULL;
	}
	return s;
}

/* Score of one list entry against sender (normalised): 0 = no match. */
static int
addr_match_entry(const char *sender, const char *entry)
{
	char *norm = NULL, *err = NULL;
	const char *domain;
	size_t dl, el;
	int score = 0;

	if (strchr(entry, '@') != NULL) {
		if (addr_normalize(entry, &norm, NULL, &err) == 0 &&
		    strcmp(norm, sender) == 0)
			score = 10000;
		g_free(norm);
		g_free(err);
		return score;
	}
	if ((domain = strrchr(sender, '@')) == NULL)
		return 0;
	domain++;
	if (*entry == '.' || *entry == '@')
		entry++;
	if ((norm = addr_domain_ascii(entry)) == NULL)
		return 0;
	dl = strlen(domain);
	el = strlen(norm);
	if (el > 0 && (strcmp(domain, norm) == 0 ||
	    (dl > el && domain[dl - el - 1] == '.' &&
	    strcmp(domain + dl - el, norm) == 0)))
		score = (int)el + 1;
	g_free(norm);
	return score;
}

bool
addr_match_domains(const char *sender, const char *domains, int *score_r)
{
	char **entries;
	int best = 0, score;

	if (score_r != NULL)
		*score_r = 0;
	if (sender == NULL || domains == NULL)
		return false;
	entries = g_strsplit_set(domains, ", \t\r\n", -1);
	for (char **e = entries; *e != NULL; e++) {
		if (**e == '\0')
			continue;
		score = addr_match_entry(sender, *e);
		if (score > best)
			best = score;
	}
	g_strfreev(entries);
	if (score_r != NULL)
		*score_r = best;
	return best > 0;
}
