/*
 * fetch_pop3.c - the POP3 fetcher (libetpan mailpop3), behind struct
 * fetch_ops.
 *
 * open: connect (implicit TLS "pop3s", STLS (RFC 2595), or plain only
 * when the configuration allows it), verify the certificate with
 * fetch_tls_verify() before the password is sent, USER/PASS, then LIST and
 * UIDL.  POP3 has no cursor and no folders: a message is known by its
 * UIDL (RFC 1939 7), so the key of a message is "uidl:UIDL" and the
 * poller tells us which keys are already recorded; those are skipped.  A
 * server without UIDL is refused (we could not tell new mail from seen
 * mail), and so is one that sends an invalid UIDL (RFC 1939: 1 to 70
 * characters 0x21-0x7E) or the same UIDL twice: the UIDL is
 * server-controlled, so it is only ever stored as text, never used in a
 * path or a log line unchecked.
 * next: RETR, one message at a time (the buffer is freed with
 * mailpop3_retr_free); a message over max_size is lent without a body.
 * ack: after COMMIT of the batch the message was recorded in (any
 * message of the session: by its number), DELE only when the action is
 * "delete" and the message is a recognised bounce (the deletion takes
 * effect at QUIT, RFC 1939 6); for every other action or kind nothing
 * is changed on the server, and the next poll skips the message by its
 * UIDL.  A recorded bounce still on the server with action "delete" (its
 * QUIT was lost in a crash) is deleted at the next open.
 *
 * Ownership (STYLE.md): the carray of mailpop3_list() belongs to the
 * session; we copy what we keep.  The protocol logger is never enabled
 * (it would log PASS).
 */
#include "config.h"

#include <string.h>
#include <libetpan/libetpan.h>

#include "bounced/fetch.h"

#define POP3_TIMEOUT   60 /* seconds per I/O */
#define POP3_UIDL_MAX  70 /* RFC 1939 7 */
#define POP3_KEY_PREFIX "uidl:"

/* A message to lend: its number in this session, size and key. */
struct pop3_msg {
	unsigned index;
	guint32 size;
	char *key; /* "uidl:UIDL" */
};

struct fetch {
	const struct bounced_mailbox *mbox;
	mailpop3 *pop;
	size_t max_size;
	GArray *msgs; /* struct pop3_msg, in message-number order */
	guint pos;    /* next msgs index to lend */
	char *data;   /* body lent last (mailpop3_retr_free) */
};

/* What a libetpan error code means, for the log. */
static const char *
pop3_code_text(int r)
{
	switch (r) {
	case MAILPOP3_ERROR_STREAM:
		return "connection lost or timed out";
	case MAILPOP3_ERROR_CONNECTION_REFUSED:
		return "cannot connect";
	case MAILPOP3_ERROR_UNAUTHORIZED:
		return "the server refused the connection";
	case MAILPOP3_ERROR_BAD_USER:
		return "user refused";
	case MAILPOP3_ERROR_BAD_PASSWORD:
	case MAILPOP3_ERROR_DENIED:
		return "login refused";
	case MAILPOP3_ERROR_SSL:
		return "TLS handshake failed";
	case MAILPOP3_ERROR_STLS_NOT_SUPPORTED:
		return "STLS refused";
	case MAILPOP3_ERROR_CANT_LIST:
		return "LIST refused";
	case MAILPOP3_ERROR_NO_SUCH_MESSAGE:
		return "no such message";
	case MAILPOP3_ERROR_MEMORY:
		return "out of memory";
	default:
		return "command refused";
	}
}

/* Sets *error_r to "pop3 HOST:PORT: what: meaning [server text]".
   Returns -1. */
static int
pop3_fail(struct fetch *f, const char *what, int r, char **error_r)
{
	const char *resp = f->pop != NULL ? f->pop->pop3_response : NULL;
	char *text = NULL;

	if (resp != NULL && *resp != '\0' && r != MAILPOP3_ERROR_STREAM) {
		/* server text: printable ASCII only, bounded */
		text = g_strndup(resp, 200);
		g_strcanon(text,
			   " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNO"
			   "PQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
			   '?');
	}
	*error_r = g_strdup_printf(
	    "pop3 %s:%d: %s: %s%s%s%s", f->mbox->host, f->mbox->port, what,
	    pop3_code_text(r), text != NULL ? " (server: " : "",
	    text != NULL ? text : "", text != NULL ? ")" : "");
	g_free(text);
	return -1;
}

/* Sets *error_r to "pop3 HOST:PORT: text".  Returns -1. */
static int
pop3_refuse(struct fetch *f, char **error_r, const char *text)
{
	*error_r = g_strdup_printf("pop3 %s:%d: %s", f->mbox->host,
				   f->mbox->port, text);
	return -1;
}

/* Sends SNI so name-based TLS servers pick the right certificate. */
static void
pop3_ssl_cb(struct mailstream_ssl_context *ctx, void *data)
{
	mailstream_ssl_set_server_name(ctx, data);
}

/* Connects per tls and verifies the certificate. */
static int
pop3_connect(struct fetch *f, char **error_r)
{
	const struct bounced_mailbox *m = f->mbox;
	int r;

	f->pop = mailpop3_new(0, NULL);
	mailpop3_set_timeout(f->pop, POP3_TIMEOUT);
	if (m->tls == CONFIG_TLS_IMPLICIT)
		r = mailpop3_ssl_connect_with_callback(
		    f->pop, m->host, (uint16_t)m->port, pop3_ssl_cb, m->host);
	else
		r = mailpop3_socket_connect(f->pop, m->host,
					    (uint16_t)m->port);
	if (r != MAILPOP3_NO_ERROR)
		return pop3_fail(f, "connect", r, error_r);
	if (m->tls == CONFIG_TLS_STARTTLS &&
	    (r = mailpop3_socket_starttls_with_callback(
		 f->pop, pop3_ssl_cb, m->host)) != MAILPOP3_NO_ERROR)
		return pop3_fail(f, "STLS", r, error_r);
	if (m->tls != CONFIG_TLS_NONE &&
	    fetch_tls_verify(f->pop->pop3_stream, m->host, m->ca_file,
			     error_r) < 0) {
		char *e = *error_r;

		pop3_refuse(f, error_r, e);
		g_free(e);
		return -1;
	}
	return 0;
}

/* True if CAPA (RFC 2449) answered and does not list UIDL.  A server
   without CAPA is judged by its UIDL answers instead. */
static bool
pop3_capa_lacks_uidl(struct fetch *f)
{
	clist *capa = NULL;
	clistiter *c;
	bool uidl = false;

	if (mailpop3_capa(f->pop, &capa) != MAILPOP3_NO_ERROR)
		return false;
	for (c = clist_begin(capa); c != NULL; c = clist_next(c)) {
		struct mailpop3_capa *cap = clist_content(c);

		if (g_ascii_strcasecmp(cap->cap_name, "UIDL") == 0)
			uidl = true;
	}
	mailpop3_capa_resp_free(capa);
	return !uidl;
}

/* True if u is a valid UIDL: 1 to 70 characters 0x21-0x7E. */
static bool
pop3_uidl_valid(const char *u)
{
	size_t n;

	for (n = 0; u[n] != '\0'; n++)
		if ((unsigned char)u[n] < 0x21 || (unsigned char)u[n] > 0x7e)
			return false;
	return n >= 1 && n <= POP3_UIDL_MAX;
}

/* LIST + UIDL into f->msgs, every UIDL checked.  Returns 0 or -1. */
static int
pop3_list(struct fetch *f, char **error_r)
{
	GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
	carray *tab = NULL;
	unsigned i;
	int r, ret = -1;

	if ((r = mailpop3_list(f->pop, &tab)) != MAILPOP3_NO_ERROR) {
		pop3_fail(f, "LIST", r, error_r);
		goto out;
	}
	for (i = 0; i < carray_count(tab); i++) {
		struct mailpop3_msg_info *info = carray_get(tab, i);
		struct pop3_msg m;

		if (info == NULL || info->msg_deleted)
			continue;
		if (info->msg_uidl == NULL) {
			pop3_refuse(f, error_r,
				    "the server does not answer UIDL: bounced "
				    "needs UIDL to tell new mail from mail it "
				    "has seen; use IMAP for this mailbox");
			goto out;
		}
		if (!pop3_uidl_valid(info->msg_uidl)) {
			*error_r = g_strdup_printf(
			    "pop3 %s:%d: message %u: the server sent an "
			    "invalid UIDL (RFC 1939: 1 to 70 printable "
			    "characters); mailbox refused",
			    f->mbox->host, f->mbox->port, info->msg_index);
			goto out;
		}
		if (!g_hash_table_add(seen, info->msg_uidl)) {
			*error_r = g_strdup_printf(
			    "pop3 %s:%d: message %u: the server sent the "
			    "UIDL of another message again; mailbox refused",
			    f->mbox->host, f->mbox->port, info->msg_index);
			goto out;
		}
		m.index = info->msg_index;
		m.size = info->msg_size;
		m.key = g_strconcat(POP3_KEY_PREFIX, info->msg_uidl, NULL);
		g_array_append_val(f->msgs, m);
	}
	ret = 0;
out:
	g_hash_table_destroy(seen);
	return ret;
}

/* Drops from f->msgs the messages the database already has.  A recorded
   bounce still here with action "delete" is deleted now: its record was
   committed, only the QUIT that would have deleted it was lost. */
static int
pop3_skip_recorded(struct fetch *f, const struct fetch_params *p,
		   char **error_r)
{
	GHashTable *rec;
	const char **keys;
	GArray *keep;
	guint i;
	int ret = 0;

	if (p->recorded == NULL || f->msgs->len == 0)
		return 0;
	rec = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	keys = g_new(const char *, f->msgs->len);
	for (i = 0; i < f->msgs->len; i++)
		keys[i] = g_array_index(f->msgs, struct pop3_msg, i).key;
	if (p->recorded(p->recorded_arg, keys, f->msgs->len, rec, error_r) <
	    0)
		ret = -1;
	keep = g_array_new(FALSE, FALSE, sizeof(struct pop3_msg));
	for (i = 0; ret == 0 && i < f->msgs->len; i++) {
		struct pop3_msg *m = &g_array_index(f->msgs, struct pop3_msg, i);
		const char *kind = g_hash_table_lookup(rec, m->key);
		int r;

		if (kind == NULL) {
			g_array_append_val(keep, *m);
			continue;
		}
		if (f->mbox->action == CONFIG_ACTION_DELETE &&
		    fetch_dest_of_kind(kind) == FETCH_PROCESSED &&
		    (r = mailpop3_dele(f->pop, m->index)) != MAILPOP3_NO_ERROR)
			ret = pop3_fail(f, "DELE", r, error_r);
		g_free(m->key);
	}
	for (; i < f->msgs->len; i++) /* after an error: free the rest */
		g_free(g_array_index(f->msgs, struct pop3_msg, i).key);
	g_array_set_size(f->msgs, 0);
	if (ret == 0)
		g_array_append_vals(f->msgs, keep->data, keep->len);
	else
		for (i = 0; i < keep->len; i++)
			g_free(g_array_index(keep, struct pop3_msg, i).key);
	g_array_free(keep, TRUE);
	g_free(keys);
	g_hash_table_destroy(rec);
	return ret;
}

static int
pop3_open(const struct fetch_params *p, struct fetch **f_r, char **error_r)
{
	struct fetch *f = g_new0(struct fetch, 1);
	int r;

	f->mbox = p->mbox;
	f->max_size = p->max_size;
	f->msgs = g_array_new(FALSE, FALSE, sizeof(struct pop3_msg));
	*f_r = f;
	if (pop3_connect(f, error_r) < 0)
		return -1;
	if ((r = mailpop3_user(f->pop, f->mbox->user)) != MAILPOP3_NO_ERROR)
		return pop3_fail(f, "USER", r, error_r);
	if ((r = mailpop3_pass(f->pop, p->password)) != MAILPOP3_NO_ERROR)
		return pop3_fail(f, "PASS", r, error_r);
	if (pop3_capa_lacks_uidl(f))
		return pop3_refuse(f, error_r,
				   "the server does not offer UIDL (CAPA, RFC "
				   "2449): bounced needs UIDL to tell new mail "
				   "from mail it has seen; use IMAP for this "
				   "mailbox");
	if (pop3_list(f, error_r) < 0)
		return -1;
	return pop3_skip_recorded(f, p, error_r);
}

static int
pop3_next(struct fetch *f, struct raw_msg *msg, char **error_r)
{
	const struct pop3_msg *m;
	size_t len = 0;
	int r;

	memset(msg, 0, sizeof(*msg));
	if (f->data != NULL) {
		mailpop3_retr_free(f->data);
		f->data = NULL;
	}
	if (f->pos >= f->msgs->len)
		return 0;
	m = &g_array_index(f->msgs, struct pop3_msg, f->pos++);
	msg->ref = m->index;
	msg->key = m->key;
	msg->size = m->size;
	if (m->size > f->max_size) {
		msg->too_large = true;
		return 1;
	}
	if ((r = mailpop3_retr(f->pop, m->index, &f->data, &len)) !=
	    MAILPOP3_NO_ERROR) {
		f->data = NULL;
		return pop3_fail(f, "RETR", r, error_r);
	}
	msg->data = f->data;
	msg->len = len;
	return 1;
}

static int
pop3_ack(struct fetch *f, const struct raw_msg *msg, enum fetch_dest dest,
	 char **error_r)
{
	int r;

	if (f->mbox->action != CONFIG_ACTION_DELETE || dest != FETCH_PROCESSED)
		return 0; /* skipped by its UIDL from now on */
	if ((r = mailpop3_dele(f->pop, (unsigned)msg->ref)) !=
	    MAILPOP3_NO_ERROR)
		return pop3_fail(f, "DELE", r, error_r);
	return 0;
}

static void
pop3_close(struct fetch **fp)
{
	struct fetch *f;
	guint i;

	if (fp == NULL || (f = *fp) == NULL)
		return;
	if (f->data != NULL)
		mailpop3_retr_free(f->data);
	if (f->pop != NULL) {
		/* QUIT: the DELEs (all after COMMIT) take effect.  On a dead
		   connection it fails at once and only frees the session. */
		if (f->pop->pop3_stream != NULL)
			mailpop3_quit(f->pop);
		mailpop3_free(f->pop);
	}
	for (i = 0; i < f->msgs->len; i++)
		g_free(g_array_index(f->msgs, struct pop3_msg, i).key);
	g_array_free(f->msgs, TRUE);
	g_free(f);
	*fp = NULL;
}

const struct fetch_ops fetch_pop3_ops = {
    "pop3", pop3_open, pop3_next, pop3_ack, NULL, pop3_close, true,
};
