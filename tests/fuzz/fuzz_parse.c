/*
 * fuzz_parse.c - libFuzzer target over the whole parse path:
 * bytes -> bounce_parse() (line ends, GMime, every format parser, original
 * recovery, classification) -> report_free().  Built with
 * --enable-fuzzing; seeds are tests/fixtures, dictionary fuzz_parse.dict.
 */
#include <stddef.h>
#include <stdint.h>
#include <gmime/gmime.h>

#include "parsers/bounce.h"

/* Bigger inputs only slow the fuzzer down; the size cap itself is tested
   in test_parse. */
#define FUZZ_MAX_INPUT (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int initialised;
	struct bounce_report *report;

	if (!initialised) {
		g_mime_init();
		initialised = 1;
	}
	if (size > FUZZ_MAX_INPUT)
		return 0;
	report = bounce_parse((const char *)data, size, NULL);
	report_free(&report);
	return 0;
}
