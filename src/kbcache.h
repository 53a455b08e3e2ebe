/* kbcache.h - the compiled knowledge base, kept between runs.
 *
 * Loading a knowledge base checks its ~1,000 regexes with PCRE2 and
 * builds the prefilter's automaton from them: most of the start-up time,
 * and all of it depends on the regexes' text alone.  The cache keeps the
 * result of that work for one knowledge-base directory in a file:
 *   - the hashes of the regexes known to compile (rx_compile() skips its
 *     check for them; a regex that changed has another hash and is
 *     checked again);
 *   - the built automaton, which prefilter_build() takes only when the
 *     regexes registered are exactly those it was built for.
 * A cache file written by another build of backbot or against another
 * PCRE2 is not used, nor is one whose checksum fails or that is not this
 * user's own, writable by no one else; it is then built again and
 * replaced.  The cache only ever saves time: without it (no
 * writable directory, BACKBOT_CACHE_DIR=off) every load does the work.
 *
 * The directory is $BACKBOT_CACHE_DIR, else $XDG_CACHE_HOME/backbot, else
 * $HOME/.cache/backbot; one file per knowledge-base directory and backbot
 * executable.  Saving keeps the files of the four programs that used the
 * directory most recently and removes the others (left by earlier
 * builds), and any unused for 30 days.
 */
#ifndef BACKBOT_KBCACHE_H
#define BACKBOT_KBCACHE_H

#include <stdbool.h>
#include <stddef.h>

struct prefilter;
struct kbcache;

/* The cache for the knowledge base at 'root', or NULL when there is none
 * that this program can use (which is never an error). */
struct kbcache *kbcache_open(const char *root);
void kbcache_free(struct kbcache *c); /* NULL is a no-op */

/* Is the expanded regex 'src' known to compile?  False for a NULL cache.
 */
bool kbcache_checked(const struct kbcache *c, const char *src);

/* The saved automaton for prefilter_use_saved() (borrowed from 'c'), and
 * its length. */
const void *kbcache_automaton(const struct kbcache *c, size_t *len);

/* Save what loading 'root' worked out: the regexes registered with 'pf'
 * (all of which compiled) and its built automaton.  Failures are silent:
 * the next load simply does the work again.  Returns 0 when saved. */
int kbcache_save(const char *root, const struct prefilter *pf);

#endif
