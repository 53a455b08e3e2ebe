/* test_bot.c - the question pipeline on the shipped knowledge base:
 * intents of the question table, safety policy, refusals, rendering,
 * and that answering allocates no memory once warmed up.  The Makefile
 * links this program with malloc, calloc and realloc wrapped (ld
 * --wrap), so the calls from backbot's own code are counted here. */
#include "bot.h"
#include "buf.h"
#include "testutil.h"

static unsigned long allocations;

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

void *
__wrap_malloc(size_t size)
{
	allocations++;
	return __real_malloc(size);
}

void *
__wrap_calloc(size_t n, size_t size)
{
	allocations++;
	return __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t size)
{
	allocations++;
	return __real_realloc(p, size);
}

static struct bot_reply
ask(void **state, const char *q)
{
	struct bot_reply r;

	assert_int_equal(bot_answer(*state, q, strlen(q), &r), BOT_OK);
	return r;
}

static int
same_or_finer(const char *got, const char *want)
{
	size_t n = strlen(want);

	return strncmp(got, want, n) == 0 && (got[n] == '\0' || got[n] == '.');
}

/* Every row of tests/data/questions.tsv: question<TAB>intent. */
static void
question_table_maps_to_expected_intents(void **state)
{
	char path[512], line[4096];
	FILE *in = fopen(
	    test_path(path, sizeof(path), "tests/data/questions.tsv"), "r");
	int rows = 0, wrong = 0;

	assert_non_null(in);
	while (fgets(line, sizeof(line), in) != NULL) {
		char *tab = strchr(line, '\t'), *nl = strchr(line, '\n');
		struct bot_reply r;

		if (line[0] == '#' || tab == NULL)
			continue;
		if (nl != NULL)
			*nl = '\0';
		*tab = '\0';
		rows++;
		r = ask(state, line);
		if (!same_or_finer(r.intent, tab + 1)) {
			fprintf(stderr,
			    "questions.tsv: \"%s\": got %s, want "
			    "%s\n",
			    line, r.intent, tab + 1);
			wrong++;
		}
	}
	fclose(in);
	assert_true(rows >= 100);
	assert_int_equal(wrong, 0);
}

static void
emergency_withholds_every_answer_and_leads_with_help(void **state)
{
	struct bot_reply r = ask(state,
	    "how do I do the seated twist? I "
	    "can't feel anything when I wipe and I've wet myself");
	struct buf text;

	assert_int_equal(r.triage.level, TRIAGE_EMERGENCY);
	assert_null(r.answer);
	buf_init(&text, 65536);
	assert_int_equal(bot_render_text(&r, &text), 0);
	assert_non_null(strstr(buf_str(&text), "999"));
	assert_non_null(strstr(buf_str(&text), "911"));
	assert_non_null(strstr(buf_str(&text), "emergency department"));
	assert_null(strstr(buf_str(&text), "Hold"));
	buf_free(&text);
}

static void
urgent_withholds_self_care_but_not_information(void **state)
{
	struct bot_reply r = ask(state,
	    "I've had a fever for two days, how "
	    "do I do child's pose?");

	assert_int_equal(r.triage.level, TRIAGE_URGENT);
	assert_null(r.answer);
	assert_true(r.withheld);
	r = ask(state,
	    "I've had a fever for two days, what is a spinal "
	    "disc made of?");
	assert_int_equal(r.triage.level, TRIAGE_URGENT);
	assert_non_null(r.answer);
	assert_non_null(r.guidance);
}

static void
caution_leads_with_guidance_then_answers(void **state)
{
	struct bot_reply r = ask(state,
	    "I'm 20 weeks pregnant, can I crack "
	    "my back?");
	struct buf text;

	assert_int_equal(r.triage.level, TRIAGE_CAUTION);
	assert_non_null(r.guidance);
	assert_non_null(r.answer);
	buf_init(&text, 65536);
	bot_render_text(&r, &text);
	assert_ptr_equal(strstr(buf_str(&text), r.guidance), buf_str(&text));
	buf_free(&text);
}

static void
ordinary_question_gets_no_alarm(void **state)
{
	struct bot_reply r = ask(state,
	    "what's the best way to crack my "
	    "lower back after sitting all day?");

	assert_int_equal(r.triage.level, TRIAGE_NONE);
	assert_null(r.guidance);
	assert_string_equal(r.intent, "crack.how_to");
	assert_non_null(r.answer);
}

static void
off_topic_question_is_answered_honestly(void **state)
{
	struct bot_reply r = ask(state, "what's the capital of France?");

	assert_string_equal(r.intent, "none");
	assert_non_null(r.answer);
	assert_non_null(strstr(r.answer, "help"));
}

static void
refuses_empty_long_and_invalid_input(void **state)
{
	struct bot_reply r;
	char *big = malloc(BOT_MAX_QUESTION_BYTES + 2);

	memset(big, 'a', BOT_MAX_QUESTION_BYTES + 1);
	big[BOT_MAX_QUESTION_BYTES + 1] = '\0';
	assert_int_equal(bot_answer(*state, "   \t", 4, &r), BOT_EMPTY);
	assert_int_equal(bot_answer(*state, "", 0, &r), BOT_EMPTY);
	assert_int_equal(
	    bot_answer(*state, "\xff\xfe back", 7, &r), BOT_BAD_UTF8);
	assert_int_equal(
	    bot_answer(*state, big, strlen(big), &r), BOT_TOO_LONG);
	/* Just under the limit is answered. */
	big[BOT_MAX_QUESTION_BYTES - 1] = '\0';
	memcpy(big, "can i crack my back ", 20);
	assert_int_equal(bot_answer(*state, big, strlen(big), &r), BOT_OK);
	free(big);
}

static void
json_output_has_the_spec_fields(void **state)
{
	struct bot_reply r = ask(state, "is it safe to crack my own back?");
	struct buf json;
	const char *s;

	buf_init(&json, 65536);
	assert_int_equal(bot_render_json(&r, &json), 0);
	s = buf_str(&json);
	assert_ptr_equal(strstr(s, "{\"intent\":\"crack.safety\""), s);
	assert_non_null(strstr(s, "\"confidence\":"));
	assert_non_null(strstr(s, "\"triage\":\"none\""));
	assert_non_null(strstr(s, "\"answer\":\""));
	assert_non_null(strstr(s, "\"alternatives\":["));
	assert_null(strchr(s, '\n'));
	buf_free(&json);
}

static void
topics_list_every_answer_but_small_talk(void **state)
{
	struct buf t;

	buf_init(&t, 65536);
	assert_int_equal(bot_render_topics(*state, &t), 0);
	assert_non_null(strstr(buf_str(&t), "child's pose"));
	assert_null(strstr(buf_str(&t), "saying hello"));
	buf_free(&t);
}

static void
answer_line(const char *line, void *bot)
{
	struct bot_reply r;

	(void)bot_answer(bot, line, strlen(line), &r);
}

/* The questions of the test tables, answered twice: the first time
 * compiles what is used on first use; the second must not allocate. */
static void
answering_allocates_nothing_once_warm(void **state)
{
	unsigned long before;
	size_t answered;

	(void)test_each_table_line(answer_line, *state);
	before = allocations;
	answered = test_each_table_line(answer_line, *state);
	assert_int_equal(allocations - before, 0);
	assert_true(answered > 1000);
	assert_true(allocations > 0); /* the wrappers are in place */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(question_table_maps_to_expected_intents),
	    cmocka_unit_test(
	        emergency_withholds_every_answer_and_leads_with_help),
	    cmocka_unit_test(urgent_withholds_self_care_but_not_information),
	    cmocka_unit_test(caution_leads_with_guidance_then_answers),
	    cmocka_unit_test(ordinary_question_gets_no_alarm),
	    cmocka_unit_test(off_topic_question_is_answered_honestly),
	    cmocka_unit_test(refuses_empty_long_and_invalid_input),
	    cmocka_unit_test(json_output_has_the_spec_fields),
	    cmocka_unit_test(topics_list_every_answer_but_small_talk),
	    cmocka_unit_test(answering_allocates_nothing_once_warm),
	};

	return cmocka_run_group_tests(tests, test_bot_setup, test_bot_teardown);
}
