/* triage.h - red flags and risky conditions -> one "get help" level.
 *
 * Runs on every message before any answer.  Rules are data
 * (intents/triage/ *.json): each is a set of PCRE2 patterns tagged with a
 * level and a short reason.  A match counts only for the writer: negated
 * ("no numbness"), hypothetical ("what if I lost bladder control?") and
 * third-party ("my dad's on warfarin") mentions are discounted, and a
 * negation reaches only its own clause.  The highest level found wins.
 */
#ifndef BACKBOT_TRIAGE_H
#define BACKBOT_TRIAGE_H

#include <stddef.h>

struct diag;
struct lexicon;
struct prefilter;
struct rx_env;
struct triage;

/* Ordered low to high: a higher value is more serious. */
enum triage_level {
	TRIAGE_NONE = 0,
	TRIAGE_CAUTION,
	TRIAGE_ROUTINE,
	TRIAGE_URGENT,
	TRIAGE_EMERGENCY
};

#define TRIAGE_MAX_REASONS 8 /* reasons reported per message */

struct triage_result {
	enum triage_level level;
	size_t reason_count;
	/* Borrowed from the rules; valid until triage_free(). */
	const char *rule_ids[TRIAGE_MAX_REASONS];
	const char *reasons[TRIAGE_MAX_REASONS];
	enum triage_level levels[TRIAGE_MAX_REASONS]; /* of each reason */
};

/* "none", "caution", "routine", "urgent", "emergency". */
const char *triage_level_name(enum triage_level level);

/* Parse a level name; -1 when 'name' is not one. */
int triage_level_parse(const char *name, enum triage_level *level);

/* Load every *.json file in 'dir' (the triage rules and cue words) and
 * compile its patterns, expanding {macros} from 'lex' (may be NULL).
 * NULL with 'd' filled on error; every problem found is reported.  'lex'
 * must outlive the result.
 * Caller frees with triage_free(). */
struct triage *triage_load_dir(
    const char *dir, const struct lexicon *lex, struct diag *d);

/* Check every rule's example phrasings: each "examples" entry must reach
 * the rule's level and each "not" entry must stay below it.  Returns the
 * number of failures, each described in 'd'. */
size_t triage_check_examples(struct triage *t, struct diag *d);

/* Classify one normalised message (text_normalise() output), matching
 * through 'env' (NULL: the triage's own).  Never fails: a pattern that
 * hits its match limit counts as a match (safety first). */
void triage_assess(struct triage *t, struct rx_env *env, const char *norm,
    size_t len, struct triage_result *out);

/* Call fn(example, ctx) for every example and counter-example of every
 * rule. */
void triage_each_example(const struct triage *t,
    void (*fn)(const char *example, void *ctx), void *ctx);

/* Register every regex with a prefilter (see prefilter.h). */
void triage_register(struct triage *t, struct prefilter *pf);

/* Once 'pf' is built: index the rules' patterns by the literal sets they
 * need (see intent_index()). */
void triage_index(struct triage *t, const struct prefilter *pf);

/* Guidance that leads a reply at 'level' (NULL for TRIAGE_NONE). */
const char *triage_guidance(const struct triage *t, enum triage_level level);

size_t triage_rule_count(const struct triage *t);

void triage_free(struct triage *t); /* NULL is a no-op */

#endif
