/*
 * json_out.c - the JSON Lines form of a report, as `bouncectl parse`
 * prints it.  Field order is fixed so golden files diff cleanly.
 */
#include <json-glib/json-glib.h>

#include "bounced/json_out.h"
#include "parsers/classify.h"

static const char *const kind_names[] = {"none",      "dsn",      "bounce",
					 "autoreply", "feedback", "error"};

/* Adds name: value, or name: null for NULL or "". */
static void
add_str(JsonBuilder *b, const char *name, const char *value)
{
	json_builder_set_member_name(b, name);
	if (value == NULL || *value == '\0')
		json_builder_add_null_value(b);
	else
		json_builder_add_string_value(b, value);
}

static void
add_original(JsonBuilder *b, const struct bounce_original *o)
{
	json_builder_set_member_name(b, "original");
	json_builder_begin_object(b);
	add_str(b, "message_id", o->message_id);
	add_str(b, "envelope_id", o->envelope_id);
	add_str(b, "from", o->from);
	add_str(b, "to", o->to);
	add_str(b, "subject", o->subject);
	add_str(b, "date", o->date);
	json_builder_end_object(b);
}

static void
add_rcpt(JsonBuilder *b, const struct bounce_rcpt *r)
{
	static const struct bounce_rcpt none = {0};

	if (r == NULL)
		r = &none;
	add_str(b, "recipient", r->recipient);
	add_str(b, "action", r->action);
	add_str(b, "status", r->status);
	add_str(b, "replycode", r->replycode);
	add_str(b, "reason",
		r == &none ? NULL : classify_reason_name(r->reason));
	json_builder_set_member_name(b, "hardbounce");
	json_builder_add_boolean_value(b, r->hardbounce);
	add_str(b, "side", classify_side_name(r->side));
	add_str(b, "diagnostic", r->diagnostic);
	add_str(b, "remote_mta", r->remote_mta);
}

/* The builder and generator are reused across lines: creating them per
   line cost more than the rest of the output. */
static JsonBuilder *builder;
static JsonGenerator *generator;
static GString *line;

static void
build_rcpt(JsonBuilder *b, const char *file, const struct bounce_report *report,
	   const struct bounce_rcpt *r)
{
	json_builder_begin_object(b);
	add_str(b, "file", file);
	add_str(b, "kind", kind_names[report->kind]);
	add_rcpt(b, r);
	add_str(b, "reporting_mta", report->reporting_mta);
	add_str(b, "parser", report->parser);
	add_str(b, "rule", r != NULL ? r->rule : NULL);
	add_str(b, "date", report->date);
	add_original(b, &report->original);
	add_str(b, "order_number", report->order_number);
	add_str(b, "mail_type", report->mail_type);
	add_str(b, "feedback_type", report->feedback_type);
	if (report->kind == BOUNCE_KIND_ERROR)
		add_str(b, "error", report->error);
	json_builder_end_object(b);
}

/* Writes one line for r (NULL: the report without recipients). */
static void
write_rcpt(FILE *fp, const char *file, const struct bounce_report *report,
	   const struct bounce_rcpt *r)
{
	JsonNode *root;

	if (builder == NULL) {
		builder = json_builder_new();
		generator = json_generator_new();
		line = g_string_sized_new(1024);
	}
	json_builder_reset(builder);
	build_rcpt(builder, file, report, r);
	root = json_builder_get_root(builder);
	json_generator_set_root(generator, root);
	g_string_truncate(line, 0);
	json_generator_to_gstring(generator, line);
	g_string_append_c(line, '\n');
	fwrite(line->str, 1, line->len, fp);
	json_generator_set_root(generator, NULL);
	json_node_unref(root);
}

int
json_out_report(FILE *fp, const char *file, const struct bounce_report *report)
{
	guint i;

	if (report->rcpts->len == 0) {
		write_rcpt(fp, file, report, NULL);
		return 1;
	}
	for (i = 0; i < report->rcpts->len; i++)
		write_rcpt(fp, file, report,
			   g_ptr_array_index(report->rcpts, i));
	return (int)report->rcpts->len;
}

void
json_out_shutdown(void)
{
	g_clear_object(&builder);
	g_clear_object(&generator);
	if (line != NULL)
		g_string_free(line, TRUE);
	line = NULL;
}
