/*
 * recorder.c - the recording thread; see recorder.h.
 *
 * One mutex guards the hand-over fields; the thread owns its db and
 * store, which nothing else touches while it runs.
 */
#include "config.h"

#include <signal.h>
#include <pthread.h>

#include "bounced/recorder.h"
#include "db/db.h"

struct recorder {
	GThread *thread;
	GMutex lock;
	GCond cond;
	struct db *db;       /* the thread's */
	struct store *store; /* on db */
	/* hand-over, under lock */
	struct store_input *in;
	guint n;
	bool busy;    /* a batch was started and not waited for */
	bool done;    /* ... and the thread finished it */
	bool quit;
	int ret;
	bool db_lost;
	char *error;
};

/* Records one batch on the thread's connection, reconnecting first if
   an earlier batch lost it. */
static void
recorder_record(struct recorder *r, struct store_input *in, guint n)
{
	char *error = NULL;
	int ret;

	ret = db_ensure(r->db, &error);
	if (ret == 0)
		ret = store_record_batch(r->store, in, n, &error);
	g_mutex_lock(&r->lock);
	r->ret = ret;
	r->error = error;
	r->db_lost = ret < 0 && PQstatus(db_conn(r->db)) != CONNECTION_OK;
	r->done = true;
	g_cond_broadcast(&r->cond);
	g_mutex_unlock(&r->lock);
}

static gpointer
recorder_main(gpointer data)
{
	struct recorder *r = data;

	g_mutex_lock(&r->lock);
	for (;;) {
		struct store_input *in;
		guint n;

		while (!r->quit && (r->in == NULL || r->done))
			g_cond_wait(&r->cond, &r->lock);
		if (r->quit)
			break;
		in = r->in;
		n = r->n;
		g_mutex_unlock(&r->lock);
		recorder_record(r, in, n);
		g_mutex_lock(&r->lock);
	}
	g_mutex_unlock(&r->lock);
	return NULL;
}

int
recorder_new(const char *conninfo, struct recorder **r_r, char **error_r)
{
	struct recorder *r = g_new0(struct recorder, 1);
	sigset_t all, old;
	GError *gerr = NULL;

	*r_r = NULL;
	if (db_open(conninfo, &r->db, error_r) < 0) {
		g_free(r);
		return -1;
	}
	r->store = store_new(r->db);
	g_mutex_init(&r->lock);
	g_cond_init(&r->cond);
	/* the thread inherits a mask that blocks every signal */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r->thread = g_thread_try_new("recorder", recorder_main, r, &gerr);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r->thread == NULL) {
		*error_r = g_strdup_printf("cannot start the recording "
					   "thread: %s",
					   gerr->message);
		g_error_free(gerr);
		r->quit = true;
		recorder_free(&r);
		return -1;
	}
	*r_r = r;
	return 0;
}

void
recorder_free(struct recorder **rp)
{
	struct recorder *r;

	if (rp == NULL || (r = *rp) == NULL)
		return;
	if (r->thread != NULL) {
		g_mutex_lock(&r->lock);
		r->quit = true;
		g_cond_broadcast(&r->cond);
		g_mutex_unlock(&r->lock);
		g_thread_join(r->thread);
	}
	g_free(r->error);
	store_free(&r->store);
	db_close(&r->db);
	g_mutex_clear(&r->lock);
	g_cond_clear(&r->cond);
	g_free(r);
	*rp = NULL;
}

void
recorder_start(struct recorder *r, struct store_input *in, guint n)
{
	g_mutex_lock(&r->lock);
	g_assert(!r->busy);
	r->in = in;
	r->n = n;
	r->busy = true;
	r->done = false;
	g_cond_broadcast(&r->cond);
	g_mutex_unlock(&r->lock);
}

bool
recorder_busy(const struct recorder *r)
{
	return r->busy; /* only the poller's thread changes it */
}

int
recorder_wait(struct recorder *r, bool *db_lost_r, char **error_r)
{
	int ret;

	g_mutex_lock(&r->lock);
	g_assert(r->busy);
	while (!r->done)
		g_cond_wait(&r->cond, &r->lock);
	ret = r->ret;
	*db_lost_r = r->db_lost;
	*error_r = r->error;
	r->error = NULL;
	r->in = NULL;
	r->busy = false;
	r->done = false;
	g_mutex_unlock(&r->lock);
	return ret;
}

void
recorder_reload_shops(struct recorder *r)
{
	g_assert(!r->busy);
	store_reload_shops(r->store);
}
