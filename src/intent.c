/* intent.c - loading and scoring intent patterns.
 *
 * The set is flat arrays built once at load; ranking a question allocates
 * nothing.  Ids and examples are copied out of cJSON.  Ranking keeps a
 * small sorted array of the best scores (insertion sort: 'max' is tiny).
 */
#include "intent.h"

#include <stdlib.h>
#include <string.h>

#include "candidates.h"
#include "diag.h"
#include "jsonfile.h"
#include "lexicon.h"
#include "pattern.h"
#include "text.h"

struct intent {
	char *id;
	struct pattern *patterns;
	size_t pattern_count;
	char **examples;
	size_t example_count;
	char *file;           /* where it was defined, for check messages */
	size_t first_pattern; /* number of patterns[0] in the candidates */
};

struct intent_set {
	struct intent *items;
	size_t count;
	size_t cap;
	struct candidates *candidates; /* NULL: try every pattern */
};

static void
intent_clear(struct intent *it)
{
	size_t i;

	for (i = 0; i < it->pattern_count; i++)
		pattern_free(&it->patterns[i]);
	free(it->patterns);
	for (i = 0; i < it->example_count; i++)
		free(it->examples[i]);
	free(it->examples);
	free(it->id);
	free(it->file);
}

void
intent_free(struct intent_set *set)
{
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->count; i++)
		intent_clear(&set->items[i]);
	free(set->items);
	candidates_free(set->candidates);
	free(set);
}

static int
valid_id(const char *id)
{
	const char *p = id;

	if (*p == '\0')
		return 0;
	for (; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		        *p == '_' || *p == '.'))
			return 0;
	}
	return id[0] != '.' && p[-1] != '.';
}

/* Fill 'it' from one element of "intents".  Returns the number of
 * problems found. */
static int
load_intent(struct intent *it, const cJSON *node, size_t index,
    const char *path, const char *text, const struct lexicon *lex,
    struct diag *d)
{
	const cJSON *pats, *exs, *item;
	const char *id = jsonfile_string(node, "id");
	char where[128];
	int errors = 0;
	size_t i;

	memset(it, 0, sizeof(*it));
	if (id == NULL || !valid_id(id)) {
		diag_add(d,
		    "%s: intents[%zu].id: expected an id such as "
		    "\"crack.safety\"",
		    path, index);
		return 1;
	}
	it->id = strdup(id);
	it->file = strdup(path);
	if (it->id == NULL || it->file == NULL) {
		diag_add(d, "%s: out of memory", path);
		return 1;
	}
	pats = cJSON_GetObjectItemCaseSensitive(node, "patterns");
	if (!cJSON_IsArray(pats) || cJSON_GetArraySize(pats) == 0) {
		diag_add_at(d, path, text, jsonfile_offset_of(text, id),
		    "intent %s: \"patterns\" must be a non-empty array", id);
		return 1;
	}
	it->patterns =
	    calloc((size_t)cJSON_GetArraySize(pats), sizeof(*it->patterns));
	if (it->patterns == NULL) {
		diag_add(d, "%s: out of memory", path);
		return 1;
	}
	i = 0;
	cJSON_ArrayForEach(item, pats)
	{
		struct pattern_origin o = {path, text, where};

		snprintf(
		    where, sizeof(where), "intent %s: patterns[%zu]", id, i);
		if (pattern_from_json(&it->patterns[i], item,
		        INTENT_DEFAULT_WEIGHT, lex, &o, d) == -1)
			errors++;
		i++;
		it->pattern_count = i;
	}
	exs = cJSON_GetObjectItemCaseSensitive(node, "examples");
	if (exs == NULL)
		return errors;
	if (!cJSON_IsArray(exs)) {
		diag_add(d,
		    "%s: intent %s: \"examples\" must be an array of "
		    "strings",
		    path, id);
		return errors + 1;
	}
	it->examples =
	    calloc((size_t)cJSON_GetArraySize(exs) + 1, sizeof(*it->examples));
	if (it->examples == NULL) {
		diag_add(d, "%s: out of memory", path);
		return errors + 1;
	}
	cJSON_ArrayForEach(item, exs)
	{
		if (!cJSON_IsString(item)) {
			diag_add(d,
			    "%s: intent %s: examples[%zu]: expected a "
			    "string",
			    path, id, it->example_count);
			errors++;
			continue;
		}
		it->examples[it->example_count] = strdup(item->valuestring);
		if (it->examples[it->example_count] == NULL) {
			diag_add(d, "%s: out of memory", path);
			return errors + 1;
		}
		it->example_count++;
	}
	return errors;
}

struct load_ctx {
	struct intent_set *set;
	const struct lexicon *lex;
};

/* jsonfile_each() callback: one element of "intents". */
static int
add_intent(void *ctx, const cJSON *node, size_t index, const char *path,
    const char *text, struct diag *d)
{
	struct load_ctx *lc = ctx;
	struct intent_set *set = lc->set;
	struct intent *it;
	int errors;

	if (set->count == set->cap) {
		size_t ncap = set->cap == 0 ? 64 : set->cap * 2;
		struct intent *ni = realloc(set->items, ncap * sizeof(*ni));

		if (ni == NULL) {
			diag_add(d, "%s: out of memory", path);
			return -1;
		}
		set->items = ni;
		set->cap = ncap;
	}
	it = &set->items[set->count++];
	errors = load_intent(it, node, index, path, text, lc->lex, d);
	if (it->id != NULL &&
	    intent_find(set, it->id) != (long)(set->count - 1)) {
		diag_add_at(d, path, text, jsonfile_offset_of(text, it->id),
		    "intent %s is defined twice", it->id);
		errors++;
	}
	return errors;
}

static int
is_lexicon(const char *path)
{
	const char *slash = strrchr(path, '/');

	return strcmp(slash != NULL ? slash + 1 : path, "lexicon.json") == 0;
}

struct intent_set *
intent_load_dir(const char *dir, const struct lexicon *lex, struct diag *d)
{
	struct intent_set *set = calloc(1, sizeof(*set));
	char **paths = NULL;
	long n, i;
	int errors = 0;

	if (set == NULL) {
		diag_add(d, "%s: out of memory", dir);
		return NULL;
	}
	n = jsonfile_list(dir, &paths, d);
	if (n < 0) {
		intent_free(set);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		struct load_ctx lc = {set, lex};

		if (!is_lexicon(paths[i]))
			errors += jsonfile_each(
			    paths[i], "intents", add_intent, &lc, d);
	}
	if (errors == 0 && set->count == 0) {
		diag_add(d,
		    "%s: no intents found (expected *.json files with "
		    "an \"intents\" array)",
		    dir);
		errors++;
	}
	jsonfile_list_free(paths, n);
	if (errors > 0) {
		intent_free(set);
		return NULL;
	}
	return set;
}

/* An intent's score with every one of its patterns tried. */
/* What an intent's matching patterns say, combined: positive weights as
 * independent evidence (1 - product of (1 - w)), negative ones
 * subtracted. */
struct evidence {
	double miss, penalty;
};

static void
add_evidence(struct evidence *e, const struct pattern *p)
{
	if (p->weight >= 0)
		e->miss *= 1.0 - p->weight;
	else
		e->penalty -= p->weight;
}

static double
evidence_score(const struct evidence *e)
{
	double score = 1.0 - e->miss - e->penalty;

	return score < 0 ? 0 : score;
}

/* An intent's score with every one of its patterns tried. */
static double
score_intent(
    const struct intent *it, struct rx_env *env, const char *s, size_t len)
{
	struct evidence e = {1.0, 0.0};
	size_t i;

	for (i = 0; i < it->pattern_count; i++) {
		if (pattern_matches(&it->patterns[i], env, s, len))
			add_evidence(&e, &it->patterns[i]);
	}
	return evidence_score(&e);
}

/* Put intent 'i' with score 's' into out[0..*n) (at most 'max'), best
 * first; ties keep definition order: only strictly better moves up. */
static void
rank_insert(struct intent_score *out, size_t *n, size_t max, size_t i, double s)
{
	size_t j;

	if (s <= 0 || (*n == max && s <= out[*n - 1].score))
		return;
	j = *n < max ? (*n)++ : *n - 1;
	while (j > 0 && out[j - 1].score < s) {
		out[j] = out[j - 1];
		j--;
	}
	out[j].index = i;
	out[j].score = s;
}

size_t
intent_rank(const struct intent_set *set, struct rx_env *env, const char *norm,
    size_t len, struct intent_score *out, size_t max)
{
	const struct candidates *cand = set->candidates;
	const uint32_t *ids;
	size_t i, k, listed, n = 0;

	if (max == 0)
		return 0;
	if (cand == NULL ||
	    !candidates_select(
	        set->candidates, rx_env_scanned(env, norm, len))) {
		/* No selection: every pattern of every intent is tried. */
		for (i = 0; i < set->count; i++)
			rank_insert(out, &n, max, i,
			    score_intent(&set->items[i], env, norm, len));
		return n;
	}
	/* The candidates in order: an intent's patterns are neighbours, so
	 * each intent with a candidate is scored once, over its candidates,
	 * in the order score_intent() would take them. */
	listed = candidates_list(cand, &ids);
	for (k = 0; k < listed;) {
		const struct intent *it;
		struct evidence e = {1.0, 0.0};

		i = candidates_group(cand, ids[k]);
		if (i >= set->count) { /* cannot happen: all are in groups */
			k++;
			continue;
		}
		it = &set->items[i];
		for (; k < listed && candidates_group(cand, ids[k]) == i; k++) {
			const struct pattern *p =
			    &it->patterns[ids[k] - it->first_pattern];

			if (pattern_matches(p, env, norm, len))
				add_evidence(&e, p);
		}
		rank_insert(out, &n, max, i, evidence_score(&e));
	}
	return n;
}

void
intent_each_example(const struct intent_set *set,
    void (*fn)(const char *example, void *ctx), void *ctx)
{
	size_t i, j;

	for (i = 0; i < set->count; i++) {
		for (j = 0; j < set->items[i].example_count; j++)
			fn(set->items[i].examples[j], ctx);
	}
}

void
intent_register(struct intent_set *set, struct prefilter *pf)
{
	size_t i, j;

	for (i = 0; i < set->count; i++) {
		for (j = 0; j < set->items[i].pattern_count; j++)
			pattern_register(&set->items[i].patterns[j], pf);
	}
}

void
intent_index(struct intent_set *set, const struct prefilter *pf)
{
	size_t i;

	/* Without the index every pattern is tried: slower, same answers. */
	candidates_free(set->candidates);
	set->candidates = candidates_new();
	for (i = 0; i < set->count && set->candidates != NULL; i++) {
		struct intent *it = &set->items[i];

		if (candidates_add_group(set->candidates, it->patterns,
		        it->pattern_count, pf, &it->first_pattern) == -1) {
			candidates_free(set->candidates);
			set->candidates = NULL;
		}
	}
}

size_t
intent_count(const struct intent_set *set)
{
	return set->count;
}

const char *
intent_id(const struct intent_set *set, size_t index)
{
	return index < set->count ? set->items[index].id : NULL;
}

long
intent_find(const struct intent_set *set, const char *id)
{
	size_t i;

	for (i = 0; i < set->count; i++) {
		if (set->items[i].id != NULL &&
		    strcmp(set->items[i].id, id) == 0)
			return (long)i;
	}
	return -1;
}

/* True when 'got' is 'want' or a finer id under it ("a.b.c" for "a.b"). */
static int
same_or_finer(const char *got, const char *want)
{
	size_t n = strlen(want);

	return strncmp(got, want, n) == 0 && (got[n] == '\0' || got[n] == '.');
}

size_t
intent_check_examples(const struct intent_set *set, struct rx_env *env,
    const struct lexicon *lex, struct diag *d)
{
	struct intent_score top[1];
	size_t i, j, failures = 0;
	char *norm = NULL;
	size_t normsize = 0;

	for (i = 0; i < set->count; i++) {
		const struct intent *it = &set->items[i];

		for (j = 0; j < it->example_count; j++) {
			const char *ex = it->examples[j];
			size_t len = strlen(ex), need = TEXT_NORM_SIZE(len);
			const char *got = INTENT_NONE;
			double score = 0;

			if (need > normsize) {
				char *nn = realloc(norm, need);

				if (nn == NULL) {
					diag_add(d, "out of memory");
					free(norm);
					return failures + 1;
				}
				norm = nn;
				normsize = need;
			}
			len = text_normalise(ex, len, norm, normsize, lex);
			if (intent_rank(set, env, norm, len, top, 1) == 1 &&
			    top[0].score >= INTENT_MIN_CONFIDENCE) {
				got = intent_id(set, top[0].index);
				score = top[0].score;
			}
			if (!same_or_finer(got, it->id)) {
				diag_add(d,
				    "%s: intent %s: example \"%s\" "
				    "matches %s (%.2f) instead",
				    it->file, it->id, ex, got, score);
				failures++;
			}
		}
	}
	free(norm);
	return failures;
}
