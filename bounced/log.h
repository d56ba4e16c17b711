/*
 * log.h - the daemon's logging: syslog (facility mail) or stderr.
 *
 * Callers never pass a password or a message body: log a mailbox by its
 * "shop/name", a message by its key, an error by its one-line text.
 * Before log_open() everything goes to stderr.
 */
#ifndef BOUNCED_LOG_H
#define BOUNCED_LOG_H

#include <stdbool.h>

/* Sends the log to syslog as ident (to_syslog) or to stderr; verbose
   enables log_debug().  May be called again (after a reload). */
void log_open(const char *ident, bool to_syslog, bool verbose);

/* Closes syslog if open; later messages go to stderr. */
void log_close(void);

/* log_warn() appends ": strerror(errno)". */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Logs at LOG_CRIT and exits 1 (tier 1: a bug or an impossible state). */
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#endif
