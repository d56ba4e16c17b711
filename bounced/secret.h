/*
 * secret.h - reading a configured password: from the environment
 * variable a setting names (password_env) or the first line of a file
 * (password_file), as mailboxes and SMTP relays are configured.
 */
#ifndef BOUNCED_SECRET_H
#define BOUNCED_SECRET_H

/* Returns the password: the value of the variable env_name if env_name
   is not NULL, else the first line of file (without its line end).
   what prefixes the error ("" or e.g. "smtp ").  The result is newly
   allocated; release it with secret_free().  Returns NULL and *error_r
   (g_free) when the variable is unset or empty, the file cannot be read
   or its first line is empty; *error_r never holds the password. */
char *secret_read(const char *env_name, const char *file, const char *what,
		  char **error_r);

/* Wipes and frees a password from secret_read(); NULL is a no-op. */
void secret_free(char *password);

#endif
