/* literals.h - what literal text a regex needs, read from its source.
 *
 * The prefilter (prefilter.h) builds on these answers; see literals.c
 * for how they are found.  Literals are stored in the form the scan
 * compares: lower case, and every byte that is not a letter, a digit, a
 * space, '.' or ',' as '?'.
 */
#ifndef BACKBOT_LITERALS_H
#define BACKBOT_LITERALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_NEED     4   /* sets of one regex that must all occur */
#define MAX_WORDS    128 /* strings in one enumerated word list */
#define MAX_WORD_LEN 96

/* A literal is stored after one byte of flags, '0' + LIT_*: where the
 * regex needs a word boundary around it (\bpt\b is rarer than pt). */
#define LIT_START 1 /* a word starts where the literal starts */
#define LIT_END   2 /* a word ends where the literal ends */

struct litset {
	bool known;
	char **s; /* flags byte, then the literal */
	size_t n, cap;
	size_t shortest; /* see set_shortest(); kept as literals come */
};

void set_free(struct litset *ls);

/* The shortest literal, a boundary counting as one more character:
 * a rough measure of how rarely the set occurs (0 when empty). */
size_t set_shortest(const struct litset *ls);

/* What a regex needs: one literal of each set; none known when n == 0.
 * Sets are kept best first. */
struct need {
	struct litset set[MAX_NEED];
	size_t n;
};

void need_free(struct need *nd);

/* The sets every match of regex 'src' needs, in *out.  False (and
 * out->n == 0) when nothing can be told. */
bool regex_needs(const char *src, struct need *out);

/* The literals every match of 'src' starts with, in *out (LIT_START
 * where a boundary comes first).  False, and *out empty, when there are
 * none to tell or they would be found almost everywhere. */
bool regex_starts(const char *src, struct litset *out);

/* Exact word lists: the whole language of a regex that is only words
 * and phrases, \b(?:crack|cracks|pop(?:ping)?|lift\w*)\b.  A word may
 * end in \w* ("open": any rest of the word). */
struct word {
	char s[MAX_WORD_LEN + 1];
	size_t len;
	bool open; /* ends with \w* */
};

struct wordset {
	struct word *w;
	size_t n;
	bool ok;
};

void ws_free(struct wordset *ws);

/* Is 'src' "\b BODY \b" (either \b optional) over whole words?  Then
 * *ws is its language and *need_start / *need_end say which \b there
 * are. */
bool regex_words(
    const char *src, struct wordset *ws, bool *need_start, bool *need_end);

/* Is 'src' in the plain word-list grammar (words, spaces, (?:a|b), ?, a
 * final \w*, \b at either end), without enumerating it?  Such a regex
 * is always valid PCRE2, so compiling it can wait until it is needed. */
bool regex_is_word_list(const char *src);

/* Letters, digits and '_', as \w and \b see them (inline: the scan
 * asks around every literal it finds).  Looked up in two 64-bit masks of
 * the ASCII characters, without branches: which character comes next is
 * not predictable. */
static inline bool
is_word_char(char c)
{
	const uint64_t low = 0x03FF000000000000u;  /* '0'-'9' */
	const uint64_t high = 0x07FFFFFE87FFFFFEu; /* 'A'-'Z', '_', 'a'-'z' */
	unsigned u = (unsigned char)c;

	return ((u < 128) & (((u < 64 ? low : high) >> (u & 63)) & 1)) != 0;
}

#endif
