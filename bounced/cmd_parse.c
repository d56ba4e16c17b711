/*
 * cmd_parse.c - `bouncectl parse [options] FILE... | -`.
 *
 * Prints one JSON object per recipient (json_out.c), in command-line
 * order, also when many files are parsed by worker processes.  Exit status: 0
 * when every file was read, 1 if any could not be read (named on stderr), 2 on
 * bad usage.  A file that is read but cannot be parsed is not an exit
 * failure: it prints a kind "error" object, as the daemon records it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bounced/cmd_parse.h"
#include "bounced/commands.h"
#include "bounced/json_out.h"
#include "parsers/bounce.h"

static const char parse_usage[] =
    "usage: bouncectl parse [--order-header NAME] [--type-header NAME]\n"
    "                       [--max-size BYTES] [--jobs N] FILE... | -\n"
    "\n"
    "Parses each message (one message per file; - reads standard input)\n"
    "and prints one JSON object per recipient, one per line.\n"
    "\n"
    "  --order-header NAME  header of the returned original that holds the\n"
    "                       order number (default X-Order-Number)\n"
    "  --type-header NAME   header that holds the mail type\n"
    "                       (default X-Mail-Type)\n"
    "  --max-size BYTES     larger messages are reported as errors\n"
    "                       (default 67108864, 64 MiB)\n"
    "  -j, --jobs N         parse with N processes when given many files\n"
    "                       (default: one per CPU); output order and exit\n"
    "                       status are the same as with one\n"
    "\n"
    "Exit status: 0 all files read, 1 a file could not be read, 2 bad usage.\n";

/* Reads fd to its end, keeping at most max + 1 bytes in buf (appended
   in place, no bounce buffer); returns the total size in *total_r, or -1
   with errno.  hint is the size fstat() gave a regular file (0: unknown);
   once that much is read the file counts as read, which saves the read()
   that would only return end-of-file (a file that grows meanwhile is
   read as it was at fstat(), as if it had been read a moment earlier). */
static int
read_fd(int fd, size_t max, GString *buf, size_t *total_r, size_t hint)
{
	char skip[4096];
	ssize_t n;

	*total_r = 0;
	for (;;) {
		size_t room, have = buf->len;

		if (have <= max) {
			room = MAX(hint + 1, 65536);
			g_string_set_size(buf, have + room);
			n = read(fd, buf->str + have,
				 MIN(room, max + 1 - have));
			g_string_set_size(buf, have + MAX(n, 0));
		} else {
			n = read(fd, skip, sizeof(skip));
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		*total_r += (size_t)n;
		if (hint > 0 && *total_r == hint)
			return 0;
	}
}

/* The common case in one read: a seekable file (regular, in practice)
   of fewer than MIN(buf's allocation, max) bytes is read whole into buf
   by one pread() at offset 0, since a short read of such a file ends
   it.  Returns 1 when that read all of fd; 0 when the file is not
   seekable (a pipe: ESPIPE) or may be longer, with buf empty and fd
   unread, for the general path; -1 with errno on a read error (a
   directory gives EISDIR, as the general path says). */
static int
read_small_file(int fd, size_t max, GString *buf)
{
	size_t cap = MIN(buf->allocated_len - 1, max);
	ssize_t n;

	g_string_set_size(buf, cap);
	while ((n = pread(fd, buf->str, cap, 0)) < 0 && errno == EINTR)
		;
	g_string_set_size(buf, n > 0 && (size_t)n < cap ? (size_t)n : 0);
	if (n < 0)
		return errno == ESPIPE ? 0 : -1;
	return (size_t)n < cap;
}

/* As cmd_read_input(), into buf (emptied first, reused by the caller).
   A named file is first tried with read_small_file(), which saves the
   fstat() of the general path; "-" is read from its current offset. */
static int
read_input_into(const char *path, size_t max, GString *buf, size_t *size_r)
{
	struct stat st;
	int fd = 0, saved, r;

	g_string_truncate(buf, 0);
	*size_r = 0;
	if (strcmp(path, "-") != 0) {
		if ((fd = open(path, O_RDONLY)) < 0)
			return -1;
		if ((r = read_small_file(fd, max, buf)) < 0)
			goto fail;
		if (r == 1) {
			*size_r = buf->len;
			close(fd);
			return 0;
		}
	}
	if (fstat(fd, &st) < 0)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	if (S_ISREG(st.st_mode) && (size_t)st.st_size > max)
		*size_r = (size_t)st.st_size; /* never read a huge file */
	else if (read_fd(fd, max, buf, size_r,
			 S_ISREG(st.st_mode) ? (size_t)st.st_size : 0) < 0)
		goto fail;
	if (fd != 0)
		close(fd);
	return 0;
fail:
	saved = errno;
	if (fd > 0)
		close(fd);
	errno = saved;
	return -1;
}

int
cmd_read_input(const char *path, size_t max, char **data_r, size_t *len_r,
	       size_t *size_r)
{
	GString *buf = g_string_new(NULL);

	if (read_input_into(path, max, buf, size_r) < 0) {
		g_string_free(buf, TRUE);
		return -1;
	}
	*len_r = buf->len;
	*data_r = g_string_free(buf, FALSE);
	return 0;
}

/* Parses one file and prints its lines to out; a read error goes to err.
   buf is a scratch buffer reused across files.  Returns 0, or -1 if the
   file could not be read. */
static int
parse_one(const char *path, const struct bounce_options *opts, GString *buf,
	  FILE *out, FILE *err)
{
	struct bounce_report *report;
	size_t size;

	if (read_input_into(path, opts->max_size, buf, &size) < 0) {
		fprintf(err, "bouncectl parse: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	if (size > opts->max_size)
		report = bounce_too_large(size, opts->max_size);
	else
		report = bounce_parse(buf->str, buf->len, opts);
	json_out_report(out, path, report);
	report_free(&report);
	return 0;
}

/* Parses files in order; returns 1 if one could not be read, else 0. */
static int
parse_files(char **files, int n, const struct bounce_options *opts, FILE *out,
	    FILE *err)
{
	GString *buf = g_string_sized_new(65536);
	int i, failed = 0;

	for (i = 0; i < n; i++)
		if (parse_one(files[i], opts, buf, out, err) < 0)
			failed = 1;
	g_string_free(buf, TRUE);
	return failed;
}

/* --- parallel parsing -----------------------------------------------------

   GMime is single-threaded, so many files are parsed by forked workers.
   Workers take batches of PARSE_BATCH files from a shared counter (a slow
   or busy core never holds the others up) and write each batch's output
   to their own unlinked temporary files, noting where it is in a shared
   slot; the parent then copies the batches out in command-line order, so
   the output is the same as from one process. */

#define PARSE_BATCH       32
#define PARSE_MAX_WORKERS 16
#define PARSE_SLOTS_AT    64

struct batch_slot {
	int done;
	int failed;
	int worker;
	long out_off, out_len;
	long err_off, err_len;
};

struct pool {
	char **files;
	int nfiles, nbatches, nworkers;
	const struct bounce_options *opts;
	int *next;                /* shared: the next batch to take */
	struct batch_slot *slots; /* shared: one per batch */
	size_t map_len;
	FILE *out[PARSE_MAX_WORKERS], *err[PARSE_MAX_WORKERS];
};

/* The worker loop; never returns. */
static void
pool_work(struct pool *p, int w)
{
	GString *buf = g_string_sized_new(65536);
	int b;

	while ((b = __atomic_fetch_add(p->next, 1, __ATOMIC_RELAXED)) <
	       p->nbatches) {
		struct batch_slot *slot = &p->slots[b];
		int first = b * PARSE_BATCH;
		int n = MIN(PARSE_BATCH, p->nfiles - first), i;

		slot->worker = w;
		slot->out_off = ftell(p->out[w]);
		slot->err_off = ftell(p->err[w]);
		for (i = 0; i < n; i++)
			if (parse_one(p->files[first + i], p->opts, buf,
				      p->out[w], p->err[w]) < 0)
				slot->failed = 1;
		/* on disk before it counts as done: a batch of a worker that
		   dies is parsed again by the parent */
		if (fflush(p->out[w]) != 0 || fflush(p->err[w]) != 0)
			_exit(3);
		slot->out_len = ftell(p->out[w]) - slot->out_off;
		slot->err_len = ftell(p->err[w]) - slot->err_off;
		__atomic_store_n(&slot->done, 1, __ATOMIC_RELEASE);
	}
	g_string_free(buf, TRUE);
	_exit(0);
}

/* Copies len bytes at off of fp's file to to (flushed first): in the
   kernel with sendfile() where it can (one call for a batch, no copies
   through user space), else through a buffer. */
static void
copy_range(FILE *fp, long off, long len, FILE *to)
{
	char chunk[65536];
	off_t at = off;
	ssize_t n;

	fflush(to);
	while (len > 0 && (n = sendfile(fileno(to), fileno(fp), &at,
					(size_t)len)) > 0)
		len -= n;
	off = (long)at;
	while (len > 0 && (n = pread(fileno(fp), chunk,
				     MIN((long)sizeof(chunk), len), off)) > 0) {
		fwrite(chunk, 1, (size_t)n, to);
		off += n;
		len -= n;
	}
}

/* Emits every batch in order; a batch a dead worker left undone is
   parsed here.  Returns 1 if any file could not be read. */
static int
pool_collect(struct pool *p)
{
	int b, failed = 0;

	for (b = 0; b < p->nbatches; b++) {
		struct batch_slot *slot = &p->slots[b];
		int first = b * PARSE_BATCH;

		if (!__atomic_load_n(&slot->done, __ATOMIC_ACQUIRE)) {
			failed |=
			    parse_files(p->files + first,
					MIN(PARSE_BATCH, p->nfiles - first),
					p->opts, stdout, stderr);
			continue;
		}
		copy_range(p->out[slot->worker], slot->out_off, slot->out_len,
			   stdout);
		fflush(stdout);
		copy_range(p->err[slot->worker], slot->err_off, slot->err_len,
			   stderr);
		failed |= slot->failed;
	}
	return failed;
}

/* Starts the workers; returns how many run (0: parse in this process). */
static int
pool_start(struct pool *p, pid_t *pids)
{
	int w;

	for (w = 0; w < p->nworkers; w++) {
		if ((p->out[w] = tmpfile()) == NULL ||
		    (p->err[w] = tmpfile()) == NULL)
			break;
		fflush(stdout);
		fflush(stderr);
		if ((pids[w] = fork()) < 0)
			break;
		if (pids[w] == 0)
			pool_work(p, w);
	}
	return w;
}

static int
parse_files_parallel(char **files, int n, const struct bounce_options *opts,
		     int nworkers)
{
	struct pool p = {files,    n,    (n + PARSE_BATCH - 1) / PARSE_BATCH,
			 nworkers, opts, NULL,
			 NULL,     0,    {NULL},
			 {NULL}};
	pid_t pids[PARSE_MAX_WORKERS];
	int w, started, failed, status;
	void *map;

	/* the counter, then the slots at an offset that keeps them aligned */
	p.map_len = PARSE_SLOTS_AT + sizeof(struct batch_slot) * p.nbatches;
	map = mmap(NULL, p.map_len, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return parse_files(files, n, opts, stdout, stderr);
	p.next = map;
	p.slots = (struct batch_slot *)((char *)map + PARSE_SLOTS_AT);
	/* the parser options and their preloaded converters, once for all
	   workers rather than once in each */
	(void)bounce_parser_options();
	started = pool_start(&p, pids);
	for (w = 0; w < started; w++)
		while (waitpid(pids[w], &status, 0) < 0 && errno == EINTR)
			;
	failed = pool_collect(&p);
	for (w = 0; w < PARSE_MAX_WORKERS; w++) {
		if (p.out[w] != NULL)
			fclose(p.out[w]);
		if (p.err[w] != NULL)
			fclose(p.err[w]);
	}
	munmap(map, p.map_len);
	return failed;
}

static bool
parse_size(const char *s, size_t *size_r)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v == 0 || *s == '-')
		return false;
	*size_r = (size_t)v;
	return true;
}

static bool
parse_jobs(const char *s, int *jobs_r)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 ||
	    v > PARSE_MAX_WORKERS)
		return false;
	*jobs_r = (int)v;
	return true;
}

/* True if "-" (standard input) is among files: it is read in order by
   this process, so no workers then. */
static bool
has_stdin(char **files, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(files[i], "-") == 0)
			return true;
	return false;
}

int
cmd_parse(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"order-header", required_argument, NULL, 'o'},
	    {"type-header", required_argument, NULL, 't'},
	    {"max-size", required_argument, NULL, 'm'},
	    {"jobs", required_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	struct bounce_options opts = {BOUNCE_DEFAULT_MAX_SIZE, NULL, NULL};
	int c, nfiles, failed, jobs = 0;

	while ((c = getopt_long(argc, argv, "hj:", longopts, NULL)) != -1) {
		switch (c) {
		case 'o':
			opts.order_header = optarg;
			break;
		case 't':
			opts.type_header = optarg;
			break;
		case 'm':
			if (!parse_size(optarg, &opts.max_size)) {
				fprintf(stderr,
					"bouncectl parse: --max-size "
					"wants a positive number of bytes, got "
					"'%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'j':
			if (!parse_jobs(optarg, &jobs)) {
				fprintf(stderr,
					"bouncectl parse: --jobs wants a "
					"number from 1 to %d, got '%s'\n",
					PARSE_MAX_WORKERS, optarg);
				return 2;
			}
			break;
		case 'h':
			fputs(parse_usage, stdout);
			return 0;
		default:
			fputs(parse_usage, stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fputs(parse_usage, stderr);
		return 2;
	}
	nfiles = argc - optind;
	if (jobs == 0)
		jobs = (int)MIN(MAX(sysconf(_SC_NPROCESSORS_ONLN), 1),
				PARSE_MAX_WORKERS);
	if (jobs > 1 && nfiles > PARSE_BATCH &&
	    !has_stdin(argv + optind, nfiles))
		failed = parse_files_parallel(
		    argv + optind, nfiles, &opts,
		    MIN(jobs, (nfiles + PARSE_BATCH - 1) / PARSE_BATCH));
	else
		failed =
		    parse_files(argv + optind, nfiles, &opts, stdout, stderr);
	json_out_shutdown();
	return failed;
}
