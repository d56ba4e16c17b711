/*
 * json_out.h - struct bounce_report -> JSON Lines.
 */
#ifndef BOUNCED_JSON_OUT_H
#define BOUNCED_JSON_OUT_H

#include <stdio.h>
#include "parsers/report.h"

/* Writes one JSON object per recipient of report to fp, one per line, in
   report order; a report without recipients writes one object with
   "recipient": null.  file is the name to print in the "file" field.
   Returns the number of lines written. */
int json_out_report(FILE *fp, const char *file,
    const struct bounce_report *report);

/* Frees the line buffer json_out_report() keeps between calls.  Call
   once at exit; a later json_out_report() makes a new one. */
void json_out_shutdown(void);

#endif
