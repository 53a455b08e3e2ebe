/* testutil.h - shared helpers for the cmocka test programs.
 *
 * Each test binary is run from the repository root by `make test`, with
 * BACKBOT_ROOT naming that root, so tests can load the shipped knowledge
 * base and the fixtures in tests/data/.
 */
#ifndef BACKBOT_TESTUTIL_H
#define BACKBOT_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bot.h"
#include "diag.h"
#include "intent.h"
#include "lexicon.h"
#include "pattern.h"
#include "triage.h"

/* The repository root: $BACKBOT_ROOT, else ".". */
static inline const char *
test_root(void)
{
	const char *r = getenv("BACKBOT_ROOT");

	return r != NULL && r[0] != '\0' ? r : ".";
}

/* root + "/" + rel into 'out'. */
static inline const char *
test_path(char *out, size_t size, const char *rel)
{
	snprintf(out, size, "%s/%s", test_root(), rel);
	return out;
}

/* Call fn(line, ctx) for every line of the question tables
 * (tests/data/questions.tsv, then tests/data/triage.tsv), as read, with
 * its label and newline, skipping comments.  Returns the line count. */
static inline size_t
test_each_table_line(void (*fn)(const char *line, void *ctx), void *ctx)
{
	static const char *const files[] = {
	    "tests/data/questions.tsv", "tests/data/triage.tsv"};
	char path[512], line[4096];
	size_t f, n = 0;

	for (f = 0; f < 2; f++) {
		FILE *in = fopen(test_path(path, sizeof(path), files[f]), "r");

		assert_non_null(in);
		while (fgets(line, sizeof(line), in) != NULL) {
			if (line[0] == '#')
				continue;
			fn(line, ctx);
			n++;
		}
		fclose(in);
	}
	return n;
}

/* The shipped lexicon (both files), intents and triage rules, as
 * bot_load() reads them; not yet registered with any prefilter. */
static inline void
test_load_patterns(
    struct lexicon **lex, struct intent_set **set, struct triage **t)
{
	char path[512];
	struct diag d;

	diag_clear(&d);
	*lex = lexicon_load(
	    test_path(path, sizeof(path), "intents/lexicon.json"), &d);
	assert_non_null(*lex);
	test_path(path, sizeof(path), "intents/triage/lexicon.json");
	if (access(path, F_OK) == 0)
		assert_int_equal(lexicon_add_file(*lex, path, &d), 0);
	*set =
	    intent_load_dir(test_path(path, sizeof(path), "intents"), *lex, &d);
	*t = triage_load_dir(
	    test_path(path, sizeof(path), "intents/triage"), *lex, &d);
	if (*set == NULL || *t == NULL)
		diag_print(&d, "diag", stderr);
	assert_non_null(*set);
	assert_non_null(*t);
}

/* Intents and triage, matched through 'env'. */
struct test_matcher {
	struct intent_set *set;
	struct triage *t;
	struct rx_env *env;
};

/* 'a' and 'b' rank the same intents with the same scores and triage
 * normalised text 'norm' alike (after rx_env_begin() on both). */
static inline void
test_assert_same_results(const struct test_matcher *a,
    const struct test_matcher *b, const char *norm, size_t len)
{
	struct intent_score r1[4], r2[4];
	struct triage_result t1, t2;
	size_t n1, n2, i;

	n1 = intent_rank(a->set, a->env, norm, len, r1, 4);
	n2 = intent_rank(b->set, b->env, norm, len, r2, 4);
	assert_int_equal(n1, n2);
	for (i = 0; i < n1; i++) {
		assert_int_equal(r1[i].index, r2[i].index);
		assert_true(r1[i].score == r2[i].score);
	}
	triage_assess(a->t, a->env, norm, len, &t1);
	triage_assess(b->t, b->env, norm, len, &t2);
	assert_int_equal(t1.level, t2.level);
	assert_int_equal(t1.reason_count, t2.reason_count);
}

/* True when any message in 'd' contains 'needle'. */
static inline int
test_diag_has(const struct diag *d, const char *needle)
{
	size_t i;

	for (i = 0; i < d->count; i++) {
		if (strstr(d->messages[i], needle) != NULL)
			return 1;
	}
	return 0;
}

/* Print every message of 'd' (to see why an assertion failed). */
static inline void
test_diag_dump(const struct diag *d)
{
	diag_print(d, "diag", stderr);
}

/* Group setup/teardown: the shipped knowledge base as a struct bot in
 * *state, loaded once for all tests of a program. */
static inline int
test_bot_setup(void **state)
{
	struct diag d;

	diag_clear(&d);
	*state = bot_load(test_root(), &d);
	if (*state == NULL)
		test_diag_dump(&d);
	return *state != NULL ? 0 : -1;
}

static inline int
test_bot_teardown(void **state)
{
	bot_free(*state);
	return 0;
}

#endif
