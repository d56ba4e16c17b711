/*
 * charset.c - conversion to UTF-8 with detection of Japanese charsets.
 *
 * Detection order matters: the strictest decoder that accepts every byte
 * wins.  ISO-2022-JP is recognised by its escapes (ESC $ B, ESC $ @,
 * ESC ( J, ESC ( I); then UTF-8; then EUC-JP, whose two-byte ranges
 * (0xA1-0xFE pairs) reject most Shift_JIS; then CP932; then Windows-1252.
 */
#include <stdbool.h>
#include <string.h>
#include <glib.h>

#include "charset.h"

bool
charset_has_8bit(const char *s, size_t len)
{
	guint64 acc = 0, w[4];
	size_t i = 0;

	for (; i + 32 <= len; i += 32) {
		memcpy(w, s + i, 32);
		acc |= w[0] | w[1] | w[2] | w[3];
	}
	for (; i + 8 <= len; i += 8) {
		memcpy(w, s + i, 8);
		acc |= w[0];
	}
	for (; i < len; i++)
		acc |= (unsigned char)s[i];
	return (acc & G_GUINT64_CONSTANT(0x8080808080808080)) != 0;
}

/* The 8 bytes at p as a number whose low byte is p[0]. */
static guint64
load_le64(const unsigned char *p)
{
	guint64 w;

	memcpy(&w, p, 8);
	return GUINT64_FROM_LE(w);
}

/* Returns w (8 bytes, p[0] lowest) with the top bit set in the first byte
   that is NUL or 8-bit, and 0 if none is.  A byte b is fine when neither
   b nor b - 1 has its top bit set; a borrow into a higher byte only
   starts at a NUL, so no bit is set below the first such byte. */
static guint64
non_ascii_bits(guint64 w)
{
	const guint64 ones = G_GUINT64_CONSTANT(0x0101010101010101);
	const guint64 tops = G_GUINT64_CONSTANT(0x8080808080808080);

	return (w | (w - ones)) & tops;
}

/* The index (0-7) of the first byte flagged in bits, not 0. */
static size_t
first_flagged(guint64 bits)
{
	return (size_t)__builtin_ctzll(bits) / 8;
}

/* Returns how many of the n bytes at p are ASCII other than NUL, from
   the start.  Reads 16 bytes a step, and the last 8 (overlapping bytes
   already read) instead of a byte loop for the tail. */
static size_t
ascii_prefix(const unsigned char *p, size_t n)
{
	guint64 bits;
	size_t i = 0;

	for (; i + 16 <= n; i += 16)
		if ((non_ascii_bits(load_le64(p + i)) |
		     non_ascii_bits(load_le64(p + i + 8))) != 0)
			break;
	for (; i + 8 <= n; i += 8)
		if ((bits = non_ascii_bits(load_le64(p + i))) != 0)
			return i + first_flagged(bits);
	if (i == n)
		return n;
	if (n >= 8) {
		bits = non_ascii_bits(load_le64(p + n - 8));
		return bits != 0 ? n - 8 + first_flagged(bits) : n;
	}
	while (i < n && p[i] - 1u < 0x7fu)
		i++;
	return i;
}

/* Returns the length of the UTF-8 character at p (n > 0 bytes left, p[0]
   not ASCII) as g_utf8_validate() accepts it: no overlong form, no
   surrogate, nothing above U+10FFFF; 0 if it is invalid or truncated. */
static size_t
utf8_char_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c < 0xc2 || c > 0xf4)
		return 0;
	if (c < 0xe0)
		len = 2;
	else if (c < 0xf0)
		len = 3;
	else
		len = 4;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

size_t
charset_utf8_valid_len(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n;

	while (i < len) {
		if (p[i] >= 0x80) {
			if ((n = utf8_char_len(p + i, len - i)) == 0)
				return i;
			i += n;
		} else if (p[i] != '\0') {
			i += ascii_prefix(p + i, len - i);
		} else {
			return i;
		}
	}
	return len;
}

char *
charset_utf8_make_valid(const char *data, size_t len)
{
	size_t bad = 0, i, n;
	char *out, *o;

	for (i = 0; (i += charset_utf8_valid_len(data + i, len - i)) < len; i++)
		bad++;
	o = out = g_malloc(len + 2 * bad + 1);
	for (i = 0; i < len; i += n + 1) {
		n = charset_utf8_valid_len(data + i, len - i);
		memcpy(o, data + i, n);
		o += n;
		if (i + n < len) {
			memcpy(o, "\357\277\275", 3);
			o += 3;
		}
	}
	*o = '\0';
	return out;
}

/* C1 controls (U+0080-U+009F) never occur in real text, but lenient
   decoders map stray 8-bit bytes to them: treat them as a failed guess. */
static bool
has_c1_control(const char *utf8, size_t len)
{
	const char *p = utf8, *end = utf8 + len, *q;

	while (p < end && (q = memchr(p, 0xc2, end - p)) != NULL) {
		if (q + 1 < end && (unsigned char)q[1] >= 0x80 &&
		    (unsigned char)q[1] <= 0x9f)
			return true;
		p = q + 1;
	}
	return false;
}

/* Open converters to UTF-8 by source charset name.  Opening an iconv
   descriptor loads a gconv module, which costs more than converting a
   whole bounce, so descriptors live until charset_shutdown().  A charset
   iconv does not know maps to NULL so it is not retried. */
static GHashTable *converters;

static GIConv
converter_for(const char *charset)
{
	GIConv cd;
	gpointer found;

	if (converters == NULL)
		converters = g_hash_table_new_full(g_str_hash, g_str_equal,
						   g_free, NULL);
	if (g_hash_table_lookup_extended(converters, charset, NULL, &found))
		return found != NULL ? (GIConv)found : (GIConv)-1;
	cd = g_iconv_open("UTF-8", charset);
	g_hash_table_insert(converters, g_strdup(charset),
			    cd != (GIConv)-1 ? (gpointer)cd : NULL);
	return cd;
}

void
charset_preload(const char *const *charsets)
{
	for (; *charsets != NULL; charsets++)
		(void)converter_for(*charsets);
}

static void
close_converter(gpointer key, gpointer value, gpointer data)
{
	if (value != NULL)
		g_iconv_close((GIConv)value);
}

void
charset_shutdown(void)
{
	if (converters == NULL)
		return;
	g_hash_table_foreach(converters, close_converter, NULL);
	g_hash_table_destroy(converters);
	converters = NULL;
}

/* --- conversions without gconv ---------------------------------------------

   glibc converts through UCS-4 one character at a time, which costs more
   than the rest of reading a Japanese bounce.  Two common cases are done
   here with the same result as iconv, and anything they do not cover
   goes to iconv: ASCII text under a single-byte label (WINDOWS-1252, the
   table us-ascii and iso-8859-1 map to, leaves ASCII unchanged), and
   ISO-2022-JP with only ASCII and JIS X 0208 (ESC ( B, ESC $ B), whose
   characters are looked up once each through iconv itself. */

/* The UTF-8 bytes of each JIS X 0208 code (row and cell 0-93) as glibc's
   ISO-2022-JP converts it: bytes low first, the length in the top byte;
   0 = not looked up yet, JIS_NONE = no conversion (or a control). */
#define JIS_NONE 0xffffffffu
static guint32 jis_utf8[94 * 94];

/* Looks up the code c1 c2 (each 0x21-0x7e) once through iconv; kept out
   of line, as it is the rare case of jis_char(). */
static G_GNUC_NO_INLINE guint32
jis_lookup(unsigned char c1, unsigned char c2)
{
	guint32 *slot = &jis_utf8[(c1 - 0x21) * 94 + (c2 - 0x21)];
	char in[5] = {0x1b, '$', 'B', (char)c1, (char)c2}, out[8];
	char *ip = in, *op = out;
	gsize il = sizeof(in), ol = sizeof(out);
	GIConv cd;
	size_t n, i;

	if (*slot != 0)
		return *slot;
	*slot = JIS_NONE;
	if ((cd = converter_for("ISO-2022-JP")) == (GIConv)-1)
		return *slot;
	g_iconv(cd, NULL, NULL, NULL, NULL);
	if (g_iconv(cd, &ip, &il, &op, &ol) == (gsize)-1 || il != 0)
		return *slot;
	n = op - out;
	if (n == 0 || n > 3 || (unsigned char)out[0] < 0x80 ||
	    ((unsigned char)out[0] == 0xc2 && (unsigned char)out[1] <= 0x9f))
		return *slot;
	*slot = (guint32)n << 24;
	for (i = 0; i < n; i++)
		*slot |= (guint32)(unsigned char)out[i] << (8 * i);
	return *slot;
}

/* The table entry of the code c1 c2 (each 0x21-0x7e), looked up on first
   use. */
static guint32
jis_char(unsigned char c1, unsigned char c2)
{
	guint32 u = jis_utf8[(c1 - 0x21) * 94 + (c2 - 0x21)];

	return u != 0 ? u : jis_lookup(c1, c2);
}

/* Returns how many of the n bytes at p are printable ASCII, tab, CR or
   LF, from the start. */
static size_t
ascii_text_run(const unsigned char *p, size_t n)
{
	size_t i = 0;

	while (i < n &&
	       (p[i] >= 0x20 ? p[i] < 0x7f
			     : p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
		i++;
	return i;
}

/* Reads an escape at p (len bytes left) into *jis; false for any but
   ESC ( B and ESC $ B. */
static bool
jis_escape(const char *p, size_t len, bool *jis)
{
	if (len < 3 || p[2] != 'B')
		return false;
	if (p[1] == '(')
		*jis = false;
	else if (p[1] == '$')
		*jis = true;
	else
		return false;
	return true;
}

/* Converts ISO-2022-JP of the covered kind (see above) with printable
   ASCII, tab, CR and LF outside JIS mode; NULL for anything else.  The
   output never outgrows 3 bytes per 2 of input. */
static char *
iso2022jp_fast(const char *data, size_t len)
{
	const unsigned char *in = (const unsigned char *)data;
	char *out = g_malloc(len + len / 2 + 1), *o = out;
	bool jis = false;
	size_t i = 0, n;

	while (i < len) {
		guint32 u;

		if (in[i] == 0x1b) {
			if (!jis_escape(data + i, len - i, &jis))
				break;
			i += 3;
		} else if (!jis) {
			if ((n = ascii_text_run(in + i, len - i)) == 0)
				break;
			memcpy(o, in + i, n);
			o += n;
			i += n;
		} else {
			if (i + 1 >= len || in[i] < 0x21 || in[i] > 0x7e ||
			    in[i + 1] < 0x21 || in[i + 1] > 0x7e ||
			    (u = jis_char(in[i], in[i + 1])) == JIS_NONE)
				break;
			o[0] = (char)u;
			o[1] = (char)(u >> 8);
			o[2] = (char)(u >> 16);
			o += u >> 24;
			i += 2;
		}
	}
	if (i < len) {
		g_free(out);
		return NULL;
	}
	*o = '\0';
	return out;
}

/* True if len bytes of data are ASCII without NUL. */
static bool
is_plain_ascii(const char *data, size_t len)
{
	return ascii_prefix((const unsigned char *)data, len) == len;
}

/* As g_utf8_validate(data, len, NULL), which also refuses a NUL among
   the len bytes. */
static bool
valid_utf8(const char *data, size_t len)
{
	return charset_utf8_valid_len(data, len) == len;
}

/* What try_convert() returns when it can be had without iconv, or NULL
   (then iconv decides). */
static char *
convert_fast(const char *data, size_t len, const char *charset)
{
	if (strcmp(charset, "ISO-2022-JP") == 0)
		return iso2022jp_fast(data, len);
	if (strcmp(charset, "WINDOWS-1252") == 0 && is_plain_ascii(data, len))
		return g_strndup(data, len);
	return NULL;
}

static char *
try_convert(const char *data, size_t len, const char *charset)
{
	GIConv cd;
	GError *err = NULL;
	gsize written = 0;
	char *out;

	if ((out = convert_fast(data, len, charset)) != NULL)
		return out;
	if ((cd = converter_for(charset)) == (GIConv)-1)
		return NULL;
	g_iconv(cd, NULL, NULL, NULL, NULL); /* reset shift state */
	out = g_convert_with_iconv(data, len, cd, NULL, &written, &err);
	if (out == NULL) {
		g_clear_error(&err);
		return NULL;
	}
	if (!valid_utf8(out, written) || has_c1_control(out, written)) {
		g_free(out);
		return NULL;
	}
	return out;
}

char *
charset_convert_strict(const char *data, size_t len, const char *charset)
{
	return try_convert(data, len, charset);
}

/* True if the len bytes at data hold ESC $ B, ESC $ @, ESC ( J or
   ESC ( I.  memchr() finds the ESC bytes, which most text has none of. */
static bool
has_iso2022jp_escape(const char *data, size_t len)
{
	const char *p = data, *end = data + len, *q;

	while (end - p >= 3 && (q = memchr(p, 0x1b, end - p - 2)) != NULL) {
		if ((q[1] == '$' && (q[2] == 'B' || q[2] == '@')) ||
		    (q[1] == '(' && (q[2] == 'J' || q[2] == 'I')))
			return true;
		p = q + 1;
	}
	return false;
}

/* Converts ISO-2022-JP, trying the strict table first and then the
   vendor variants (CP50221 covers NEC/IBM extensions and half-width
   kana, as sent by Outlook Express and Japanese web mail). */
static char *
from_iso2022jp(const char *data, size_t len)
{
	static const char *const variants[] = {
	    "ISO-2022-JP", "CP50221", "ISO-2022-JP-2", "ISO-2022-JP-3", NULL};
	size_t i;
	char *out;

	for (i = 0; variants[i] != NULL; i++)
		if ((out = try_convert(data, len, variants[i])) != NULL)
			return out;
	return NULL;
}

/* Maps a MIME label to the most tolerant iconv table of its family:
   Shift_JIS mail is nearly always CP932, EUC-JP often holds CP51932
   vendor characters. */
static const char *
tolerant_name(const char *charset)
{
	if (g_ascii_strcasecmp(charset, "shift_jis") == 0 ||
	    g_ascii_strcasecmp(charset, "shift-jis") == 0 ||
	    g_ascii_strcasecmp(charset, "sjis") == 0 ||
	    g_ascii_strcasecmp(charset, "x-sjis") == 0 ||
	    g_ascii_strcasecmp(charset, "windows-31j") == 0)
		return "CP932";
	if (g_ascii_strcasecmp(charset, "euc-jp") == 0 ||
	    g_ascii_strcasecmp(charset, "x-euc-jp") == 0)
		return "EUC-JP-MS";
	if (g_ascii_strcasecmp(charset, "us-ascii") == 0 ||
	    g_ascii_strcasecmp(charset, "iso-8859-1") == 0)
		return "WINDOWS-1252";
	return charset;
}

static bool
is_ascii_or_latin_label(const char *charset)
{
	return g_ascii_strcasecmp(charset, "us-ascii") == 0 ||
	       g_ascii_strcasecmp(charset, "iso-8859-1") == 0;
}

/* Converts text labelled US-ASCII or ISO-8859-1 as WINDOWS-1252, or
   returns NULL (detection decides) when it holds ISO-2022-JP escapes or
   is not valid UTF-8: such a label on 8-bit Japanese text is a common
   lie.  ASCII, the usual case, is read once. */
static char *
from_ascii_or_latin(const char *data, size_t len)
{
	size_t n = ascii_prefix((const unsigned char *)data, len);

	if (has_iso2022jp_escape(data, len))
		return NULL;
	if (n == len)
		return g_strndup(data, len);
	if (!valid_utf8(data + n, len - n))
		return NULL;
	return try_convert(data, len, "WINDOWS-1252");
}

static char *
detect(const char *data, size_t len)
{
	static const char *const order[] = {"EUC-JP", "CP932", "WINDOWS-1252",
					    NULL};
	size_t i;
	char *out;

	if (has_iso2022jp_escape(data, len) &&
	    (out = from_iso2022jp(data, len)) != NULL)
		return out;
	if (valid_utf8(data, len))
		return g_strndup(data, len);
	for (i = 0; order[i] != NULL; i++)
		if ((out = try_convert(data, len, order[i])) != NULL)
			return out;
	return charset_utf8_make_valid(data, len);
}

char *
charset_to_utf8(const char *data, size_t len, const char *charset)
{
	char *out = NULL;

	if (data == NULL || len == 0)
		return g_strdup("");
	if (charset != NULL && *charset != '\0') {
		if (g_ascii_strncasecmp(charset, "iso-2022-jp", 11) == 0)
			out = from_iso2022jp(data, len);
		else if (g_ascii_strcasecmp(charset, "utf-8") == 0 ||
			 g_ascii_strcasecmp(charset, "utf8") == 0)
			out =
			    valid_utf8(data, len) ? g_strndup(data, len) : NULL;
		else if (is_ascii_or_latin_label(charset))
			out = from_ascii_or_latin(data, len);
		else if (!has_iso2022jp_escape(data, len))
			out = try_convert(data, len, tolerant_name(charset));
	}
	return out != NULL ? out : detect(data, len);
}

char *
charset_fix_header_if_needed(const char *value)
{
	size_t len;

	if (value == NULL)
		return NULL;
	len = strlen(value);
	if (!has_iso2022jp_escape(value, len) && valid_utf8(value, len))
		return NULL;
	return charset_to_utf8(value, len, NULL);
}

char *
charset_fix_header(const char *value)
{
	char *fixed = charset_fix_header_if_needed(value);

	return fixed != NULL || value == NULL ? fixed : g_strdup(value);
}
