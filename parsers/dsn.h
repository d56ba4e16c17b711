/*
 * dsn.h - RFC 3464 / RFC 6533 delivery-status fields.
 *
 * The registry entry fmt_dsn (formats.h) uses these; they are public so
 * that other parsers (e.g. a vendor DSN with odd text) and tests can split
 * delivery-status text themselves.
 */
#ifndef BOUNCED_DSN_H
#define BOUNCED_DSN_H

#include "report.h"

/* Parses the text of a message/delivery-status or
   message/global-delivery-status part (UTF-8, any line ends) into report:
   per-message fields (Reporting-MTA, Arrival-Date, Original-Envelope-Id)
   and one recipient per per-recipient group.  Groups are separated by
   blank lines; a Final-Recipient after a group that already has one also
   starts a new group (some MTAs omit the blank line).  Returns the number
   of recipients added. */
int dsn_parse_fields(const char *text, struct bounce_report *report);

/* Strips an RFC 3464 address-type or diagnostic-type prefix ("rfc822;",
   "smtp;", "utf-8;", "dns;") from value.  Returns a pointer into value. */
const char *dsn_strip_type(const char *value);

/* Decodes the RFC 6533 utf-8-addr-xtext / unitext form (\x{HHHH}) and
   RFC 3461 xtext (+HH) in an address.  Newly allocated (g_free). */
char *dsn_decode_xtext(const char *value);

/* Converts an RFC 5322 date to ISO 8601 (UTC offset kept).  Returns a
   newly allocated string, or NULL if the date cannot be parsed. */
char *dsn_iso_date(const char *rfc5322_date);

#endif
