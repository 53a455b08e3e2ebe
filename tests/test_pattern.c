/* test_pattern.c - regex compilation, word classes, errors and limits. */
#include <cjson/cJSON.h>

#include "buf.h"
#include "lexicon.h"
#include "pattern.h"
#include "testutil.h"

static struct lexicon *
load_lexicon(void)
{
	char path[512];
	struct diag d;
	struct lexicon *lex;

	diag_clear(&d);
	lex = lexicon_load(
	    test_path(path, sizeof(path), "intents/lexicon.json"), &d);
	assert_non_null(lex);
	return lex;
}

static void
word_classes_expand_inside_patterns(void **state)
{
	struct lexicon *lex = load_lexicon();
	struct rx_env *env = rx_env_new();
	char why[256];
	size_t off, a, b;
	struct rx *rx;
	const char *s = "can i pop my lower back";

	(void)state;
	rx = rx_compile("\\b{crack}\\b", lex, why, sizeof(why), &off);
	assert_non_null(rx);
	assert_int_equal(rx_find(rx, env, s, strlen(s), 0, &a, &b), 1);
	assert_int_equal(a, 6);
	assert_int_equal(b, 9);
	rx_free(rx);
	rx_env_free(env);
	lexicon_free(lex);
}

static void
quantifier_braces_are_not_word_classes(void **state)
{
	struct lexicon *lex = load_lexicon();
	struct rx_env *env = rx_env_new();
	char why[256];
	size_t off, a, b;
	struct rx *rx;

	(void)state;
	rx = rx_compile("^x{2,3}$", lex, why, sizeof(why), &off);
	assert_non_null(rx);
	assert_int_equal(rx_find(rx, env, "xxx", 3, 0, &a, &b), 1);
	assert_int_equal(rx_find(rx, env, "xxxx", 4, 0, &a, &b), 0);
	rx_free(rx);
	rx_env_free(env);
	lexicon_free(lex);
}

static void
unknown_word_class_is_reported_with_offset(void **state)
{
	struct lexicon *lex = load_lexicon();
	char why[256];
	size_t off;

	(void)state;
	assert_null(rx_compile("abc {nosuch}", lex, why, sizeof(why), &off));
	assert_non_null(strstr(why, "unknown word class {nosuch}"));
	assert_int_equal(off, 4);
	lexicon_free(lex);
}

static void
bad_regex_reports_pcre2_message_and_offset(void **state)
{
	char why[256];
	size_t off;

	(void)state;
	assert_null(rx_compile("safe (to crack", NULL, why, sizeof(why), &off));
	assert_non_null(strstr(why, "missing closing parenthesis"));
	assert_int_equal(off, 14);
}

static void
pattern_object_needs_all_and_rejects_none(void **state)
{
	cJSON *node =
	    cJSON_Parse("{\"all\": [\"\\\\bback\\\\b\", \"\\\\bpop\"], "
	                "\"none\": [\"neck\"], \"weight\": 0.4}");
	const char *text = "";
	struct pattern_origin o = {"x.json", text, "p"};
	struct rx_env *env = rx_env_new();
	struct pattern p;
	struct diag d;
	const char *yes = "pop my back", *no = "pop my back and neck";

	(void)state;
	diag_clear(&d);
	assert_int_equal(pattern_from_json(&p, node, 0.7, NULL, &o, &d), 0);
	assert_true(p.weight > 0.39 && p.weight < 0.41);
	assert_true(pattern_matches(&p, env, yes, strlen(yes)));
	assert_false(pattern_matches(&p, env, no, strlen(no)));
	assert_false(pattern_matches(&p, env, "back", 4));
	pattern_free(&p);
	cJSON_Delete(node);
	rx_env_free(env);
}

static void
pattern_weight_out_of_range_is_an_error(void **state)
{
	cJSON *node = cJSON_Parse("{\"re\": \"x\", \"weight\": 3}");
	struct pattern_origin o = {"x.json", "", "intent a: patterns[0]"};
	struct pattern p;
	struct diag d;

	(void)state;
	diag_clear(&d);
	assert_int_equal(pattern_from_json(&p, node, 0.7, NULL, &o, &d), -1);
	assert_true(test_diag_has(&d, "x.json: intent a: patterns[0].weight"));
	pattern_free(&p);
	cJSON_Delete(node);
}

static void
pathological_input_stays_bounded(void **state)
{
	/* Nested quantifiers on a long non-matching line: the match limit
	 * must end the search instead of running for ages. */
	struct rx_env *env = rx_env_new();
	char why[256];
	size_t off, a, b, n = 20000;
	struct rx *rx = rx_compile("^(a+)+$", NULL, why, sizeof(why), &off);
	char *s = malloc(n + 1);
	int rc;

	(void)state;
	assert_non_null(rx);
	memset(s, 'a', n);
	s[n - 1] = 'b';
	s[n] = '\0';
	rc = rx_find(rx, env, s, n, 0, &a, &b);
	assert_true(rc == 0 || rc == -1);
	free(s);
	rx_free(rx);
	rx_env_free(env);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(word_classes_expand_inside_patterns),
	    cmocka_unit_test(quantifier_braces_are_not_word_classes),
	    cmocka_unit_test(unknown_word_class_is_reported_with_offset),
	    cmocka_unit_test(bad_regex_reports_pcre2_message_and_offset),
	    cmocka_unit_test(pattern_object_needs_all_and_rejects_none),
	    cmocka_unit_test(pattern_weight_out_of_range_is_an_error),
	    cmocka_unit_test(pathological_input_stays_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
