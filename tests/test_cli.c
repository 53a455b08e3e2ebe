/* test_cli.c - command-line parsing and knowledge-base discovery. */
#include "cli.h"
#include "testutil.h"

static int
parse(struct cli_options *o, bool tty, int argc, ...)
{
	static char *argv[16];
	char err[256];
	va_list ap;
	int i;

	va_start(ap, argc);
	for (i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	argv[argc] = NULL;
	return cli_parse(argc, argv, tty, o, err, sizeof(err));
}

static void
no_command_means_chat_on_a_terminal_and_ask_otherwise(void **state)
{
	struct cli_options o;

	(void)state;
	assert_int_equal(parse(&o, true, 1, "backbot"), 0);
	assert_int_equal(o.command, CLI_CHAT);
	assert_int_equal(parse(&o, false, 1, "backbot"), 0);
	assert_int_equal(o.command, CLI_ASK);
}

static void
options_work_before_and_after_the_command(void **state)
{
	struct cli_options o;
	char *q;

	(void)state;
	assert_int_equal(
	    parse(&o, true, 5, "backbot", "--json", "ask", "is", "it safe"), 0);
	assert_true(o.json);
	assert_int_equal(o.command, CLI_ASK);
	q = cli_join_words(&o);
	assert_string_equal(q, "is it safe");
	free(q);
	assert_int_equal(
	    parse(&o, true, 5, "backbot", "ask", "--kb", "/x", "hi"), 0);
	assert_string_equal(o.kb, "/x");
	assert_int_equal(o.word_count, 1);
}

static void
bad_usage_is_refused(void **state)
{
	struct cli_options o;

	(void)state;
	assert_int_equal(parse(&o, true, 2, "backbot", "--nope"), -1);
	assert_int_equal(parse(&o, true, 2, "backbot", "fly"), -1);
	assert_int_equal(parse(&o, true, 3, "backbot", "check", "extra"), -1);
	assert_int_equal(
	    parse(&o, true, 4, "backbot", "ask", "--config", "x"), -1);
	assert_int_equal(parse(&o, true, 2, "backbot", "--kb"), -1);
}

static void
kb_option_accepts_root_or_faq_folder_and_rejects_others(void **state)
{
	struct cli_options o;
	char err[256], faq[512];

	(void)state;
	memset(&o, 0, sizeof(o));
	o.kb = test_root();
	assert_int_equal(
	    cli_find_kb(&o, "/usr/share/backbot", err, sizeof(err)), 0);
	o.kb = test_path(faq, sizeof(faq), "faq");
	assert_int_equal(
	    cli_find_kb(&o, "/usr/share/backbot", err, sizeof(err)), 0);
	o.kb = "/nonexistent";
	assert_int_equal(
	    cli_find_kb(&o, "/usr/share/backbot", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no such folder"));
	o.kb = "/tmp";
	assert_int_equal(
	    cli_find_kb(&o, "/usr/share/backbot", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a knowledge base"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(
	        no_command_means_chat_on_a_terminal_and_ask_otherwise),
	    cmocka_unit_test(options_work_before_and_after_the_command),
	    cmocka_unit_test(bad_usage_is_refused),
	    cmocka_unit_test(
	        kb_option_accepts_root_or_faq_folder_and_rejects_others),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
