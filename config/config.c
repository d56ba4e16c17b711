/*
 * config.c - libconfig -> validated struct bounced_config; see config.h.
 *
 * Walks the parsed tree once, copying every value, rejecting unknown
 * settings (a typo must not silently become a default) and range-checking
 * numbers.  The first error stops the walk.  Reason names are checked
 * with the function the caller passes in (rule_reason_name() of db/), so
 * the vocabulary lives in one place and config/ needs only libconfig.
 */
/* (no autoconf "config.h" here: from config/ it would name this module's
   own header) */

#include <stdarg.h>
#include <string.h>
#include <glib.h>
#include <libconfig.h>

#include "config/config.h"

struct cfg_ctx {
	const char *file;
	config_reason_fn reason; /* NULL: names unchecked */
	char *error;
	/* defaults, inherited by shops and mailboxes */
	int strike_limit, grace_days, stale_days, poll_interval, batch_size;
	int lease_seconds;
	bool dry_run, idle;
	char **fatal_reasons;
	enum config_action action;
	const struct config_notify *notice; /* the global notifier group */
};

static void G_GNUC_PRINTF(4, 5)
    cfg_error(struct cfg_ctx *c, const config_setting_t *s, const char *path,
	      const char *fmt, ...)
{
	va_list ap;
	char *what;
	const char *file = s != NULL && config_setting_source_file(s) != NULL
			       ? config_setting_source_file(s)
			       : c->file;

	if (c->error != NULL)
		return;
	va_start(ap, fmt);
	what = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	c->error = g_strdup_printf(
	    "%s:%u: %s: %s", file,
	    s != NULL ? config_setting_source_line(s) : 0, path, what);
	g_free(what);
}

/* Rejects members of group g not in allowed (NULL-terminated). */
static int
cfg_known(struct cfg_ctx *c, const config_setting_t *g, const char *path,
	  const char *const *allowed)
{
	int i, n = config_setting_length(g);

	for (i = 0; i < n; i++) {
		config_setting_t *m = config_setting_get_elem(g, i);
		const char *name = config_setting_name(m);
		char *list, *p;

		if (name == NULL || g_strv_contains(allowed, name))
			continue;
		list = g_strjoinv(", ", (char **)allowed);
		p = g_strdup_printf("%s%s%s", path, *path ? "." : "", name);
		cfg_error(c, m, p, "unknown setting (allowed: %s)", list);
		g_free(p);
		g_free(list);
		return -1;
	}
	return 0;
}

static char *
cfg_path(const char *parent, const char *name)
{
	return g_strdup_printf("%s%s%s", parent, *parent ? "." : "", name);
}

/* Copies string member name of g into *out (NULL if absent). */
static int
cfg_string(struct cfg_ctx *c, const config_setting_t *g, const char *parent,
	   const char *name, bool required, char **out)
{
	config_setting_t *s = config_setting_get_member(g, name);
	char *path = cfg_path(parent, name);
	int ret = 0;

	if (s == NULL) {
		if (required) {
			cfg_error(c, g, path,
				  "missing (a string is "
				  "required)");
			ret = -1;
		}
	} else if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		cfg_error(c, s, path, "must be a string in double quotes");
		ret = -1;
	} else if (required && *config_setting_get_string(s) == '\0') {
		cfg_error(c, s, path, "must not be empty");
		ret = -1;
	} else {
		g_free(*out);
		*out = g_strdup(config_setting_get_string(s));
	}
	g_free(path);
	return ret;
}

/* Integer member in [min, max]; keeps *out if absent. */
static int
cfg_int(struct cfg_ctx *c, const config_setting_t *g, const char *parent,
	const char *name, long long min, long long max, long long *out)
{
	config_setting_t *s = config_setting_get_member(g, name);
	char *path = cfg_path(parent, name);
	long long v;
	int ret = 0;

	if (s == NULL) {
		g_free(path);
		return 0;
	}
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64) {
		cfg_error(c, s, path, "must be an integer from %lld to %lld",
			  min, max);
		ret = -1;
	} else if ((v = config_setting_get_int64(s)) < min || v > max) {
		cfg_error(c, s, path,
			  "%lld is out of range (allowed: %lld "
			  "to %lld)",
			  v, min, max);
		ret = -1;
	} else
		*out = v;
	g_free(path);
	return ret;
}

static int
cfg_intv(struct cfg_ctx *c, const config_setting_t *g, const char *parent,
	 const char *name, int min, int max, int *out)
{
	long long v = *out;

	if (cfg_int(c, g, parent, name, min, max, &v) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

static int
cfg_bool(struct cfg_ctx *c, const config_setting_t *g, const char *parent,
	 const char *name, bool *out)
{
	config_setting_t *s = config_setting_get_member(g, name);
	char *path;

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		path = cfg_path(parent, name);
		cfg_error(c, s, path, "must be true or false");
		g_free(path);
		return -1;
	}
	*out = config_setting_get_bool(s) != 0;
	return 0;
}

/* A keyword member: its index in words, or keeps *out if absent. */
static int
cfg_enum(struct cfg_ctx *c, const config_setting_t *g, const char *parent,
	 const char *name, const char *const *words, int *out)
{
	char *v = NULL, *path;
	int i;

	if (cfg_string(c, g, parent, name, false, &v) < 0)
		return -1;
	if (v == NULL)
		return 0;
	for (i = 0; words[i] != NULL; i++)
		if (strcmp(words[i], v) == 0) {
			*out = i;
			g_free(v);
			return 0;
		}
	path = cfg_path(parent, name);
	{
		char *list = g_strjoinv(" | ", (char **)words);

		cfg_error(c, config_setting_get_member(g, name), path,
			  "\"%s\" is not allowed (allowed: %s)", v, list);
		g_free(list);
	}
	g_free(path);
	g_free(v);
	return -1;
}

/* A list/array of strings, or one string split at commas and newlines. */
static int
cfg_strings(struct cfg_ctx *c, const config_setting_t *g, const char *parent,
	    const char *name, char ***out)
{
	config_setting_t *s = config_setting_get_member(g, name);
	char *path;
	GPtrArray *a;
	int i, n;

	if (s == NULL)
		return 0;
	path = cfg_path(parent, name);
	a = g_ptr_array_new();
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		char **parts =
		    g_strsplit_set(config_setting_get_string(s), ",\n", -1);

		for (i = 0; parts[i] != NULL; i++)
			if (*g_strstrip(parts[i]) != '\0')
				g_ptr_array_add(a, g_strdup(parts[i]));
		g_strfreev(parts);
	} else if (config_setting_is_aggregate(s)) {
		n = config_setting_length(s);
		for (i = 0; i < n; i++) {
			config_setting_t *e = config_setting_get_elem(s, i);

			if (config_setting_type(e) != CONFIG_TYPE_STRING) {
				cfg_error(c, e, path,
					  "element %d must be a "
					  "string",
					  i + 1);
				break;
			}
			g_ptr_array_add(a, g_strstrip(g_strdup(
					       config_setting_get_string(e))));
		}
	} else
		cfg_error(c, s, path,
			  "must be a string or a list of strings "
			  "[\"a\", \"b\"]");
	g_ptr_array_add(a, NULL);
	g_free(path);
	if (c->error != NULL) {
		g_strfreev((char **)g_ptr_array_free(a, FALSE));
		return -1;
	}
	g_strfreev(*out);
	*out = (char **)g_ptr_array_free(a, FALSE);
	return 0;
}

/* fatal_reasons: every name known to c->reason, rewritten to its
   canonical spelling ("UserUnknown" -> "userunknown"), since the rule
   compares names exactly. */
static int
cfg_reasons(struct cfg_ctx *c, const config_setting_t *g, const char *parent,
	    char ***out)
{
	char *path;

	if (cfg_strings(c, g, parent, "fatal_reasons", out) < 0)
		return -1;
	for (char **r = *out; c->reason != NULL && r != NULL && *r != NULL;
	     r++) {
		const char *canon = c->reason(*r);

		if (canon != NULL) {
			g_free(*r);
			*r = g_strdup(canon);
			continue;
		}
		path = cfg_path(parent, "fatal_reasons");
		cfg_error(c, config_setting_get_member(g, "fatal_reasons"),
			  path,
			  "unknown reason \"%s\" (allowed: the reason names "
			  "of DESIGN.md, e.g. userunknown, mailboxfull)",
			  *r);
		g_free(path);
		return -1;
	}
	return 0;
}

/* True if a looks like a plain e-mail address, local@domain: one '@'
   with text on both sides, no white space, brackets, commas or
   semicolons (a display name or a list is a mistake here), and a domain
   of non-empty dot-separated labels.  UTF-8 is allowed. */
bool
config_valid_address(const char *a)
{
	const char *at = a != NULL ? strchr(a, '@') : NULL;
	const char *d;

	if (at == NULL || at == a || strchr(at + 1, '@') != NULL ||
	    at[1] == '\0' || strpbrk(a, " \t\r\n<>(),;:\"[]\\") != NULL)
		return false;
	for (d = at + 1; *d != '\0'; d++)
		if (*d == '.' && (d == at + 1 || d[1] == '.' || d[1] == '\0'))
			return false;
	return true;
}

/* notify: a list of plain addresses. */
static int
cfg_notify(struct cfg_ctx *c, const config_setting_t *g, const char *parent,
	   char ***out)
{
	char *path;

	if (cfg_strings(c, g, parent, "notify", out) < 0)
		return -1;
	for (char **a = *out; a != NULL && *a != NULL; a++) {
		if (config_valid_address(*a))
			continue;
		path = cfg_path(parent, "notify");
		cfg_error(c, config_setting_get_member(g, "notify"), path,
			  "\"%s\" is not an e-mail address (allowed: plain "
			  "addresses like owner@shop.example, no names or <>)",
			  *a);
		g_free(path);
		return -1;
	}
	return 0;
}

static const char *const cfg_protocols[] = {"imap", "pop3", "maildir", NULL};
static const char *const cfg_tlses[] = {"implicit", "starttls", "none", NULL};
static const char *const cfg_actions[] = {"move", "flag", "delete", NULL};

/* --- notifier (issue 5) ------------------------------------------------- */

static const char *const cfg_languages[] = {"ja", "en", NULL};
static const char *const cfg_modes[] = {"per-failure", "digest", NULL};

bool
config_host_is_loopback(const char *host)
{
	return host != NULL &&
	       (g_ascii_strcasecmp(host, "localhost") == 0 ||
		strcmp(host, "::1") == 0 || g_str_has_prefix(host, "127."));
}

static void
cfg_smtp_clear(struct config_smtp *m)
{
	g_free(m->host);
	g_free(m->ca_file);
	g_free(m->user);
	g_free(m->password_file);
	g_free(m->password_env);
	memset(m, 0, sizeof(*m));
}

static void
cfg_smtp_copy(struct config_smtp *dst, const struct config_smtp *src)
{
	*dst = *src;
	dst->host = g_strdup(src->host);
	dst->ca_file = g_strdup(src->ca_file);
	dst->user = g_strdup(src->user);
	dst->password_file = g_strdup(src->password_file);
	dst->password_env = g_strdup(src->password_env);
}

static void
cfg_notify_clear(struct config_notify *n)
{
	cfg_smtp_clear(&n->smtp);
	g_free(n->from);
	g_free(n->from_name);
	g_free(n->envelope_from);
	g_free(n->language);
	g_free(n->time_zone);
	g_free(n->template_dir);
	g_strfreev(n->mail_types);
	memset(n, 0, sizeof(*n));
}

static void
cfg_notify_copy(struct config_notify *dst, const struct config_notify *src)
{
	*dst = *src;
	cfg_smtp_copy(&dst->smtp, &src->smtp);
	dst->from = g_strdup(src->from);
	dst->from_name = g_strdup(src->from_name);
	dst->envelope_from = g_strdup(src->envelope_from);
	dst->language = g_strdup(src->language);
	dst->time_zone = g_strdup(src->time_zone);
	dst->template_dir = g_strdup(src->template_dir);
	dst->mail_types = g_strdupv(src->mail_types);
}

static void
cfg_notify_defaults(struct config_notify *n)
{
	memset(n, 0, sizeof(*n));
	n->smtp.tls = CONFIG_TLS_STARTTLS;
	n->smtp.timeout = 30;
	n->from_name = g_strdup("bounced");
	n->envelope_from = g_strdup("");
	n->language = g_strdup("ja");
	n->time_zone = g_strdup("Asia/Tokyo");
	n->mode = CONFIG_NOTIFY_PER_FAILURE;
	n->digest_interval = 60;
	n->cap_per_hour = 20;
	n->alert_period = 1440;
	n->interval = 60;
}

/* The relay group: replaces n->smtp as a whole. */
static int
cfg_smtp(struct cfg_ctx *c, const config_setting_t *g, const char *p,
	 struct config_smtp *m)
{
	static const char *const known[] = {
	    "host",    "port", "tls",           "allow_plaintext",
	    "ca_file", "user", "password_file", "password_env",
	    "timeout", NULL};
	int tls = CONFIG_TLS_STARTTLS;

	cfg_smtp_clear(m);
	m->timeout = 30;
	if (!config_setting_is_group(g)) {
		cfg_error(c, g, p, "must be a group { host = ...; ... }");
		return -1;
	}
	if (cfg_known(c, g, p, known) < 0 ||
	    cfg_string(c, g, p, "host", true, &m->host) < 0 ||
	    cfg_intv(c, g, p, "port", 1, 65535, &m->port) < 0 ||
	    cfg_enum(c, g, p, "tls", cfg_tlses, &tls) < 0 ||
	    cfg_bool(c, g, p, "allow_plaintext", &m->allow_plaintext) < 0 ||
	    cfg_string(c, g, p, "ca_file", false, &m->ca_file) < 0 ||
	    cfg_string(c, g, p, "user", false, &m->user) < 0 ||
	    cfg_string(c, g, p, "password_file", false, &m->password_file) <
		0 ||
	    cfg_string(c, g, p, "password_env", false, &m->password_env) < 0 ||
	    cfg_intv(c, g, p, "timeout", 1, 600, &m->timeout) < 0)
		return -1;
	m->tls = tls;
	if (m->user != NULL &&
	    (m->password_file == NULL) == (m->password_env == NULL))
		cfg_error(c, g, p,
			  "with user, give exactly one of password_file or "
			  "password_env");
	else if (m->user == NULL &&
		 (m->password_file != NULL || m->password_env != NULL))
		cfg_error(c, g, p, "a password needs user = \"...\"");
	else if (m->tls == CONFIG_TLS_NONE && !m->allow_plaintext &&
		 !config_host_is_loopback(m->host))
		cfg_error(c, g, p,
			  "tls = \"none\" to %s sends mail%s in clear text: "
			  "use a loopback relay or set allow_plaintext = true",
			  m->host, m->user != NULL ? " and the password" : "");
	if (m->port == 0)
		m->port = m->tls == CONFIG_TLS_IMPLICIT ? 465 : 587;
	return c->error != NULL ? -1 : 0;
}

/* mail_types = { thanks = "..."; ... }: "code=name" entries, the
   group's entries first so they win over inherited ones. */
static int
cfg_mail_types(struct cfg_ctx *c, const config_setting_t *g, const char *p,
	       char ***out)
{
	config_setting_t *s = config_setting_get_member(g, "mail_types");
	GPtrArray *a;
	char *path;
	int i, n;

	if (s == NULL)
		return 0;
	path = cfg_path(p, "mail_types");
	if (!config_setting_is_group(s)) {
		cfg_error(c, s, path,
			  "must be a group { thanks = \"...\"; ... }");
		g_free(path);
		return -1;
	}
	a = g_ptr_array_new();
	n = config_setting_length(s);
	for (i = 0; i < n && c->error == NULL; i++) {
		config_setting_t *e = config_setting_get_elem(s, i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			cfg_error(c, e, path, "%s must be a string",
				  config_setting_name(e));
		else
			g_ptr_array_add(
			    a, g_strdup_printf("%s=%s", config_setting_name(e),
					       config_setting_get_string(e)));
	}
	for (char **o = *out; o != NULL && *o != NULL; o++)
		g_ptr_array_add(a, g_strdup(*o));
	g_ptr_array_add(a, NULL);
	g_free(path);
	g_strfreev(*out);
	*out = (char **)g_ptr_array_free(a, FALSE);
	return c->error != NULL ? -1 : 0;
}

/* Checks the values of a notifier group that are not plain ranges. */
static int
cfg_notify_check(struct cfg_ctx *c, const config_setting_t *g, const char *p,
		 struct config_notify *n)
{
	GTimeZone *tz;

	if (n->from != NULL && !config_valid_address(n->from))
		cfg_error(c, config_setting_get_member(g, "from"), p,
			  "from: \"%s\" is not an e-mail address", n->from);
	else if (*n->envelope_from != '\0' &&
		 !config_valid_address(n->envelope_from))
		cfg_error(c, config_setting_get_member(g, "envelope_from"), p,
			  "envelope_from: \"%s\" is not an e-mail address "
			  "(\"\" is the null sender)",
			  n->envelope_from);
	if (c->error != NULL)
		return -1;
	tz = g_time_zone_new_identifier(n->time_zone);
	if (tz == NULL) {
		cfg_error(c, config_setting_get_member(g, "time_zone"), p,
			  "time_zone: \"%s\" is not a known time zone (e.g. "
			  "\"Asia/Tokyo\", \"UTC\")",
			  n->time_zone);
		return -1;
	}
	g_time_zone_unref(tz);
	return 0;
}

/* A "notifier" group of root or a shop, applied over n. */
static int
cfg_notifier(struct cfg_ctx *c, const config_setting_t *parent, const char *pp,
	     struct config_notify *n)
{
	static const char *const known[] = {"smtp",
					    "from",
					    "from_name",
					    "envelope_from",
					    "language",
					    "time_zone",
					    "template_dir",
					    "mode",
					    "digest_interval",
					    "cap_per_hour",
					    "alert_period",
					    "interval",
					    "mail_types",
					    NULL};
	config_setting_t *g = config_setting_get_member(parent, "notifier");
	config_setting_t *smtp;
	int lang = strcmp(n->language, "en") == 0, mode = n->mode;
	char *p;
	int ret = -1;

	if (g == NULL)
		return 0;
	p = cfg_path(pp, "notifier");
	if (!config_setting_is_group(g)) {
		cfg_error(c, g, p, "must be a group { ... }");
		goto out;
	}
	if (cfg_known(c, g, p, known) < 0 ||
	    cfg_string(c, g, p, "from", false, &n->from) < 0 ||
	    cfg_string(c, g, p, "from_name", false, &n->from_name) < 0 ||
	    cfg_string(c, g, p, "envelope_from", false, &n->envelope_from) <
		0 ||
	    cfg_enum(c, g, p, "language", cfg_languages, &lang) < 0 ||
	    cfg_string(c, g, p, "time_zone", false, &n->time_zone) < 0 ||
	    cfg_string(c, g, p, "template_dir", false, &n->template_dir) < 0 ||
	    cfg_enum(c, g, p, "mode", cfg_modes, &mode) < 0 ||
	    cfg_intv(c, g, p, "digest_interval", 1, 10080,
		     &n->digest_interval) < 0 ||
	    cfg_intv(c, g, p, "cap_per_hour", 0, 100000, &n->cap_per_hour) <
		0 ||
	    cfg_intv(c, g, p, "alert_period", 1, 44640, &n->alert_period) < 0 ||
	    cfg_intv(c, g, p, "interval", 5, 3600, &n->interval) < 0 ||
	    cfg_mail_types(c, g, p, &n->mail_types) < 0)
		goto out;
	g_free(n->language);
	n->language = g_strdup(cfg_languages[lang]);
	n->mode = mode;
	if ((smtp = config_setting_get_member(g, "smtp")) != NULL) {
		char *sp = cfg_path(p, "smtp");
		int r = cfg_smtp(c, smtp, sp, &n->smtp);

		g_free(sp);
		if (r < 0)
			goto out;
	}
	ret = cfg_notify_check(c, g, p, n);
out:
	g_free(p);
	return ret;
}

/* A relay needs a From; the envelope sender must not be a polled
   mailbox, else a notice that bounces comes back to be polled. */
static int
cfg_notify_final(struct cfg_ctx *c, const config_setting_t *root,
		 struct bounced_config *cfg)
{
	config_setting_t *list = config_setting_get_member(root, "shops");
	size_t i, j, k;

	for (i = 0; i < cfg->n_shops; i++) {
		const struct config_notify *n = &cfg->shops[i].notice;
		config_setting_t *g = config_setting_get_elem(list, i);
		char *p = g_strdup_printf("shops.[%zu]", i);

		if (n->smtp.host != NULL && n->from == NULL)
			cfg_error(c, g, p,
				  "has an smtp relay (notifier.smtp) but no "
				  "From address: set notifier.from");
		for (j = 0; *n->envelope_from != '\0' && j < cfg->n_shops; j++)
			for (k = 0; k < cfg->shops[j].n_mailboxes; k++) {
				const char *u = cfg->shops[j].mailboxes[k].user;

				if (u == NULL || g_ascii_strcasecmp(
						     u, n->envelope_from) != 0)
					continue;
				cfg_error(c, g, p,
					  "notifier.envelope_from \"%s\" is "
					  "the polled mailbox %s/%s: a notice "
					  "that bounces would come back to it "
					  "(use \"\", the null sender, or an "
					  "address nobody polls)",
					  n->envelope_from, cfg->shops[j].id,
					  cfg->shops[j].mailboxes[k].name);
			}
		g_free(p);
		if (c->error != NULL)
			return -1;
	}
	return 0;
}
/* --- end notifier ------------------------------------------------------- */

bool
config_valid_shop_id(const char *id)
{
	size_t i;

	if (id == NULL || !g_ascii_isalnum(id[0]) || strlen(id) > 64)
		return false;
	for (i = 0; id[i] != '\0'; i++)
		if (!g_ascii_isalnum(id[i]) && strchr("_.-", id[i]) == NULL)
			return false;
	return true;
}

static void
cfg_mailbox_clear(struct bounced_mailbox *m)
{
	g_free(m->name);
	g_free(m->host);
	g_free(m->ca_file);
	g_free(m->user);
	g_free(m->password_file);
	g_free(m->password_env);
	g_free(m->path);
	g_free(m->folder);
	g_free(m->processed_folder);
	g_free(m->not_bounce_folder);
	g_free(m->unparseable_folder);
}

/* Checks how a mailbox is reached. */
static int
cfg_mailbox_access(struct cfg_ctx *c, const config_setting_t *g, const char *p,
		   struct bounced_mailbox *m)
{
	if (m->protocol == CONFIG_MAILDIR) {
		if (m->path == NULL)
			cfg_error(c, g, p,
				  "protocol \"maildir\" needs path "
				  "= \"/path/to/Maildir\"");
		return c->error != NULL ? -1 : 0;
	}
	if (m->host == NULL || m->user == NULL)
		cfg_error(c, g, p, "protocol \"%s\" needs host and user",
			  cfg_protocols[m->protocol]);
	else if ((m->password_file == NULL) == (m->password_env == NULL))
		cfg_error(
		    c, g, p,
		    "give exactly one of password_file (a file "
		    "holding the password) or password_env (the name of an "
		    "environment variable)");
	else if (m->tls == CONFIG_TLS_NONE && !m->allow_plaintext)
		cfg_error(c, g, p,
			  "tls = \"none\" sends the password in "
			  "clear text: set allow_plaintext = true to allow it");
	if (m->port == 0 && c->error == NULL)
		m->port = m->protocol == CONFIG_IMAP
			      ? (m->tls == CONFIG_TLS_IMPLICIT ? 993 : 143)
			      : (m->tls == CONFIG_TLS_IMPLICIT ? 995 : 110);
	return c->error != NULL ? -1 : 0;
}

static int
cfg_mailbox(struct cfg_ctx *c, const config_setting_t *g, const char *p,
	    struct bounced_mailbox *m)
{
	static const char *const known[] = {"name",
					    "protocol",
					    "host",
					    "port",
					    "tls",
					    "allow_plaintext",
					    "ca_file",
					    "user",
					    "password_file",
					    "password_env",
					    "path",
					    "folder",
					    "processed_folder",
					    "not_bounce_folder",
					    "unparseable_folder",
					    "action",
					    "poll_interval",
					    "batch_size",
					    "lease_seconds",
					    "idle",
					    NULL};
	int proto = CONFIG_IMAP, tls = CONFIG_TLS_IMPLICIT, action = c->action;

	m->poll_interval = c->poll_interval;
	m->batch_size = c->batch_size;
	m->lease_seconds = c->lease_seconds;
	m->idle = c->idle;
	if (!config_setting_is_group(g)) {
		cfg_error(c, g, p, "must be a group { name = ...; ... }");
		return -1;
	}
	if (cfg_known(c, g, p, known) < 0 ||
	    cfg_string(c, g, p, "name", true, &m->name) < 0 ||
	    cfg_enum(c, g, p, "protocol", cfg_protocols, &proto) < 0 ||
	    cfg_string(c, g, p, "host", false, &m->host) < 0 ||
	    cfg_intv(c, g, p, "port", 1, 65535, &m->port) < 0 ||
	    cfg_enum(c, g, p, "tls", cfg_tlses, &tls) < 0 ||
	    cfg_bool(c, g, p, "allow_plaintext", &m->allow_plaintext) < 0 ||
	    cfg_string(c, g, p, "ca_file", false, &m->ca_file) < 0 ||
	    cfg_string(c, g, p, "user", false, &m->user) < 0 ||
	    cfg_string(c, g, p, "password_file", false, &m->password_file) <
		0 ||
	    cfg_string(c, g, p, "password_env", false, &m->password_env) < 0 ||
	    cfg_string(c, g, p, "path", false, &m->path) < 0 ||
	    cfg_enum(c, g, p, "action", cfg_actions, &action) < 0 ||
	    cfg_intv(c, g, p, "poll_interval", 10, 86400, &m->poll_interval) <
		0 ||
	    cfg_intv(c, g, p, "batch_size", 1, 10000, &m->batch_size) < 0 ||
	    cfg_intv(c, g, p, "lease_seconds", 1, CONFIG_LEASE_MAX,
		     &m->lease_seconds) < 0 ||
	    cfg_bool(c, g, p, "idle", &m->idle) < 0)
		return -1;
	m->protocol = proto;
	m->tls = tls;
	m->action = action;
	m->folder = g_strdup("INBOX");
	m->processed_folder = g_strdup("bounced/processed");
	m->not_bounce_folder = g_strdup("bounced/not-a-bounce");
	m->unparseable_folder = g_strdup("bounced/unparseable");
	if (cfg_string(c, g, p, "folder", false, &m->folder) < 0 ||
	    cfg_string(c, g, p, "processed_folder", false,
		       &m->processed_folder) < 0 ||
	    cfg_string(c, g, p, "not_bounce_folder", false,
		       &m->not_bounce_folder) < 0 ||
	    cfg_string(c, g, p, "unparseable_folder", false,
		       &m->unparseable_folder) < 0)
		return -1;
	return cfg_mailbox_access(c, g, p, m);
}

static void
cfg_shop_clear(struct bounced_shop *s)
{
	size_t i;

	g_free(s->id);
	g_free(s->name);
	g_strfreev(s->notify);
	g_free(s->sender_domains);
	g_strfreev(s->fatal_reasons);
	cfg_notify_clear(&s->notice);
	for (i = 0; i < s->n_mailboxes; i++)
		cfg_mailbox_clear(&s->mailboxes[i]);
	g_free(s->mailboxes);
}

static int
cfg_mailboxes(struct cfg_ctx *c, const config_setting_t *g, const char *p,
	      struct bounced_shop *s)
{
	config_setting_t *l = config_setting_get_member(g, "mailboxes");
	char *path;
	size_t i, j;

	if (l == NULL)
		return 0;
	if (!config_setting_is_list(l)) {
		path = cfg_path(p, "mailboxes");
		cfg_error(c, l, path, "must be a list ( { ... }, { ... } )");
		g_free(path);
		return -1;
	}
	s->n_mailboxes = config_setting_length(l);
	s->mailboxes = g_new0(struct bounced_mailbox, s->n_mailboxes);
	for (i = 0; i < s->n_mailboxes; i++) {
		config_setting_t *e = config_setting_get_elem(l, i);

		path = g_strdup_printf("%s.mailboxes.[%zu]", p, i);
		cfg_mailbox(c, e, path, &s->mailboxes[i]);
		for (j = 0; c->error == NULL && j < i; j++)
			if (strcmp(s->mailboxes[j].name,
				   s->mailboxes[i].name) == 0)
				cfg_error(
				    c, e, path,
				    "duplicate mailbox name "
				    "\"%s\" (names must be unique in a shop)",
				    s->mailboxes[i].name);
		g_free(path);
		if (c->error != NULL)
			return -1;
	}
	return 0;
}

static int
cfg_shop(struct cfg_ctx *c, const config_setting_t *g, const char *p,
	 struct bounced_shop *s)
{
	static const char *const known[] = {"id",
					    "name",
					    "notify",
					    "sender_domains",
					    "strike_limit",
					    "grace_days",
					    "stale_days",
					    "dry_run",
					    "fatal_reasons",
					    "mailboxes",
					    "notifier",
					    NULL};
	char **domains = NULL;
	char *path;

	s->strike_limit = c->strike_limit;
	s->grace_days = c->grace_days;
	s->stale_days = c->stale_days;
	s->dry_run = c->dry_run;
	s->fatal_reasons = g_strdupv(c->fatal_reasons);
	cfg_notify_copy(&s->notice, c->notice);
	if (!config_setting_is_group(g)) {
		cfg_error(c, g, p, "must be a group { id = ...; ... }");
		return -1;
	}
	if (cfg_known(c, g, p, known) < 0 ||
	    cfg_string(c, g, p, "id", true, &s->id) < 0)
		return -1;
	if (!config_valid_shop_id(s->id)) {
		path = cfg_path(p, "id");
		cfg_error(
		    c, config_setting_get_member(g, "id"), path,
		    "\"%s\" is not a valid shop id (allowed: letters, digits, "
		    "'_', '.', '-', starting with a letter or digit, up to 64)",
		    s->id);
		g_free(path);
		return -1;
	}
	s->name = g_strdup(s->id);
	if (cfg_string(c, g, p, "name", false, &s->name) < 0 ||
	    cfg_notify(c, g, p, &s->notify) < 0 ||
	    cfg_strings(c, g, p, "sender_domains", &domains) < 0 ||
	    cfg_intv(c, g, p, "strike_limit", 1, 100, &s->strike_limit) < 0 ||
	    cfg_intv(c, g, p, "grace_days", 0, 365, &s->grace_days) < 0 ||
	    cfg_intv(c, g, p, "stale_days", 1, 3650, &s->stale_days) < 0 ||
	    cfg_bool(c, g, p, "dry_run", &s->dry_run) < 0 ||
	    cfg_reasons(c, g, p, &s->fatal_reasons) < 0 ||
	    cfg_mailboxes(c, g, p, s) < 0 ||
	    cfg_notifier(c, g, p, &s->notice) < 0) {
		g_strfreev(domains);
		return -1;
	}
	s->sender_domains =
	    domains != NULL ? g_strjoinv("\n", domains) : g_strdup("");
	g_strfreev(domains);
	if (s->notify == NULL)
		s->notify = g_new0(char *, 1);
	return 0;
}

static int
cfg_defaults(struct cfg_ctx *c, const config_setting_t *root,
	     struct bounced_config *cfg)
{
	static const char *const known[] = {
	    "strike_limit",  "grace_days",    "stale_days",       "dry_run",
	    "fatal_reasons", "poll_interval", "batch_size",       "action",
	    "order_header",  "type_header",   "max_message_size",
	    "lease_seconds", "idle",          NULL};
	config_setting_t *g = config_setting_get_member(root, "defaults");
	int action = c->action;
	const char *p = "defaults";

	if (g == NULL)
		return 0;
	if (!config_setting_is_group(g)) {
		cfg_error(c, g, p, "must be a group { ... }");
		return -1;
	}
	if (cfg_known(c, g, p, known) < 0 ||
	    cfg_intv(c, g, p, "strike_limit", 1, 100, &c->strike_limit) < 0 ||
	    cfg_intv(c, g, p, "grace_days", 0, 365, &c->grace_days) < 0 ||
	    cfg_intv(c, g, p, "stale_days", 1, 3650, &c->stale_days) < 0 ||
	    cfg_bool(c, g, p, "dry_run", &c->dry_run) < 0 ||
	    cfg_reasons(c, g, p, &c->fatal_reasons) < 0 ||
	    cfg_intv(c, g, p, "poll_interval", 10, 86400, &c->poll_interval) <
		0 ||
	    cfg_intv(c, g, p, "batch_size", 1, 10000, &c->batch_size) < 0 ||
	    cfg_intv(c, g, p, "lease_seconds", 1, CONFIG_LEASE_MAX,
		     &c->lease_seconds) < 0 ||
	    cfg_bool(c, g, p, "idle", &c->idle) < 0 ||
	    cfg_enum(c, g, p, "action", cfg_actions, &action) < 0 ||
	    cfg_string(c, g, p, "order_header", false, &cfg->order_header) <
		0 ||
	    cfg_string(c, g, p, "type_header", false, &cfg->type_header) < 0 ||
	    cfg_int(c, g, p, "max_message_size", 1024, 1LL << 31,
		    &cfg->max_message_size) < 0)
		return -1;
	c->action = action;
	return 0;
}

static int
cfg_root(struct cfg_ctx *c, const config_setting_t *root,
	 struct bounced_config *cfg)
{
	static const char *const known[] = {"database", "defaults", "shops",
					    "pidfile",  "log",      "notifier",
					    NULL};
	static const char *const logs[] = {"syslog", "stderr", NULL};
	config_setting_t *db, *shops;
	int log = 0;
	size_t i, j;

	if (cfg_known(c, root, "", known) < 0 ||
	    cfg_defaults(c, root, cfg) < 0 ||
	    cfg_string(c, root, "", "pidfile", false, &cfg->pidfile) < 0 ||
	    cfg_enum(c, root, "", "log", logs, &log) < 0 ||
	    cfg_notifier(c, root, "", &cfg->notice) < 0)
		return -1;
	c->notice = &cfg->notice;
	cfg->log = g_strdup(logs[log]);
	if ((db = config_setting_get_member(root, "database")) != NULL) {
		static const char *const dbknown[] = {"conninfo", NULL};

		if (!config_setting_is_group(db)) {
			cfg_error(c, db, "database",
				  "must be a group { "
				  "conninfo = \"...\"; }");
			return -1;
		}
		if (cfg_known(c, db, "database", dbknown) < 0 ||
		    cfg_string(c, db, "database", "conninfo", false,
			       &cfg->conninfo) < 0)
			return -1;
	}
	if ((shops = config_setting_get_member(root, "shops")) == NULL)
		return 0;
	if (!config_setting_is_list(shops)) {
		cfg_error(c, shops, "shops",
			  "must be a list ( { id = ...; }, "
			  "... )");
		return -1;
	}
	cfg->n_shops = config_setting_length(shops);
	cfg->shops = g_new0(struct bounced_shop, cfg->n_shops);
	for (i = 0; i < cfg->n_shops; i++) {
		config_setting_t *e = config_setting_get_elem(shops, i);
		char *p = g_strdup_printf("shops.[%zu]", i);

		cfg_shop(c, e, p, &cfg->shops[i]);
		for (j = 0; c->error == NULL && j < i; j++)
			if (strcmp(cfg->shops[j].id, cfg->shops[i].id) == 0)
				cfg_error(c, e, p, "duplicate shop id \"%s\"",
					  cfg->shops[i].id);
		g_free(p);
		if (c->error != NULL)
			return -1;
	}
	return cfg_notify_final(c, root, cfg);
}

static int
cfg_load(config_t *lc, bool ok, const char *file, config_reason_fn reason,
	 struct bounced_config **cfg_r, char **error_r)
{
	struct cfg_ctx c = {0};
	struct bounced_config *cfg;

	*cfg_r = NULL;
	if (!ok) {
		*error_r = g_strdup_printf(
		    "%s:%d: %s",
		    config_error_file(lc) != NULL ? config_error_file(lc)
						  : file,
		    config_error_line(lc),
		    config_error_type(lc) == CONFIG_ERR_FILE_IO
			? "cannot read the file"
			: config_error_text(lc));
		config_destroy(lc);
		return -1;
	}
	c.file = file;
	c.reason = reason;
	c.strike_limit = 4;
	c.grace_days = 5;
	c.stale_days = 30;
	c.poll_interval = CONFIG_DEFAULT_POLL;
	c.batch_size = 100;
	c.lease_seconds = CONFIG_DEFAULT_LEASE;
	c.idle = true;
	c.action = CONFIG_ACTION_MOVE;
	c.fatal_reasons = g_strsplit("userunknown,hostunknown,hasmoved,"
				     "notaccept,feedback",
				     ",", -1);
	cfg = g_new0(struct bounced_config, 1);
	cfg->file = g_strdup(file);
	cfg->max_message_size = 64LL * 1024 * 1024;
	cfg_notify_defaults(&cfg->notice);
	c.notice = &cfg->notice;
	cfg_root(&c, config_root_setting(lc), cfg);
	config_destroy(lc);
	g_strfreev(c.fatal_reasons);
	if (c.error != NULL) {
		*error_r = c.error;
		config_free(&cfg);
		return -1;
	}
	*cfg_r = cfg;
	return 0;
}

int
config_load(const char *file, config_reason_fn reason,
	    struct bounced_config **cfg_r, char **error_r)
{
	config_t lc;
	bool ok;

	config_init(&lc);
	ok = config_read_file(&lc, file) == CONFIG_TRUE;
	return cfg_load(&lc, ok, file, reason, cfg_r, error_r);
}

int
config_load_string(const char *text, const char *file, config_reason_fn reason,
		   struct bounced_config **cfg_r, char **error_r)
{
	config_t lc;
	bool ok;

	config_init(&lc);
	ok = config_read_string(&lc, text) == CONFIG_TRUE;
	return cfg_load(&lc, ok, file, reason, cfg_r, error_r);
}

void
config_free(struct bounced_config **cfg)
{
	size_t i;

	if (cfg == NULL || *cfg == NULL)
		return;
	for (i = 0; i < (*cfg)->n_shops; i++)
		cfg_shop_clear(&(*cfg)->shops[i]);
	g_free((*cfg)->shops);
	cfg_notify_clear(&(*cfg)->notice);
	g_free((*cfg)->file);
	g_free((*cfg)->conninfo);
	g_free((*cfg)->order_header);
	g_free((*cfg)->type_header);
	g_free((*cfg)->pidfile);
	g_free((*cfg)->log);
	g_free(*cfg);
	*cfg = NULL;
}

const struct bounced_shop *
config_find_shop(const struct bounced_config *cfg, const char *id)
{
	size_t i;

	for (i = 0; cfg != NULL && id != NULL && i < cfg->n_shops; i++)
		if (strcmp(cfg->shops[i].id, id) == 0)
			return &cfg->shops[i];
	return NULL;
}
