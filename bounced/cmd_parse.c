/*
 * cmd_parse.c - `bouncectl parse [options] FILE... | -`.
 *
 * Prints one JSON object per recipient (json_out.c), in command-line
 * order, also when many files are parsed by worker processes.  Exit status: 0
 * when every file was read, 1 if any could not be read (named on stderr) or
 * the output could not be written, 2 on bad usage.  A file that is read but
 * cannot be parsed is not an exit failure: it prints a kind "error" object, as
 * the daemon records it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
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
    "Exit status: 0 all files read, 1 a file could not be read or the output\n"
    "could not be written, 2 bad usage.\n";

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

/* Descriptors of files already read, closed together: a system call
   costs more than closing a file on a virtual machine, and close_range()
   closes a run of consecutive descriptors in one.  Descriptors are handed
   out lowest-free first, so a group is nearly always one or two runs. */
#define CLOSE_GROUP 32

struct close_group {
	int fds[CLOSE_GROUP];
	int n;
};

/* Closes every descriptor of g, a run at a time, and empties it. */
static void
close_group_flush(struct close_group *g)
{
	int i, j, run;

	/* insertion sort: the numbers come nearly in order */
	for (i = 1; i < g->n; i++) {
		int fd = g->fds[i];

		for (j = i; j > 0 && g->fds[j - 1] > fd; j--)
			g->fds[j] = g->fds[j - 1];
		g->fds[j] = fd;
	}
	for (i = 0; i < g->n; i += run) {
		/* open descriptors are distinct, so a run is every number
		   from its first to its last */
		for (run = 1;
		     i + run < g->n && g->fds[i + run] == g->fds[i] + run;
		     run++)
			;
#ifdef HAVE_CLOSE_RANGE
		if (run > 1 &&
		    close_range((unsigned)g->fds[i],
				(unsigned)g->fds[i + run - 1], 0) == 0)
			continue;
#endif
		for (j = i; j < i + run; j++)
			close(g->fds[j]);
	}
	g->n = 0;
}

/* Closes fd now (g NULL) or with g's next flush. */
static void
close_later(struct close_group *g, int fd)
{
	if (g == NULL) {
		close(fd);
		return;
	}
	if (g->n == CLOSE_GROUP)
		close_group_flush(g);
	g->fds[g->n++] = fd;
}

/* Opens path for reading without updating its access time, where this
   process may (it owns the file, or is root): parsing mail is not
   reading it (mail tools compare atime with mtime to tell new mail), and
   the first read of a new file would otherwise dirty its inode.  Falls
   back to a plain open, for good after the first refusal.  Returns the
   descriptor or -1 with errno. */
static int
open_noatime(const char *path)
{
#ifdef O_NOATIME
	static bool refused;
	int fd;

	if (!refused) {
		if ((fd = open(path, O_RDONLY | O_NOATIME)) >= 0 ||
		    errno != EPERM)
			return fd;
		refused = true;
	}
#endif
	return open(path, O_RDONLY);
}

/* As cmd_read_input(), into buf (emptied first, reused by the caller).
   A named file is first tried with read_small_file(), which saves the
   fstat() of the general path; "-" is read from its current offset.
   A file read whole that way is closed through close_later(). */
static int
read_input_into(const char *path, size_t max, GString *buf, size_t *size_r,
		struct close_group *closing)
{
	struct stat st;
	int fd = 0, saved, r;

	g_string_truncate(buf, 0);
	*size_r = 0;
	if (strcmp(path, "-") != 0) {
		if ((fd = open_noatime(path)) < 0)
			return -1;
		if ((r = read_small_file(fd, max, buf)) < 0)
			goto fail;
		if (r == 1) {
			*size_r = buf->len;
			close_later(closing, fd);
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

	if (read_input_into(path, max, buf, size_r, NULL) < 0) {
		g_string_free(buf, TRUE);
		return -1;
	}
	*len_r = buf->len;
	*data_r = g_string_free(buf, FALSE);
	return 0;
}

/* What parsing file after file reuses: the read buffer and the files
   waiting to be closed. */
struct parse_scratch {
	GString *buf;
	struct close_group closing;
};

static void
scratch_init(struct parse_scratch *sc)
{
	sc->buf = g_string_sized_new(65536);
	sc->closing.n = 0;
}

static void
scratch_free(struct parse_scratch *sc)
{
	close_group_flush(&sc->closing);
	g_string_free(sc->buf, TRUE);
}

/* Parses one file and prints its lines to out; a read error goes to err.
   Returns 0, or -1 if the file could not be read. */
static int
parse_one(const char *path, const struct bounce_options *opts,
	  struct parse_scratch *sc, FILE *out, FILE *err)
{
	GString *buf = sc->buf;
	struct bounce_report *report;
	size_t size;

	if (read_input_into(path, opts->max_size, buf, &size, &sc->closing) <
	    0) {
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

/* The errno of the first failed write to standard output, 0 if none. */
static int output_errno;

/* Parses files in order; returns 1 if one could not be read, else 0.
   Stops early when out is standard output and writing it failed
   (output_errno says why). */
static int
parse_files(char **files, int n, const struct bounce_options *opts, FILE *out,
	    FILE *err)
{
	struct parse_scratch sc;
	int i, failed = 0;

	scratch_init(&sc);
	for (i = 0; i < n && output_errno == 0; i++) {
		if (parse_one(files[i], opts, &sc, out, err) < 0)
			failed = 1;
		if (out == stdout && ferror(out))
			output_errno = errno != 0 ? errno : EIO;
	}
	scratch_free(&sc);
	return failed;
}

/* --- parallel parsing -----------------------------------------------------

   GMime is single-threaded, so many files are parsed by forked workers.
   Workers take batches of PARSE_BATCH files from a shared counter (a slow
   or busy core never holds the others up) and parse each batch into
   memory.  The shared frontier `emitted` names the next batch to write:
   only the worker holding that batch writes, straight to standard output
   and standard error, then moves the frontier on.  So the output is in
   command-line order, as from one process, with no copy through the
   parent.  A worker keeps at most PARSE_PENDING_BYTES (or
   PARSE_PENDING_BATCHES) of finished batches waiting for the frontier;
   past that it waits instead of taking more.

   If a worker dies (a crash, a kill), the parent tells the others to
   leave, waits for them and parses every batch from the frontier on
   itself, so nothing is lost or repeated.  A worker that cannot write the
   output (a full disk) says so and exits with PARSE_EXIT_OUTPUT; the
   parent then stops without parsing more. */

#define PARSE_BATCH           32
#define PARSE_MAX_WORKERS     16
#define PARSE_PENDING_BYTES   (1 << 20)
#define PARSE_PENDING_BATCHES 64
#define PARSE_WAIT_NS         20000000L /* a missed wake costs at most this */
#define PARSE_EXIT_OUTPUT     4

/* In memory shared by the parent and the workers. */
struct pool_shared {
	int next;    /* the next batch to take */
	int emitted; /* every batch below it is written */
	int writing; /* 1 + the batch being written, 0 when none */
	int waiting; /* workers asleep on emitted */
	int stop;    /* set by the parent: leave without writing more */
	int failed;  /* a file could not be read */
};

struct pool {
	char **files;
	int nfiles, nbatches, nworkers;
	const struct bounce_options *opts;
	struct pool_shared *sh;
};

/* A parsed batch waiting for the frontier: where its lines are in the
   worker's memory streams. */
struct pending_batch {
	int batch;
	size_t out_off, out_len, err_off, err_len;
};

/* One worker's parsed batches not yet written. */
struct pending {
	FILE *out, *err; /* memory streams the batches are parsed into */
	char *out_buf, *err_buf;
	size_t out_size, err_size;
	struct pending_batch q[PARSE_PENDING_BATCHES];
	int first, count;
};

static long
futex_call(int *addr, int op, int val, const struct timespec *timeout)
{
	return syscall(SYS_futex, addr, op, val, timeout, NULL, 0);
}

/* Sleeps until the frontier moves past seen (or a short timeout, or the
   parent's stop: both are rechecked by the caller). */
static void
pool_wait_frontier(struct pool_shared *sh, int seen)
{
	struct timespec t = {0, PARSE_WAIT_NS};

	__atomic_add_fetch(&sh->waiting, 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&sh->emitted, __ATOMIC_SEQ_CST) == seen &&
	    !__atomic_load_n(&sh->stop, __ATOMIC_SEQ_CST))
		(void)futex_call(&sh->emitted, FUTEX_WAIT, seen, &t);
	__atomic_sub_fetch(&sh->waiting, 1, __ATOMIC_SEQ_CST);
}

/* Writes all of len bytes at buf to fd; returns 0, or -1 with errno. */
static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes the waiting batches whose turn it is and moves the frontier past
   each; never returns if the output cannot be written. */
static void
pool_write_ready(struct pool_shared *sh, struct pending *pd)
{
	while (pd->count > 0) {
		struct pending_batch *b = &pd->q[pd->first];

		if (__atomic_load_n(&sh->emitted, __ATOMIC_ACQUIRE) != b->batch)
			return;
		__atomic_store_n(&sh->writing, b->batch + 1, __ATOMIC_SEQ_CST);
		if (write_all(STDOUT_FILENO, pd->out_buf + b->out_off,
			      b->out_len) < 0 ||
		    write_all(STDERR_FILENO, pd->err_buf + b->err_off,
			      b->err_len) < 0) {
			int saved = errno;

			fprintf(stderr,
				"bouncectl parse: writing the output: %s\n",
				strerror(saved));
			_exit(PARSE_EXIT_OUTPUT);
		}
		/* in this order: writing then names a finished batch only
		   if its writer died between the two */
		__atomic_store_n(&sh->emitted, b->batch + 1, __ATOMIC_SEQ_CST);
		__atomic_store_n(&sh->writing, 0, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&sh->waiting, __ATOMIC_SEQ_CST) > 0)
			(void)futex_call(&sh->emitted, FUTEX_WAKE, INT_MAX,
					 NULL);
		pd->first = (pd->first + 1) % PARSE_PENDING_BATCHES;
		pd->count--;
	}
	/* all written: the streams start again at their beginning */
	rewind(pd->out);
	rewind(pd->err);
}

/* True if the worker holds as much waiting output as it may. */
static bool
pool_pending_full(const struct pending *pd)
{
	const struct pending_batch *last;

	if (pd->count == 0)
		return false;
	if (pd->count == PARSE_PENDING_BATCHES)
		return true;
	last = &pd->q[(pd->first + pd->count - 1) % PARSE_PENDING_BATCHES];
	return last->out_off + last->out_len - pd->q[pd->first].out_off >=
	       PARSE_PENDING_BYTES;
}

/* Parses batch b into the worker's memory streams and queues it. */
static void
pool_parse_batch(struct pool *p, struct pending *pd, struct parse_scratch *sc,
		 int b)
{
	struct pending_batch *q =
	    &pd->q[(pd->first + pd->count) % PARSE_PENDING_BATCHES];
	int first = b * PARSE_BATCH;
	int n = MIN(PARSE_BATCH, p->nfiles - first), i;

	q->batch = b;
	q->out_off = (size_t)ftell(pd->out);
	q->err_off = (size_t)ftell(pd->err);
	for (i = 0; i < n; i++)
		if (parse_one(p->files[first + i], p->opts, sc, pd->out,
			      pd->err) < 0)
			__atomic_store_n(&p->sh->failed, 1, __ATOMIC_RELAXED);
	/* the buffers move as the streams grow: read them after the flush */
	if (fflush(pd->out) != 0 || fflush(pd->err) != 0)
		_exit(3); /* out of memory: the parent parses it again */
	q->out_len = (size_t)ftell(pd->out) - q->out_off;
	q->err_len = (size_t)ftell(pd->err) - q->err_off;
	pd->count++;
}

/* The worker loop; never returns. */
static void
pool_work(struct pool *p)
{
	struct pool_shared *sh = p->sh;
	struct parse_scratch sc;
	struct pending pd = {0};
	int b;

	scratch_init(&sc);
	pd.out = open_memstream(&pd.out_buf, &pd.out_size);
	pd.err = open_memstream(&pd.err_buf, &pd.err_size);
	if (pd.out == NULL || pd.err == NULL)
		_exit(3);
	for (;;) {
		pool_write_ready(sh, &pd);
		if (__atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE))
			_exit(0);
		if (pool_pending_full(&pd)) {
			pool_wait_frontier(
			    sh,
			    __atomic_load_n(&sh->emitted, __ATOMIC_ACQUIRE));
			continue;
		}
		b = __atomic_fetch_add(&sh->next, 1, __ATOMIC_RELAXED);
		if (b >= p->nbatches)
			break;
		pool_parse_batch(p, &pd, &sc, b);
	}
	for (;;) {
		pool_write_ready(sh, &pd);
		if (pd.count == 0 ||
		    __atomic_load_n(&sh->stop, __ATOMIC_ACQUIRE))
			_exit(0);
		pool_wait_frontier(
		    sh, __atomic_load_n(&sh->emitted, __ATOMIC_ACQUIRE));
	}
}

/* Starts the workers; returns how many run (0: parse in this process). */
static int
pool_start(struct pool *p, pid_t *pids)
{
	int w;

	fflush(stdout);
	fflush(stderr);
	for (w = 0; w < p->nworkers; w++) {
		if ((pids[w] = fork()) < 0)
			break;
		if (pids[w] == 0)
			pool_work(p);
	}
	return w;
}

/* Waits for the started workers.  When one dies, tells the others to
   leave.  Returns 0 when all finished, 1 when one died, PARSE_EXIT_OUTPUT
   when one could not write the output. */
static int
pool_wait(struct pool *p, const pid_t *pids, int started)
{
	int left = started, lost = 0, status, w;
	pid_t pid;

	while (left > 0) {
		if ((pid = waitpid(-1, &status, 0)) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (w = 0; w < started && pids[w] != pid; w++)
			;
		if (w == started)
			continue;
		left--;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			continue;
		if (WIFEXITED(status) &&
		    WEXITSTATUS(status) == PARSE_EXIT_OUTPUT) {
			lost = PARSE_EXIT_OUTPUT; /* the worker said why */
		} else {
			if (WIFSIGNALED(status))
				fprintf(stderr,
					"bouncectl parse: a worker process was "
					"killed by signal %d (%s); its files "
					"are parsed again\n",
					WTERMSIG(status),
					strsignal(WTERMSIG(status)));
			else
				fprintf(stderr,
					"bouncectl parse: a worker process "
					"exited with status %d; its files are "
					"parsed again\n",
					WEXITSTATUS(status));
			if (lost == 0)
				lost = 1;
		}
		__atomic_store_n(&p->sh->stop, 1, __ATOMIC_SEQ_CST);
		(void)futex_call(&p->sh->emitted, FUTEX_WAKE, INT_MAX, NULL);
	}
	return lost;
}

/* After a worker died: parses and writes every batch from the frontier
   on in this process.  Returns 1 if a file could not be read. */
static int
pool_finish_here(struct pool *p)
{
	struct pool_shared *sh = p->sh;
	int from = sh->emitted, failed = 0;

	if (sh->writing == from + 1) {
		/* it died in write(): part of that batch may be out already */
		int first = (sh->writing - 1) * PARSE_BATCH;

		fprintf(stderr,
			"bouncectl parse: a worker died while writing the "
			"lines of %s to %s; some of them may be printed "
			"twice\n",
			p->files[first],
			p->files[MIN(first + PARSE_BATCH, p->nfiles) - 1]);
		failed = 1;
	}
	if (from < p->nbatches)
		failed |= parse_files(p->files + from * PARSE_BATCH,
				      p->nfiles - from * PARSE_BATCH, p->opts,
				      stdout, stderr);
	return failed;
}

static int
parse_files_parallel(char **files, int n, const struct bounce_options *opts,
		     int nworkers)
{
	struct pool p = {files,    n,    (n + PARSE_BATCH - 1) / PARSE_BATCH,
			 nworkers, opts, NULL};
	pid_t pids[PARSE_MAX_WORKERS];
	int started, lost, failed;

	p.sh = mmap(NULL, sizeof(*p.sh), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p.sh == MAP_FAILED)
		return parse_files(files, n, opts, stdout, stderr);
	/* the parser options and their preloaded converters, once for all
	   workers rather than once in each */
	(void)bounce_parser_options();
	started = pool_start(&p, pids);
	if (started == 0)
		p.sh->stop = 1; /* no worker: everything is parsed here */
	lost = pool_wait(&p, pids, started);
	failed = p.sh->failed;
	if (lost == PARSE_EXIT_OUTPUT)
		failed = 1;
	else if (lost != 0 || started == 0)
		failed |= pool_finish_here(&p);
	munmap(p.sh, sizeof(*p.sh));
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

/* Flushes fp (standard output); returns 1 after saying so on stderr if
   any of the output could not be written (a full disk, a closed pipe
   whose SIGPIPE is ignored), else 0. */
static int
output_failed(FILE *fp)
{
	if (fflush(fp) != 0 && output_errno == 0)
		output_errno = errno;
	if (output_errno == 0 && ferror(fp))
		output_errno = EIO;
	if (output_errno == 0)
		return 0;
	fprintf(stderr, "bouncectl parse: writing the output: %s\n",
		strerror(output_errno));
	return 1;
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
	return failed | output_failed(stdout);
}
