/*
 * fetch_maildir.c - the Maildir fetcher, for mail delivered on this host.
 *
 * open lists the files of new/ and cur/ (names starting with '.' are
 * skipped), in name order.  The key of a message is its base file name
 * without the ":2,FLAGS" info, which stays the same when a reader moves
 * it from new/ to cur/ or changes its flags.  ack (of any message lent,
 * found by its place in the listing: the poller records several in one
 * transaction before it acks them) renames it into the Maildir++
 * sub-folder of its destination ("bounced/processed" is
 * PATH/.bounced.processed/cur/, the folder an IMAP server such as Dovecot
 * shows under that name), keeping its flags; action "flag" marks it seen
 * (S, plus F for unparseable mail) in cur/, and such files are skipped by
 * later polls; "delete" unlinks recognised bounces and moves the rest, as
 * the IMAP fetcher does.  Nothing here follows a name from a message.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounced/fetch.h"

struct fetch {
	const struct bounced_mailbox *mbox;
	size_t max_size;
	GPtrArray *files; /* "new/NAME" or "cur/NAME", sorted */
	guint pos;
	char *path; /* of the message lent last */
	char *data;
	char *key;
	char *folders[3]; /* per enum fetch_dest, once made */
};

/* The path of the message lent as msg; g_free. */
static char *
maildir_path_of(const struct fetch *f, const struct raw_msg *msg)
{
	return g_build_filename(f->mbox->path,
				g_ptr_array_index(f->files, msg->ref), NULL);
}

/* The info part of a file name ("2,FS"), or "" when it has none. */
static const char *
maildir_info(const char *name)
{
	const char *colon = strchr(name, ':');

	return colon != NULL ? colon + 1 : "";
}

/* Appends the files of PATH/sub to f->files. */
static int
maildir_scan(struct fetch *f, const char *sub, char **error_r)
{
	char *dir = g_build_filename(f->mbox->path, sub, NULL);
	GError *gerr = NULL;
	GDir *d = g_dir_open(dir, 0, &gerr);
	const char *name;

	if (d == NULL) {
		*error_r = g_strdup_printf("maildir %s: %s (is path a "
					   "Maildir with new/ and cur/?)",
					   f->mbox->path, gerr->message);
		g_error_free(gerr);
		g_free(dir);
		return -1;
	}
	while ((name = g_dir_read_name(d)) != NULL) {
		if (name[0] == '.')
			continue;
		/* action flag: S in cur/ means already handled */
		if (f->mbox->action == CONFIG_ACTION_FLAG &&
		    strcmp(sub, "cur") == 0 &&
		    g_str_has_prefix(maildir_info(name), "2,") &&
		    strchr(maildir_info(name) + 2, 'S') != NULL)
			continue;
		g_ptr_array_add(f->files, g_build_filename(sub, name, NULL));
	}
	g_dir_close(d);
	g_free(dir);
	return 0;
}

static gint
maildir_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
maildir_open(const struct fetch_params *p, struct fetch **f_r, char **error_r)
{
	struct fetch *f = g_new0(struct fetch, 1);

	f->mbox = p->mbox;
	f->max_size = p->max_size;
	f->files = g_ptr_array_new_with_free_func(g_free);
	*f_r = f;
	if (maildir_scan(f, "new", error_r) < 0 ||
	    maildir_scan(f, "cur", error_r) < 0)
		return -1;
	g_ptr_array_sort(f->files, maildir_cmp);
	return 0;
}

/* Reads the file at f->path into msg, or marks it too large.  Returns 1,
   0 if it vanished (another reader took it), -1. */
static int
maildir_read(struct fetch *f, struct raw_msg *msg, char **error_r)
{
	GError *gerr = NULL;
	struct stat st;
	gsize len;

	if (stat(f->path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		*error_r = g_strdup_printf("maildir %s: %s", f->path,
					   g_strerror(errno));
		return -1;
	}
	msg->size = (size_t)st.st_size;
	if ((size_t)st.st_size > f->max_size) {
		msg->too_large = true;
		return 1;
	}
	if (!g_file_get_contents(f->path, &f->data, &len, &gerr)) {
		int vanished =
		    g_error_matches(gerr, G_FILE_ERROR, G_FILE_ERROR_NOENT);

		if (!vanished)
			*error_r =
			    g_strdup_printf("maildir: %s", gerr->message);
		g_error_free(gerr);
		return vanished ? 0 : -1;
	}
	msg->data = f->data;
	msg->len = len;
	return 1;
}

static int
maildir_next(struct fetch *f, struct raw_msg *msg, char **error_r)
{
	const char *rel, *base;
	int r;

	for (;;) {
		memset(msg, 0, sizeof(*msg));
		g_clear_pointer(&f->data, g_free);
		g_clear_pointer(&f->path, g_free);
		g_clear_pointer(&f->key, g_free);
		if (f->pos >= f->files->len)
			return 0;
		rel = g_ptr_array_index(f->files, f->pos++);
		base = rel + 4; /* after "new/" or "cur/" */
		f->path = g_build_filename(f->mbox->path, rel, NULL);
		f->key = g_strndup(base, strcspn(base, ":"));
		msg->key = f->key;
		msg->ref = f->pos - 1;
		if ((r = maildir_read(f, msg, error_r)) != 0)
			return r;
	}
}

/* PATH/.a.b for folder "a/b" (Maildir++), with tmp/ new/ cur/ made the
   first time it is asked for in this poll.  Returns it (owned by f) or
   NULL and *error_r (asked again, it tries again). */
static const char *
maildir_folder(struct fetch *f, enum fetch_dest dest, char **error_r)
{
	const char *folder = fetch_dest_folder(f->mbox, dest);
	static const char *const subs[] = {"tmp", "new", "cur"};
	char *dot, *dir, *sub;
	int i, fd;

	if (f->folders[dest] != NULL)
		return f->folders[dest];
	if (*folder == '\0' || *folder == '.' || *folder == '/' ||
	    strstr(folder, "..") != NULL || strstr(folder, "/.") != NULL) {
		*error_r = g_strdup_printf("maildir: folder \"%s\" is not a "
					   "valid Maildir++ folder name",
					   folder);
		return NULL;
	}
	dot = g_strconcat(".", folder, NULL);
	g_strdelimit(dot, "/", '.');
	dir = g_build_filename(f->mbox->path, dot, NULL);
	g_free(dot);
	for (i = 0; i < 3; i++) {
		sub = g_build_filename(dir, subs[i], NULL);
		if (g_mkdir_with_parents(sub, 0700) < 0) {
			*error_r = g_strdup_printf("maildir: cannot create "
						   "%s: %s",
						   sub, g_strerror(errno));
			g_free(sub);
			g_free(dir);
			return NULL;
		}
		g_free(sub);
	}
	sub = g_build_filename(dir, "maildirfolder", NULL);
	if ((fd = open(sub, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >= 0)
		close(fd);
	g_free(sub);
	return f->folders[dest] = dir;
}

/* The name in cur/ with flags added to the info (kept sorted). */
static char *
maildir_flagged(const char *base, const char *key, const char *add)
{
	const char *info = maildir_info(base);
	GString *flags = g_string_new(NULL);
	char *name;

	if (g_str_has_prefix(info, "2,"))
		g_string_append(flags, info + 2);
	for (; *add != '\0'; add++)
		if (strchr(flags->str, *add) == NULL) {
			gsize i = 0;

			while (i < flags->len && flags->str[i] < *add)
				i++;
			g_string_insert_c(flags, (gssize)i, *add);
		}
	name = g_strdup_printf("%s:2,%s", key, flags->str);
	g_string_free(flags, TRUE);
	return name;
}

static int
maildir_ack(struct fetch *f, const struct raw_msg *msg, enum fetch_dest dest,
	    char **error_r)
{
	char *path = maildir_path_of(f, msg), *name, *to;
	const char *base = strrchr(path, '/') + 1, *dir;
	int ret;

	if (f->mbox->action == CONFIG_ACTION_DELETE &&
	    dest == FETCH_PROCESSED) {
		ret = unlink(path) == 0 || errno == ENOENT ? 0 : -1;
		if (ret < 0)
			*error_r = g_strdup_printf("maildir: cannot delete "
						   "%s: %s",
						   path, g_strerror(errno));
		g_free(path);
		return ret;
	}
	if (f->mbox->action == CONFIG_ACTION_FLAG) {
		dir = f->mbox->path;
		name = maildir_flagged(base, msg->key,
				       dest == FETCH_UNPARSEABLE ? "FS" : "S");
	} else if ((dir = maildir_folder(f, dest, error_r)) == NULL) {
		g_free(path);
		return -1;
	} else
		name = *maildir_info(base) != '\0'
			   ? g_strdup(base)
			   : g_strconcat(base, ":2,", NULL);
	to = g_build_filename(dir, "cur", name, NULL);
	ret = rename(path, to);
	if (ret < 0)
		*error_r = g_strdup_printf("maildir: cannot move %s to %s: %s",
					   path, to, g_strerror(errno));
	g_free(to);
	g_free(name);
	g_free(path);
	return ret < 0 ? -1 : 0;
}

static void
maildir_close(struct fetch **fp)
{
	struct fetch *f;
	int i;

	if (fp == NULL || (f = *fp) == NULL)
		return;
	g_ptr_array_free(f->files, TRUE);
	g_free(f->path);
	g_free(f->data);
	g_free(f->key);
	for (i = 0; i < 3; i++)
		g_free(f->folders[i]);
	g_free(f);
	*fp = NULL;
}

const struct fetch_ops fetch_maildir_ops = {
    "maildir", maildir_open, maildir_next, maildir_ack, NULL, maildir_close,
    true,
};
