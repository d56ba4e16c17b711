/*
 * fmt_jp.c - plain-text bounces of Japanese carriers and providers: au
 * (EZweb, au.com, KDDI/dion), the Openwave "Mail System Error - Returned
 * Mail" text that au and several Japanese ISPs send, and BIGLOBE.
 *
 * The carriers' texts are English even when the returned original is
 * ISO-2022-JP or Shift_JIS; input.c has already decoded every text part
 * to UTF-8.  NTT docomo and SoftBank reject at SMTP time, so their
 * bounces are the sending MTA's (Postfix, Sendmail, ...) and are read by
 * dsn.c and fmt_mta.c; their reply texts ("550 Unknown user") are
 * classify.c's business.  The rows are read by fmt_text_parse()
 * (fmt_text.h).
 */
#include "formats.h"
#include "fmt_text.h"

/* au by KDDI, EZweb (ezweb.ne.jp, au.com): "The user(s) account is
   disabled." above "<addr>: 550 user unknown (in reply to RCPT TO
   command)", or "Each of the following recipients was rejected by a
   remote mail server." with "Recipient: <addr>" and ">>> RCPT TO" /
   "<<< 550" lines.  The reason is stated once above the addresses. */
static const char *const ezweb_from[] = {"postmaster@ezweb.ne.jp",
    "postmaster@au.com", NULL};
static const char *const ezweb_begin[] = {"The user(s) ", "Your message ",
    "Each of the following", "This Message was undeliverable", NULL};
static const char *const ezweb_end[] = {
    "--------------------------------------------------",
    "Content-Type: message/rfc822", "Please reply to", NULL};
static const struct fmt_text text_ezweb = {ezweb_from, NULL, NULL, NULL,
    ezweb_begin, ezweb_end, NULL, NULL, FMT_PREAMBLE};
FMT_TEXT_PARSER(ezweb);

/* au by KDDI (dion.ne.jp, auone-net.jp): "Your mail sent on: <date>" then
   "Could not be delivered to: <addr>" and the reason, indented. */
static const char *const kddi_headers[] = {"From: dion.ne.jp",
    "Reply-To: no-reply@app.auone-net.jp", "Received: ezweb.ne.jp (",
    "Received: .au.com (", NULL};
static const char *const kddi_begin[] = {"Your mail sent on",
    "Your mail attempted to be delivered on", NULL};
static const struct fmt_text text_kddi = {NULL, NULL, kddi_headers, NULL,
    kddi_begin, NULL, NULL, NULL, 0};
FMT_TEXT_PARSER(kddi);

/* Openwave / InterMail "Mail System Error - Returned Mail" (Japanese
   ISPs): "Recipient: <addr>" then "Reason: <addr> ...User unknown",
   often followed by a Japanese translation. */
static const char *const openwave_subject[] = {
    "Mail System Error - Returned Mail", NULL};
static const char *const openwave_begin[] = {
    "This Message was undeliverable due to the following reason", NULL};
static const char *const openwave_after[] = {"Reason:", NULL};
static const struct fmt_text text_openwave = {NULL, openwave_subject, NULL,
    NULL, openwave_begin, ezweb_end, openwave_after, NULL, 0};
FMT_TEXT_PARSER(openwave);

/* BIGLOBE (and the cable ISPs on its platform): the addresses under "The
   following addresses had delivery problems", the reason under
   "Non-delivered information". */
static const char *const biglobe_from[] = {"postmaster@biglobe.ne.jp",
    "postmaster@inacatv.ne.jp", "postmaster@tmtv.ne.jp",
    "postmaster@ttv.ne.jp", NULL};
static const char *const biglobe_subject[] = {"Returned mail:", NULL};
static const char *const biglobe_begin[] = {
    "----- The following addresses had delivery problems -----", NULL};
static const char *const biglobe_after[] = {
    "----- Non-delivered information -----", NULL};
static const struct fmt_text text_biglobe = {biglobe_from, biglobe_subject,
    NULL, NULL, biglobe_begin, NULL, biglobe_after, NULL, 0};
FMT_TEXT_PARSER(biglobe);

const struct bounce_parser *const fmt_jp_parsers[] = {
	&fmt_ezweb,
	&fmt_kddi,
	&fmt_openwave,
	&fmt_biglobe,
	NULL,
};
