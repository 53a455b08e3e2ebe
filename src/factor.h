/* factor.h - rewrite alternations of words into prefix trees.
 *
 * The knowledge base writes word lists the way people read them:
 * (?:mom|mother|mum|mums|dad|father).  A backtracking engine tries every
 * branch at every position of the text; the same list as a prefix tree,
 * (?:m(?:o(?:m|ther)|ums?...)|d...), fails after one or two characters.
 * The rewrite keeps the order in which branches are tried wherever two
 * of them could match at the same place, so the regex finds exactly the
 * same matches, not merely the same set of texts.
 */
#ifndef BACKBOT_FACTOR_H
#define BACKBOT_FACTOR_H

struct buf;

/* Write the factored form of regex 'src' to 'out' (reset first).
 * Returns 0, or -1 when 'src' uses syntax the rewrite leaves alone (the
 * caller then compiles 'src' as it is) or memory runs out. */
int regex_factor(const char *src, struct buf *out);

/* Just past the character class starting at p ('['), or NULL when it is
 * not closed before 'end'. */
const char *regex_class_end(const char *p, const char *end);

/* Just past the ')' of the group starting at p ('('), or NULL when it is
 * not closed before 'end'. */
const char *regex_group_end(const char *p, const char *end);

/* Just past the atom at p: an escape, a class, a group or one
 * character.  NULL when it is not closed before 'end'. */
const char *regex_atom_end(const char *p, const char *end);

#endif
