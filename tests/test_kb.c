/* test_kb.c - loading FAQ answers, and the errors of broken files. */
#include "intent.h"
#include "kb.h"
#include "lexicon.h"
#include "testutil.h"

static void
shipped_faq_has_an_answer_for_every_spec_intent(void **state)
{
	static const char *const ids[] = {"crack.how_to", "crack.mechanism",
	    "crack.safety", "crack.frequent", "crack.injury",
	    "crack.sound_needed", "crack.how_often", "anatomy.lumbar",
	    "anatomy.disc", "avoid.when", "avoid.condition", "avoid.pregnancy",
	    "avoid.blood_thinners", "technique.seated_twist",
	    "technique.knee_to_chest", "technique.childs_pose",
	    "technique.standing_extension", "technique.foam_roller",
	    "foam_roller.vs_stretching", "foam_roller.buying",
	    "prevention.overview", "prevention.posture", "prevention.movement",
	    "prevention.core", "prevention.lifting", "prevention.sleep",
	    "prevention.stress", "prevention.nutrition", "doctor.when",
	    "resources", "chat.greeting", "chat.thanks", "chat.goodbye",
	    "chat.help", "chat.about", "none"};
	char path[512];
	struct diag d;
	struct kb *kb;
	size_t i;

	(void)state;
	diag_clear(&d);
	kb = kb_load_dir(test_path(path, sizeof(path), "faq"), &d);
	if (kb == NULL)
		test_diag_dump(&d);
	assert_non_null(kb);
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		const struct kb_answer *a = kb_find(kb, ids[i]);

		assert_non_null(a);
		assert_string_equal(a->intent, ids[i]);
		assert_true(strlen(a->text) > 20);
		assert_true(strlen(a->source) > 0);
	}
	kb_free(kb);
}

static void
finer_ids_fall_back_to_their_parent(void **state)
{
	char path[512];
	struct diag d;
	struct kb *kb;

	(void)state;
	diag_clear(&d);
	kb = kb_load_dir(test_path(path, sizeof(path), "faq"), &d);
	assert_non_null(kb);
	assert_string_equal(
	    kb_find(kb, "crack.safety.at_work")->intent, "crack.safety");
	assert_null(kb_find(kb, "no.such.thing"));
	kb_free(kb);
}

static void
malformed_json_is_reported_with_line_and_column(void **state)
{
	char path[512];
	struct diag d;

	(void)state;
	diag_clear(&d);
	assert_null(kb_load_dir(
	    test_path(path, sizeof(path), "tests/data/bad/faq-malformed"), &d));
	assert_true(test_diag_has(&d, "broken.json:4:"));
	assert_true(test_diag_has(&d, "invalid JSON"));
}

static void
missing_answer_field_names_the_json_path(void **state)
{
	char path[512];
	struct diag d;

	(void)state;
	diag_clear(&d);
	assert_null(kb_load_dir(
	    test_path(path, sizeof(path), "tests/data/bad/faq-missing-field"),
	    &d));
	assert_true(test_diag_has(&d,
	    "missing.json: answers[0].answer: "
	    "expected a non-empty string"));
}

static void
missing_folder_is_an_error(void **state)
{
	struct diag d;

	(void)state;
	diag_clear(&d);
	assert_null(kb_load_dir("/nonexistent/faq", &d));
	assert_true(test_diag_has(&d, "/nonexistent/faq: No such file"));
}

static void
bad_regex_in_intents_names_file_line_and_reason(void **state)
{
	char path[512];
	struct diag d;
	struct lexicon *lex = lexicon_new_empty();

	(void)state;
	diag_clear(&d);
	assert_null(intent_load_dir(
	    test_path(path, sizeof(path), "tests/data/bad/intent-badregex"),
	    lex, &d));
	assert_true(test_diag_has(&d, "bad.json:4:"));
	assert_true(test_diag_has(&d, "missing closing parenthesis"));
	diag_clear(&d);
	assert_null(intent_load_dir(test_path(path, sizeof(path),
	                                "tests/data/bad/intent-unknown-class"),
	    lex, &d));
	assert_true(test_diag_has(&d, "unknown word class {nosuchclass}"));
	lexicon_free(lex);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(shipped_faq_has_an_answer_for_every_spec_intent),
	    cmocka_unit_test(finer_ids_fall_back_to_their_parent),
	    cmocka_unit_test(malformed_json_is_reported_with_line_and_column),
	    cmocka_unit_test(missing_answer_field_names_the_json_path),
	    cmocka_unit_test(missing_folder_is_an_error),
	    cmocka_unit_test(bad_regex_in_intents_names_file_line_and_reason),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
