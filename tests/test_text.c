/* test_text.c - normalisation and UTF-8 validation. */
#include "lexicon.h"
#include "testutil.h"
#include "text.h"

static void
norm_is(const char *in, const char *want, const struct lexicon *lex)
{
	char out[TEXT_NORM_SIZE(512)];

	text_normalise(in, strlen(in), out, sizeof(out), lex);
	assert_string_equal(out, want);
}

static void
normalise_folds_case_and_drops_apostrophes(void **state)
{
	(void)state;
	norm_is("Can't CRACK my Back's lower part",
	    "cant crack my backs lower "
	    "part",
	    NULL);
	norm_is("I\xe2\x80\x99m fine", "im fine", NULL);
}

static void
normalise_keeps_sentence_marks_as_tokens(void **state)
{
	(void)state;
	norm_is("No tingling, but I wet myself!! Help?",
	    "no tingling , but i "
	    "wet myself . help ?",
	    NULL);
	norm_is("...hello", "hello", NULL);
}

static void
normalise_splits_other_punctuation(void **state)
{
	(void)state;
	norm_is("knee-to-chest at L4/L5 (ouch)", "knee to chest at l4 l5 ouch",
	    NULL);
	norm_is("should i go to a&e", "should i go to ae", NULL);
	norm_is("  lots   of\tspace  ", "lots of space", NULL);
}

static void
normalise_cuts_letter_runs_to_two(void **state)
{
	(void)state;
	norm_is("soooo stiifff", "soo stiiff", NULL);
	norm_is("peeing feeel", "peeing feel", NULL);
}

static void
normalise_respells_through_the_lexicon(void **state)
{
	struct lexicon *lex = lexicon_new_empty();
	char path[512];
	struct diag d;

	(void)state;
	diag_clear(&d);
	lexicon_free(lex);
	lex = lexicon_load(
	    test_path(path, sizeof(path), "intents/lexicon.json"), &d);
	assert_non_null(lex);
	norm_is("my chiropracter said", "my chiropractor said", lex);
	norm_is("Im 20 weeks pregant", "im 20 weeks pregnant", lex);
	lexicon_free(lex);
}

static void
normalise_never_overflows_small_output(void **state)
{
	char out[8];
	size_t n;

	(void)state;
	n = text_normalise("a long sentence here", 20, out, sizeof(out), NULL);
	assert_true(n < sizeof(out));
	assert_int_equal(strlen(out), n);
}

static void
utf8_validation_rejects_malformed_sequences(void **state)
{
	(void)state;
	assert_true(text_valid_utf8("plain", 5));
	assert_true(text_valid_utf8("caf\xc3\xa9 \xf0\x9f\x99\x82", 10));
	assert_false(text_valid_utf8("\xff\xfe", 2));
	assert_false(text_valid_utf8("\xc3", 1));         /* truncated */
	assert_false(text_valid_utf8("\xc0\xaf", 2));     /* overlong */
	assert_false(text_valid_utf8("\xed\xa0\x80", 3)); /* surrogate */
	assert_false(text_valid_utf8("a\0b", 3));         /* NUL */
}

static void
blank_detects_whitespace_only(void **state)
{
	(void)state;
	assert_true(text_is_blank(" \t\r\n", 4));
	assert_true(text_is_blank("", 0));
	assert_false(text_is_blank("  x ", 4));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(normalise_folds_case_and_drops_apostrophes),
	    cmocka_unit_test(normalise_keeps_sentence_marks_as_tokens),
	    cmocka_unit_test(normalise_splits_other_punctuation),
	    cmocka_unit_test(normalise_cuts_letter_runs_to_two),
	    cmocka_unit_test(normalise_respells_through_the_lexicon),
	    cmocka_unit_test(normalise_never_overflows_small_output),
	    cmocka_unit_test(utf8_validation_rejects_malformed_sequences),
	    cmocka_unit_test(blank_detects_whitespace_only),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
