/*
 * notice.h - the text and the MIME form of a メールエラー通知 (mail error
 * notification): one failure, a digest of failures, or a sender-side
 * alert.
 *
 * Pure apart from reading a shop's template override files: facts in, a
 * complete RFC 5322 message out (UTF-8 text/plain body in base64, RFC
 * 2047 Subject and display names, Date in the shop's time zone,
 * Message-ID, Auto-Submitted: auto-generated and the X-Bounced-Notice
 * marker).  Nothing here talks to the database or the network.
 *
 * Templates are plain UTF-8 text with {{name}} placeholders, replaced by
 * the values listed at each builder; nothing else is interpreted.  A
 * template file starts with a "Subject: ..." line and a blank line, then
 * the body.  The built-in templates are templates/LANG/NAME.txt of the
 * source tree; a shop overrides one with TEMPLATE_DIR/SHOP/LANG/NAME.txt
 * or, for every shop, TEMPLATE_DIR/LANG/NAME.txt.
 */
#ifndef BOUNCED_NOTICE_H
#define BOUNCED_NOTICE_H

#include <stdbool.h>
#include <stddef.h>
#include <glib.h>

#include "config/config.h"

/* Every notice's Message-ID starts with this, so that a bounce of a
   notice is recognised (db/migrations/003_notify.sql). */
#define NOTICE_MSGID_PREFIX "bounced-notice."
#define NOTICE_MARKER       "X-Bounced-Notice"

struct notice_template {
	const char *name; /* "ja/failure" */
	const char *text;
};
/* The built-in templates, ending with {NULL, NULL} (generated). */
extern const struct notice_template notice_builtin[];

/* One failed delivery to a customer. */
struct notice_item {
	const char *recipient;    /* the customer's address */
	const char *mail_type;    /* code of the type header, or NULL */
	const char *order_number; /* or NULL */
	gint64 occurred_at;       /* unix seconds */
	const char *reason;       /* reason name (DESIGN.md vocabulary) */
	const char *status;       /* RFC 3463 code, or NULL */
	const char *diagnostic;   /* the server's text, or NULL */
	const char *orig_subject; /* or NULL */
	const char *orig_from;    /* the shop's From in the failed mail */
	const char *decision; /* the rule's words, "counted: strike 2 of 4" */
	bool suppressed;      /* the address is now suppressed */
	bool would_suppress;  /* it would be, in a dry-run shop */
	bool sender_side;     /* the shop's own setup failed */
};

/* Sender-side failures of one provider and reason. */
struct notice_alert {
	const char *provider; /* notice_provider() key, e.g. "google.com" */
	const char *reason;
	const char *status;     /* of the latest failure, or NULL */
	const char *diagnostic; /* of the latest failure, or NULL */
	const char *orig_from;  /* the shop's From in the failed mail */
	unsigned customers;     /* distinct addresses */
	unsigned count;         /* failures */
	gint64 first_at, last_at;
	const char *const *examples; /* a few addresses, NULL-terminated */
};

/* Who gets it, and how. */
struct notice_shop {
	const char *id;
	const char *name;
	const char *const *to; /* NULL-terminated addresses */
	const struct config_notify *cfg;
};

/* A built notice.  notice_mail_clear() frees it. */
struct notice_mail {
	char *message_id; /* without <> */
	char *subject;    /* UTF-8 */
	char *data;       /* the whole message, LF line ends */
	size_t len;
	char *warning; /* a template file that was not used, or NULL */
};

/* Builds the notice of one failure.  Placeholders: shop_name, shop_id,
   system_name, address, mail_type, mail_type_code, order_number, time,
   reason, reason_code, status, state, action, original_subject,
   diagnostic.  now is the Date.  Returns 0, or -1 and *error_r. */
int notice_build_failure(const struct notice_shop *shop,
			 const struct notice_item *it, gint64 now,
			 struct notice_mail *out, char **error_r);

/* Builds a digest of n failures: digest.txt with shop_name, shop_id,
   system_name, count, time, note (why it is a digest, may be empty) and
   entries, the items rendered with digest_entry.txt (the failure
   placeholders plus index). */
int notice_build_digest(const struct notice_shop *shop,
			const struct notice_item *items, size_t n,
			const char *note, gint64 now, struct notice_mail *out,
			char **error_r);

/* Builds a sender-side alert: alert.txt with shop_name, shop_id,
   system_name, provider, reason, reason_code, status, customers, count,
   first_time, last_time, examples, fix, diagnostic, period. */
int notice_build_alert(const struct notice_shop *shop,
		       const struct notice_alert *a, gint64 now,
		       struct notice_mail *out, char **error_r);

void notice_mail_clear(struct notice_mail *m);

/* Replaces every {{name}} of tmpl whose name is in vars (name, value
   pairs, NULL-terminated; a NULL value is ""); unknown placeholders are
   kept as written.  Returns a new string (g_free). */
char *notice_render(const char *tmpl, const char *const *vars);

/* The display name of mail type code in language lang: cfg's mail_types
   first, then the built-in names (thanks -> サンクスメール, ...), else
   code itself; "メール"/"mail" for NULL.  Returns a string owned by cfg,
   static, or code. */
const char *notice_mail_type_name(const struct config_notify *cfg,
				  const char *lang, const char *code);

/* t (unix seconds) in time zone tz, formatted for lang.  g_free. */
char *notice_format_time(gint64 t, const char *tz, const char *lang);

/* The provider a sender-side failure came from: the registrable part of
   remote_mta (e.g. "google.com" for gmail-smtp-in.l.google.com), else of
   the recipient's domain.  g_free; "unknown" if neither is known. */
char *notice_provider(const char *remote_mta, const char *recipient);

/* A readable name for a provider key ("Gmail (Google)"), or the key. */
const char *notice_provider_name(const char *key);

#endif
