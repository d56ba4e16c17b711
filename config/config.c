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
	bool dry_run;
	char **fatal_reasons;
	enum config_action action;
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
					    NULL};
	int proto = CONFIG_IMAP, tls = CONFIG_TLS_IMPLICIT, action = c->action;

	m->poll_interval = c->poll_interval;
	m->batch_size = c->batch_size;
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
	    cfg_intv(c, g, p, "batch_size", 1, 10000, &m->batch_size) < 0)
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
					    NULL};
	char **domains = NULL;
	char *path;

	s->strike_limit = c->strike_limit;
	s->grace_days = c->grace_days;
	s->stale_days = c->stale_days;
	s->dry_run = c->dry_run;
	s->fatal_reasons = g_strdupv(c->fatal_reasons);
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
	    cfg_mailboxes(c, g, p, s) < 0) {
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
	    "order_header",  "type_header",   "max_message_size", NULL};
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
					    "pidfile",  "log",      NULL};
	static const char *const logs[] = {"syslog", "stderr", NULL};
	config_setting_t *db, *shops;
	int log = 0;
	size_t i, j;

	if (cfg_known(c, root, "", known) < 0 ||
	    cfg_defaults(c, root, cfg) < 0 ||
	    cfg_string(c, root, "", "pidfile", false, &cfg->pidfile) < 0 ||
	    cfg_enum(c, root, "", "log", logs, &log) < 0)
		return -1;
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
	return 0;
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
	c.action = CONFIG_ACTION_MOVE;
	c.fatal_reasons = g_strsplit("userunknown,hostunknown,hasmoved,"
				     "notaccept,feedback",
				     ",", -1);
	cfg = g_new0(struct bounced_config, 1);
	cfg->file = g_strdup(file);
	cfg->max_message_size = 64LL * 1024 * 1024;
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
