/* test_prefilter.c - the required-literal prefilter: what it extracts,
 * and that it never changes an answer. */
#include <unistd.h>

#include "candidates.h"
#include "intent.h"
#include "lexicon.h"
#include "pattern.h"
#include "prefilter.h"
#include "testutil.h"
#include "text.h"
#include "triage.h"

/* Register 'src', scan 'text', and say whether the regex may run. */
static bool
possible(const char *src, const char *text)
{
	struct prefilter *pf = prefilter_new();
	size_t id = prefilter_add(pf, src);
	bool yes;

	assert_int_equal(prefilter_build(pf), 0);
	prefilter_scan(pf, text, strlen(text));
	yes = prefilter_possible(pf, id);
	prefilter_free(pf);
	return yes;
}

static void
alternation_of_words_needs_one_of_them(void **state)
{
	(void)state;
	assert_true(possible("\\b(?:crack|pop)\\w*\\b", "i popped it"));
	assert_true(possible("\\b(?:crack|pop)\\w*\\b", "cracking"));
	assert_false(possible("\\b(?:crack|pop)\\w*\\b", "hello there"));
}

static void
optional_parts_are_not_required(void **state)
{
	(void)state;
	assert_true(possible("\\bbacks?\\b", "my back"));
	assert_true(possible("\\blower (?:back )?pain\\b", "lower pain"));
	assert_false(possible("\\blower (?:back )?pain\\b", "upper back ache"));
	assert_true(possible("(?:abc)?xyz", "xyz"));
}

static void
lookarounds_and_classes_do_not_invent_requirements(void **state)
{
	(void)state;
	assert_true(possible("^(?=.*\\bneck\\b)(?!.*back)", "my neck"));
	assert_true(possible("[a-z]+ing", "anything"));
	assert_true(possible("a.c", "abc"));
}

static void
every_required_part_must_occur(void **state)
{
	(void)state;
	/* A sequence needs all its parts, not just the rarest one. */
	assert_true(possible("\\bwhy (?:\\w+ ){0,3}back\\b", "why is my back"));
	assert_false(possible("\\bwhy (?:\\w+ ){0,3}back\\b", "my back"));
	assert_false(possible("\\bwhy (?:\\w+ ){0,3}back\\b", "why not"));
	/* So does the text a positive lookaround looks for. */
	assert_true(possible("^(?=.*\\bmum\\b)(?!.*\\bi\\b)", "my mum fell"));
	assert_false(possible("^(?=.*\\bmum\\b)(?!.*\\bi\\b)", "my dad fell"));
	assert_true(possible("(?<=back )pain", "back pain"));
	assert_false(possible("(?<=back )pain", "pain"));
	/* A branch of an alternation needs only its own parts. */
	assert_true(possible("\\b(?:sore back|stiff neck)\\b", "stiff neck"));
	assert_false(possible("\\b(?:sore back|stiff neck)\\b", "stiff back"));
}

static void
unanalysable_regexes_always_run(void **state)
{
	(void)state;
	assert_true(possible("(?i)BACK", "nothing here"));
	assert_true(possible("(a)\\1", "zzz"));
	assert_true(possible("\\d+ weeks?", "zzz") == false);
	assert_true(possible("x*", "zzz"));
}

static void
escaped_question_mark_is_a_literal(void **state)
{
	(void)state;
	assert_true(possible("\\?", "is it ok ?"));
	assert_false(possible("\\?", "hello there"));
	assert_false(possible(" \\?", "hello there"));
	assert_false(possible("\\?$", "hello there"));
	assert_true(possible("[?]", "ok ?"));
	assert_true(possible("[.?]", "ok ?"));
	assert_false(possible("[.?]", "ok"));
}

/* Bytes the automaton cannot tell apart ('!' and '?' are both "other")
 * must not hide each other's regexes. */
static void
literals_alike_to_the_automaton_are_one(void **state)
{
	struct prefilter *pf = prefilter_new();
	size_t q = prefilter_add(pf, "[?]");
	size_t x = prefilter_add(pf, "!");
	size_t up = prefilter_add(pf, "BACK");

	(void)state;
	assert_int_equal(prefilter_build(pf), 0);
	prefilter_scan(pf, "ok ?", 4);
	assert_true(prefilter_possible(pf, q));
	prefilter_scan(pf, "back", 4);
	assert_true(prefilter_possible(pf, up));
	assert_false(prefilter_possible(pf, x));
	prefilter_free(pf);
}

static void
overlapping_literals_are_all_found(void **state)
{
	struct prefilter *pf = prefilter_new();
	size_t a = prefilter_add(pf, "she");
	size_t b = prefilter_add(pf, "he");
	size_t c = prefilter_add(pf, "hers");
	size_t d = prefilter_add(pf, "his");

	(void)state;
	assert_int_equal(prefilter_build(pf), 0);
	prefilter_scan(pf, "ushers", 6);
	assert_true(prefilter_possible(pf, a));
	assert_true(prefilter_possible(pf, b));
	assert_true(prefilter_possible(pf, c));
	assert_false(prefilter_possible(pf, d));
	prefilter_scan(pf, "this", 4);
	assert_false(prefilter_possible(pf, a));
	assert_true(prefilter_possible(pf, d));
	prefilter_free(pf);
}

/* Where the prefilter says 'src' can start matching in 'text' (the
 * positions joined by spaces), "-" when it cannot tell. */
static const char *
starts(const char *src, const char *text)
{
	static char out[256];
	struct prefilter *pf = prefilter_new();
	size_t id = prefilter_add(pf, src), pos[16];
	long n, i;
	size_t used = 0;

	assert_int_equal(prefilter_build(pf), 0);
	prefilter_scan(pf, text, strlen(text));
	n = prefilter_starts(pf, id, 0, pos, 16);
	out[0] = '\0';
	if (n < 0)
		snprintf(out, sizeof(out), "-");
	for (i = 0; i < n; i++)
		used += (size_t)snprintf(out + used, sizeof(out) - used,
		    i > 0 ? " %zu" : "%zu", pos[i]);
	prefilter_free(pf);
	return out;
}

static void
matches_start_where_their_first_literals_are(void **state)
{
	(void)state;
	assert_string_equal(
	    starts("\\b(?:gp|doctor) (?:\\w+ )?said", "my gp said the gp"),
	    "3 15");
	/* Word boundaries: "gp" inside a word is no start.  (A plain word
	 * list needs no starts: the scan answers it whole.) */
	assert_string_equal(
	    starts("\\b(?:gp|doctor) \\w+ said", "xgp has said"), "");
	/* A space or \\b after a group ends the word: "myself" is no start
	 * for "my ". */
	assert_string_equal(
	    starts("\\b(?:my|a) (?:\\w+ )?mum", "a mum , my mum , myself"),
	    "0 8");
	/* Zero-width things before the literal do not move the start. */
	assert_string_equal(
	    starts("(?<=back )been at me", "my back been at me"), "8");
	assert_string_equal(
	    starts("(?=mum)(?:^|(?<=[.,] ))mum\\b", "mum , mum"), "0 6");
	/* An optional first part: it, or what follows. */
	assert_string_equal(
	    starts("\\b(?:the |a )?disc \\w", "a disc x"), "0 2");
	assert_string_equal(starts("\\bs?he \\w", "she said he x"), "0 4 9");
	assert_string_equal(starts("\\b\\d+ weeks", "for 12 weeks"), "4");
	/* ^ counts as zero-width: the places after 0 cost a failed try. */
	assert_string_equal(starts("^back", "back , back"), "0 7");
	/* No telling: \w, a class of letters, a lone character. */
	assert_string_equal(starts("\\w+ back", "my back"), "-");
	assert_string_equal(starts("x|\\bback", "back x"), "-");
	/* ...unless that alternative cannot match here: see below. */
	assert_string_equal(starts("x|\\bback", "back"), "0");
}

/* An alternation can only match where one of its alternatives can: each
 * one's literals are checked on their own, not all of them together. */
static void
alternatives_are_checked_one_by_one(void **state)
{
	const char *group = "\\b(?:red \\w+ apple|green \\w+ pear)\\b";
	const char *top = "red \\w+ apple|green \\w+ pear";

	(void)state;
	assert_true(possible(group, "a red big apple"));
	assert_true(possible(group, "a green big pear"));
	assert_false(possible(group, "a red big pear"));
	assert_false(possible(group, "a green big apple"));
	assert_true(possible(top, "green x pear"));
	assert_false(possible(top, "red x pear"));
	/* A repeated group is not split: (?:a|b)+ may need both. */
	assert_true(
	    possible("(?:red \\w+ apple|green \\w+ pear)+", "red x apple"));
	/* Only the alternatives that can match give starts: "green" at 0
	 * cannot begin a match without a pear. */
	assert_string_equal(starts(group, "green x apple red y apple"), "14");
	assert_string_equal(starts(group, "green x pear red y apple"), "0 13");
	assert_string_equal(starts(group, "green x apple"), "");
}

/* A long alternation is checked in groups of branches; those that start
 * with no literal ("\w+ty") are grouped apart, so that they do not take
 * the others' starts away. */
static void
long_alternations_keep_their_starts(void **state)
{
	const char *many = "\\b(?:red one|red two|red three|red four|"
	                   "red five|red six|red seven|red eight|red nine|"
	                   "red ten|red eleven|red twelve|red thirteen|"
	                   "red fourteen|red fifteen|red sixteen|red "
	                   "seventeen|\\w+ty zebras|red eighteen)\\b";

	(void)state;
	assert_string_equal(starts(many, "a red two and red ten"), "2 14");
	assert_string_equal(starts(many, "my red eighteen"), "3");
	assert_false(possible(many, "red nineteen"));
	assert_string_equal(starts(many, "forty zebras , red one"), "-");
}

/* Tuning stops recording the regex's own starts, which its alternatives'
 * answer for; the starts found stay the same. */
static void
tuned_alternatives_still_give_starts(void **state)
{
	static const char *const samples[] = {"a red old apple", "hello"};
	const size_t lens[] = {15, 5};
	struct prefilter *pf = prefilter_new();
	size_t id = prefilter_add(
	    pf, "\\b(?:red \\w+ apple|green \\w+ pear|blue \\w+ plum)\\b");
	size_t pos[8];

	(void)state;
	assert_int_equal(prefilter_build(pf), 0);
	prefilter_tune(pf, samples, lens, 2);
	prefilter_scan(pf, "green x pear red y apple", 24);
	assert_int_equal(prefilter_starts(pf, id, 0, pos, 8), 2);
	assert_int_equal(pos[0], 0);
	assert_int_equal(pos[1], 13);
	assert_int_equal(prefilter_starts(pf, id, 1, pos, 8), 1);
	assert_int_equal(pos[0], 13);
	/* Too many to list: "cannot tell" (a search of the whole text),
	 * never "nowhere". */
	assert_int_equal(prefilter_starts(pf, id, 0, pos, 1), -1);
	prefilter_scan(pf, "blue sky plum", 13);
	assert_true(prefilter_possible(pf, id));
	assert_int_equal(prefilter_starts(pf, id, 0, pos, 8), 1);
	assert_int_equal(pos[0], 0);
	prefilter_free(pf);
}

/* Searching only where matches can start finds exactly what a search
 * of the whole text finds, from any position. */
static void
anchored_search_finds_the_same_matches(void **state)
{
	static const char *const regexes[] = {
	    "\\b(?:gp|doctor) (?:\\w+ )?said",
	    "(?<=back )been at me",
	    "\\b(?:the |a )?disc (?:\\w+ )?bulg\\w*",
	    "\\bs?he (?:\\w+ ){0,2}fell",
	    "\\b\\d+ (?:weeks?|days?)",
	    "^(?:so )?what (?:\\w+ )?x",
	};
	static const char *const texts[] = {
	    "my gp said the doctor never said so",
	    "my back been at me , back been at me again",
	    "a disc bulge , the disc is bulging , disc bulged",
	    "she fell , he then fell , shed fell",
	    "for 12 weeks and 3 days , 10 days",
	    "so what x , what a x",
	};
	struct prefilter *pf = prefilter_new();
	struct rx_env *plain = rx_env_new(), *fast = rx_env_new();
	struct rx *rx[6];
	size_t i, t;

	(void)state;
	for (i = 0; i < 6; i++) {
		char why[128];
		size_t off;

		rx[i] = rx_compile(regexes[i], NULL, why, sizeof(why), &off);
		assert_non_null(rx[i]);
		rx_register(rx[i], pf);
		assert_true(
		    prefilter_starts(pf, i, 0, NULL, 0) == -1); /* not built */
	}
	assert_int_equal(prefilter_build(pf), 0);
	rx_env_use_prefilter(fast, pf);
	for (t = 0; t < 6; t++) {
		size_t len = strlen(texts[t]), from, found = 0;

		rx_env_begin(plain, texts[t], len);
		rx_env_begin(fast, texts[t], len);
		for (i = 0; i < 6; i++) {
			for (from = 0; from <= len; from++) {
				size_t a1 = 0, b1 = 0, a2 = 0, b2 = 0;
				int r1 = rx_find(rx[i], plain, texts[t], len,
				    from, &a1, &b1);
				int r2 = rx_find(
				    rx[i], fast, texts[t], len, from, &a2, &b2);

				assert_int_equal(r1, r2);
				if (r1 == 1) {
					assert_int_equal(a1, a2);
					assert_int_equal(b1, b2);
					found++;
				}
			}
		}
		assert_true(found > 0);
	}
	for (i = 0; i < 6; i++)
		rx_free(rx[i]);
	rx_env_free(plain);
	rx_env_free(fast);
	prefilter_free(pf);
}

/* One pattern of one regex, registered with 'pf'. */
static struct pattern
one_regex_pattern(const char *src, struct prefilter *pf)
{
	struct pattern p = {0};
	char why[128];
	size_t off;

	p.all = calloc(1, sizeof(*p.all));
	assert_non_null(p.all);
	p.all[0] = rx_compile(src, NULL, why, sizeof(why), &off);
	assert_non_null(p.all[0]);
	p.all_count = 1;
	p.weight = 1;
	pattern_register(&p, pf);
	return p;
}

static void
candidates_are_the_patterns_a_message_can_match(void **state)
{
	struct prefilter *pf = prefilter_new();
	struct candidates *c = candidates_new();
	struct pattern p[4];
	size_t i;

	(void)state;
	p[0] = one_regex_pattern("\\bcrack\\w*", pf);
	p[1] = one_regex_pattern("x*", pf); /* nothing to look for */
	p[2] = one_regex_pattern("\\bstretch(?:es)?\\b", pf);
	p[3] = one_regex_pattern("\\bdoctor\\b", pf);
	assert_false(candidates_select(c, pf)); /* not built yet */
	assert_int_equal(prefilter_build(pf), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(candidates_add(c, &p[i], pf), 0);
	prefilter_scan(pf, "best stretches", 14);
	assert_true(candidates_select(c, pf));
	assert_false(candidates_has(c, 0));
	assert_true(candidates_has(c, 1));
	assert_true(candidates_has(c, 2));
	assert_false(candidates_has(c, 3));
	assert_int_equal(candidates_next(c, 0), 1);
	assert_int_equal(candidates_next(c, 2), 2);
	assert_int_equal(candidates_next(c, 3), 4);
	prefilter_scan(pf, "cracking and a doctor", 21);
	assert_true(candidates_select(c, pf));
	assert_int_equal(candidates_next(c, 0), 0);
	assert_int_equal(candidates_next(c, 2), 3);
	for (i = 0; i < 4; i++)
		pattern_free(&p[i]);
	candidates_free(c);
	prefilter_free(pf);
}

/* Every pattern knows its group (an intent's patterns, a rule's), a
 * pattern filed alone is in none, and the selection lists candidates in
 * order, so each group's come together. */
static void
candidates_know_their_group_and_come_in_order(void **state)
{
	struct prefilter *pf = prefilter_new();
	struct candidates *c = candidates_new();
	struct pattern p[6];
	size_t i, first;

	(void)state;
	p[0] = one_regex_pattern("\\bcrack\\w*", pf);
	p[1] = one_regex_pattern("\\bdoctor\\b", pf);
	p[2] = one_regex_pattern("\\bstretch(?:es)?\\b", pf);
	p[3] = one_regex_pattern("\\bnumb\\b", pf);
	p[4] = one_regex_pattern("\\bpop\\b", pf);
	p[5] = one_regex_pattern("\\bdoctor\\b", pf);
	assert_int_equal(prefilter_build(pf), 0);
	/* Groups: 0 = {crack, doctor}, 1 = {}, 2 = {stretch}, then "numb"
	 * alone, then 3 = {pop, doctor}. */
	assert_int_equal(candidates_add_group(c, &p[0], 2, pf, &first), 0);
	assert_int_equal(first, 0);
	assert_int_equal(candidates_add_group(c, &p[2], 0, pf, &first), 0);
	assert_int_equal(first, 2);
	assert_int_equal(candidates_add_group(c, &p[2], 1, pf, &first), 0);
	assert_int_equal(candidates_add(c, &p[3], pf), 0);
	assert_int_equal(candidates_add_group(c, &p[4], 2, pf, &first), 0);
	assert_int_equal(first, 4);

	assert_int_equal(candidates_group(c, 0), 0);
	assert_int_equal(candidates_group(c, 1), 0);
	assert_int_equal(candidates_group(c, 2), 2);
	assert_int_equal(candidates_group(c, 3), SIZE_MAX); /* in no group */
	assert_int_equal(candidates_group(c, 4), 3);
	assert_int_equal(candidates_group(c, 5), 3);

	/* The whole selection in order, as intent_rank() walks it. */
	prefilter_scan(pf, "crack it, see a doctor, pop it", 30);
	assert_true(candidates_select(c, pf));
	{
		const uint32_t *listed;
		size_t n = candidates_list(c, &listed);

		assert_int_equal(n, 4);
		assert_int_equal(listed[0], 0);
		assert_int_equal(listed[1], 1);
		assert_int_equal(listed[2], 4);
		assert_int_equal(listed[3], 5);
	}

	prefilter_scan(pf, "numb and nothing else", 21);
	assert_true(candidates_select(c, pf));
	{
		const uint32_t *listed;

		assert_int_equal(candidates_list(c, &listed), 1);
		assert_int_equal(listed[0], 3);
	}
	prefilter_scan(pf, "nothing here", 12);
	assert_true(candidates_select(c, pf));
	{
		const uint32_t *listed;

		assert_int_equal(candidates_list(c, &listed), 0);
	}
	for (i = 0; i < 6; i++)
		pattern_free(&p[i]);
	candidates_free(c);
	prefilter_free(pf);
}

struct both_ways {
	const struct lexicon *lex;
	struct intent_set *set;
	struct triage *t;
	struct rx_env *plain, *fast;
};

/* One line ranked and triaged without and with the prefilter. */
static void
compare_line(const char *line, void *ctx)
{
	struct both_ways *w = ctx;
	struct test_matcher plain = {w->set, w->t, w->plain};
	struct test_matcher fast = {w->set, w->t, w->fast};
	char norm[TEXT_NORM_SIZE(4096)];
	size_t len;

	len = text_normalise(line, strlen(line), norm, sizeof(norm), w->lex);
	rx_env_begin(w->plain, norm, len);
	rx_env_begin(w->fast, norm, len);
	test_assert_same_results(&plain, &fast, norm, len);
}

/* Tune 'pf' on the knowledge base's examples, as loading does. */
struct sample {
	const struct lexicon *lex;
	char text[64][TEXT_NORM_SIZE(512)];
	const char *ptr[64];
	size_t len[64], n, seen;
};

static void
take_example(const char *example, void *ctx)
{
	struct sample *s = ctx;
	size_t len = strlen(example);

	/* Every tenth example, up to 64: enough to find the common sets. */
	if (s->seen++ % 10 != 0 || s->n == 64 || len > 512)
		return;
	s->len[s->n] = text_normalise(
	    example, len, s->text[s->n], sizeof(s->text[s->n]), s->lex);
	s->ptr[s->n] = s->text[s->n];
	s->n++;
}

static void
tune_on_examples(struct prefilter *pf, const struct lexicon *lex,
    const struct intent_set *set, const struct triage *t)
{
	struct sample *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	s->lex = lex;
	intent_each_example(set, take_example, s);
	triage_each_example(t, take_example, s);
	assert_true(s->n > 30);
	prefilter_tune(pf, s->ptr, s->len, s->n);
	free(s);
}

/* A set found in most sample texts is no longer required by a regex that
 * needs a rarer one. */
static void
tuning_drops_common_requirements(void **state)
{
	static const char *const samples[] = {
	    "my back hurts", "back again", "lower back pain", "a cat"};
	size_t lens[4], i, a, b;
	struct prefilter *pf = prefilter_new();

	(void)state;
	for (i = 0; i < 4; i++)
		lens[i] = strlen(samples[i]);
	a = prefilter_add(pf, "\\bcrack\\w* (?:\\w+ ){0,2}back");
	b = prefilter_add(pf, "\\bback\\w* (?:\\w+ )?ache");
	assert_int_equal(prefilter_build(pf), 0);
	prefilter_scan(pf, "crack it", 8);
	assert_false(prefilter_possible(pf, a));
	prefilter_tune(pf, samples, lens, 4);
	/* "back" is in 3 of 4 samples: 'a' needs only "crack" now. */
	prefilter_scan(pf, "crack it", 8);
	assert_true(prefilter_possible(pf, a));
	prefilter_scan(pf, "it aches", 8);
	assert_false(prefilter_possible(pf, a));
	/* 'b' keeps "ache"; with "back" common it is not required. */
	assert_true(prefilter_possible(pf, b));
	prefilter_scan(pf, "my back", 7);
	assert_false(prefilter_possible(pf, b));
	prefilter_free(pf);
}

/* The shipped knowledge base ranks intents and triages every corpus line
 * exactly the same with and without the prefilter. */
static void
prefilter_never_changes_a_result(void **state)
{
	struct lexicon *lex;
	struct intent_set *set;
	struct triage *t;
	struct prefilter *pf = prefilter_new();
	struct rx_env *plain = rx_env_new(), *fast = rx_env_new();
	struct both_ways w;
	size_t lines;

	(void)state;
	test_load_patterns(&lex, &set, &t);
	intent_register(set, pf);
	triage_register(t, pf);
	assert_int_equal(prefilter_build(pf), 0);
	tune_on_examples(pf, lex, set, t);
	intent_index(set, pf);
	triage_index(t, pf);
	rx_env_use_prefilter(fast, pf);
	w.lex = lex;
	w.set = set;
	w.t = t;
	w.plain = plain;
	w.fast = fast;
	lines = test_each_table_line(compare_line, &w);
	assert_true(lines > 100);
	rx_env_free(plain);
	rx_env_free(fast);
	prefilter_free(pf);
	triage_free(t);
	intent_free(set);
	lexicon_free(lex);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(alternation_of_words_needs_one_of_them),
	    cmocka_unit_test(optional_parts_are_not_required),
	    cmocka_unit_test(
	        lookarounds_and_classes_do_not_invent_requirements),
	    cmocka_unit_test(every_required_part_must_occur),
	    cmocka_unit_test(unanalysable_regexes_always_run),
	    cmocka_unit_test(escaped_question_mark_is_a_literal),
	    cmocka_unit_test(literals_alike_to_the_automaton_are_one),
	    cmocka_unit_test(overlapping_literals_are_all_found),
	    cmocka_unit_test(matches_start_where_their_first_literals_are),
	    cmocka_unit_test(alternatives_are_checked_one_by_one),
	    cmocka_unit_test(long_alternations_keep_their_starts),
	    cmocka_unit_test(tuned_alternatives_still_give_starts),
	    cmocka_unit_test(anchored_search_finds_the_same_matches),
	    cmocka_unit_test(candidates_are_the_patterns_a_message_can_match),
	    cmocka_unit_test(candidates_know_their_group_and_come_in_order),
	    cmocka_unit_test(tuning_drops_common_requirements),
	    cmocka_unit_test(prefilter_never_changes_a_result),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
