/*
 * cmd_parse.c - `bouncectl parse [options] FILE... | -`.
 *
 * Prints one JSON object per recipient (json_out.c).  Exit status: 0 when
 * every file was read, 1 if any could not be read (named on stderr), 2 on
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
#include <sys/stat.h>
#include <unistd.h>

#include "bounced/cmd_parse.h"
#include "bounced/commands.h"
#include "bounced/json_out.h"
#include "parsers/bounce.h"

static const char parse_usage[] =
    "usage: bouncectl parse [--order-header NAME] [--type-header NAME]\n"
    "                       [--max-size BYTES] FILE... | -\n"
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
    "\n"
    "Exit status: 0 all files read, 1 a file could not be read, 2 bad usage.\n";

/* Reads fd to its end, keeping at most max + 1 bytes in buf; returns the
   total size in *total_r, or -1 with errno. */
static int
read_fd(int fd, size_t max, GString *buf, size_t *total_r)
{
	char chunk[65536];
	ssize_t n;

	*total_r = 0;
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		*total_r += (size_t)n;
		if (buf->len <= max)
			g_string_append_len(buf, chunk,
					    MIN((size_t)n, max + 1 - buf->len));
	}
}

int
cmd_read_input(const char *path, size_t max, char **data_r, size_t *len_r,
	       size_t *size_r)
{
	GString *buf = g_string_new(NULL);
	struct stat st;
	int fd = 0, saved;

	if (strcmp(path, "-") != 0 && (fd = open(path, O_RDONLY)) < 0)
		goto fail;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	if (S_ISREG(st.st_mode) && (size_t)st.st_size > max)
		*size_r = (size_t)st.st_size; /* never read a huge file */
	else if (read_fd(fd, max, buf, size_r) < 0)
		goto fail;
	if (fd != 0)
		close(fd);
	*len_r = buf->len;
	*data_r = g_string_free(buf, FALSE);
	return 0;
fail:
	saved = errno;
	if (fd > 0)
		close(fd);
	g_string_free(buf, TRUE);
	errno = saved;
	return -1;
}

static int
parse_one(const char *path, const struct bounce_options *opts)
{
	struct bounce_report *report;
	char *data;
	size_t len, size;

	if (cmd_read_input(path, opts->max_size, &data, &len, &size) < 0) {
		fprintf(stderr, "bouncectl parse: %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	if (size > opts->max_size)
		report = bounce_too_large(size, opts->max_size);
	else
		report = bounce_parse(data, len, opts);
	json_out_report(stdout, path, report);
	report_free(&report);
	g_free(data);
	return 0;
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

int
cmd_parse(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"order-header", required_argument, NULL, 'o'},
	    {"type-header", required_argument, NULL, 't'},
	    {"max-size", required_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	struct bounce_options opts = {BOUNCE_DEFAULT_MAX_SIZE, NULL, NULL};
	int c, i, failed = 0;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
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
	for (i = optind; i < argc; i++)
		if (parse_one(argv[i], &opts) < 0)
			failed = 1;
	return failed;
}
