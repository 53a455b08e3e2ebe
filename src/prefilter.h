/* prefilter.h - skip the regexes that cannot match, before running any.
 *
 * For each regex it is given, the prefilter works out from the pattern
 * text up to four sets of literal strings, and any match must contain one
 * literal of each ("crack", "pop" or "click" for \b(?:crack|pop|click)\w*;
 * "why" and "back" for \bwhy (?:\w+ ){0,3}back).  A literal also records
 * the word boundaries the regex puts around it.  Regexes share sets (a
 * word class gives the same set wherever it is used).  All literals go
 * into one Aho-Corasick automaton; scanning a message once marks the sets
 * whose literals occur, and only regexes whose sets all occurred need to
 * run.  An alternation (a|b, \b(?:a|b)\b) is also checked alternative by
 * alternative: its literals may all occur without those of any one
 * alternative doing so, and its anchored searches need only start where
 * an alternative that could match starts.  Regexes that are only a list
 * of whole words or phrases are answered exactly by the automaton, with
 * the word boundaries checked, so they never need to run at all.
 * Regexes it cannot analyse (backreferences, inline options...) always
 * run.  The answer is never wrong, only sometimes unhelpful: "possible"
 * may still fail to match, "impossible" never could.
 */
#ifndef BACKBOT_PREFILTER_H
#define BACKBOT_PREFILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

struct prefilter;

#define PREFILTER_NONE ((size_t)-1) /* id of a regex never registered */

/* NULL when out of memory. */
struct prefilter *prefilter_new(void);
void prefilter_free(struct prefilter *pf); /* NULL is a no-op */

/* Register the (macro-expanded) regex source 'src', which must stay
 * unchanged until prefilter_build() (which analyses it); returns its id,
 * or PREFILTER_NONE when out of memory or called after prefilter_build()
 * (the regex then always runs). */
size_t prefilter_add(struct prefilter *pf, const char *src);

/* Analyse the regexes and build the automaton after the last
 * prefilter_add(); later calls do nothing.  Returns 0 or -1 (out of
 * memory: every regex is then reported possible). */
int prefilter_build(struct prefilter *pf);

/* Tune the built automaton on sample texts ('n' normalised texts like
 * those it will scan; the knowledge base's own examples do).  A literal
 * set found in most of them ("my", "back") says little, so a regex that
 * also needs a rarer set stops checking it, and a set no regex checks any
 * more is no longer marked by scans, which then do less.  It only ever
 * makes regexes possible more often, so no answer changes.  Call after
 * prefilter_build() built the automaton (not when it took a saved one,
 * which is tuned already), before prefilter_save() and before the sets
 * are used as keys. */
void prefilter_tune(struct prefilter *pf, const char *const *texts,
    const size_t *lens, size_t n);

/* Saving the work: analysing ~1,000 regexes and building the automaton
 * takes tens of milliseconds, and depends on nothing but the regexes.
 *
 * Append the built automaton to 'out', with the regexes it was built
 * for.  -1 when it is not built or 'out' is full. */
int prefilter_save(const struct prefilter *pf, struct buf *out);

/* Offer the bytes of an earlier prefilter_save() (borrowed until
 * prefilter_build()): the build takes that automaton instead of building
 * one when it was saved for exactly the regexes registered by then, in
 * the same order, and it passes every consistency check (so bad bytes
 * cost time, never a wrong or unsafe scan). */
void prefilter_use_saved(struct prefilter *pf, const void *data, size_t len);

/* Did prefilter_build() take the offered automaton? */
bool prefilter_reused(const struct prefilter *pf);

/* How many regexes are registered, and the hash (text_hash64()) of the
 * source of regex 'id'. */
size_t prefilter_regex_count(const struct prefilter *pf);
uint64_t prefilter_regex_hash(const struct prefilter *pf, size_t id);

/* Scan one message; afterwards prefilter_possible() answers for it. */
void prefilter_scan(struct prefilter *pf, const char *text, size_t len);

/* Could regex 'id' match the last scanned message? */
bool prefilter_possible(const struct prefilter *pf, size_t id);

/* Regexes are ruled out through literal sets, which regexes share: a
 * regex needs one to four sets (one literal of each) to occur.
 *
 * The sets that occurred in the last scan and are some regex's key (see
 * prefilter_key(); the only ones a selection of candidates filed under
 * keys reads, and far fewer than all), in *ids (borrowed), and their
 * count.  PREFILTER_NONE when the automaton is not built. */
size_t prefilter_live(const struct prefilter *pf, const size_t **ids);

/* Does the prefilter ever rule out regex 'id'?  Known once built. */
bool prefilter_filters(const struct prefilter *pf, size_t id);

/* The set regex 'id' needs that occurs most rarely (as far as the
 * prefilter can tell), with its rarity in *score (higher is rarer), or
 * PREFILTER_NONE when it needs none.  Known once built. */
size_t prefilter_key(const struct prefilter *pf, size_t id, size_t *score);

/* Where matches of regex 'id' can start in the last scanned text, from
 * 'from' on: when every match of it starts with a literal (as in
 * \b(?:doctor|gp)...), the start positions of those literals, in order,
 * in pos[0..max), and their count.  -1 when the regex has no such
 * literals or there are too many positions to list. */
long prefilter_starts(const struct prefilter *pf, size_t id, size_t from,
    size_t *pos, size_t max);

/* Sets so far: every set id is below it. */
size_t prefilter_set_count(const struct prefilter *pf);

/* For an exact regex (a list of whole words or phrases, which the
 * automaton answers alone): 1 with the leftmost match in the last scanned
 * text, 0 for no match.  -1 when regex 'id' is not exact. */
int prefilter_exact(
    const struct prefilter *pf, size_t id, size_t *start, size_t *end);

#endif
