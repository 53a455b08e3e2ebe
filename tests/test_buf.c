/* test_buf.c - the bounded buffer: limits, escaping, line reading. */
#include "buf.h"
#include "testutil.h"

static void
buf_refuses_to_grow_past_its_maximum(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_append_str(&b, "12345678"), 0);
	assert_int_equal(buf_append_char(&b, 'x'), -1);
	assert_string_equal(buf_str(&b), "12345678");
	buf_free(&b);
}

static void
buf_printf_formats_and_respects_limit(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 16);
	assert_int_equal(buf_printf(&b, "%d-%s", 42, "ok"), 0);
	assert_string_equal(buf_str(&b), "42-ok");
	assert_int_equal(buf_printf(&b, "%s", "far too long for it"), -1);
	assert_string_equal(buf_str(&b), "42-ok");
	buf_free(&b);
}

static void
json_string_escapes_quotes_controls_and_newlines(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 256);
	assert_int_equal(buf_append_json_string(&b, "a\"b\\c\nd\x01"), 0);
	assert_string_equal(buf_str(&b), "\"a\\\"b\\\\c\\nd\\u0001\"");
	buf_free(&b);
}

static void
html_escapes_markup(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 256);
	assert_int_equal(buf_append_html(&b, "<b>&'\"</b>"), 0);
	assert_string_equal(buf_str(&b), "&lt;b&gt;&amp;&#39;&quot;&lt;/b&gt;");
	buf_free(&b);
}

static void
getline_truncates_long_lines_and_keeps_the_next(void **state)
{
	char text[] = "0123456789abcdef\r\nnext\nlast";
	FILE *f = fmemopen(text, strlen(text), "r");
	struct buf b;
	int trunc;

	(void)state;
	buf_init(&b, 4);
	assert_int_equal(buf_getline(&b, f, &trunc), 1);
	assert_int_equal(trunc, 1);
	assert_string_equal(buf_str(&b), "0123");
	assert_int_equal(buf_getline(&b, f, &trunc), 1);
	assert_int_equal(trunc, 0);
	assert_string_equal(buf_str(&b), "next");
	assert_int_equal(buf_getline(&b, f, &trunc), 1);
	assert_string_equal(buf_str(&b), "last");
	assert_int_equal(buf_getline(&b, f, &trunc), 0);
	fclose(f);
	buf_free(&b);
}

static void
read_file_refuses_files_over_the_limit(void **state)
{
	struct buf b;
	char path[512];

	(void)state;
	buf_init(&b, 10);
	assert_int_equal(
	    buf_read_file(&b, test_path(path, sizeof(path), "Makefile")), -1);
	buf_free(&b);
	buf_init(&b, 1 << 20);
	assert_int_equal(buf_read_file(&b, path), 0);
	assert_true(b.len > 100);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(buf_refuses_to_grow_past_its_maximum),
	    cmocka_unit_test(buf_printf_formats_and_respects_limit),
	    cmocka_unit_test(json_string_escapes_quotes_controls_and_newlines),
	    cmocka_unit_test(html_escapes_markup),
	    cmocka_unit_test(getline_truncates_long_lines_and_keeps_the_next),
	    cmocka_unit_test(read_file_refuses_files_over_the_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
