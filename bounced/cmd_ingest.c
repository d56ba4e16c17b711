/*
 * cmd_ingest.c - `bouncectl ingest [--shop S] FILE... | -`: parse and
 * record messages from files or standard input (a Postfix pipe
 * transport), through the same store path as the daemon.
 *
 * Each file is one message, recorded under mailbox "ingest" of shop S
 * (or of no shop) with the key "sha256:HEX", so ingesting the same file
 * twice is a no-op.  Files are recorded INGEST_BATCH to a transaction
 * (one by one when a batch fails, to name the file at fault), in order;
 * the first file that cannot be read or recorded stops the command.  A
 * message that cannot be parsed is still recorded, with its error.  Exit
 * status: 0 every message recorded (or already recorded), 1 some could
 * not be read or recorded, 2 bad usage.
 *
 * `bouncectl reprocess --shop S --since DATE [--dry-run]` re-parses
 * stored raw mail with the current parser and hands the reports to
 * db/reprocess.c, which replaces the results that changed and replays
 * the rule for the addresses they name (see reprocess.h).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bounced/cmd_common.h"
#include "bounced/commands.h"
#include "db/query.h"
#include "db/reprocess.h"
#include "db/store.h"
#include "parsers/bounce.h"
#include "parsers/classify.h"

static const char ingest_usage[] =
    "usage: bouncectl ingest [--shop S] FILE... | -\n"
    "\n"
    "Parses each message (one per file; - reads standard input), records\n"
    "it and its results in the database and applies the rule.  Results\n"
    "are attributed by the original's From to the shop whose sender\n"
    "domains match, else to S.  Recording the same message again does\n"
    "nothing.  Common options: --db CONNINFO, -c FILE.\n";

/* Files are recorded together, one transaction for up to this many or
   this many bytes. */
#define INGEST_BATCH       100
#define INGEST_BATCH_BYTES ((size_t)8 * 1024 * 1024)

/* A file read and parsed, waiting for its transaction. */
struct ingest_file {
	const char *path; /* borrowed from argv */
	char *buf;
	size_t len;
	struct bounce_report *report;
};

/* Prints what recording path did. */
static void
ingest_print(const char *path, const struct bounce_report *report,
	     const struct store_outcome *out)
{
	if (out->duplicate)
		printf("%s: already recorded\n", path);
	else if (report->kind == BOUNCE_KIND_ERROR)
		printf("%s: kept unparsed (message %" G_GINT64_FORMAT "): %s\n",
		       path, out->message_id, report->error);
	else
		printf("%s: %s, shop %s, %u result%s, %u counted, %u "
		       "suppressed, %u shop alert%s\n",
		       path, store_kind_name(report->kind), out->shop_id,
		       out->results, out->results == 1 ? "" : "s",
		       out->counted, out->suppressed, out->alerts,
		       out->alerts == 1 ? "" : "s");
}

/* Records files[0..n-1] (emptied here) in one transaction; when that
   fails, one by one, so that the first file at fault is named.  Returns
   0, or -1 when a file was not recorded (on stderr; those after it are
   not tried). */
static int
ingest_batch(struct store *store, const char *shop, GArray *files)
{
	guint n = files->len, i;
	struct store_input *in = g_new0(struct store_input, n);
	char *error = NULL;
	int ret = 0;

	for (i = 0; i < n; i++) {
		const struct ingest_file *f =
		    &g_array_index(files, struct ingest_file, i);
		struct store_input one = {
		    {shop, "ingest", "ingest", NULL, 0, 0}, f->buf, f->len,
		    f->report, {0}};

		in[i] = one;
	}
	if (n > 0 && store_record_batch(store, in, n, &error) == 0) {
		for (i = 0; i < n; i++)
			ingest_print(
			    g_array_index(files, struct ingest_file, i).path,
			    in[i].report, &in[i].out);
	} else
		for (i = 0; i < n && ret == 0; i++) {
			const char *path =
			    g_array_index(files, struct ingest_file, i).path;

			g_clear_pointer(&error, g_free);
			if (store_record(store, &in[i].src, in[i].raw,
					 in[i].len, in[i].report, &in[i].out,
					 &error) == 0)
				ingest_print(path, in[i].report, &in[i].out);
			else {
				fprintf(stderr,
					"bouncectl: %s: not recorded: %s\n",
					path, error);
				ret = -1;
			}
		}
	g_free(error);
	for (i = 0; i < n; i++) {
		struct ingest_file *f =
		    &g_array_index(files, struct ingest_file, i);

		store_outcome_clear(&in[i].out);
		report_free(&f->report);
		g_free(f->buf);
	}
	g_free(in);
	g_array_set_size(files, 0);
	return ret;
}

/* Reads, parses and records the files of paths[0..n-1] in batches.
   Returns 0, or -1 at the first file that could not be read or recorded
   (the files before it are recorded; those after it are not tried). */
static int
ingest_files(struct store *store, const char *shop, char **paths, int n,
	     const struct bounce_options *opts)
{
	GArray *files = g_array_new(FALSE, FALSE, sizeof(struct ingest_file));
	size_t bytes = 0;
	int i, ret = 0;

	for (i = 0; i < n && ret == 0; i++) {
		struct ingest_file f = {paths[i], NULL, 0, NULL};

		if (cmd_read_file(f.path, &f.buf, &f.len) < 0) {
			ret = -1;
			break;
		}
		f.report = bounce_parse(f.buf, f.len, opts);
		g_array_append_val(files, f);
		bytes += f.len;
		if (files->len >= INGEST_BATCH || bytes >= INGEST_BATCH_BYTES) {
			ret = ingest_batch(store, shop, files);
			bytes = 0;
		}
	}
	/* what was read before a file that could not be is still recorded */
	if (ingest_batch(store, shop, files) < 0)
		ret = -1;
	g_array_unref(files);
	return ret;
}

int
cmd_ingest(int argc, char **argv)
{
	static const struct option longopts[] = {
	    CMD_COMMON_OPTIONS,
	    {"shop", required_argument, NULL, 's'},
	    {NULL, 0, NULL, 0}};
	struct bounce_options opts = {0, NULL, NULL};
	const char *shop = NULL;
	struct cmd_ctx ctx = {0};
	struct store *store = NULL;
	char *error = NULL;
	int c, bad = 0, ret = 0;

	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(ingest_usage, stdout);
			return 0;
		case 's':
			shop = optarg;
			break;
		default:
			if (cmd_common_option(&ctx, c, optarg) != 1)
				bad = 1;
		}
	}
	if (bad || optind >= argc) {
		fputs(ingest_usage, stderr);
		return 2;
	}
	if (cmd_open(&ctx, false, true) < 0) {
		cmd_close(&ctx);
		return 1;
	}
	if (ctx.cfg != NULL) {
		opts.max_size = (size_t)ctx.cfg->max_message_size;
		opts.order_header = ctx.cfg->order_header;
		opts.type_header = ctx.cfg->type_header;
	}
	store = store_new(ctx.db);
	if (shop != NULL && store_shop_exists(store, shop, &error) < 0) {
		fprintf(stderr, "bouncectl: %s\n", error);
		g_free(error);
		ret = 1;
	}
	if (ret == 0 &&
	    ingest_files(store, shop, argv + optind, argc - optind, &opts) < 0)
		ret = 1;
	store_free(&store);
	cmd_close(&ctx);
	return ret;
}

/* The parser for reprocess_run(): bounce_parse() with ctx's options. */
static struct bounce_report *
reprocess_parse(const char *raw, size_t len, void *ctx)
{
	return bounce_parse(raw, len, ctx);
}

/* "no" or "yes (rule)"; g_free. */
static char *
reprocess_supp(const char *rule)
{
	return rule != NULL ? g_strdup_printf("yes (%s)", rule)
			    : g_strdup("no");
}

/* One line per (shop, address) the run touched. */
static void
reprocess_print_change(const struct reprocess_change *c)
{
	char *a, *b;

	printf("%s %s: reason %s -> %s", c->shop_id, c->address,
	       *c->old_reasons != '\0' ? c->old_reasons : "(none)",
	       *c->new_reasons != '\0' ? c->new_reasons : "(none)");
	if (!c->replayed) {
		printf("; not attributed to a shop, no rule state\n");
		return;
	}
	a = reprocess_supp(c->old_suppressed);
	b = reprocess_supp(c->new_suppressed);
	printf("; strikes %d -> %d; suppressed %s -> %s", c->old_consecutive,
	       c->new_consecutive, a, b);
	g_free(a);
	g_free(b);
	if (c->old_would != NULL || c->new_would != NULL) {
		a = reprocess_supp(c->old_would);
		b = reprocess_supp(c->new_would);
		printf("; would be suppressed (dry-run shop) %s -> %s", a, b);
		g_free(a);
		g_free(b);
	}
	printf("; %u decision%s changed\n", c->decisions,
	       c->decisions == 1 ? "" : "s");
}

static void
reprocess_print(const struct reprocess_result *r)
{
	guint i;

	for (i = 0; i < r->changed->len; i++) {
		const struct reprocess_message *m = r->changed->pdata[i];

		printf("message %" G_GINT64_FORMAT " (%s %s %s):\n"
		       "  recorded: %s\n  now:      %s\n",
		       m->message_id, m->shop_id, m->mailbox_id, m->msg_key,
		       m->old_summary, m->new_summary);
	}
	for (i = 0; i < r->changes->len; i++)
		reprocess_print_change(r->changes->pdata[i]);
	printf("%u message%s re-parsed, %u changed, %u address%s "
	       "re-evaluated, %u newly suppressed, %u no longer suppressed%s\n",
	       r->messages, r->messages == 1 ? "" : "s", r->changed->len,
	       r->changes->len, r->changes->len == 1 ? "" : "es", r->suppressed,
	       r->unsuppressed,
	       r->committed ? "" : " (dry run: nothing was changed)");
}

static const char reprocess_usage[] =
    "usage: bouncectl reprocess --shop S --since DATE [--dry-run]\n"
    "\n"
    "Re-parses the stored raw mail of shop S dated DATE or later with the\n"
    "current parser.  Messages whose results differ get their results\n"
    "replaced, and the rule is re-evaluated for every address they name\n"
    "by replaying the address's whole history in order (manual removals\n"
    "from the suppression list included), so nothing counts twice and a\n"
    "second run changes nothing.  Prints every changed message and, per\n"
    "address, the old and new reason, strikes and suppression; each\n"
    "address change is written to the audit log.  All in one transaction.\n"
    "--dry-run reports the same but changes nothing.\n"
    "Common options: --db CONNINFO, -c FILE.\n";

static int
reprocess_exec(struct cmd_ctx *ctx, struct reprocess_options *ro,
	       struct bounce_options *opts)
{
	struct store *store = store_new(ctx->db);
	struct reprocess_result *result = NULL;
	char *actor = query_actor(), *error = NULL;
	int ret = 0;

	if (ctx->cfg != NULL) {
		opts->max_size = (size_t)ctx->cfg->max_message_size;
		opts->order_header = ctx->cfg->order_header;
		opts->type_header = ctx->cfg->type_header;
	}
	ro->actor = actor;
	ro->parse = reprocess_parse;
	ro->parse_ctx = opts;
	if (reprocess_run(store, ro, &result, &error) < 0) {
		fprintf(stderr, "bouncectl: reprocess: %s\n", error);
		g_free(error);
		ret = 1;
	} else
		reprocess_print(result);
	reprocess_result_free(&result);
	store_free(&store);
	g_free(actor);
	return ret;
}

int
cmd_reprocess(int argc, char **argv)
{
	static const struct option longopts[] = {
	    CMD_COMMON_OPTIONS,
	    {"shop", required_argument, NULL, 's'},
	    {"since", required_argument, NULL, 'S'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {NULL, 0, NULL, 0}};
	struct bounce_options opts = {0, NULL, NULL};
	struct reprocess_options ro = {0};
	struct cmd_ctx ctx = {0};
	int c, bad = 0, ret = 1;

	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(reprocess_usage, stdout);
			return 0;
		case 's':
			ro.shop_id = optarg;
			break;
		case 'S':
			ro.since = optarg;
			break;
		case 'n':
			ro.dry_run = true;
			break;
		default:
			if (cmd_common_option(&ctx, c, optarg) != 1)
				bad = 1;
		}
	}
	if (bad || optind != argc || ro.shop_id == NULL || ro.since == NULL) {
		fputs(reprocess_usage, stderr);
		return 2;
	}
	if (cmd_open(&ctx, false, true) == 0)
		ret = reprocess_exec(&ctx, &ro, &opts);
	cmd_close(&ctx);
	return ret;
}
