/*
 * rule.c - the 4-strike / 1-fatal rule as pure functions.  See rule.h.
 */
#include "config.h"

#include <string.h>

#include "db/rule.h"
#include "parsers/classify.h"

const char *
rule_reason_name(const char *name)
{
	enum bounce_reason r = classify_reason_from_name(name);

	return r == REASON_COUNT ? NULL : classify_reason_name(r);
}

static bool
rule_str_eq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* True if reason is fatal under settings.  notaccept is fatal only as a
   hard bounce (5xx: null MX); the other hard reasons are hard anyway. */
static bool
rule_is_fatal(const struct rule_settings *s, const struct rule_input *in)
{
	if (s->fatal_reasons == NULL ||
	    !g_strv_contains((const char *const *)s->fatal_reasons, in->reason))
		return false;
	if (rule_str_eq(in->reason, "notaccept"))
		return in->hardbounce;
	return true;
}

enum rule_event
rule_classify(const struct rule_settings *settings, const struct rule_input *in,
	      bool *fatal_r, const char **why_r)
{
	*fatal_r = false;
	*why_r = NULL;
	if (rule_str_eq(in->kind, "autoreply") ||
	    rule_str_eq(in->reason, "vacation")) {
		*why_r = "auto-reply: not a failure, proves the mailbox exists";
		return in->has_address ? RULE_SUCCESS : RULE_IGNORE;
	}
	if (rule_str_eq(in->action, "delivered") ||
	    rule_str_eq(in->reason, "delivered")) {
		*why_r = "delivered: a success";
		return in->has_address ? RULE_SUCCESS : RULE_IGNORE;
	}
	if (rule_str_eq(in->side, "sender")) {
		*why_r = "sender side: the shop's own sending setup, "
			 "not the customer's address; shop alert raised";
		return RULE_SENDER;
	}
	if (!rule_str_eq(in->action, "failed") &&
	    !rule_str_eq(in->reason, "feedback")) {
		*why_r =
		    in->action == NULL ? "no action: not a failure"
		    : rule_str_eq(in->action, "delayed")
			? "action delayed: not a failure (only failed counts)"
			: "action is not failed: not a failure";
		return RULE_IGNORE;
	}
	if (!in->has_address) {
		*why_r = "no valid recipient address";
		return RULE_IGNORE;
	}
	if (!in->attributed) {
		*why_r = "not attributed to any shop";
		return RULE_IGNORE;
	}
	*fatal_r = rule_is_fatal(settings, in);
	return RULE_FAILURE;
}

bool
rule_apply_failure(const struct rule_settings *s, struct rule_state *state,
		   const struct rule_facts *f, bool *suppress_r,
		   char **decision_r)
{
	const char *reset = NULL;
	char *detail;

	*suppress_r = false;
	if (state->suppressed_at != 0) {
		*decision_r = g_strdup("not counted: already suppressed");
		return false;
	}
	if (f->orig_counted) {
		*decision_r = g_strdup("not counted: this original mail "
				       "already counted for this recipient");
		return false;
	}
	if (state->consecutive > 0 && state->last_failure_at != 0 &&
	    f->when - state->last_failure_at > (gint64)s->stale_days * 86400) {
		reset = "run reset: no failure for the stale window";
		state->consecutive = 0;
	} else if (state->consecutive > 0 && f->quiet_send_at != 0) {
		reset = "run reset: a later send drew no failure within "
			"the grace window";
		state->consecutive = 0;
	}
	state->consecutive++;
	if (f->when > state->last_failure_at)
		state->last_failure_at = f->when;
	if (f->fatal)
		detail = g_strdup_printf("counted: fatal failure (strike %d "
					 "of %d)",
					 state->consecutive, s->strike_limit);
	else
		detail = g_strdup_printf("counted: strike %d of %d",
					 state->consecutive, s->strike_limit);
	*suppress_r = f->fatal || state->consecutive >= s->strike_limit;
	if (*suppress_r && s->dry_run && state->would_suppress_at != 0)
		*suppress_r = false; /* already reported as would-be */
	*decision_r = g_strconcat(
	    detail, reset != NULL ? "; " : "", reset != NULL ? reset : "",
	    !*suppress_r ? ""
	    : s->dry_run ? "; would be suppressed (dry run)"
			 : "; suppressed",
	    NULL);
	g_free(detail);
	return true;
}

char *
rule_suppress_name(const struct rule_settings *s, const struct rule_facts *f,
		   const char *reason)
{
	if (f->fatal)
		return g_strdup_printf("fatal:%s", reason);
	return g_strdup_printf("strikes:%d", s->strike_limit);
}
