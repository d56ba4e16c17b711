/*
 * config.h - bounced.conf (libconfig) read and validated into a plain
 * struct.
 *
 * Every value is copied and range-checked; the config_t is destroyed
 * before config_load() returns, so nothing points into libconfig.  Errors
 * name the file, the line, the setting, what is wrong and what is
 * allowed.  Passwords are never read here: a mailbox names a
 * password_file or an environment variable (password_env).
 */
#ifndef BOUNCED_CONFIG_H
#define BOUNCED_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_DEFAULT_POLL  300
#define CONFIG_DEFAULT_LEASE 120 /* seconds; bounced --lease overrides */
#define CONFIG_LEASE_MAX     86400

enum config_protocol { CONFIG_IMAP, CONFIG_POP3, CONFIG_MAILDIR };
enum config_tls { CONFIG_TLS_IMPLICIT, CONFIG_TLS_STARTTLS, CONFIG_TLS_NONE };
enum config_action {
	CONFIG_ACTION_MOVE,
	CONFIG_ACTION_FLAG,
	CONFIG_ACTION_DELETE
};

struct bounced_mailbox {
	char *name; /* unique within the shop */
	enum config_protocol protocol;
	char *host; /* imap, pop3 */
	int port;   /* 0: the protocol's default for tls */
	enum config_tls tls;
	bool allow_plaintext; /* required for tls = "none" */
	char *ca_file;        /* NULL: system CAs */
	char *user;
	char *password_file;      /* exactly one of password_file, */
	char *password_env;       /* password_env (imap, pop3) */
	char *path;               /* maildir */
	char *folder;             /* default "INBOX" */
	char *processed_folder;   /* default "bounced/processed" */
	char *not_bounce_folder;  /* default "bounced/not-a-bounce" */
	char *unparseable_folder; /* default "bounced/unparseable" */
	enum config_action action;
	int poll_interval; /* seconds */
	int batch_size;    /* messages per transaction (and IMAP fetch) */
	int lease_seconds; /* how long this mailbox's lease lasts */
	bool idle;         /* imap: wait in IDLE between polls if offered */
};

/* --- notifier (issue 5) --- */
enum config_notify_mode { CONFIG_NOTIFY_PER_FAILURE, CONFIG_NOTIFY_DIGEST };

/* The SMTP relay notices are submitted to. */
struct config_smtp {
	char *host; /* NULL: no relay, notices stay in the outbox */
	int port;   /* 0: 465 for implicit TLS, else 587 */
	enum config_tls tls;
	bool allow_plaintext; /* tls = "none" to a non-loopback host */
	char *ca_file;        /* NULL: system CAs */
	char *user;           /* NULL: no AUTH */
	char *password_file;  /* with user: exactly one of */
	char *password_env;   /* these two */
	int timeout;          /* seconds */
};

/* The notifier settings: the "notifier" group at the top level, which
   each shop's "notifier" group overrides setting by setting (a shop's
   smtp group replaces the whole relay). */
struct config_notify {
	struct config_smtp smtp;
	char *from;          /* header From address */
	char *from_name;     /* its display name (UTF-8) */
	char *envelope_from; /* "": the null sender <> */
	char *language;      /* "ja" or "en" */
	char *time_zone;     /* IANA name, e.g. "Asia/Tokyo" */
	char *template_dir;  /* NULL: built-in templates only */
	enum config_notify_mode mode;
	int digest_interval; /* minutes */
	int cap_per_hour;    /* per-failure notices per hour; 0: no cap */
	int alert_period;    /* minutes: one alert per provider and reason */
	int interval;        /* seconds between outbox drains (global) */
	char **mail_types;   /* NULL-terminated "code=display name" */
};
/* --- end notifier --- */

struct bounced_shop {
	char *id;
	char *name;
	char **notify;        /* NULL-terminated plain addresses */
	char *sender_domains; /* newline-separated entries */
	int strike_limit;
	int grace_days;
	int stale_days;
	bool dry_run;
	char **fatal_reasons; /* NULL-terminated reason names, canonical */
	struct bounced_mailbox *mailboxes;
	size_t n_mailboxes;
	struct config_notify notice; /* notifier (issue 5): inherited */
};

struct bounced_config {
	char *file;
	char *conninfo; /* database.conninfo; NULL: libpq environment */
	char *order_header;
	char *type_header;
	long long max_message_size;
	char *pidfile;
	char *log; /* "syslog" or "stderr" */
	struct bounced_shop *shops;
	size_t n_shops;
	struct config_notify notice; /* notifier (issue 5): global */
};

/* Returns the canonical spelling of the reason name (static), or NULL if
   name is not a reason.  The vocabulary is not config/'s: callers pass
   rule_reason_name() (db/rule.h). */
typedef const char *(*config_reason_fn)(const char *name);

/* Reads and validates file.  fatal_reasons entries are checked and
   canonicalised with reason (NULL: taken as written, unchecked).  Returns
   0 and sets *cfg_r, or -1 and *error_r ("FILE:LINE: SETTING: what is
   wrong (allowed: ...)"; g_free). */
int config_load(const char *file, config_reason_fn reason,
		struct bounced_config **cfg_r, char **error_r);

/* Like config_load() but from a string (file names the source in errors). */
int config_load_string(const char *text, const char *file,
		       config_reason_fn reason, struct bounced_config **cfg_r,
		       char **error_r);

/* Frees *cfg and sets it to NULL; NULL is a no-op. */
void config_free(struct bounced_config **cfg);

/* The shop with id, or NULL. */
const struct bounced_shop *config_find_shop(const struct bounced_config *cfg,
					    const char *id);

/* True if a is a plain address local@domain (what notify accepts). */
bool config_valid_address(const char *a);

/* True if host is a loopback name or address (localhost, 127.x, ::1). */
bool config_host_is_loopback(const char *host);

/* True if id is a valid shop id: [A-Za-z0-9][A-Za-z0-9_.-]*, <= 64. */
bool config_valid_shop_id(const char *id);

#endif
