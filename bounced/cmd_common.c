/*
 * cmd_common.c - shared plumbing of the database subcommands; see
 * cmd_common.h.  Output: a table sized by display width (CJK counts two
 * columns), RFC 4180 CSV, or a JSON array built with json-glib.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <json-glib/json-glib.h>

#include "bounced/cmd_common.h"
#include "db/rule.h"

#define CMD_DEFAULT_CONFIG SYSCONFDIR "/bounced.conf"

/* PostgreSQL type OIDs (pg_type.h) */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_JSON 114
#define OID_JSONB 3802

int
cmd_common_option(struct cmd_ctx *ctx, int c, const char *arg)
{
	switch (c) {
	case 'D':
		ctx->db_arg = arg;
		return 1;
	case 'c':
		ctx->config_arg = arg;
		return 1;
	case 'F':
		if (strcmp(arg, "table") != 0 && strcmp(arg, "csv") != 0 &&
		    strcmp(arg, "json") != 0) {
			fprintf(stderr,
				"bouncectl: --format %s: unknown "
				"format (allowed: table, csv, json)\n",
				arg);
			return -1;
		}
		ctx->format = arg;
		return 1;
	default:
		return 0;
	}
}

int
cmd_open(struct cmd_ctx *ctx, bool need_config, bool migrated)
{
	const char *file = ctx->config_arg;
	const char *conninfo;
	char *error = NULL;

	if (file == NULL &&
	    (need_config || access(CMD_DEFAULT_CONFIG, F_OK) == 0))
		file = CMD_DEFAULT_CONFIG;
	if (file != NULL &&
	    config_load(file, rule_reason_name, &ctx->cfg, &error) < 0) {
		fprintf(stderr, "bouncectl: %s\n", error);
		g_free(error);
		return -1;
	}
	conninfo = ctx->db_arg != NULL ? ctx->db_arg
		   : ctx->cfg != NULL  ? ctx->cfg->conninfo
				       : NULL;
	if (db_open(conninfo, &ctx->db, &error) < 0 ||
	    (migrated && db_check_schema(ctx->db, &error) < 0)) {
		fprintf(stderr, "bouncectl: %s\n", error);
		g_free(error);
		return -1;
	}
	return 0;
}

void
cmd_close(struct cmd_ctx *ctx)
{
	db_close(&ctx->db);
	config_free(&ctx->cfg);
}

/* Display width of UTF-8 s: wide (CJK) characters take two columns. */
static size_t
cmd_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s = g_utf8_next_char(s)) {
		gunichar u = g_utf8_get_char_validated(s, -1);

		if (u == (gunichar)-1 || u == (gunichar)-2)
			return w + strlen(s);
		w += g_unichar_iswide(u) ? 2 : g_unichar_iszerowidth(u) ? 0 : 1;
	}
	return w;
}

static void
cmd_print_table(const PGresult *res)
{
	int rows = PQntuples(res), cols = PQnfields(res), r, c;
	size_t *w = g_new0(size_t, cols);

	for (c = 0; c < cols; c++) {
		w[c] = cmd_width(PQfname(res, c));
		for (r = 0; r < rows; r++)
			w[c] = MAX(w[c], cmd_width(PQgetvalue(res, r, c)));
	}
	for (r = -1; r < rows; r++) {
		for (c = 0; c < cols; c++) {
			const char *v =
			    r < 0 ? PQfname(res, c) : PQgetvalue(res, r, c);

			fputs(v, stdout);
			if (c + 1 < cols)
				printf("%*s", (int)(w[c] - cmd_width(v) + 2),
				       "");
		}
		putchar('\n');
	}
	printf("(%d row%s)\n", rows, rows == 1 ? "" : "s");
	g_free(w);
}

static void
cmd_csv_field(const char *v)
{
	if (strpbrk(v, ",\"\r\n") == NULL) {
		fputs(v, stdout);
		return;
	}
	putchar('"');
	for (; *v != '\0'; v++) {
		if (*v == '"')
			putchar('"');
		putchar(*v);
	}
	putchar('"');
}

static void
cmd_print_csv(const PGresult *res)
{
	int rows = PQntuples(res), cols = PQnfields(res), r, c;

	for (r = -1; r < rows; r++) {
		for (c = 0; c < cols; c++) {
			if (c > 0)
				putchar(',');
			cmd_csv_field(r < 0 ? PQfname(res, c)
					    : PQgetvalue(res, r, c));
		}
		fputs("\r\n", stdout);
	}
}

static void
cmd_print_json(const PGresult *res)
{
	JsonBuilder *b = json_builder_new();
	JsonGenerator *g;
	JsonNode *root;
	JsonNode *node;
	char *text;
	int r, c;

	json_builder_begin_array(b);
	for (r = 0; r < PQntuples(res); r++) {
		json_builder_begin_object(b);
		for (c = 0; c < PQnfields(res); c++) {
			const char *v = PQgetvalue(res, r, c);
			Oid t = PQftype(res, c);

			json_builder_set_member_name(b, PQfname(res, c));
			if (PQgetisnull(res, r, c))
				json_builder_add_null_value(b);
			else if (t == OID_BOOL)
				json_builder_add_boolean_value(b, *v == 't');
			else if ((t == OID_JSON || t == OID_JSONB) &&
				 (node = json_from_string(v, NULL)) != NULL)
				json_builder_add_value(b, node); /* takes it */
			else if (t == OID_INT2 || t == OID_INT4 ||
				 t == OID_INT8)
				json_builder_add_int_value(
				    b, g_ascii_strtoll(v, NULL, 10));
			else
				json_builder_add_string_value(b, v);
		}
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	root = json_builder_get_root(b);
	g = json_generator_new();
	json_generator_set_root(g, root);
	json_generator_set_pretty(g, TRUE);
	text = json_generator_to_data(g, NULL);
	puts(text);
	g_free(text);
	json_node_unref(root);
	g_object_unref(g);
	g_object_unref(b);
}

void
cmd_print(const struct cmd_ctx *ctx, const PGresult *res)
{
	if (ctx->format != NULL && strcmp(ctx->format, "csv") == 0)
		cmd_print_csv(res);
	else if (ctx->format != NULL && strcmp(ctx->format, "json") == 0)
		cmd_print_json(res);
	else
		cmd_print_table(res);
}

int
cmd_read_file(const char *path, char **buf_r, size_t *len_r)
{
	GError *gerr = NULL;
	GString *s;
	char chunk[65536];
	size_t n;

	if (strcmp(path, "-") != 0) {
		if (!g_file_get_contents(path, buf_r, len_r, &gerr)) {
			fprintf(stderr, "bouncectl: %s\n", gerr->message);
			g_error_free(gerr);
			return -1;
		}
		return 0;
	}
	s = g_string_new(NULL);
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		g_string_append_len(s, chunk, n);
	if (ferror(stdin)) {
		fprintf(stderr, "bouncectl: reading standard input: %s\n",
			g_strerror(errno));
		g_string_free(s, TRUE);
		return -1;
	}
	*len_r = s->len;
	*buf_r = g_string_free(s, FALSE);
	return 0;
}
