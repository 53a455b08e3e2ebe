/* test_triage.c - the triage engine (negation scope, third parties,
 * levels) on a small fixture, and the shipped rules on the lay phrasings
 * of tests/data/triage.tsv. */
#include <unistd.h>

#include "buf.h"
#include "lexicon.h"
#include "testutil.h"
#include "text.h"
#include "triage.h"

struct fixture {
	struct lexicon *lex;
	struct triage *t;
};

static int
load(void **state, const char *rel)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char path[512];
	struct diag d;

	diag_clear(&d);
	f->lex = lexicon_load(
	    test_path(path, sizeof(path), "intents/lexicon.json"), &d);
	test_path(path, sizeof(path), "intents/triage/lexicon.json");
	if (f->lex != NULL && access(path, F_OK) == 0 &&
	    lexicon_add_file(f->lex, path, &d) == -1)
		test_diag_dump(&d);
	f->t = triage_load_dir(test_path(path, sizeof(path), rel), f->lex, &d);
	if (f->t == NULL)
		test_diag_dump(&d);
	*state = f;
	return f->t != NULL ? 0 : -1;
}

static int
setup_engine(void **state)
{
	return load(state, "tests/data/triage-engine");
}

static int
setup_shipped(void **state)
{
	return load(state, "intents/triage");
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	triage_free(f->t);
	lexicon_free(f->lex);
	free(f);
	return 0;
}

static enum triage_level
level_of(struct fixture *f, const char *msg)
{
	char norm[TEXT_NORM_SIZE(2048)];
	struct triage_result r;
	size_t len =
	    text_normalise(msg, strlen(msg), norm, sizeof(norm), f->lex);

	triage_assess(f->t, NULL, norm, len, &r);
	return r.level;
}

#define LEVEL(f, msg, want)                                                    \
	assert_string_equal(triage_level_name(level_of((f), (msg))), (want))

static void
plain_mentions_raise_their_level(void **state)
{
	LEVEL(*state, "I wet myself", "emergency");
	LEVEL(*state, "got a fever", "urgent");
	LEVEL(*state, "sore for weeks", "routine");
	LEVEL(*state, "I take warfarin", "caution");
	LEVEL(*state, "my back is stiff", "none");
}

static void
highest_level_wins(void **state)
{
	LEVEL(*state, "on warfarin, sore for weeks and a fever", "urgent");
}

static void
negation_within_window_discounts(void **state)
{
	LEVEL(*state, "no fever", "none");
	LEVEL(*state, "I havent wet myself", "none");
	LEVEL(*state, "dont take warfarin", "none");
}

static void
negation_beyond_window_does_not_discount(void **state)
{
	LEVEL(*state, "no idea why but fever", "urgent");
	LEVEL(*state, "no it is very odd really a fever", "urgent");
}

static void
negation_reaches_only_its_own_clause(void **state)
{
	LEVEL(*state, "no tingling but I wet myself", "emergency");
	LEVEL(*state, "no tingling. wet myself", "emergency");
	LEVEL(*state, "no tingling and I wet myself", "emergency");
}

static void
comma_ends_scope_only_for_serious_levels(void **state)
{
	LEVEL(*state, "no pain, wet myself", "emergency");
	LEVEL(*state, "no pain, warfarin", "none");
}

static void
symptom_that_contains_a_negation_word_still_counts(void **state)
{
	LEVEL(*state, "I cant pee", "emergency");
	LEVEL(*state, "there is no control at all", "emergency");
}

static void
someone_else_is_discounted_unless_asking_for_them(void **state)
{
	LEVEL(*state, "my dad has a fever", "none");
	LEVEL(*state, "my dad says he has a fever", "none");
	LEVEL(*state, "my dad cant pee, what do we do", "emergency");
	LEVEL(*state, "my dad told me I have a fever", "urgent");
}

static void
match_across_a_clause_break_is_not_discounted(void **state)
{
	LEVEL(*state, "no pain in my legs but they are numb", "emergency");
	LEVEL(*state, "no legs gone numb", "none");
}

static void
every_part_of_a_combined_pattern_must_be_live(void **state)
{
	LEVEL(*state, "fell over and now it hurts", "urgent");
	LEVEL(*state, "fell over but it dont hurts", "none");
}

static void
a_rules_none_vetoes_each_of_its_patterns(void **state)
{
	LEVEL(*state, "i wet myself", "emergency");
	LEVEL(*state, "i wet myself laughing", "none");
	LEVEL(*state, "cant pee for laughing", "none");
	LEVEL(*state, "laughing, but i have a fever", "urgent");
}

static void
guidance_exists_for_every_level_above_none(void **state)
{
	struct fixture *f = *state;

	assert_null(triage_guidance(f->t, TRIAGE_NONE));
	assert_string_equal(triage_guidance(f->t, TRIAGE_EMERGENCY), "E");
	assert_string_equal(triage_guidance(f->t, TRIAGE_CAUTION), "C");
}

/* Every row of tests/data/triage.tsv: level<TAB>message. */
static void
shipped_rules_classify_every_lay_phrasing(void **state)
{
	struct fixture *f = *state;
	char path[512], line[4096];
	FILE *in =
	    fopen(test_path(path, sizeof(path), "tests/data/triage.tsv"), "r");
	int rows = 0, wrong = 0;

	assert_non_null(in);
	while (fgets(line, sizeof(line), in) != NULL) {
		char *tab = strchr(line, '\t'), *nl = strchr(line, '\n');
		const char *got;

		if (line[0] == '#' || tab == NULL)
			continue;
		if (nl != NULL)
			*nl = '\0';
		*tab = '\0';
		rows++;
		got = triage_level_name(level_of(f, tab + 1));
		if (strcmp(got, line) != 0) {
			fprintf(stderr, "triage.tsv: \"%s\": got %s, want %s\n",
			    tab + 1, got, line);
			wrong++;
		}
	}
	fclose(in);
	assert_true(rows >= 60);
	assert_int_equal(wrong, 0);
}

static void
shipped_rule_examples_reach_their_levels(void **state)
{
	struct fixture *f = *state;
	struct diag d;

	diag_clear(&d);
	if (triage_check_examples(f->t, &d) != 0)
		test_diag_dump(&d);
	assert_int_equal(d.count, 0);
}

int
main(void)
{
	const struct CMUnitTest engine[] = {
	    cmocka_unit_test(plain_mentions_raise_their_level),
	    cmocka_unit_test(highest_level_wins),
	    cmocka_unit_test(negation_within_window_discounts),
	    cmocka_unit_test(negation_beyond_window_does_not_discount),
	    cmocka_unit_test(negation_reaches_only_its_own_clause),
	    cmocka_unit_test(comma_ends_scope_only_for_serious_levels),
	    cmocka_unit_test(
	        symptom_that_contains_a_negation_word_still_counts),
	    cmocka_unit_test(someone_else_is_discounted_unless_asking_for_them),
	    cmocka_unit_test(every_part_of_a_combined_pattern_must_be_live),
	    cmocka_unit_test(match_across_a_clause_break_is_not_discounted),
	    cmocka_unit_test(a_rules_none_vetoes_each_of_its_patterns),
	    cmocka_unit_test(guidance_exists_for_every_level_above_none),
	};
	const struct CMUnitTest shipped[] = {
	    cmocka_unit_test(shipped_rules_classify_every_lay_phrasing),
	    cmocka_unit_test(shipped_rule_examples_reach_their_levels),
	};
	int failed;

	failed = cmocka_run_group_tests_name(
	    "triage engine", engine, setup_engine, teardown);
	failed += cmocka_run_group_tests_name(
	    "shipped triage rules", shipped, setup_shipped, teardown);
	return failed;
}
