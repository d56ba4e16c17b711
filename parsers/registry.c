/*
 * registry.c - the ordered table of format parsers.
 *
 * Order matters: complaint reports and standard DSNs are recognised by
 * their MIME structure and go first; then auto-replies (so a vacation
 * reply is never read as a bounce); then the specific text formats, whose
 * match tests are narrow (sender, subject, marker lines); the generic
 * parsers come last: delivery-status fields pasted into text, then
 * anything that looks like a bounce.
 */
#include "formats.h"

static const struct bounce_parser *const *const groups[] = {
    fmt_jp_parsers,
    fmt_provider_parsers,
    fmt_exchange_parsers,
    fmt_mta_parsers,
};

static int
try_parser(const struct bounce_parser *p, const struct bounce_input *in,
	   struct bounce_report *report)
{
	if (p->parse(in, report) != 1)
		return 0;
	report->parser = p->name;
	return 1;
}

int
registry_parse(const struct bounce_input *in, struct bounce_report *report)
{
	size_t i, j;

	if (try_parser(&fmt_arf, in, report) ||
	    try_parser(&fmt_dsn, in, report) ||
	    try_parser(&fmt_autoreply, in, report))
		return 1;
	for (i = 0; i < G_N_ELEMENTS(groups); i++)
		for (j = 0; groups[i][j] != NULL; j++)
			if (try_parser(groups[i][j], in, report))
				return 1;
	return try_parser(&fmt_dsn_text, in, report) ||
	       try_parser(&fmt_generic, in, report);
}
