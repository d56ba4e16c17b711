/*
 * log.c - see log.h.  One line per event; on stderr it is prefixed with
 * "bounced: " and the level, on syslog the level is the priority.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "bounced/log.h"

static bool log_syslog;
static bool log_verbose;
static const char *log_ident = "bounced";

void
log_open(const char *ident, bool to_syslog, bool verbose)
{
	if (log_syslog)
		closelog();
	log_ident = ident;
	log_syslog = to_syslog;
	log_verbose = verbose;
	if (to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_close(void)
{
	if (log_syslog)
		closelog();
	log_syslog = false;
}

static void __attribute__((format(printf, 3, 0)))
log_vlog(int pri, const char *suffix, const char *fmt, va_list ap)
{
	static const char *const names[] = {"emerg", "alert",   "crit",
					    "error", "warning", "notice",
					    "info",  "debug"};
	char line[2048];
	char *c;

	vsnprintf(line, sizeof(line), fmt, ap);
	/* one event, one line: fold libpq's and servers' line breaks */
	for (c = line; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20)
			*c = ' ';
	if (log_syslog) {
		syslog(pri, "%s%s%s", line, suffix != NULL ? ": " : "",
		       suffix != NULL ? suffix : "");
		return;
	}
	fprintf(stderr, "%s: %s: %s%s%s\n", log_ident, names[pri & 7], line,
		suffix != NULL ? ": " : "", suffix != NULL ? suffix : "");
	fflush(stderr);
}

void
log_warn(const char *fmt, ...)
{
	const char *err = strerror(errno);
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, err, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	log_vlog(LOG_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_CRIT, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
