/*
 * fetch_imap.c - the IMAP fetcher (libetpan), behind struct fetch_ops.
 *
 * open: connect (implicit TLS, STARTTLS, or plain only when the
 * configuration allows it), verify the certificate, LOGIN, SELECT the
 * folder, then list the UIDs and sizes above the cursor with
 * UID FETCH last+1:* (UID RFC822.SIZE).  Messages at or below the cursor
 * that are still in the folder (UID SEARCH; for action "flag": still
 * unseen) were recorded but their ack failed or was lost after the
 * COMMIT: the database confirms their keys and they are lent again as
 * already recorded, to be acked only.  A changed UIDVALIDITY voids the
 * cursor (RFC 3501 2.3.1.1): every message is listed again, and since
 * the keys ("UIDVALIDITY:UID") are all new, each fetched body is looked
 * up by its SHA-256 so that a message recorded under the old UIDVALIDITY
 * is only acked, never recorded twice.
 * next: lends messages in UID order, fetching bodies with BODY.PEEK[]
 * (\Seen untouched) in batches of batch_size; a message over max_size is
 * lent without a body and never fetched.
 * ack: after COMMIT, UID MOVE to the configured folder when the server
 * has MOVE (RFC 6851), else UID COPY + \Deleted + UID EXPUNGE (RFC 4315);
 * folders are created when missing.  Acks are queued per destination and
 * carried out for a whole set of UIDs at once, at the end of the cycle
 * (flush), or before a body batch once IMAP_ACK_MAX are queued: a server
 * such as Dovecot with Maildir pays a resync of the folder for every
 * command that changes it, and changes between fetches slow the fetches
 * down too.  Measured on 20,000 messages (tools/bench_daemon.sh, end
 * 2026): flushing every 5,000 or 2,500 queued acks took 0.1 to 0.4 s
 * longer than one move at the end (about 1.1 s); a second connection
 * moving sets of 1,000 or 5,000 while this one fetched made Dovecot
 * rescan the folder before each fetch and saved at most 0.15 s of 4, so
 * neither is done.  A message whose queued
 * ack is lost in a crash is still in the folder, below the cursor, and
 * is acked at the next poll.  action "flag" sets \Seen (and
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
#define IMAP_IDLE_TIMEOUT 15 /* seconds per I/O of an IDLE watch */
/* Queued acks flushed before the next fetch.  The server answers a move
   with one EXPUNGE per message, which libetpan keeps until the command
   ends: this bounds that memory (peak RSS 21 MiB at 20,000 messages, 22
   at 100,000; 28 with 50,000). */
#define IMAP_ACK_MAX      20000
#define IMAP_LIST_CHUNK   5000 /* UIDs per listing command (memory) */
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
	const char *kind; /* already recorded (found by SHA-256), or NULL */
};

/* A message at or below the cursor, recorded but not acked. */
struct imap_left {
	guint32 uid;
	const char *kind; /* static, from the database */
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
	GArray *left;   /* struct imap_left, lent first */
	guint lpos;
	guint32 sha_upto; /* bodies with UIDs up to this: look up by SHA */
	/* from fetch_params */
	int (*recorded)(void *, const char *const *, guint, GHashTable *,
			char **);
	int (*recorded_shas)(void *, const char *const *, guint, GHashTable *,
			     char **);
	void *recorded_arg;
	char key[48];
	bool delim_known;
	char delim;       /* hierarchy delimiter; 0: flat */
	char *folders[3]; /* server names per dest, once checked */
	bool has_move, has_uidplus;
	bool broken; /* connection lost: no LOGOUT */
	GArray *queued[3]; /* guint32 UIDs per enum fetch_dest, to ack */
	guint n_queued;
};

static int imap_delimiter(struct fetch *f, char **error_r);
static unsigned imap_flush(struct fetch *f, char **error_r);

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

/* Connects per tls and verifies the certificate; timeout: seconds per
   I/O. */
static int
imap_connect(struct fetch *f, time_t timeout, char **error_r)
{
	const struct bounced_mailbox *m = f->mbox;
	int r;

	f->imap = mailimap_new(0, NULL);
	mailimap_set_timeout(f->imap, timeout);
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

/* Appends UID and size of the messages of set (freed here) whose UID is
   above last_uid to f->uids. */
static int
imap_list_uids(struct fetch *f, struct mailimap_set *set, gint64 last_uid,
	       char **error_r)
{
	struct mailimap_fetch_type *ft;
	clist *result = NULL;
	clistiter *c;
	int r;

	if (f->imap->imap_selection_info->sel_exists == 0) {
		mailimap_set_free(set);
		return 0;
	}
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	mailimap_fetch_type_new_fetch_att_list_add(
	    ft, mailimap_fetch_att_new_uid());
	mailimap_fetch_type_new_fetch_att_list_add(
	    ft, mailimap_fetch_att_new_rfc822_size());
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
	return 0;
}

/* UID SEARCH for the UIDs up to last_uid still in the folder (for action
   "flag": still without \Seen); appends them to uids_r. */
static int
imap_search_below(struct fetch *f, gint64 last_uid, GArray *uids_r,
		  char **error_r)
{
	struct mailimap_search_key *key;
	clist *result = NULL;
	clistiter *c;
	int r;

	key = mailimap_search_key_new_uid(
	    mailimap_set_new_interval(1, (uint32_t)last_uid));
	if (f->mbox->action == CONFIG_ACTION_FLAG) {
		struct mailimap_search_key *all =
		    mailimap_search_key_new_multiple_empty();

		mailimap_search_key_multiple_add(all, key);
		mailimap_search_key_multiple_add(
		    all, mailimap_search_key_new(
			     MAILIMAP_SEARCH_KEY_UNSEEN, NULL, NULL, NULL, NULL,
			     NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
			     NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL,
			     0, NULL, NULL, NULL));
		key = all;
	}
	r = mailimap_uid_search(f->imap, NULL, key, &result);
	mailimap_search_key_free(key);
	if (r != MAILIMAP_NO_ERROR)
		return imap_fail(f, "UID SEARCH", r, error_r);
	for (c = clist_begin(result); c != NULL; c = clist_next(c)) {
		guint32 uid = *(guint32 *)clist_content(c);

		if (uid >= 1 && (gint64)uid <= last_uid)
			g_array_append_val(uids_r, uid);
	}
	mailimap_search_result_free(result);
	return 0;
}

/* Messages at or below the cursor still in the folder: the recorded ones
   go to f->left (acked only); any other (not expected: the cursor passes
   only recorded messages) is listed to be fetched, and looked up by its
   SHA-256 too. */
static int
imap_leftovers(struct fetch *f, gint64 last_uid, char **error_r)
{
	GArray *below = g_array_new(FALSE, FALSE, sizeof(guint32));
	GHashTable *rec =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	struct mailimap_set *fetch = NULL;
	char **keys = NULL;
	guint i;
	int ret = -1;

	if (f->imap->imap_selection_info->sel_exists == 0 ||
	    f->recorded == NULL)
		ret = 0;
	else if (imap_search_below(f, last_uid, below, error_r) == 0) {
		keys = g_new0(char *, below->len + 1);
		for (i = 0; i < below->len; i++)
			keys[i] = g_strdup_printf(
			    "%" G_GINT64_FORMAT ":%u", f->uidvalidity,
			    g_array_index(below, guint32, i));
		if (below->len == 0 ||
		    f->recorded(f->recorded_arg, (const char *const *)keys,
				below->len, rec, error_r) == 0)
			ret = 0;
	}
	for (i = 0; ret == 0 && i < below->len; i++) {
		struct imap_left l = {g_array_index(below, guint32, i),
				      g_hash_table_lookup(rec, keys[i])};

		if (l.kind != NULL)
			g_array_append_val(f->left, l);
		else {
			if (fetch == NULL)
				fetch = mailimap_set_new_empty();
			mailimap_set_add_single(fetch, l.uid);
			f->sha_upto = (guint32)last_uid;
		}
	}
	if (fetch != NULL)
		ret = imap_list_uids(f, fetch, 0, error_r);
	g_strfreev(keys);
	g_hash_table_destroy(rec);
	g_array_free(below, TRUE);
	return ret;
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

/* Lists the messages above last_uid: in UID ranges of IMAP_LIST_CHUNK
   up to the UIDNEXT of SELECT, so that libetpan never holds the parsed
   listing of a whole large folder at once (the peak memory would grow
   with the backlog); without UIDNEXT, last_uid+1:* in one command.  Mail
   arriving after SELECT is left for the next poll. */
static int
imap_list_new(struct fetch *f, gint64 last_uid, char **error_r)
{
	guint64 next = f->imap->imap_selection_info->sel_uidnext;
	guint64 lo;

	if (next == 0)
		return imap_list_uids(
		    f, mailimap_set_new_interval((uint32_t)last_uid + 1, 0),
		    last_uid, error_r);
	for (lo = (guint64)last_uid + 1; lo < next; lo += IMAP_LIST_CHUNK) {
		guint64 hi = MIN(lo + IMAP_LIST_CHUNK - 1, next - 1);

		if (imap_list_uids(f,
				   mailimap_set_new_interval((uint32_t)lo,
							     (uint32_t)hi),
				   last_uid, error_r) < 0)
			return -1;
	}
	return 0;
}

/* A new fetcher for p (not connected). */
static struct fetch *
imap_new(const struct fetch_params *p)
{
	struct fetch *f = g_new0(struct fetch, 1);

	f->mbox = p->mbox;
	f->max_size = p->max_size;
	f->uids = g_array_new(FALSE, FALSE, sizeof(struct imap_uid));
	f->bodies = g_array_new(FALSE, FALSE, sizeof(struct imap_body));
	f->left = g_array_new(FALSE, FALSE, sizeof(struct imap_left));
	f->recorded = p->recorded;
	f->recorded_shas = p->recorded_shas;
	f->recorded_arg = p->recorded_arg;
	return f;
}

static int
imap_open(const struct fetch_params *p, struct fetch **f_r, char **error_r)
{
	struct fetch *f = *f_r = imap_new(p);
	gint64 last_uid = p->last_uid;

	if (imap_connect(f, IMAP_TIMEOUT, error_r) < 0 ||
	    imap_login(f, p->password, error_r) < 0 ||
	    imap_select(f, error_r) < 0)
		return -1;
	f->uidvalidity = f->imap->imap_selection_info->sel_uidvalidity;
	if (p->uidvalidity != f->uidvalidity) {
		/* new or changed UIDVALIDITY: cursor void; if it changed,
		   recorded messages can only be told by their bytes */
		if (p->uidvalidity != 0)
			f->sha_upto = G_MAXUINT32;
		last_uid = 0;
	} else if (last_uid > 0 && imap_leftovers(f, last_uid, error_r) < 0)
		return -1;
	if (imap_list_new(f, last_uid, error_r) < 0)
		return -1;
	g_array_sort(f->uids, imap_uid_cmp);
	return 0;
}

/* Looks up the bodies with UIDs up to f->sha_upto by their SHA-256 and
   sets the kind of those already recorded. */
static int
imap_check_shas(struct fetch *f, char **error_r)
{
	GHashTable *rec =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GPtrArray *shas = g_ptr_array_new_with_free_func(g_free);
	guint i, n = 0;
	int ret = 0;

	for (i = 0; i < f->bodies->len; i++) {
		struct imap_body *b =
		    &g_array_index(f->bodies, struct imap_body, i);

		g_ptr_array_add(shas, b->uid <= f->sha_upto
					  ? g_compute_checksum_for_data(
						G_CHECKSUM_SHA256,
						(const guchar *)b->data, b->len)
					  : NULL);
		n += b->uid <= f->sha_upto;
	}
	if (n > 0 && f->recorded_shas != NULL) {
		GPtrArray *ask = g_ptr_array_new();

		for (i = 0; i < shas->len; i++)
			if (shas->pdata[i] != NULL)
				g_ptr_array_add(ask, shas->pdata[i]);
		ret = f->recorded_shas(f->recorded_arg,
				       (const char *const *)ask->pdata,
				       ask->len, rec, error_r);
		g_ptr_array_free(ask, TRUE);
	}
	for (i = 0; ret == 0 && i < f->bodies->len; i++)
		if (g_ptr_array_index(shas, i) != NULL)
			g_array_index(f->bodies, struct imap_body, i).kind =
			    g_hash_table_lookup(rec,
						g_ptr_array_index(shas, i));
	g_ptr_array_free(shas, TRUE);
	g_hash_table_destroy(rec);
	return ret;
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
	return f->sha_upto > 0 ? imap_check_shas(f, error_r) : 0;
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
	if (f->lpos < f->left->len) { /* recorded before: ack only */
		const struct imap_left *l =
		    &g_array_index(f->left, struct imap_left, f->lpos++);

		msg->uid = l->uid;
		msg->recorded_kind = l->kind;
		g_snprintf(f->key, sizeof(f->key), "%" G_GINT64_FORMAT ":%u",
			   f->uidvalidity, l->uid);
		return 1;
	}
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
		if (f->n_queued >= IMAP_ACK_MAX &&
		    imap_flush(f, error_r) > 0)
			return -1;
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
	msg->recorded_kind = b->kind;
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

/* True if acking dest moves the message (action move, or delete of
   anything that is not a recognised bounce). */
static bool
imap_ack_moves(const struct fetch *f, enum fetch_dest dest)
{
	return f->mbox->action == CONFIG_ACTION_MOVE ||
	       (f->mbox->action == CONFIG_ACTION_DELETE &&
		dest != FETCH_PROCESSED);
}

/* Queues msg; the folder is checked (created) now, so that a folder that
   cannot be made fails this ack, not a later flush. */
static int
imap_ack(struct fetch *f, const struct raw_msg *msg, enum fetch_dest dest,
	 char **error_r)
{
	guint32 uid = (guint32)msg->uid;

	if (imap_ack_moves(f, dest) && imap_folder(f, dest, error_r) == NULL)
		return -1;
	if (f->queued[dest] == NULL)
		f->queued[dest] = g_array_new(FALSE, FALSE, sizeof(guint32));
	g_array_append_val(f->queued[dest], uid);
	f->n_queued++;
	return 0;
}

/* The UIDs (ascending) as a set of ranges. */
static struct mailimap_set *
imap_set_of(GArray *uids)
{
	struct mailimap_set *set = mailimap_set_new_empty();
	guint i, j;

	g_array_sort(uids, imap_uid_cmp);
	for (i = 0; i < uids->len; i = j) {
		guint32 first = g_array_index(uids, guint32, i);

		for (j = i + 1; j < uids->len &&
				g_array_index(uids, guint32, j) ==
				    first + (j - i);
		     j++)
			;
		mailimap_set_add_interval(set, first,
					  g_array_index(uids, guint32, j - 1));
	}
	return set;
}

/* Carries out the acks queued for dest in one command. */
static int
imap_ack_set(struct fetch *f, enum fetch_dest dest, char **error_r)
{
	struct mailimap_set *set = imap_set_of(f->queued[dest]);
	int ret;

	if (f->mbox->action == CONFIG_ACTION_FLAG)
		ret = imap_add_flags(f, set, true, dest == FETCH_UNPARSEABLE,
				     false, error_r);
	else if (!imap_ack_moves(f, dest))
		ret = imap_expunge(f, set, error_r);
	else
		ret = imap_move(f, set, f->folders[dest], error_r);
	mailimap_set_free(set);
	return ret;
}

static unsigned
imap_flush(struct fetch *f, char **error_r)
{
	unsigned failed = 0;
	char *error = NULL;
	int dest;

	for (dest = 0; dest < 3; dest++) {
		GArray *q = f->queued[dest];

		if (q == NULL || q->len == 0)
			continue;
		if (f->broken || imap_ack_set(f, dest, &error) < 0) {
			if (*error_r == NULL && error == NULL)
				error = g_strdup("connection lost");
			if (*error_r == NULL)
				*error_r = g_strdup_printf(
				    "%u recorded message%s not moved (they "
				    "will be at the next poll): %s",
				    q->len, q->len == 1 ? "" : "s", error);
			failed += q->len;
			g_clear_pointer(&error, g_free);
		}
		g_array_set_size(q, 0);
	}
	f->n_queued = 0;
	return failed;
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
	g_array_free(f->left, TRUE);
	for (i = 0; i < 3; i++)
		if (f->queued[i] != NULL)
			g_array_free(f->queued[i], TRUE);
	g_free(f);
	*fp = NULL;
}

const struct fetch_ops fetch_imap_ops = {
    "imap", imap_open, imap_next, imap_ack, imap_flush, imap_close, true,
};

/* --- IDLE watch (fetch.h) ----------------------------------------------- */

struct fetch_idle {
	struct fetch *f;
	gint64 since; /* monotonic seconds */
	bool idling;
};

/* Sends IDLE and waits for the server's continuation. */
static int
imap_idle_enter(struct fetch_idle *w, char **error_r)
{
	int r = mailimap_idle(w->f->imap);

	if (r != MAILIMAP_NO_ERROR)
		return imap_fail(w->f, "IDLE", r, error_r);
	w->idling = true;
	w->since = g_get_monotonic_time() / G_USEC_PER_SEC;
	return 0;
}

int
fetch_idle_open(const struct fetch_params *p, struct fetch_idle **w_r,
		char **error_r)
{
	struct fetch_idle *w = g_new0(struct fetch_idle, 1);

	*w_r = NULL;
	w->f = imap_new(p);
	if (imap_connect(w->f, IMAP_IDLE_TIMEOUT, error_r) < 0 ||
	    imap_login(w->f, p->password, error_r) < 0 ||
	    imap_select(w->f, error_r) < 0) {
		fetch_idle_close(&w);
		return -1;
	}
	if (!mailimap_has_idle(w->f->imap)) {
		fetch_idle_close(&w);
		return 0;
	}
	if (imap_idle_enter(w, error_r) < 0) {
		fetch_idle_close(&w);
		return -1;
	}
	*w_r = w;
	return 1;
}

int
fetch_idle_fd(const struct fetch_idle *w)
{
	return mailimap_idle_get_fd(w->f->imap);
}

bool
fetch_idle_pending(const struct fetch_idle *w)
{
	return w->f->imap->imap_stream != NULL &&
	       w->f->imap->imap_stream->read_buffer_len > 0;
}

gint64
fetch_idle_since(const struct fetch_idle *w)
{
	return w->since;
}

int
fetch_idle_check(struct fetch_idle *w, char **error_r)
{
	int r, exists;

	w->idling = false;
	if ((r = mailimap_idle_done(w->f->imap)) != MAILIMAP_NO_ERROR) {
		w->f->broken = true;
		return imap_fail(w->f, "IDLE (DONE)", r, error_r);
	}
	/* set by libetpan when an EXISTS came since mailimap_idle() */
	exists = w->f->imap->imap_selection_info->sel_has_exists;
	if (imap_idle_enter(w, error_r) < 0) {
		w->f->broken = true;
		return -1;
	}
	return exists ? 1 : 0;
}

void
fetch_idle_close(struct fetch_idle **wp)
{
	struct fetch_idle *w;

	if (wp == NULL || (w = *wp) == NULL)
		return;
	/* LOGOUT is only valid once the IDLE is over */
	if (w->idling && !w->f->broken &&
	    mailimap_idle_done(w->f->imap) != MAILIMAP_NO_ERROR)
		w->f->broken = true;
	imap_close(&w->f);
	g_free(w);
	*wp = NULL;
}

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
