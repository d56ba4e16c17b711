/*
 * lease.c - mailbox leases of one instance; see lease.h.
 */
#include "config.h"

#include <unistd.h>

#include "bounced/lease.h"
#include "db/mailbox.h"

char *
lease_instance_id(void)
{
	return g_strdup_printf("%s:%ld", g_get_host_name(), (long)getpid());
}

int
lease_take(struct lease *l, struct db *db, const char *owner, int seconds,
	   const char *shop_id, const char *mailbox_id, const char *protocol,
	   bool ignore_rest, char **previous_r, char **error_r)
{
	int tries, r = -1;

	l->db = db;
	l->owner = owner;
	l->seconds = seconds;
	l->shop_id = shop_id;
	l->mailbox_id = mailbox_id;
	l->held = false;
	*previous_r = NULL;
	/* libpq notices a lost connection only when it is used */
	for (tries = 0; tries < 2; tries++) {
		if (tries > 0 && !db_retry_after_loss(db, error_r))
			return -1;
		if (db_ensure(db, error_r) < 0)
			return -1;
		r = mailbox_lease_take(db, shop_id, mailbox_id, protocol, owner,
				       seconds, ignore_rest, previous_r,
				       error_r);
		if (r >= 0)
			break;
	}
	if (r == 1) {
		l->held = true;
		l->renewed = g_get_monotonic_time();
	}
	return r;
}

int
lease_keep(struct lease *l, char **error_r)
{
	gint64 now = g_get_monotonic_time();
	int r;

	if (!l->held)
		return 0;
	if (now - l->renewed < (gint64)l->seconds * G_USEC_PER_SEC / 3)
		return 1;
	r = mailbox_lease_renew(l->db, l->shop_id, l->mailbox_id, l->owner,
				l->seconds, error_r);
	if (r == 1)
		l->renewed = now;
	else if (r == 0)
		l->held = false;
	return r;
}

int
lease_release(struct lease *l, int rest, char **error_r)
{
	if (!l->held)
		return 0;
	l->held = false;
	return mailbox_lease_release(l->db, l->shop_id, l->mailbox_id,
				     l->owner, rest, error_r);
}
