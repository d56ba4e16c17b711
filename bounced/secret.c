/*
 * secret.c - reading a configured password (see secret.h).
 */
#include "config.h"

#include <string.h>
#include <glib.h>

#include "bounced/secret.h"

char *
secret_read(const char *env_name, const char *file, const char *what,
	    char **error_r)
{
	GError *gerr = NULL;
	char *pw = NULL;
	const char *v;

	if (env_name != NULL) {
		if ((v = g_getenv(env_name)) == NULL || *v == '\0') {
			*error_r = g_strdup_printf(
			    "%spassword_env: the environment variable %s is "
			    "not set",
			    what, env_name);
			return NULL;
		}
		return g_strdup(v);
	}
	if (!g_file_get_contents(file, &pw, NULL, &gerr)) {
		*error_r =
		    g_strdup_printf("%spassword_file: %s", what, gerr->message);
		g_error_free(gerr);
		return NULL;
	}
	pw[strcspn(pw, "\r\n")] = '\0';
	if (*pw == '\0') {
		*error_r = g_strdup_printf(
		    "%spassword_file %s: the first line is empty", what, file);
		g_free(pw);
		return NULL;
	}
	return pw;
}

void
secret_free(char *password)
{
	if (password == NULL)
		return;
	memset(password, 0, strlen(password));
	g_free(password);
}
