/* lexicon.h - shared vocabulary of the knowledge base: word-class macros
 * and spelling fixes.
 *
 * intents/lexicon.json names word classes once ("crack": "crack|pop|click
 * ...") so every pattern can say {crack} instead of repeating the list, and
 * maps misspellings and British/American variants to one spelling before
 * matching ("chiropracter" -> "chiropractor").  A person adding synonyms
 * edits that file only.
 */
#ifndef BACKBOT_LEXICON_H
#define BACKBOT_LEXICON_H

#include <stdbool.h>
#include <stddef.h>

struct buf;
struct diag;
struct lexicon;

#define LEXICON_MAX_WORD 48 /* longest word the spelling map looks up */

/* Load 'path'.  A missing file is an error.  NULL with 'd' filled on
 * error.  Caller frees with lexicon_free(). */
struct lexicon *lexicon_load(const char *path, struct diag *d);

/* Add the entries of another lexicon file; a name defined in both is an
 * error.  Returns 0, or -1 with 'd' filled. */
int lexicon_add_file(struct lexicon *lex, const char *path, struct diag *d);

/* An empty lexicon (no macros, no spelling fixes), for tests and for
 * pattern files used on their own.  NULL only when out of memory. */
struct lexicon *lexicon_new_empty(void);

/* Copy 'src' to 'out', replacing each {name} with (?:definition).  A brace
 * that does not enclose a lower-case name (a quantifier such as {2,3}, or
 * \{) is copied unchanged.  Returns 0, or -1 with the unknown name (or the
 * reason) in 'why' and its byte offset in 'src' in *offset. */
int lexicon_expand(const struct lexicon *lex, const char *src, struct buf *out,
    char *why, size_t whysize, size_t *offset);

/* The canonical spelling of 'word' ('len' bytes), or NULL when it has no
 * entry.  Borrowed. */
const char *lexicon_respell(
    const struct lexicon *lex, const char *word, size_t len);

/* A cache of values derived from pattern text (compiled regexes), so a
 * pattern that many intents share is built once.  Keys are copied with
 * 'copy_key', else borrowed (a key held by the value itself, which lives
 * as long as the entry).  'release' is called on each value when the
 * lexicon is freed.  The cache lives beside the lexicon, so adding to it
 * does not change what a const lexicon means.  lexicon_cache_add returns
 * 0 or -1 (no memory). */
void *lexicon_cache_find(const struct lexicon *lex, const char *key);
int lexicon_cache_add(const struct lexicon *lex, const char *key, void *value,
    void (*release)(void *), bool copy_key);

/* Regexes an earlier load found to compile (see kbcache.h), for
 * rx_compile() to trust while patterns are loaded; NULL for none.  The
 * cache must outlive its use here. */
struct kbcache;
void lexicon_use_kbcache(struct lexicon *lex, const struct kbcache *c);
const struct kbcache *lexicon_kbcache(const struct lexicon *lex);

void lexicon_free(struct lexicon *lex); /* NULL is a no-op */

#endif
