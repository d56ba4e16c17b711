/*
 * charset.h - bytes in some charset -> UTF-8, with Japanese detection.
 *
 * Bounces arrive labelled wrongly or not at all: raw Shift_JIS, EUC-JP,
 * 7-bit ISO-2022-JP escapes inside headers, vendor characters (CP50220,
 * CP932).  These functions always return valid UTF-8.
 */
#ifndef BOUNCED_CHARSET_H
#define BOUNCED_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

/* Converts len bytes of data from charset (a MIME charset name, or NULL
   when unknown) to UTF-8.  A missing or wrong label is repaired by
   detection: ISO-2022-JP escapes, valid UTF-8, EUC-JP, CP932, then
   Windows-1252 as the catch-all.  Returns a newly allocated string
   (g_free); never NULL. */
char *charset_to_utf8(const char *data, size_t len, const char *charset);

/* Converts len bytes of data from charset (an iconv name) to UTF-8 with
   a cached converter, as iconv does, or returns NULL if iconv does not
   know charset, any byte fails to convert, or the result holds a NUL or
   a C1 control.  Newly allocated (g_free). */
char *charset_convert_strict(const char *data, size_t len, const char *charset);

/* Returns a newly allocated UTF-8 copy of a header value that GMime
   already decoded but that may still hold raw ISO-2022-JP escape
   sequences or invalid bytes.  NULL in gives NULL out. */
char *charset_fix_header(const char *value);

/* As charset_fix_header(), but returns NULL when value (not NULL) needs
   no fixing (valid UTF-8 without ISO-2022-JP escapes), so the caller can
   use value itself and only a fixed value is copied.  NULL in gives NULL
   out; a non-NULL result is newly allocated (g_free). */
char *charset_fix_header_if_needed(const char *value);

/* Returns how many of the len bytes at s, from the start, are whole
   UTF-8 characters without NUL: len exactly when g_utf8_validate(s, len,
   NULL) is true, else the offset it reports as the end of the valid
   data.  ASCII is read 16 bytes at a time. */
size_t charset_utf8_valid_len(const char *s, size_t len);

/* As g_utf8_make_valid(data, len): a newly allocated (g_free) copy of
   the len bytes at data with each byte that does not start a valid
   character (NUL included) replaced by U+FFFD. */
char *charset_utf8_make_valid(const char *data, size_t len);

/* True if one of the len bytes at s is 8-bit (>= 0x80).  Reads 8 bytes
   at a time: most text is ASCII, and this is how callers skip UTF-8
   validation and conversion for it. */
bool charset_has_8bit(const char *s, size_t len);

/* Opens converters to UTF-8 from each charset of the NULL-terminated
   list and caches them until charset_shutdown().  GMime's header decoder
   opens and closes a converter per 8-bit word and fallback charset; a
   descriptor held here keeps the gconv module loaded, so those opens do
   not load it again each time.  Unknown names are ignored. */
void charset_preload(const char *const *charsets);

/* Closes the cached converters; call once at exit (bounce_shutdown()
   does). */
void charset_shutdown(void);

#endif
