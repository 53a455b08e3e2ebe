/* pattern.h - compiled knowledge-base patterns (the only PCRE2 user).
 *
 * A pattern is what a line of intents/ or intents/triage/ data compiles
 * to: a list of regexes that must all match somewhere in the text (in any
 * order, which is how patterns ignore word order), a list that must not
 * match, and a weight.  Every regex is checked at load, after {macro}
 * expansion through the lexicon (unless the knowledge-base cache knows it
 * compiles), and compiled for searching when first needed, with JIT when
 * it runs often; matching runs under a match limit so no input can make a
 * question slow.
 */
#ifndef BACKBOT_PATTERN_H
#define BACKBOT_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

struct diag;
struct lexicon;
struct prefilter;
struct rx;     /* one compiled regex; opaque */
struct rx_env; /* match-time scratch shared by all regexes; opaque */

/* A JSON value in the knowledge base: a cJSON node, kept opaque here so
 * that only loaders include cJSON. */
struct cJSON;

struct pattern {
	struct rx **all; /* all must match */
	size_t all_count;
	struct rx **none; /* none may match */
	size_t none_count;
	double weight; /* [-1, 1]: how much a match says */
};

/* Where a pattern came from, for error messages. */
struct pattern_origin {
	const char *path;  /* file */
	const char *text;  /* the file's bytes, to find line numbers */
	const char *where; /* JSON path, e.g. "intents[3].patterns[0]" */
};

/* The regex engine and its version ("PCRE2 10.42 2022-12-11"): what a
 * regex is checked against (kbcache.c keeps it with the regexes it
 * found to compile). */
const char *rx_engine(void);

/* Match-time scratch: match data, match limits, JIT stack.  Single-
 * threaded use only.  NULL when out of memory. */
struct rx_env *rx_env_new(void);
void rx_env_free(struct rx_env *env); /* NULL is a no-op */

/* Let 'env' skip regexes that 'pf' rules out for the current text.
 * Every regex matched through 'env' must have been registered with 'pf'
 * (or with none). */
void rx_env_use_prefilter(struct rx_env *env, struct prefilter *pf);

/* Start matching a new text: runs the prefilter over it (when there is
 * one) and lets searches of the whole text be remembered, so a regex that
 * many patterns share runs once per text.  'text' must stay unchanged
 * until the next rx_env_begin(). */
void rx_env_begin(struct rx_env *env, const char *text, size_t len);

/* Compile one regex after expanding macros.  NULL with the reason in
 * 'why' and the byte offset into 'src' in *offset.  With a lexicon, an
 * identical expanded regex compiled before is shared (reference counted;
 * rx_free() drops one reference), so the lexicon must outlive it. */
struct rx *rx_compile(const char *src, const struct lexicon *lex, char *why,
    size_t whysize, size_t *offset);
void rx_free(struct rx *rx); /* NULL is a no-op */

/* Register 'rx' (may be NULL) with a prefilter; see prefilter.h. */
void rx_register(struct rx *rx, struct prefilter *pf);

/* Find the first match in s[from..len).  Returns 1 with its bounds, 0 for
 * no match, -1 when the match limit was hit (the caller decides what a
 * failed search means; triage counts it as a match). */
int rx_find(struct rx *rx, struct rx_env *env, const char *s, size_t len,
    size_t from, size_t *start, size_t *end);

struct rx_span {
	size_t start, end;
};

#define RX_MAX_SPANS 64 /* matches of one regex remembered per text */

/* All non-overlapping matches of 'rx' in 's', left to right, in *spans
 * (borrowed; valid until the next call for this regex).  For the text of
 * rx_env_begin() they are computed once.  Returns the count, or -1 when
 * there are more than RX_MAX_SPANS or the match limit was hit: the caller
 * must then search with rx_find(). */
long rx_spans(struct rx *rx, struct rx_env *env, const char *s, size_t len,
    const struct rx_span **spans);

/* Fill 'p' from a JSON value: a regex string, or an object
 * {"all": [regex...] | "re": regex, "none": [regex...], "weight": w}.
 * 'default_weight' applies when no weight is given.  Returns 0, or -1 with
 * every problem reported in 'd' as "file:line:col: where: message". */
int pattern_from_json(struct pattern *p, const struct cJSON *node,
    double default_weight, const struct lexicon *lex,
    const struct pattern_origin *origin, struct diag *d);

/* Add to the 'none' regexes of 'p' those of a JSON regex string or
 * array (a rule's "none", which applies to each of its patterns).
 * Returns 0, or -1 with the problems reported in 'd'. */
int pattern_add_none(struct pattern *p, const struct cJSON *node,
    const struct lexicon *lex, const struct pattern_origin *origin,
    struct diag *d);

/* True when every 'all' regex matches and no 'none' regex does; a search
 * that hits the match limit counts as "no match" here. */
bool pattern_matches(
    const struct pattern *p, struct rx_env *env, const char *s, size_t len);

/* False when the prefilter rules out one of the 'all' regexes (a cheap
 * test: no regex runs). */
bool pattern_possible(
    const struct pattern *p, const struct rx_env *env, const char *s);

/* True when no 'none' regex matches. */
bool pattern_none_clear(
    const struct pattern *p, struct rx_env *env, const char *s, size_t len);

/* A literal set of 'pf' that 'p' cannot match without (the rarest
 * one), or PREFILTER_NONE when there is none (once 'pf' is built). */
size_t pattern_key(const struct pattern *p, const struct prefilter *pf);

/* The prefilter that scanned s[0..len) in rx_env_begin(), or NULL. */
const struct prefilter *rx_env_scanned(
    const struct rx_env *env, const char *s, size_t len);

/* Register every regex of 'p' with a prefilter. */
void pattern_register(struct pattern *p, struct prefilter *pf);

void pattern_free(struct pattern *p); /* frees the members, not 'p' */

#endif
