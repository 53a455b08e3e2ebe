/* text.h - turning what people type into what the patterns expect.
 *
 * Normalising once, before any pattern runs, lets patterns stay simple:
 * lower case ASCII, apostrophes dropped ("can't" -> "cant"), curly quotes
 * and dashes folded, other punctuation turned into spaces, sentence marks
 * kept as their own "?", "." or "," token (triage uses them to end a
 * negation's scope; a question mark, kept even at the end, tells questions
 * from statements), runs of three or more equal letters cut to two
 * ("sooo" -> "soo"),
 * and misspellings fixed word by word through the lexicon.
 */
#ifndef BACKBOT_TEXT_H
#define BACKBOT_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lexicon;

/* Bytes text_normalise() may need for 'len' input bytes, NUL included. */
#define TEXT_NORM_SIZE(len) (3 * (len) + 64)

/* True when the 'len' bytes at 's' are well-formed UTF-8 (no overlongs,
 * surrogates or code points past U+10FFFF) and contain no NUL. */
bool text_valid_utf8(const char *s, size_t len);

/* True when 's' holds nothing but white space. */
bool text_is_blank(const char *s, size_t len);

/* A fast hash of 'len' bytes (not for adversarial keys): the one hash
 * the hash tables share, and what identifies a regex in the knowledge-
 * base cache.  Byte order makes it differ between machines. */
uint64_t text_hash64(const char *s, size_t len);
uint32_t text_hash(const char *s, size_t len); /* its low 32 bits */

/* Normalise 'len' bytes of 'in' into 'out' (of 'outsize' bytes; give it
 * TEXT_NORM_SIZE(len)) and NUL-terminate it.  'lex' may be NULL.  Returns
 * the length written; output that would not fit is cut at a word. */
size_t text_normalise(const char *in, size_t len, char *out, size_t outsize,
    const struct lexicon *lex);

#endif
