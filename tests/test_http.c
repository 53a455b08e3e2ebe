/* test_http.c - the HTTP layer: path escaping, Retry-After, loopback
 * detection and the protocol restriction of the libcurl client (no
 * network is used: refused protocols fail before connecting). */
#include <time.h>

#include "buf.h"
#include "http.h"
#include "testutil.h"

static void
escape_keeps_unreserved_and_encodes_the_rest(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(http_append_escaped(&b, "AZaz09-._~"), 0);
	assert_string_equal(buf_str(&b), "AZaz09-._~");
	buf_reset(&b);
	/* Room ids, event ids with '/' and '+', aliases with '#'. */
	assert_int_equal(http_append_escaped(&b, "!room:example.org"), 0);
	assert_string_equal(buf_str(&b), "%21room%3Aexample.org");
	buf_reset(&b);
	assert_int_equal(http_append_escaped(&b, "$ab/cd+ef="), 0);
	assert_string_equal(buf_str(&b), "%24ab%2Fcd%2Bef%3D");
	buf_reset(&b);
	assert_int_equal(http_append_escaped(&b, "#alias:srv ?&"), 0);
	assert_string_equal(buf_str(&b), "%23alias%3Asrv%20%3F%26");
	buf_reset(&b);
	assert_int_equal(http_append_escaped(&b, "\xc3\xa9"), 0);
	assert_string_equal(buf_str(&b), "%C3%A9");
	buf_free(&b);
}

static void
escape_fails_when_the_buffer_is_full(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 5);
	assert_int_equal(http_append_escaped(&b, "////"), -1);
	buf_free(&b);
}

static void
retry_after_reads_seconds_and_dates(void **state)
{
	/* 2015-10-21 07:28:00 UTC */
	time_t when = (time_t)1445412480;

	(void)state;
	assert_int_equal(http_parse_retry_after("120", 0), 120000);
	assert_int_equal(http_parse_retry_after(" 0\r\n", 0), 0);
	assert_int_equal(
	    http_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", when - 30),
	    30000);
	assert_int_equal(http_parse_retry_after(
	                     "Wed, 21 Oct 2015 07:28:00 GMT\r\n", when + 5),
	    0);
	assert_int_equal(http_parse_retry_after("soon", 0), -1);
	assert_int_equal(http_parse_retry_after("-5", 0), -1);
	assert_int_equal(http_parse_retry_after("12abc", 0), -1);
	assert_int_equal(
	    http_parse_retry_after("Wed, 21 Foo 2015 07:28:00 GMT", 0), -1);
	/* Absurd waits are capped at a week. */
	assert_int_equal(
	    http_parse_retry_after("99999999", 0), 7L * 86400L * 1000L);
}

static void
loopback_hosts_are_recognised(void **state)
{
	(void)state;
	assert_true(http_url_is_loopback("http://127.0.0.1:8008/"));
	assert_true(http_url_is_loopback("http://localhost"));
	assert_true(http_url_is_loopback("http://LOCALHOST:1/x"));
	assert_true(http_url_is_loopback("http://[::1]:8008"));
	assert_true(http_url_is_loopback("https://127.1.2.3"));
	assert_false(http_url_is_loopback("http://127.example.org/"));
	assert_false(http_url_is_loopback("http://localhost.evil.org/"));
	assert_false(http_url_is_loopback("http://example.org/"));
	assert_false(http_url_is_loopback("ftp://127.0.0.1/"));
	assert_false(http_url_is_loopback("127.0.0.1"));
}

static void
curl_client_refuses_plain_http_unless_allowed(void **state)
{
	struct http_curl_options o;
	struct http_request req;
	struct http_response resp;
	struct http *h;
	struct diag d;

	(void)state;
	diag_clear(&d);
	memset(&o, 0, sizeof(o));
	h = http_curl_new(&o, &d);
	assert_non_null(h);
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = "http://127.0.0.1:1/_matrix/client/versions";
	req.bearer = "syt_secret_token";
	req.timeout_ms = 2000;
	http_response_init(&resp, 1024);
	assert_int_equal(http_perform(h, &req, &resp), -1);
	assert_int_equal(resp.status, 0);
	assert_true(resp.error[0] != '\0');
	/* The token is never part of an error message. */
	assert_null(strstr(resp.error, "syt_secret_token"));
	http_response_free(&resp);
	http_free(h);
}

static void
curl_client_refuses_other_protocols(void **state)
{
	struct http_curl_options o;
	struct http_request req;
	struct http_response resp;
	struct http *h;
	struct diag d;

	(void)state;
	diag_clear(&d);
	memset(&o, 0, sizeof(o));
	o.allow_http = true;
	h = http_curl_new(&o, &d);
	assert_non_null(h);
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.url = "file:///etc/passwd";
	http_response_init(&resp, 1024);
	assert_int_equal(http_perform(h, &req, &resp), -1);
	assert_int_equal(resp.body.len, 0);
	http_response_free(&resp);
	http_free(h);
	http_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(escape_keeps_unreserved_and_encodes_the_rest),
	    cmocka_unit_test(escape_fails_when_the_buffer_is_full),
	    cmocka_unit_test(retry_after_reads_seconds_and_dates),
	    cmocka_unit_test(loopback_hosts_are_recognised),
	    cmocka_unit_test(curl_client_refuses_plain_http_unless_allowed),
	    cmocka_unit_test(curl_client_refuses_other_protocols),
	};
	int rc;

	if (http_global_init() != 0)
		return 1;
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	http_global_cleanup();
	return rc;
}
