/* intent.h - free text -> intent ids, by scoring every intent's patterns.
 *
 * intents/ *.json list, per intent id, weighted patterns and example
 * utterances.  Every intent is scored, none is taken at first match: the
 * weights of an intent's matching patterns combine as independent evidence
 * (1 - product of (1 - w)), negative weights then subtract, and the
 * results are ranked.  The caller decides what is good enough
 * (INTENT_MIN_CONFIDENCE is the shipped threshold).
 */
#ifndef BACKBOT_INTENT_H
#define BACKBOT_INTENT_H

#include <stddef.h>

struct diag;
struct intent_set;
struct lexicon;
struct prefilter;
struct rx_env;

#define INTENT_DEFAULT_WEIGHT 0.7    /* of a pattern with no "weight" */
#define INTENT_MIN_CONFIDENCE 0.5    /* below this the answer is "none" */
#define INTENT_NONE           "none" /* id of the out-of-scope intent */

struct intent_score {
	size_t index; /* intent number, for intent_id() */
	double score; /* (0, 1] */
};

/* Load every *.json in 'dir' except lexicon.json (subdirectories such as
 * triage/ are not read).  NULL with every problem in 'd' on error. */
struct intent_set *intent_load_dir(
    const char *dir, const struct lexicon *lex, struct diag *d);

/* Score normalised text; fill 'out' with at most 'max' intents that scored
 * above zero, best first.  Returns how many were written. */
size_t intent_rank(const struct intent_set *set, struct rx_env *env,
    const char *norm, size_t len, struct intent_score *out, size_t max);

size_t intent_count(const struct intent_set *set);
const char *intent_id(const struct intent_set *set, size_t index);

/* Index of intent 'id', or -1. */
long intent_find(const struct intent_set *set, const char *id);

/* Check that each example utterance ranks its own intent (or a finer one)
 * first with at least INTENT_MIN_CONFIDENCE, and examples of "none" rank
 * nothing in scope.  Returns the number of failures, described in 'd'. */
size_t intent_check_examples(const struct intent_set *set, struct rx_env *env,
    const struct lexicon *lex, struct diag *d);

/* Call fn(example, ctx) for every example utterance of every intent. */
void intent_each_example(const struct intent_set *set,
    void (*fn)(const char *example, void *ctx), void *ctx);

/* Register every regex with a prefilter (see prefilter.h). */
void intent_register(struct intent_set *set, struct prefilter *pf);

/* Once 'pf' is built: index the patterns by the literal sets they need,
 * so that a question only tries those it might match. */
void intent_index(struct intent_set *set, const struct prefilter *pf);

void intent_free(struct intent_set *set); /* NULL is a no-op */

#endif
