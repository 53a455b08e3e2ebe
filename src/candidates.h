/* candidates.h - which patterns a message can possibly match.
 *
 * Every pattern of a group (intents, triage rules) is filed under one of
 * the literal sets its regexes need, its key (see prefilter.h).  After
 * the prefilter has scanned a message, only the patterns whose key
 * occurred are candidates, so the cost of a message grows with what it
 * mentions, not with the size of the knowledge base.  Patterns whose
 * regexes the prefilter cannot rule out are always candidates.
 */
#ifndef BACKBOT_CANDIDATES_H
#define BACKBOT_CANDIDATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pattern;
struct prefilter;

struct candidates;

/* NULL when out of memory. */
struct candidates *candidates_new(void);
void candidates_free(struct candidates *c); /* NULL is a no-op */

/* File the next pattern (number candidates_count() before the call):
 * 'p', whose regexes are registered with 'pf'.  -1 when out of memory. */
int candidates_add(
    struct candidates *c, const struct pattern *p, const struct prefilter *pf);

size_t candidates_count(const struct candidates *c);

/* File patterns p[0..n) (an intent's, a rule's) one after the other;
 * *first gets the number of p[0].  -1 when out of memory. */
int candidates_add_group(struct candidates *c, const struct pattern *p,
    size_t n, const struct prefilter *pf, size_t *first);

/* Select the candidates for the message 'pf' last scanned.  False when
 * there is no selection to make (no prefilter, or it could not be
 * built): every pattern must then be tried. */
bool candidates_select(struct candidates *c, const struct prefilter *pf);

/* Is pattern 'n' a candidate in the last selection? */
bool candidates_has(const struct candidates *c, size_t n);

/* The first candidate numbered 'from' or more, or candidates_count(). */
size_t candidates_next(const struct candidates *c, size_t from);

/* Every candidate of the last selection, in order: their numbers in
 * *ids (borrowed, until the next selection) and how many. */
size_t candidates_list(const struct candidates *c, const uint32_t **ids);

/* The group (an intent, a rule) pattern 'n' was filed in: groups are
 * numbered from 0 in the order candidates_add_group() filed them.
 * SIZE_MAX for a pattern filed alone (candidates_add()).  A group's
 * patterns are neighbours, so walking candidates_list() visits each
 * group with a candidate once, its candidates together. */
size_t candidates_group(const struct candidates *c, size_t n);

#endif
