/*
 * shop_sync.c - bounced.conf shops -> the shops table (see shop_sync.h).
 */
#include <glib.h>

#include "bounced/shop_sync.h"
#include "db/db.h"
#include "db/query.h"

int
shop_sync_all(struct db *db, const struct bounced_config *cfg, int *n_r,
    char **error_r)
{
	char *actor = query_actor();
	size_t i;
	int ret = 0;

	*n_r = 0;
	for (i = 0; ret == 0 && i < cfg->n_shops; i++) {
		const struct bounced_shop *s = &cfg->shops[i];
		char *notify = g_strjoinv("\n", s->notify);
		char *fatal = g_strjoinv("\n", s->fatal_reasons);
		struct query_shop q = {s->id, s->name, notify,
		    s->sender_domains, fatal, s->strike_limit, s->grace_days,
		    s->stale_days, s->dry_run};
		char *error = NULL;

		if ((ret = query_shop_upsert(db, &q, actor, NULL, &error)) < 0) {
			*error_r = g_strdup_printf("shop %s: %s", s->id, error);
			g_free(error);
		} else {
			(*n_r)++;
		}
		g_free(notify);
		g_free(fatal);
	}
	g_free(actor);
	return ret;
}
