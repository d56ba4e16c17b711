/*
 * notify_smtp.c - one SMTP submission with libetpan's mailsmtp; see
 * notify.h.
 *
 * Implicit TLS (465) or STARTTLS, the certificate checked like the
 * fetchers' (fetch_tls.c: libetpan itself verifies nothing), AUTH PLAIN
 * or LOGIN through libetpan's SASL, then MAIL/RCPT/DATA.  Clear text is
 * refused by the configuration unless the relay is on loopback or
 * allow_plaintext is set.  A 5xx to MAIL, to every RCPT or to DATA is
 * permanent; everything else (connection, TLS, AUTH, 4xx) is temporary:
 * the relay or its settings may be fixed, and the notice waits.
 */
#include "config.h"

#include <string.h>
#include <libetpan/libetpan.h>

#include "bounced/fetch.h"
#include "bounced/notify.h"
#include "bounced/secret.h"

static void
smtp_sni(struct mailstream_ssl_context *ctx, void *data)
{
	mailstream_ssl_set_server_name(ctx, data);
}

/* "STEP: 550 text" from the session's last reply; g_free. */
static char *
smtp_reply(mailsmtp *s, const char *step, int r)
{
	char *text = g_strdup(s->response != NULL ? s->response : ""), *e;

	g_strdelimit(text, "\r\n", ' ');
	g_strstrip(text);
	if (s->response_code > 0 && *text != '\0')
		e = g_strdup_printf("%s: %d %s", step, s->response_code, text);
	else
		e = g_strdup_printf("%s: %s", step, mailsmtp_strerror(r));
	g_free(text);
	return e;
}

/* Connects, says EHLO, secures and verifies the connection. */
static int
smtp_open(mailsmtp *s, const struct config_smtp *r, char **error_r)
{
	char *e;
	int rc;

	if (r->tls == CONFIG_TLS_IMPLICIT)
		rc = mailsmtp_ssl_connect_with_callback(
		    s, r->host, (uint16_t)r->port, smtp_sni, r->host);
	else
		rc = mailsmtp_socket_connect(s, r->host, (uint16_t)r->port);
	if (rc != MAILSMTP_NO_ERROR) {
		*error_r = smtp_reply(s, "connect", rc);
		return -1;
	}
	if ((rc = mailesmtp_ehlo(s)) == MAILSMTP_ERROR_NOT_IMPLEMENTED)
		rc = mailsmtp_helo(s);
	if (rc != MAILSMTP_NO_ERROR) {
		*error_r = smtp_reply(s, "EHLO", rc);
		return -1;
	}
	if (r->tls == CONFIG_TLS_STARTTLS) {
		if (!(s->esmtp & MAILSMTP_ESMTP_STARTTLS)) {
			*error_r = g_strdup("the relay does not offer "
					    "STARTTLS (tls = \"starttls\")");
			return -1;
		}
		if ((rc = mailsmtp_socket_starttls_with_callback(
			 s, smtp_sni, r->host)) != MAILSMTP_NO_ERROR ||
		    (rc = mailesmtp_ehlo(s)) != MAILSMTP_NO_ERROR) {
			*error_r = smtp_reply(s, "STARTTLS", rc);
			return -1;
		}
	}
	if (r->tls != CONFIG_TLS_NONE &&
	    fetch_tls_verify(s->stream, r->host, r->ca_file, error_r) < 0) {
		e = *error_r;
		*error_r =
		    g_strdup_printf("smtp %s:%d: %s", r->host, r->port, e);
		g_free(e);
		return -1;
	}
	return 0;
}

/* AUTH as r->user with pw (NULL: no AUTH): PLAIN when the relay offers
   it, else LOGIN (tests/notify_auth.sh proves both).  Runs only on a
   verified TLS connection or an allowed clear-text one (smtp_open). */
static int
smtp_auth(mailsmtp *s, const struct config_smtp *r, const char *pw,
	  char **error_r)
{
	const char *mech = (s->auth & MAILSMTP_AUTH_PLAIN)   ? "PLAIN"
			   : (s->auth & MAILSMTP_AUTH_LOGIN) ? "LOGIN"
							     : NULL;
	int rc;

	if (pw == NULL)
		return 0;
	if (mech == NULL) {
		*error_r = g_strdup("AUTH: the relay offers neither PLAIN nor "
				    "LOGIN");
		return -1;
	}
	rc = mailesmtp_auth_sasl(s, mech, r->host, NULL, NULL, r->user, r->user,
				 pw, NULL);
	if (rc != MAILSMTP_NO_ERROR) {
		char *e = smtp_reply(s, "AUTH", rc);

		*error_r = g_strdup_printf("%s (user %s)", e, r->user);
		g_free(e);
		return -1;
	}
	return 0;
}

/* RCPT for every address; refused ones go to *refused.  Returns the
   number accepted; *perm_r is true when every refusal was a 5xx. */
static int
smtp_rcpts(mailsmtp *s, const char *const *rcpts, GString *refused,
	   bool *perm_r)
{
	int accepted = 0, rc;
	size_t i;

	*perm_r = true;
	for (i = 0; rcpts[i] != NULL; i++) {
		char *e, *step;

		if ((rc = mailsmtp_rcpt(s, rcpts[i])) == MAILSMTP_NO_ERROR) {
			accepted++;
			continue;
		}
		if (s->response_code / 100 != 5)
			*perm_r = false;
		step = g_strdup_printf("RCPT TO:<%s>", rcpts[i]);
		e = smtp_reply(s, step, rc);
		g_string_append_printf(refused, "%s%s",
				       refused->len ? "; " : "", e);
		g_free(e);
		g_free(step);
	}
	return accepted;
}

/* MAIL, RCPT, DATA on an open session. */
static enum notify_smtp_result
smtp_transaction(mailsmtp *s, const char *env_from, const char *const *rcpts,
		 const char *data, size_t len, char **warning_r, char **error_r)
{
	GString *refused = g_string_new(NULL);
	bool perm;
	int rc;

	if ((rc = mailsmtp_mail(s, env_from)) != MAILSMTP_NO_ERROR) {
		*error_r = smtp_reply(s, "MAIL FROM", rc);
		g_string_free(refused, TRUE);
		return s->response_code / 100 == 5 ? NOTIFY_SMTP_PERM
						   : NOTIFY_SMTP_TEMP;
	}
	if (smtp_rcpts(s, rcpts, refused, &perm) == 0) {
		*error_r = g_string_free(refused, FALSE);
		return perm ? NOTIFY_SMTP_PERM : NOTIFY_SMTP_TEMP;
	}
	if ((rc = mailsmtp_data(s)) != MAILSMTP_NO_ERROR ||
	    (rc = mailsmtp_data_message(s, data, len)) != MAILSMTP_NO_ERROR) {
		*error_r = smtp_reply(s, "DATA", rc);
		g_string_free(refused, TRUE);
		return s->response_code / 100 == 5 ? NOTIFY_SMTP_PERM
						   : NOTIFY_SMTP_TEMP;
	}
	*warning_r = refused->len > 0 ? g_string_free(refused, FALSE) : NULL;
	if (*warning_r == NULL)
		g_string_free(refused, TRUE);
	return NOTIFY_SMTP_SENT;
}

enum notify_smtp_result
notify_smtp_send(const struct config_smtp *relay, const char *env_from,
		 const char *const *rcpts, const char *data, size_t len,
		 char **warning_r, char **error_r)
{
	enum notify_smtp_result res = NOTIFY_SMTP_TEMP;
	char *pw = NULL;
	mailsmtp *s;

	*warning_r = NULL;
	/* no password, no connection: the relay never sees a half login */
	if (relay->user != NULL &&
	    (pw = secret_read(relay->password_env, relay->password_file,
			      "smtp ", error_r)) == NULL)
		return NOTIFY_SMTP_TEMP;
	s = mailsmtp_new(0, NULL);
	mailsmtp_set_timeout(s, relay->timeout);
	if (smtp_open(s, relay, error_r) == 0 &&
	    smtp_auth(s, relay, pw, error_r) == 0)
		res = smtp_transaction(s, env_from, rcpts, data, len, warning_r,
				       error_r);
	secret_free(pw);
	if (s->stream != NULL)
		mailsmtp_quit(s);
	mailsmtp_free(s);
	return res;
}
