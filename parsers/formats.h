/*
 * formats.h - every format parser of the registry (see registry.h).
 *
 * One parser per format.  Files group related formats:
 *   dsn.c           RFC 3464 / RFC 6533 multipart/report, and the same
 *                   fields pasted into a text bounce
 *   fmt_arf.c       RFC 5965 feedback reports (ARF)
 *   fmt_autoreply.c RFC 3834 auto-replies and vacation texts
 *   fmt_mta.c       MTA plain-text bounces (qmail, Exim, Postfix, ...)
 *   fmt_exchange.c  Microsoft Exchange / Office 365 / Outlook.com, Domino
 *   fmt_provider.c  mailbox providers (Gmail, Yahoo, iCloud, SES, ...)
 *   fmt_jp.c        Japanese carriers and providers (docomo, au, ...)
 *   fmt_generic.c   last resort: anything that looks like a bounce
 */
#ifndef BOUNCED_FORMATS_H
#define BOUNCED_FORMATS_H

#include "registry.h"

extern const struct bounce_parser fmt_dsn;
extern const struct bounce_parser fmt_dsn_text;
extern const struct bounce_parser fmt_arf;
extern const struct bounce_parser fmt_autoreply;
extern const struct bounce_parser fmt_generic;

/* NULL-terminated tables exported by the grouped files. */
extern const struct bounce_parser *const fmt_mta_parsers[];
extern const struct bounce_parser *const fmt_exchange_parsers[];
extern const struct bounce_parser *const fmt_provider_parsers[];
extern const struct bounce_parser *const fmt_jp_parsers[];

#endif
