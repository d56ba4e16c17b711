/*
 * fetch_imap.c - the IMAP fetcher (libetpan), behind struct fetch_ops.
 *
 * open: connect (implicit TLS, STARTTLS, or plain only when the
 * configuration allows it), verify the certificate, LOGIN, SELECT the
 * folder, then list the UIDs and sizes above the cursor with
 * UID FETCH last+1:* (UID RFC822.SIZE).  A changed UIDVALIDITY voids the
 * cursor (RFC 3501 2.3.1.1): every message is listed again and the unique
 * key, which includes UIDVALIDITY, keeps replays harmless.
 * next: lends messages in UID order, fetching bodies with BODY.PEEK[]
 * (\Seen untouched) in batches of batch_size; a message over max_size is
 * lent without a body and never fetched.
 * ack: after COMMIT, UID MOVE to the configured folder when the server
 * has MOVE (RFC 6851), else UID COPY + \Deleted + UID EXPUNGE (RFC 4315);
 * folders are created when missing.  action "flag" sets \Seen (and
 * \Flagged on unparseable mail); "delete" expunges recognised bounces and
 * still moves ordinary and unparseable mail to their folders, so nothing
 * a person might need is deleted.
 *
 * Ownership (STYLE.md): sets and fetch types given to libetpan are freed
 * after each call; a fetch result list stays alive while its bodies are
 * lent.  The protocol logger is never enabled (it would log LOGIN).
 */
#include "config.h"

#include <string.h>
#include <libetpan/libetpan.h>

#include "bounced/fetch.h"

#define IMAP_TIMEOUT     60                         /* seconds per I/O */
#define IMAP_BATCH_BYTES ((size_t)16 * 1024 * 1024) /* per body batch */

/* A message listed at open: its UID and announced size. */
struct imap_uid {
	guint32 uid;
	guint32 size;
};

/* A fetched body, pointing into struct fetch's batch list. */
struct imap_body {
	guint32 uid;
	guint32 size;
	const char *data;
	size_t len;
};

struct fetch {
	const struct bounced_mailbox *mbox;
	mailimap *imap;
	size_t max_size;
	gint64 uidvalidity;
	GArray *uids;   /* struct imap_uid, ascending, all > cursor */
	guint pos;      /* next uids index to lend or fetch */
	clist *batch;   /* result of the current body fetch, or NULL */
	GArray *bodies; /* struct imap_body of batch, ascending */
	guint bpos;
	char key[48];
	bool delim_known;
	char delim;       /* hierarchy delimiter; 0: flat */
	char *folders[3]; /* server names per dest, once checked */
	bool has_move, has_uidplus;
	bool broken; /* connection lost: no LOGOUT */
};

static int imap_delimiter(struct fetch *f, char **error_r);

/* What a libetpan error code means, for the log. */
static const char *
imap_code_text(int r)
{
	switch (r) {
	case MAILIMAP_ERROR_STREAM:
		return "connection lost or timed out";
	case MAILIMAP_ERROR_CONNECTION_REFUSED:
		return "cannot connect";
	case MAILIMAP_ERROR_DONT_ACCEPT_CONNECTION:
		return "the server refused the connection";
	case MAILIMAP_ERROR_FATAL:
		return "the server closed the connection";
	case MAILIMAP_ERROR_PARSE:
	case MAILIMAP_ERROR_PROTOCOL:
		return "unexpected server response";
	case MAILIMAP_ERROR_SSL:
		return "TLS handshake failed";
	case MAILIMAP_ERROR_STARTTLS:
		return "STARTTLS refused";
	case MAILIMAP_ERROR_LOGIN:
		return "login refused";
	case MAILIMAP_ERROR_MEMORY:
		return "out of memory";
	default:
		return "command refused";
	}
}

/* Sets *error_r to "what: meaning [server text]"; marks the session
   broken when the connection is gone.  Returns -1. */
static int
imap_fail(struct fetch *f, const char *what, int r, char **error_r)
{
	const char *resp = f->imap != NULL ? f->imap->imap_response : NULL;
	char *text = NULL;

	if (r == MAILIMAP_ERROR_STREAM || r == MAILIMAP_ERROR_FATAL ||
	    r == MAILIMAP_ERROR_CONNECTION_REFUSED || r == MAILIMAP_ERROR_SSL ||
	    r == MAILIMAP_ERROR_PARSE)
		f->broken = true;
	if (resp != NULL && *resp != '\0' && r != MAILIMAP_ERROR_STREAM) {
		/* server text: printable ASCII only, bounded */
		text = g_strndup(resp, 200);
		g_strcanon(text,
			   " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNO"
			   "PQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~",
			   '?');
	}
	*error_r = g_strdup_printf(
	    "imap %s:%d: %s: %s%s%s%s", f->mbox->host, f->mbox->port, what,
	    imap_code_text(r), text != NULL ? " (server: " : "",
	    text != NULL ? text : "", text != NULL ? ")" : "");
	g_free(text);
	return -1;
}

/* Sends SNI so name-based TLS servers pick the right certificate. */
static void
imap_ssl_cb(struct mailstream_ssl_context *ctx, void *data)
{
	mailstream_ssl_set_server_name(ctx, data);
}

/* Connects per tls and verifies the certificate. */
static int
imap_connect(struct fetch *f, char **error_r)
{
	const struct bounced_mailbox *m = f->mbox;
	int r;

	f->imap = mailimap_new(0, NULL);
	mailimap_set_timeout(f->imap, IMAP_TIMEOUT);
	if (m->tls == CONFIG_TLS_IMPLICIT)
		r = mailimap_ssl_connect_with_callback(
		    f->imap, m->host, (uint16_t)m->port, imap_ssl_cb, m->host);
	else
		r = mailimap_socket_connect(f->imap, m->host,
					    (uint16_t)m->port);
	if (r != MAILIMAP_NO_ERROR_AUTHENTICATED &&
	    r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED) {
		f->broken = true;
		return imap_fail(f, "connect", r, error_r);
	}
	if (m->tls == CONFIG_TLS_STARTTLS &&
	    (r = mailimap_socket_starttls_with_callback(
		 f->imap, imap_ssl_cb, m->host)) != MAILIMAP_NO_ERROR)
		return imap_fail(f, "STARTTLS", r, error_r);
	if (m->tls != CONFIG_TLS_NONE &&
	    fetch_tls_verify(f->imap->imap_stream, m->host, m->ca_file,
			     error_r) < 0) {
		char *e = *error_r;

		*error_r =
		    g_strdup_printf("imap %s:%d: %s", m->host, m->port, e);
		g_free(e);
		return -1;
	}
	return 0;
}

/* LOGIN, then the capabilities (they may change after login). */
static int
imap_login(struct fetch *f, const char *password, char **error_r)
{
	struct mailimap_capability_data *cap = NULL;
	int r;

	if ((r = mailimap_login(f->imap, f->mbox->user, password)) !=
	    MAILIMAP_NO_ERROR)
		return imap_fail(f, "LOGIN", r, error_r);
	if ((r = mailimap_capability(f->imap, &cap)) != MAILIMAP_NO_ERROR)
		return imap_fail(f, "CAPABILITY", r, error_r);
	mailimap_capability_data_free(cap);
	f->has_move = mailimap_has_extension(f->imap, "MOVE");
	f->has_uidplus = mailimap_has_extension(f->imap, "UIDPLUS");
	return 0;
}

/* The UID, size and body of one FETCH response (STATIC items only). */
static void
imap_att(struct mailimap_msg_att *att, struct imap_body *b)
{
	clistiter *c;

	memset(b, 0, sizeof(*b));
	for (c = clist_begin(att->att_list); c != NULL; c = clist_next(c)) {
		struct mailimap_msg_att_item *item = clist_content(c);
		struct mailimap_msg_att_static *st;

		if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
			continue;
		st = item->att_data.att_static;
		if (st->att_type == MAILIMAP_MSG_ATT_UID)
			b->uid = st->att_data.att_uid;
		else if (st->att_type == MAILIMAP_MSG_ATT_RFC822_SIZE)
			b->size = st->att_data.att_rfc822_size;
		else if (st->att_type == MAILIMAP_MSG_ATT_BODY_SECTION &&
			 st->att_data.att_body_section->sec_body_part != NULL) {
			b->data = st->att_data.att_body_section->sec_body_part;
			b->len = st->att_data.att_body_section->sec_length;
		}
	}
}

static gint
imap_uid_cmp(gconstpointer a, gconstpointer b)
{
	guint32 x = *(const guint32 *)a, y = *(const guint32 *)b;

	return x < y ? -1 : x > y;
}

/* Lists UID and size of every message above last_uid. */
static int
imap_list_uids(struct fetch *f, gint64 last_uid, char **error_r)
{
	struct mailimap_fetch_type *ft;
	struct mailimap_set *set;
	clist *result = NULL;
	clistiter *c;
	int r;

	if (f->imap->imap_selection_info->sel_exists == 0)
		return 0;
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	mailimap_fetch_type_new_fetch_att_list_add(
	    ft, mailimap_fetch_att_new_uid());
	mailimap_fetch_type_new_fetch_att_list_add(
	    ft, mailimap_fetch_att_new_rfc822_size());
	set = mailimap_set_new_interval((uint32_t)last_uid + 1, 0);
	r = mailimap_uid_fetch(f->imap, set, ft, &result);
	mailimap_set_free(set);
	mailimap_fetch_type_free(ft);
	if (r != MAILIMAP_NO_ERROR)
		return imap_fail(f, "UID FETCH (UID RFC822.SIZE)", r, error_r);
	for (c = clist_begin(result); c != NULL; c = clist_next(c)) {
		struct imap_body b;
		struct imap_uid u;

		imap_att(clist_content(c), &b);
		/* n:* always includes the last message (RFC 3501 6.4.8) */
		if ((gint64)b.uid <= last_uid)
			continue;
		u.uid = b.uid;
		u.size = b.size;
		g_array_append_val(f->uids, u);
	}
	mailimap_fetch_list_free(result);
	g_array_sort(f->uids, imap_uid_cmp);
	return 0;
}

/* SELECT the configured folder ('/' is the hierarchy separator). */
static int
imap_select(struct fetch *f, char **error_r)
{
	char *name = g_strdup(f->mbox->folder), *what;
	int r;

	if (strchr(name, '/') != NULL) {
		if (imap_delimiter(f, error_r) < 0) {
			g_free(name);
			return -1;
		}
		if (f->delim != '\0' && f->delim != '/')
			g_strdelimit(name, "/", f->delim);
	}
	r = mailimap_select(f->imap, name);
	if (r != MAILIMAP_NO_ERROR) {
		what = g_strdup_printf("SELECT %s", name);
		imap_fail(f, what, r, error_r);
		g_free(what);
	}
	g_free(name);
	return r == MAILIMAP_NO_ERROR ? 0 : -1;
}

static int
imap_open(const struct fetch_params *p, struct fetch **f_r, char **error_r)
{
	struct fetch *f = g_new0(struct fetch, 1);
	gint64 last_uid = p->last_uid;

	f->mbox = p->mbox;
	f->max_size = p->max_size;
	f->uids = g_array_new(FALSE, FALSE, sizeof(struct imap_uid));
	f->bodies = g_array_new(FALSE, FALSE, sizeof(struct imap_body));
	*f_r = f;
	if (imap_connect(f, error_r) < 0 ||
	    imap_login(f, p->password, error_r) < 0)
		return -1;
	if (imap_select(f, error_r) < 0)
		return -1;
	f->uidvalidity = f->imap->imap_selection_info->sel_uidvalidity;
	if (p->uidvalidity != f->uidvalidity)
		last_uid = 0; /* new or changed UIDVALIDITY: cursor void */
	return imap_list_uids(f, last_uid, error_r);
}

/* Fetches the bodies of the run of small messages starting at f->pos. */
static int
imap_fetch_batch(struct fetch *f, char **error_r)
{
	struct mailimap_fetch_type *ft;
	struct mailimap_set *set = mailimap_set_new_empty();
	size_t bytes = 0;
	guint n = 0, i;
	clistiter *c;
	int r;

	for (i = f->pos; i < f->uids->len && n < (guint)f->mbox->batch_size;
	     i++, n++) {
		const struct imap_uid *u =
		    &g_array_index(f->uids, struct imap_uid, i);

		if (u->size > f->max_size ||
		    (n > 0 && bytes + u->size > IMAP_BATCH_BYTES))
			break;
		bytes += u->size;
		mailimap_set_add_single(set, u->uid);
	}
	f->pos = i;
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	mailimap_fetch_type_new_fetch_att_list_add(
	    ft, mailimap_fetch_att_new_uid());
	mailimap_fetch_type_new_fetch_att_list_add(
	    ft, mailimap_fetch_att_new_body_peek_section(
		    mailimap_section_new(NULL)));
	r = mailimap_uid_fetch(f->imap, set, ft, &f->batch);
	mailimap_set_free(set);
	mailimap_fetch_type_free(ft);
	if (r != MAILIMAP_NO_ERROR)
		return imap_fail(f, "UID FETCH BODY.PEEK[]", r, error_r);
	for (c = clist_begin(f->batch); c != NULL; c = clist_next(c)) {
		struct imap_body b;

		imap_att(clist_content(c), &b);
		/* a message expunged meanwhile simply does not come back */
		if (b.uid != 0 && b.data != NULL)
			g_array_append_val(f->bodies, b);
	}
	g_array_sort(f->bodies, imap_uid_cmp);
	return 0;
}

/* Drops the current batch. */
static void
imap_batch_free(struct fetch *f)
{
	if (f->batch != NULL)
		mailimap_fetch_list_free(f->batch);
	f->batch = NULL;
	g_array_set_size(f->bodies, 0);
	f->bpos = 0;
}

static int
imap_next(struct fetch *f, struct raw_msg *msg, char **error_r)
{
	const struct imap_uid *u;
	const struct imap_body *b;

	memset(msg, 0, sizeof(*msg));
	msg->uidvalidity = f->uidvalidity;
	msg->key = f->key;
	if (f->bpos >= f->bodies->len) {
		imap_batch_free(f);
		if (f->pos >= f->uids->len)
			return 0;
		u = &g_array_index(f->uids, struct imap_uid, f->pos);
		if (u->size > f->max_size) {
			f->pos++;
			msg->uid = u->uid;
			msg->size = u->size;
			msg->too_large = true;
			g_snprintf(f->key, sizeof(f->key),
				   "%" G_GINT64_FORMAT ":%u", f->uidvalidity,
				   u->uid);
			return 1;
		}
		if (imap_fetch_batch(f, error_r) < 0)
			return -1;
		if (f->bodies->len == 0) /* all expunged meanwhile */
			return imap_next(f, msg, error_r);
	}
	b = &g_array_index(f->bodies, struct imap_body, f->bpos++);
	msg->data = b->data;
	msg->len = b->len;
	msg->size = b->len;
	msg->uid = b->uid;
	g_snprintf(f->key, sizeof(f->key), "%" G_GINT64_FORMAT ":%u",
		   f->uidvalidity, b->uid);
	return 1;
}

/* Learns the hierarchy delimiter (LIST "" "", RFC 3501 6.3.8). */
static int
imap_delimiter(struct fetch *f, char **error_r)
{
	clist *result = NULL;
	int r;

	if (f->delim_known)
		return 0;
	if ((r = mailimap_list(f->imap, "", "", &result)) != MAILIMAP_NO_ERROR)
		return imap_fail(f, "LIST \"\" \"\"", r, error_r);
	if (clist_begin(result) != NULL) {
		struct mailimap_mailbox_list *mb =
		    clist_content(clist_begin(result));

		f->delim = mb->mb_delimiter;
	}
	mailimap_list_result_free(result);
	f->delim_known = true;
	return 0;
}

/* The server's name of dest's folder ('/' in the configuration is the
   hierarchy separator), created if missing.  Returns it (owned by f) or
   NULL and *error_r. */
static const char *
imap_folder(struct fetch *f, enum fetch_dest dest, char **error_r)
{
	clist *result = NULL;
	char *name;
	bool exists;
	int r;

	if (f->folders[dest] != NULL)
		return f->folders[dest];
	if (imap_delimiter(f, error_r) < 0)
		return NULL;
	name = g_strdup(fetch_dest_folder(f->mbox, dest));
	if (f->delim != '\0' && f->delim != '/')
		g_strdelimit(name, "/", f->delim);
	if ((r = mailimap_list(f->imap, "", name, &result)) !=
	    MAILIMAP_NO_ERROR) {
		imap_fail(f, "LIST", r, error_r);
		g_free(name);
		return NULL;
	}
	exists = clist_begin(result) != NULL;
	mailimap_list_result_free(result);
	if (!exists &&
	    (r = mailimap_create(f->imap, name)) != MAILIMAP_NO_ERROR) {
		char *what = g_strdup_printf("CREATE %s", name);

		imap_fail(f, what, r, error_r);
		g_free(what);
		g_free(name);
		return NULL;
	}
	return f->folders[dest] = name;
}

/* UID STORE +FLAGS.SILENT (flags...). */
static int
imap_add_flags(struct fetch *f, struct mailimap_set *set, bool seen,
	       bool flagged, bool deleted, char **error_r)
{
	struct mailimap_flag_list *fl = mailimap_flag_list_new_empty();
	struct mailimap_store_att_flags *sa;
	int r;

	if (seen)
		mailimap_flag_list_add(fl, mailimap_flag_new_seen());
	if (flagged)
		mailimap_flag_list_add(fl, mailimap_flag_new_flagged());
	if (deleted)
		mailimap_flag_list_add(fl, mailimap_flag_new_deleted());
	sa = mailimap_store_att_flags_new_add_flags_silent(fl);
	r = mailimap_uid_store(f->imap, set, sa);
	mailimap_store_att_flags_free(sa);
	return r == MAILIMAP_NO_ERROR ? 0
				      : imap_fail(f, "UID STORE", r, error_r);
}

/* \Deleted, then UID EXPUNGE of just that set when the server can. */
static int
imap_expunge(struct fetch *f, struct mailimap_set *set, char **error_r)
{
	int r;

	if (imap_add_flags(f, set, false, false, true, error_r) < 0)
		return -1;
	if (!f->has_uidplus) /* a plain EXPUNGE could remove others' mail */
		return 0;
	r = mailimap_uid_expunge(f->imap, set);
	return r == MAILIMAP_NO_ERROR ? 0
				      : imap_fail(f, "UID EXPUNGE", r, error_r);
}

/* Moves set to folder: UID MOVE, else COPY + \Deleted + UID EXPUNGE. */
static int
imap_move(struct fetch *f, struct mailimap_set *set, const char *folder,
	  char **error_r)
{
	int r;

	if (f->has_move) {
		r = mailimap_uid_move(f->imap, set, folder);
		return r == MAILIMAP_NO_ERROR
			   ? 0
			   : imap_fail(f, "UID MOVE", r, error_r);
	}
	if ((r = mailimap_uid_copy(f->imap, set, folder)) != MAILIMAP_NO_ERROR)
		return imap_fail(f, "UID COPY", r, error_r);
	return imap_expunge(f, set, error_r);
}

static int
imap_ack(struct fetch *f, const struct raw_msg *msg, enum fetch_dest dest,
	 char **error_r)
{
	struct mailimap_set *set = mailimap_set_new_single((uint32_t)msg->uid);
	enum config_action action = f->mbox->action;
	const char *folder;
	int ret = -1;

	if (action == CONFIG_ACTION_FLAG)
		ret = imap_add_flags(f, set, true, dest == FETCH_UNPARSEABLE,
				     false, error_r);
	else if (action == CONFIG_ACTION_DELETE && dest == FETCH_PROCESSED)
		ret = imap_expunge(f, set, error_r);
	else if ((folder = imap_folder(f, dest, error_r)) != NULL)
		ret = imap_move(f, set, folder, error_r);
	mailimap_set_free(set);
	return ret;
}

static void
imap_close(struct fetch **fp)
{
	struct fetch *f;
	int i;

	if (fp == NULL || (f = *fp) == NULL)
		return;
	imap_batch_free(f);
	if (f->imap != NULL) {
		if (!f->broken && f->imap->imap_stream != NULL)
			mailimap_logout(f->imap);
		mailimap_free(f->imap);
	}
	for (i = 0; i < 3; i++)
		g_free(f->folders[i]);
	g_array_free(f->uids, TRUE);
	g_array_free(f->bodies, TRUE);
	g_free(f);
	*fp = NULL;
}

const struct fetch_ops fetch_imap_ops = {
    "imap", imap_open, imap_next, imap_ack, imap_close,
};

const char *
fetch_dest_folder(const struct bounced_mailbox *mbox, enum fetch_dest dest)
{
	switch (dest) {
	case FETCH_PROCESSED:
		return mbox->processed_folder;
	case FETCH_NOT_BOUNCE:
		return mbox->not_bounce_folder;
	default:
		return mbox->unparseable_folder;
	}
}

enum fetch_dest
fetch_dest_of_kind(const char *kind)
{
	if (strcmp(kind, "none") == 0)
		return FETCH_NOT_BOUNCE;
	if (strcmp(kind, "error") == 0)
		return FETCH_UNPARSEABLE;
	return FETCH_PROCESSED;
}
