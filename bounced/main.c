/*
 * main.c - the bounced daemon: options, configuration, database, signals
 * and the schedule.  The work of one poll is in poll.c.
 *
 * Startup (tier 2, STYLE.md): a bad configuration, an unreachable
 * database or a schema this build does not know ends the program with
 * one clear line.  Then every mailbox is polled on its own schedule
 * (poll_interval with +-10% jitter); a failing mailbox backs off
 * exponentially (from a minute up to an hour) while the others go on.  A
 * mailbox is polled only under its lease (lease.h), so several bounced
 * may share one database; one leased by another instance is simply
 * skipped until its next turn.
 * SIGTERM/SIGINT finish the messages in hand and exit; SIGHUP reloads the
 * configuration and keeps the old one if the new one is invalid.
 *
 * IDLE (RFC 2177): after this instance polled an IMAP mailbox whose
 * server offers IDLE (and idle = true), it keeps a second connection to
 * the folder waiting in IDLE.  The loop sleeps in poll(2) on those
 * connections instead of a plain sleep, so a signal still interrupts it
 * and one process watches any number of mailboxes without threads: when
 * a server reports EXISTS the mailbox is simply made due now, and the
 * ordinary poll (lease, fetch, record, ack) runs in turn with the others,
 * so no mailbox starves another.  An IDLE is renewed (DONE, IDLE) after
 * the mailbox's poll interval and at least every 29 minutes; the
 * interval polls go on as a safety net.  A watch that breaks is dropped
 * and the mailbox polled at once (a failing server then backs off as
 * usual); it is opened again after the next good poll.  A mailbox that
 * another instance polls, or that fails, is not watched.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <gmime/gmime.h>

#include "bounced/lease.h"
#include "bounced/log.h"
#include "bounced/notify.h"
#include "bounced/poll.h"
#include "bounced/recorder.h"
#include "config/config.h"
#include "db/rule.h"

#define MAIN_DEFAULT_CONFIG SYSCONFDIR "/bounced.conf"
#define MAIN_BACKOFF_MIN    60 /* seconds after the first failure */
#define MAIN_BACKOFF_MAX    3600
#define MAIN_IDLE_MAX       (29 * 60) /* RFC 2177: renew IDLE by then */

/* Exit statuses, as documented in --help. */
#define EXIT_OK      0
#define EXIT_FAILED  1 /* --once: a mailbox failed; -t: invalid */
#define EXIT_USAGE   2
#define EXIT_STARTUP 3 /* configuration, database or schema */

static volatile sig_atomic_t main_stop;
static volatile sig_atomic_t main_reload;

/* One mailbox on the schedule. */
struct main_sched {
	const struct bounced_shop *shop;
	const struct bounced_mailbox *mbox;
	gint64 due; /* monotonic seconds */
	unsigned failures;
	struct fetch_idle *idle; /* IDLE watch, or NULL */
	bool no_idle;            /* the server does not offer IDLE */
	bool wake; /* due because of IDLE news: poll even while resting */
};

struct main_state {
	const char *file;
	bool once, foreground, verbose;
	int lease_seconds; /* --lease; 0: each mailbox's lease_seconds */
	char *instance; /* "HOST:PID", set after daemon() */
	struct bounced_config *cfg;
	struct poll_ctx ctx;
	GArray *sched; /* struct main_sched */
	/* the notifier (notify.h) */
	struct notify_ctx notify;
};

static const char main_usage[] =
    "usage: bounced [-c FILE] [-f] [-v] [--once] [--lease SECONDS]\n"
    "       bounced -t [-c FILE]\n"
    "       bounced --help | --version\n"
    "\n"
    "Polls the shop mailboxes of the configuration (IMAP, POP3, Maildir),\n"
    "records every bounce in PostgreSQL and only then moves it out of the\n"
    "inbox.\n"
    "\n"
    "  -c, --config FILE  the configuration (default " MAIN_DEFAULT_CONFIG ")\n"
    "  -f, --foreground   do not detach (systemd, debugging)\n"
    "      --once         poll every mailbox once and exit (for cron)\n"
    "      --lease SECONDS  how long a mailbox lease lasts, overriding\n"
    "                     lease_seconds of the configuration (default 120):\n"
    "                     several bounced may share one database; a\n"
    "                     mailbox is polled by one of them at a time, and\n"
    "                     the mailboxes of an instance that died are taken\n"
    "                     over this long after its last renewal\n"
    "  -t, --test         check the configuration and exit\n"
    "  -v, --verbose      also log debug messages\n"
    "\n"
    "The log goes where the configuration's 'log' says (syslog or stderr;\n"
    "stderr is useful with -f or --once).  Errors before the database is\n"
    "reached always go to stderr.\n"
    "Signals: TERM/INT finish the messages in hand and exit; HUP reloads the\n"
    "configuration (an invalid one is reported and the old one kept).\n"
    "Between polls, IMAP mailboxes whose server offers IDLE are watched\n"
    "and polled as soon as new mail arrives (idle = false: interval only).\n"
    "\n"
    "Exit status:\n"
    "  0  success (--once: every mailbox polled, every message recorded;\n"
    "     -t: the configuration is valid)\n"
    "  1  --once: some mailbox or message failed (see the log);\n"
    "     -t: the configuration is invalid\n"
    "  2  bad usage\n"
    "  3  could not start: invalid configuration, database unreachable,\n"
    "     or a database schema this version does not know\n";

static void
main_signal(int sig)
{
	if (sig == SIGHUP)
		main_reload = 1;
	else
		main_stop = 1;
}

/* Installs the handlers without SA_RESTART, so a sleep is interrupted. */
static void
main_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = main_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

static gint64
main_now(void)
{
	return g_get_monotonic_time() / G_USEC_PER_SEC;
}

/* delay +- 10%. */
static gint64
main_jitter(gint64 delay)
{
	gint64 j = delay / 10;

	return j > 0 ? delay + g_random_int_range(-(gint32)j, (gint32)j + 1)
		     : delay;
}

/* Builds the schedule of cfg, keeping the state of mailboxes that were
   already on old (same shop id and mailbox name). */
static GArray *
main_sched_build(const struct bounced_config *cfg, GArray *old)
{
	GArray *a = g_array_new(FALSE, TRUE, sizeof(struct main_sched));
	size_t i, j;
	guint k;

	for (i = 0; i < cfg->n_shops; i++)
		for (j = 0; j < cfg->shops[i].n_mailboxes; j++) {
			struct main_sched e = {
			    .shop = &cfg->shops[i],
			    .mbox = &cfg->shops[i].mailboxes[j]};

			/* spread the first polls over a few seconds */
			e.due = main_now() + g_random_int_range(0, 3);
			for (k = 0; old != NULL && k < old->len; k++) {
				struct main_sched *o =
				    &g_array_index(old, struct main_sched, k);

				if (strcmp(o->shop->id, e.shop->id) == 0 &&
				    strcmp(o->mbox->name, e.mbox->name) == 0) {
					e.due = o->due;
					e.wake = o->wake;
					e.failures = o->failures;
				}
			}
			g_array_append_val(a, e);
		}
	return a;
}

/* After a good poll in the loop: watch e with IDLE if it can be. */
static void
main_idle_start(struct main_sched *e)
{
	char *error = NULL;
	int r;

	if (e->idle != NULL || e->no_idle || e->mbox->protocol != CONFIG_IMAP ||
	    !e->mbox->idle)
		return;
	r = poll_idle_open(e->mbox, &e->idle, &error);
	if (r > 0)
		log_info("%s/%s: watching the folder with IDLE between polls",
			 e->shop->id, e->mbox->name);
	else if (r == 0) {
		e->no_idle = true;
		log_info("%s/%s: the server does not offer IDLE: polling "
			 "every %d s",
			 e->shop->id, e->mbox->name, e->mbox->poll_interval);
	} else {
		log_warnx("%s/%s: IDLE: %s; polling every %d s", e->shop->id,
			  e->mbox->name, error, e->mbox->poll_interval);
		g_free(error);
	}
}

/* e's IDLE watch is readable or due for renewal: reads what the server
   said; new mail makes e due now, a broken watch is dropped and e polled
   now (so a server that went away is noticed and backed off). */
static void
main_idle_news(struct main_sched *e)
{
	char *error = NULL;
	int r = fetch_idle_check(e->idle, &error);

	if (r < 0) {
		log_warnx("%s/%s: IDLE: %s; polling now", e->shop->id,
			  e->mbox->name, error);
		g_free(error);
		fetch_idle_close(&e->idle);
		e->due = main_now();
	} else if (r > 0) {
		log_debug("%s/%s: new mail (IDLE): polling now", e->shop->id,
			  e->mbox->name);
		e->due = MIN(e->due, main_now());
		e->wake = true;
	}
}

/* When e's IDLE must be renewed: after its poll interval, and at the
   latest after 29 minutes (RFC 2177). */
static gint64
main_idle_renew_at(const struct main_sched *e)
{
	return fetch_idle_since(e->idle) +
	       MIN(e->mbox->poll_interval, MAIN_IDLE_MAX);
}

/* Closes every IDLE watch; with poll_now, their mailboxes are due now
   (a reload: the watches are opened again by those polls). */
static void
main_idle_close_all(GArray *sched, bool poll_now)
{
	guint i;

	for (i = 0; sched != NULL && i < sched->len; i++) {
		struct main_sched *e =
		    &g_array_index(sched, struct main_sched, i);

		if (e->idle != NULL && poll_now) {
			e->due = main_now();
			e->wake = true;
		}
		fetch_idle_close(&e->idle);
	}
}

/* Polls e once and schedules its next poll. */
static bool
main_poll_one(struct main_state *ms, struct main_sched *e)
{
	struct poll_stats st;
	gint64 delay;
	int r;

	ms->ctx.wake = e->wake;
	e->wake = false;
	r = poll_mailbox(&ms->ctx, e->shop, e->mbox, &st);
	ms->ctx.wake = false;
	if (r == 0 && st.busy) {
		/* another instance has it: look again when its lease could
		   have expired (it may have died), at the latest next turn */
		gint64 lease = poll_lease_seconds(&ms->ctx, e->mbox);

		e->due = main_now() +
			 main_jitter(MIN(e->mbox->poll_interval, lease));
		fetch_idle_close(&e->idle); /* the other instance watches */
		return true;
	}
	if (r < 0) {
		e->failures++;
		fetch_idle_close(&e->idle);
		/* never sooner than a minute: a wrong password retried
		   fast can get the shop's address banned by its host */
		delay = MAIN_BACKOFF_MIN << MIN(e->failures - 1, 6);
		delay =
		    MAX(MIN(delay, MAIN_BACKOFF_MAX), e->mbox->poll_interval);
		if (!ms->once)
			log_warnx("%s/%s: failed %u time%s in a row; next "
				  "attempt in about %" G_GINT64_FORMAT " s",
				  e->shop->id, e->mbox->name, e->failures,
				  e->failures == 1 ? "" : "s", delay);
	} else {
		if (e->failures > 0)
			log_info("%s/%s: working again after %u failure%s",
				 e->shop->id, e->mbox->name, e->failures,
				 e->failures == 1 ? "" : "s");
		e->failures = 0;
		delay = e->mbox->poll_interval;
		if (!ms->once)
			main_idle_start(e);
	}
	e->due = main_now() + main_jitter(delay);
	return r == 0 && st.failed == 0;
}

/* Opens the log where cfg says. */
static void
main_log(const struct main_state *ms)
{
	log_open("bounced", strcmp(ms->cfg->log, "syslog") == 0, ms->verbose);
}

/* SIGHUP: load the file again; keep the old configuration if invalid. */
static void
main_do_reload(struct main_state *ms)
{
	struct bounced_config *cfg = NULL;
	char *error = NULL;
	GArray *sched;

	if (config_load(ms->file, rule_reason_name, &cfg, &error) < 0) {
		log_warnx("reload: %s; keeping the current configuration",
			  error);
		g_free(error);
		return;
	}
	if (g_strcmp0(cfg->conninfo, ms->cfg->conninfo) != 0)
		log_warnx("reload: database.conninfo changed: restart bounced "
			  "to use the new database");
	if (poll_sync_shops(&ms->ctx, cfg, &error) < 0) {
		log_warnx("reload: %s; keeping the current configuration",
			  error);
		g_free(error);
		config_free(&cfg);
		return;
	}
	/* the watches borrow the old configuration */
	main_idle_close_all(ms->sched, true);
	sched = main_sched_build(cfg, ms->sched);
	g_array_free(ms->sched, TRUE);
	ms->sched = sched;
	config_free(&ms->cfg);
	ms->cfg = cfg;
	ms->notify.cfg = cfg;
	poll_options(&ms->ctx, cfg);
	main_log(ms);
	log_info("configuration reloaded from %s: %zu shop%s, %u mailbox%s",
		 ms->file, cfg->n_shops, cfg->n_shops == 1 ? "" : "s",
		 sched->len, sched->len == 1 ? "" : "es");
}

/* Sleeps until mono time until, a signal, at most a minute, or news on
   an IDLE watch (main_idle_news()); renews the IDLEs that are due. */
static void
main_sleep(struct main_state *ms, gint64 until)
{
	GArray *fds = g_array_new(FALSE, FALSE, sizeof(struct pollfd));
	GPtrArray *who = g_ptr_array_new();
	gint64 now = main_now();
	guint i;
	int n;

	for (i = 0; i < ms->sched->len; i++) {
		struct main_sched *e =
		    &g_array_index(ms->sched, struct main_sched, i);
		struct pollfd pfd = {.events = POLLIN};

		if (e->idle != NULL && main_idle_renew_at(e) <= now)
			main_idle_news(e); /* renews, or drops a broken one */
		if (e->idle == NULL)
			continue;
		if (fetch_idle_pending(e->idle))
			until = now; /* already buffered: look at once */
		until = MIN(until, main_idle_renew_at(e));
		pfd.fd = fetch_idle_fd(e->idle);
		g_array_append_val(fds, pfd);
		g_ptr_array_add(who, e);
	}
	n = poll((struct pollfd *)(void *)fds->data, fds->len,
		 until <= now ? 0 : (int)MIN(until - now, 60) * 1000);
	/* n < 0: EINTR on a signal; the caller looks */
	for (i = 0; n >= 0 && i < fds->len; i++) {
		struct main_sched *e = g_ptr_array_index(who, i);

		if ((g_array_index(fds, struct pollfd, i).revents != 0 ||
		     fetch_idle_pending(e->idle)) &&
		    !main_stop)
			main_idle_news(e);
	}
	g_ptr_array_free(who, TRUE);
	g_array_free(fds, TRUE);
}

/* The scheduled loop, until SIGTERM. */
static int
main_loop(struct main_state *ms)
{
	guint i;

	while (!main_stop) {
		gint64 next = G_MAXINT64;

		if (main_reload) {
			main_reload = 0;
			main_do_reload(ms);
		}
		bool polled = false;

		for (i = 0; i < ms->sched->len && !main_stop; i++) {
			struct main_sched *e =
			    &g_array_index(ms->sched, struct main_sched, i);

			if (e->due <= main_now()) {
				main_poll_one(ms, e);
				polled = true;
			}
			next = MIN(next, e->due);
		}
		if (ms->sched->len == 0)
			next = main_now() + 60;
		if (!main_stop)
			next = MIN(next, notify_tick(&ms->notify, polled));
		if (!main_stop && !main_reload)
			main_sleep(ms, next);
	}
	main_idle_close_all(ms->sched, false);
	log_info("stopping on signal");
	return EXIT_OK;
}

/* --once: every mailbox, in configuration order. */
static int
main_once(struct main_state *ms)
{
	bool ok = true;
	guint i;

	for (i = 0; i < ms->sched->len && !main_stop; i++)
		if (!main_poll_one(
			ms, &g_array_index(ms->sched, struct main_sched, i)))
			ok = false;
	if (!main_stop)
		notify_tick(&ms->notify, true);
	if (main_stop) {
		log_info("stopped on signal");
		ok = false;
	}
	return ok ? EXIT_OK : EXIT_FAILED;
}

static void
main_pidfile(const char *path)
{
	FILE *fp;

	if ((fp = fopen(path, "w")) == NULL) {
		log_warn("pidfile %s", path);
		return;
	}
	fprintf(fp, "%ld\n", (long)getpid());
	fclose(fp);
}

/* Connects, checks the schema, syncs the shops.  Returns 0 or -1. */
static int
main_start(struct main_state *ms)
{
	char *error = NULL;

	if (db_open(ms->cfg->conninfo, &ms->ctx.db, &error) < 0 ||
	    db_check_schema(ms->ctx.db, &error) < 0) {
		log_warnx("%s", error);
		g_free(error);
		return -1;
	}
	ms->ctx.store = store_new(ms->ctx.db);
	if (recorder_new(ms->cfg->conninfo, &ms->ctx.recorder, &error) < 0) {
		log_warnx("%s", error);
		g_free(error);
		return -1;
	}
	if (poll_sync_shops(&ms->ctx, ms->cfg, &error) < 0) {
		log_warnx("%s", error);
		g_free(error);
		return -1;
	}
	ms->sched = main_sched_build(ms->cfg, NULL);
	notify_init(&ms->notify, ms->ctx.db, ms->cfg, &main_stop);
	return 0;
}

static int
main_run(struct main_state *ms)
{
	char *error = NULL;
	int ret;

	if (config_load(ms->file, rule_reason_name, &ms->cfg, &error) < 0) {
		log_warnx("%s", error);
		g_free(error);
		return EXIT_STARTUP;
	}
	poll_options(&ms->ctx, ms->cfg);
	ms->ctx.stop = &main_stop;
	if (main_start(ms) < 0) /* errors still on stderr */
		return EXIT_STARTUP;
	main_log(ms);
	main_signals();
	if (!ms->once && !ms->foreground && daemon(0, 0) < 0) {
		log_warn("daemon");
		return EXIT_STARTUP;
	}
	if (!ms->once && ms->cfg->pidfile != NULL)
		main_pidfile(ms->cfg->pidfile);
	ms->instance = lease_instance_id(); /* the pid after daemon() */
	ms->ctx.instance = ms->instance;
	ms->ctx.lease_seconds = ms->lease_seconds;
	ms->ctx.lease_rest = !ms->once;
	log_info("started as %s: %zu shop%s, %u mailbox%s%s", ms->instance,
		 ms->cfg->n_shops, ms->cfg->n_shops == 1 ? "" : "s",
		 ms->sched->len, ms->sched->len == 1 ? "" : "es",
		 ms->once ? ", polling once" : "");
	ret = ms->once ? main_once(ms) : main_loop(ms);
	if (!ms->once && ms->cfg->pidfile != NULL)
		unlink(ms->cfg->pidfile);
	return ret;
}

/* -t: loads the file and says what is wrong, or that it is fine. */
static int
main_test(const char *file)
{
	struct bounced_config *cfg = NULL;
	char *error = NULL;
	size_t i, n = 0;

	if (config_load(file, rule_reason_name, &cfg, &error) < 0) {
		fprintf(stderr, "bounced: %s\n", error);
		g_free(error);
		return EXIT_FAILED;
	}
	for (i = 0; i < cfg->n_shops; i++)
		n += cfg->shops[i].n_mailboxes;
	printf("bounced: %s: configuration OK (%zu shop%s, %zu mailbox%s)\n",
	       file, cfg->n_shops, cfg->n_shops == 1 ? "" : "s", n,
	       n == 1 ? "" : "es");
	config_free(&cfg);
	return EXIT_OK;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"once", no_argument, NULL, 'o'},
	    {"lease", required_argument, NULL, 'L'},
	    {"test", no_argument, NULL, 't'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0}};
	struct main_state ms = {0};
	bool test = false;
	int c, ret;

	ms.file = MAIN_DEFAULT_CONFIG;
	while ((c = getopt_long(argc, argv, "c:ftvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ms.file = optarg;
			break;
		case 'f':
			ms.foreground = true;
			break;
		case 'o':
			ms.once = true;
			break;
		case 'L': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*optarg == '\0' || *end != '\0' || v < 1 ||
			    v > 86400) {
				fprintf(stderr, "bounced: --lease: '%s' is not "
						"a number of seconds from 1 to "
						"86400\n",
					optarg);
				return EXIT_USAGE;
			}
			ms.lease_seconds = (int)v;
			break;
		}
		case 't':
			test = true;
			break;
		case 'v':
			ms.verbose = true;
			break;
		case 'h':
			fputs(main_usage, stdout);
			return EXIT_OK;
		case 'V':
			printf("bounced %s\n", PACKAGE_VERSION);
			return EXIT_OK;
		default:
			fputs(main_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fputs(main_usage, stderr);
		return EXIT_USAGE;
	}
	if (test)
		return main_test(ms.file);
	g_mime_init();
	ret = main_run(&ms);
	if (ms.sched != NULL)
		g_array_free(ms.sched, TRUE);
	recorder_free(&ms.ctx.recorder);
	store_free(&ms.ctx.store);
	db_close(&ms.ctx.db);
	config_free(&ms.cfg);
	g_free(ms.instance);
	bounce_shutdown();
	g_mime_shutdown();
	log_close();
	return ret;
}
