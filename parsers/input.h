/*
 * input.h - builds the struct bounce_input that format parsers read.
 */
#ifndef BOUNCED_INPUT_H
#define BOUNCED_INPUT_H

#include "registry.h"

/* Maximum bytes of decoded text kept for the body and the attached
   headers: bounce texts are short, and scanning must stay cheap on
   hostile input. */
#define INPUT_MAX_TEXT (1024 * 1024)

/* Fills in from msg.  in borrows msg (keep it alive); the strings are
   owned by in and released with input_clear(). */
void input_init(struct bounce_input *in, struct mime_message *msg);

/* Frees what input_init() allocated. */
void input_clear(struct bounce_input *in);

/* Returns the first addr-spec in a header value (lowercased domain),
   newly allocated, or NULL. */
char *input_first_addr(const char *value);

#endif
