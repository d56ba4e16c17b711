/*
 * addr.h - e-mail addresses as the rule compares them, and shop
 * attribution by sender domains.  Pure functions, no I/O.
 *
 * An address is normalised to: the local part as given, '@', the domain
 * lowercased in IDNA A-label form ("xn--..."), so "A@例え.jp",
 * "A@XN--R8JZ45G.JP" and "A@xn--r8jz45g.jp" are the same address; the
 * local part stays case-sensitive (RFC 5321 §2.4).
 */
#ifndef BOUNCED_ADDR_H
#define BOUNCED_ADDR_H

#include <stdbool.h>

/* Normalises addr (an addr-spec, optionally in <>).  Returns 0 and sets
   *ascii_r (A-label form, the canonical key) and, if utf8_r is non-NULL,
   *utf8_r (the domain in UTF-8); both g_free.  Returns -1 and *error_r
   (g_free) if addr is not an address. */
int addr_normalize(const char *addr, char **ascii_r, char **utf8_r,
    char **error_r);

/* Extracts the addr-spec from a header value such as
   "Name <a@example.jp>" or "a@example.jp (Name)".  Returns a new string
   or NULL if there is no '@'. */
char *addr_from_header(const char *value);

/* Returns true if the sender address (normalised, see above) matches the
   shop's sender domain list: entries separated by commas, newlines or
   white space; a domain entry matches the domain and its subdomains at a
   label boundary, an entry with '@' only that whole address; an empty
   list matches nothing.  *score_r (optional) gets how specific the match
   is (whole address > longer domain), for choosing between shops. */
bool addr_match_domains(const char *sender, const char *domains,
    int *score_r);

#endif
