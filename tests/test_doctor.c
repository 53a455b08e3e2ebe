/* test_doctor.c - the guided check: flow, answers, stopping, summary. */
#include "bot.h"
#include "buf.h"
#include "doctor.h"
#include "testutil.h"

static void
all_no_ends_with_no_red_flags(void **state)
{
	const struct doctor *doc = bot_doctor(*state);
	struct doctor_session s;
	struct buf out;
	size_t asked = 0;

	doctor_begin(&s);
	while (doctor_question(doc, &s) != NULL) {
		assert_int_equal(doctor_reply(doc, &s, "no"), 0);
		asked++;
	}
	assert_int_equal(asked, doctor_question_count(doc));
	assert_true(doctor_done(&s));
	assert_int_equal(s.level, TRIAGE_NONE);
	buf_init(&out, 65536);
	assert_int_equal(
	    doctor_render_result(doc, &s, bot_triage(*state), &out), 0);
	assert_non_null(strstr(buf_str(&out), "no red flags"));
	assert_non_null(strstr(buf_str(&out), ": no"));
	buf_free(&out);
}

static void
emergency_yes_stops_at_once(void **state)
{
	const struct doctor *doc = bot_doctor(*state);
	struct doctor_session s;
	struct buf out;

	doctor_begin(&s);
	assert_int_equal(doctor_reply(doc, &s, "Yes, since yesterday"), 0);
	assert_true(doctor_done(&s));
	assert_null(doctor_question(doc, &s));
	assert_int_equal(s.level, TRIAGE_EMERGENCY);
	buf_init(&out, 65536);
	doctor_render_result(doc, &s, bot_triage(*state), &out);
	assert_non_null(strstr(buf_str(&out), "999"));
	assert_non_null(strstr(buf_str(&out), ": yes"));
	buf_free(&out);
}

static void
not_sure_counts_as_yes_for_emergency_questions(void **state)
{
	const struct doctor *doc = bot_doctor(*state);
	struct doctor_session s;

	doctor_begin(&s);
	assert_int_equal(doctor_reply(doc, &s, "not sure"), 0);
	assert_true(doctor_done(&s));
	assert_int_equal(s.level, TRIAGE_EMERGENCY);
}

static void
unclear_reply_is_refused_and_asked_again(void **state)
{
	const struct doctor *doc = bot_doctor(*state);
	struct doctor_session s;
	const char *q;

	doctor_begin(&s);
	q = doctor_question(doc, &s);
	assert_int_equal(doctor_reply(doc, &s, "purple"), -1);
	assert_ptr_equal(doctor_question(doc, &s), q);
	assert_int_equal(doctor_reply(doc, &s, "nope"), 0);
	assert_ptr_not_equal(doctor_question(doc, &s), q);
}

static void
urgent_yes_goes_on_and_keeps_the_highest_level(void **state)
{
	const struct doctor *doc = bot_doctor(*state);
	struct doctor_session s;
	struct buf json;
	size_t i = 0;

	doctor_begin(&s);
	while (doctor_question(doc, &s) != NULL) {
		/* Answer yes to the first question after the emergency ones
		 * and to the last one; no to the rest. */
		const char *a = i == 7 || i + 1 == doctor_question_count(doc)
		    ? "yes"
		    : "no";

		assert_int_equal(doctor_reply(doc, &s, a), 0);
		i++;
	}
	assert_int_equal(s.level, TRIAGE_URGENT);
	buf_init(&json, 65536);
	assert_int_equal(
	    doctor_render_json(doc, &s, bot_triage(*state), &json), 0);
	assert_ptr_equal(
	    strstr(buf_str(&json), "{\"triage\":\"urgent\""), buf_str(&json));
	buf_free(&json);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(all_no_ends_with_no_red_flags),
	    cmocka_unit_test(emergency_yes_stops_at_once),
	    cmocka_unit_test(not_sure_counts_as_yes_for_emergency_questions),
	    cmocka_unit_test(unclear_reply_is_refused_and_asked_again),
	    cmocka_unit_test(urgent_yes_goes_on_and_keeps_the_highest_level),
	};

	return cmocka_run_group_tests(tests, test_bot_setup, test_bot_teardown);
}
