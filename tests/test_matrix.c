/* test_matrix.c - the Matrix front end's pure pieces, and its request
 * retry rules driven through a canned-response http implementation (no
 * network). */
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "http.h"
#include "matrix_impl.h"
#include "testutil.h"

#define ME "@backbot:example.org"

/* ---- helpers --------------------------------------------------------- */

static const char *fake_env[16][2];

static const char *
fake_getenv(const char *name)
{
	for (size_t i = 0; i < 16 && fake_env[i][0] != NULL; i++)
		if (strcmp(fake_env[i][0], name) == 0)
			return fake_env[i][1];
	return NULL;
}

static void
set_env(const char *const *pairs)
{
	size_t i = 0;

	memset(fake_env, 0, sizeof(fake_env));
	for (; pairs != NULL && pairs[2 * i] != NULL && i < 15; i++) {
		fake_env[i][0] = pairs[2 * i];
		fake_env[i][1] = pairs[2 * i + 1];
	}
}

static int
parse(struct matrix_config *c, const char *json, struct diag *d)
{
	matrix_config_defaults(c);
	diag_clear(d);
	return matrix_config_parse(c, json, strlen(json), "m.json", d);
}

static cJSON *
event(const char *json)
{
	cJSON *ev = cJSON_Parse(json);

	assert_non_null(ev);
	return ev;
}

/* ---- configuration ---------------------------------------------------- */

static void
config_reports_json_errors_with_position(void **state)
{
	struct matrix_config c;
	struct diag d;

	(void)state;
	assert_int_equal(parse(&c, "{\n  \"homeserver\": ,\n}", &d), -1);
	assert_true(test_diag_has(&d, "m.json:2:"));
	assert_true(test_diag_has(&d, "invalid JSON"));
	assert_int_equal(parse(&c, "[1]", &d), -1);
	assert_true(test_diag_has(&d, "expected a JSON object"));
	assert_int_equal(parse(&c, "{} x", &d), -1);
}

static void
config_names_unknown_and_mistyped_settings(void **state)
{
	struct matrix_config c;
	struct diag d;

	(void)state;
	assert_int_equal(parse(&c, "{\"homserver\":\"x\"}", &d), -1);
	assert_true(test_diag_has(&d, "unknown setting \"homserver\""));
	assert_int_equal(parse(&c, "{\"homeserver\":3}", &d), -1);
	assert_true(test_diag_has(&d, "homeserver: expected a string"));
	assert_int_equal(parse(&c, "{\"sync_timeout_ms\":-1}", &d), -1);
	assert_true(test_diag_has(&d, "sync_timeout_ms: expected a number"));
	assert_int_equal(parse(&c, "{\"allow_http\":\"yes\"}", &d), -1);
	assert_true(test_diag_has(&d, "allow_http: expected true or false"));
	assert_int_equal(parse(&c, "{\"allow_invites_from\":[1]}", &d), -1);
	assert_true(test_diag_has(&d, "allow_invites_from[0]"));
}

static void
config_secret_values_are_never_echoed(void **state)
{
	struct matrix_config c;
	struct diag d;
	char big[3000];

	(void)state;
	memset(big, 'a', sizeof(big));
	memcpy(big, "{\"access_token\":\"", 17);
	memcpy(big + sizeof(big) - 3, "\"}", 3);
	assert_int_equal(parse(&c, big, &d), -1);
	assert_true(test_diag_has(&d, "access_token: too long"));
	assert_false(test_diag_has(&d, "aaaaaaaa"));
}

static void
config_check_names_missing_settings(void **state)
{
	struct matrix_config c;
	struct diag d;
	static const char *const env[] = {"HOME", "/home/bot", NULL};

	(void)state;
	set_env(env);
	assert_int_equal(parse(&c, "{}", &d), 0);
	assert_int_equal(matrix_config_check(&c, fake_getenv, &d), -1);
	assert_true(test_diag_has(&d, "missing setting: homeserver"));

	assert_int_equal(parse(&c, "{\"homeserver\":\"https://h\"}", &d), 0);
	assert_int_equal(matrix_config_check(&c, fake_getenv, &d), -1);
	assert_true(test_diag_has(&d, "missing setting: access_token"));

	assert_int_equal(parse(&c,
	                     "{\"homeserver\":\"https://h\","
	                     "\"password\":\"pw\"}",
	                     &d),
	    0);
	assert_int_equal(matrix_config_check(&c, fake_getenv, &d), -1);
	assert_true(test_diag_has(&d, "missing setting: user_id"));

	assert_int_equal(parse(&c,
	                     "{\"homeserver\":\"https://h\","
	                     "\"access_token\":\"t\","
	                     "\"user_id\":\"bot\"}",
	                     &d),
	    0);
	assert_int_equal(matrix_config_check(&c, fake_getenv, &d), -1);
	assert_true(test_diag_has(&d, "bad setting: user_id"));

	assert_int_equal(parse(&c,
	                     "{\"homeserver\":\"bad host/x\","
	                     "\"access_token\":\"t\"}",
	                     &d),
	    0);
	assert_int_equal(matrix_config_check(&c, fake_getenv, &d), -1);
	assert_true(test_diag_has(&d, "bad setting: homeserver"));

	assert_int_equal(parse(&c,
	                     "{\"homeserver\":\"example.org\","
	                     "\"access_token\":\"t\"}",
	                     &d),
	    0);
	assert_int_equal(matrix_config_check(&c, fake_getenv, &d), 0);
	assert_string_equal(c.state_dir, "/home/bot/.local/state/backbot");
}

static void
config_environment_wins_over_the_file(void **state)
{
	struct matrix_config c;
	struct diag d;
	static const char *const env[] = {"BACKBOT_HOMESERVER",
	    "https://env.example", "BACKBOT_ACCESS_TOKEN", "envtoken",
	    "XDG_STATE_HOME", "/var/lib/x", NULL};

	(void)state;
	set_env(env);
	assert_int_equal(parse(&c,
	                     "{\"homeserver\":\"https://file\","
	                     "\"access_token\":\"filetoken\"}",
	                     &d),
	    0);
	assert_int_equal(matrix_config_env(&c, fake_getenv, &d), 0);
	assert_int_equal(matrix_config_check(&c, fake_getenv, &d), 0);
	assert_string_equal(c.homeserver, "https://env.example");
	assert_string_equal(c.access_token, "envtoken");
	assert_string_equal(c.state_dir, "/var/lib/x/backbot");
}

static void
config_load_of_a_missing_explicit_file_fails(void **state)
{
	struct matrix_config c;
	struct diag d;
	static const char *const env[] = {"BACKBOT_HOMESERVER", "https://h",
	    "BACKBOT_ACCESS_TOKEN", "t", "HOME", "/nonexistent", NULL};

	(void)state;
	set_env(env);
	diag_clear(&d);
	assert_int_equal(
	    matrix_config_load(&c, "/nonexistent/m.json", fake_getenv, &d), -1);
	assert_true(test_diag_has(&d, "cannot read config file"));
	/* The default path may be missing: the environment suffices. */
	diag_clear(&d);
	assert_int_equal(matrix_config_load(&c, NULL, fake_getenv, &d), 0);
}

/* ---- event filtering ---------------------------------------------------- */

static enum matrix_skip
filter(const char *json)
{
	struct matrix_msg m;
	enum matrix_skip s;
	cJSON *ev = event(json);

	matrix_msg_parse(ev, ME, &m);
	s = matrix_msg_filter(&m, ME);
	cJSON_Delete(ev);
	return s;
}

static void
filter_skips_own_notices_edits_state_and_non_text(void **state)
{
	(void)state;
	assert_int_equal(filter("{\"event_id\":\"$1\",\"sender\":\"@a:x\","
	                        "\"type\":\"m.room.message\",\"content\":{"
	                        "\"msgtype\":\"m.text\",\"body\":\"hi\"}}"),
	    MATRIX_ANSWERABLE);
	assert_int_equal(filter("{\"event_id\":\"$1\",\"sender\":\"" ME "\","
	                        "\"type\":\"m.room.message\",\"content\":{"
	                        "\"msgtype\":\"m.text\",\"body\":\"hi\"}}"),
	    MATRIX_SKIP_OWN);
	assert_int_equal(filter("{\"event_id\":\"$1\",\"sender\":\"@a:x\","
	                        "\"type\":\"m.room.message\",\"content\":{"
	                        "\"msgtype\":\"m.notice\",\"body\":\"hi\"}}"),
	    MATRIX_SKIP_NOTICE);
	assert_int_equal(filter("{\"event_id\":\"$1\",\"sender\":\"@a:x\","
	                        "\"type\":\"m.room.message\",\"content\":{"
	                        "\"msgtype\":\"m.text\",\"body\":\"* hi\","
	                        "\"m.relates_to\":{\"rel_type\":\"m.replace\","
	                        "\"event_id\":\"$0\"}}}"),
	    MATRIX_SKIP_EDIT);
	assert_int_equal(filter("{\"event_id\":\"$1\",\"sender\":\"@a:x\","
	                        "\"type\":\"m.room.message\",\"content\":{"
	                        "\"msgtype\":\"m.text\",\"body\":\"* hi\","
	                        "\"m.new_content\":{}}}"),
	    MATRIX_SKIP_EDIT);
	assert_int_equal(filter("{\"event_id\":\"$1\",\"sender\":\"@a:x\","
	                        "\"type\":\"m.room.message\",\"content\":{"
	                        "\"msgtype\":\"m.image\",\"body\":\"a.png\"}}"),
	    MATRIX_SKIP_NOT_TEXT);
	assert_int_equal(filter("{\"event_id\":\"$1\",\"sender\":\"@a:x\","
	                        "\"type\":\"m.room.message\",\"content\":{}}"),
	    MATRIX_SKIP_NO_BODY);
	assert_int_equal(filter("{\"event_id\":\"$1\",\"sender\":\"@a:x\","
	                        "\"type\":\"m.room.member\",\"state_key\":"
	                        "\"@a:x\",\"content\":{}}"),
	    MATRIX_SKIP_STATE);
	assert_int_equal(filter("{\"event_id\":\"$1\",\"sender\":\"@a:x\","
	                        "\"type\":\"m.room.encrypted\","
	                        "\"content\":{}}"),
	    MATRIX_SKIP_TYPE);
	assert_int_equal(filter("{\"sender\":\"@a:x\","
	                        "\"type\":\"m.room.message\",\"content\":{"
	                        "\"msgtype\":\"m.text\",\"body\":\"hi\"}}"),
	    MATRIX_SKIP_INVALID);
	assert_int_equal(filter("{\"event_id\":1,\"sender\":\"@a:x\","
	                        "\"type\":\"m.room.message\",\"content\":{"
	                        "\"msgtype\":\"m.text\",\"body\":7}}"),
	    MATRIX_SKIP_INVALID);
}

/* ---- addressing --------------------------------------------------------- */

struct addr_case {
	const char *content; /* JSON of the content */
	bool direct;
	enum matrix_address want;
	const char *text; /* the question left, or NULL to skip */
};

static void
addressing_follows_mentions_prefix_and_names(void **state)
{
	static const struct addr_case cases[] = {
	    {"{\"body\":\"is it safe?\"}", false, MATRIX_NOT_ADDRESSED, NULL},
	    {"{\"body\":\"is it safe?\"}", true, MATRIX_ADDRESSED_DIRECT,
	        "is it safe?"},
	    {"{\"body\":\"Back Bot: is it safe?\",\"m.mentions\":"
	     "{\"user_ids\":[\"" ME "\"]}}",
	        false, MATRIX_ADDRESSED_MENTION, "is it safe?"},
	    {"{\"body\":\"!back is it safe?\"}", false, MATRIX_ADDRESSED_PREFIX,
	        "is it safe?"},
	    {"{\"body\":\"!BACK help\"}", false, MATRIX_ADDRESSED_PREFIX,
	        "help"},
	    {"{\"body\":\"!backup the files\"}", false, MATRIX_NOT_ADDRESSED,
	        NULL},
	    {"{\"body\":\"backbot, is it safe?\"}", false,
	        MATRIX_ADDRESSED_MENTION, "is it safe?"},
	    {"{\"body\":\"@backbot is it safe?\"}", false,
	        MATRIX_ADDRESSED_MENTION, "is it safe?"},
	    {"{\"body\":\"" ME ": hi\"}", false, MATRIX_ADDRESSED_MENTION,
	        "hi"},
	    {"{\"body\":\"ask back bot please\"}", false,
	        MATRIX_ADDRESSED_MENTION, NULL},
	    {"{\"body\":\"mybackbotx is not me\"}", false, MATRIX_NOT_ADDRESSED,
	        NULL},
	    {"{\"body\":\"someone else\",\"m.mentions\":"
	     "{\"user_ids\":[\"@other:x\"]}}",
	        false, MATRIX_NOT_ADDRESSED, NULL},
	    {"{\"body\":\"> <@a:x> old\\n\\n!back doctor\"}", false,
	        MATRIX_ADDRESSED_PREFIX, "doctor"},
	    {"{\"body\":\"Back Bot: !back topics\",\"m.mentions\":"
	     "{\"user_ids\":[\"" ME "\"]}}",
	        false, MATRIX_ADDRESSED_MENTION, "topics"},
	};
	struct matrix_identity id = {ME, "Back Bot", "!back"};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char json[512];
		struct matrix_msg m;
		const char *text = NULL;
		size_t len = 0;
		enum matrix_address a;
		cJSON *ev;

		snprintf(json, sizeof(json),
		    "{\"event_id\":\"$1\",\"sender\":\"@a:x\",\"type\":"
		    "\"m.room.message\",\"content\":%s}",
		    cases[i].content);
		ev = event(json);
		matrix_msg_parse(ev, ME, &m);
		a = matrix_addressed(&id, &m, cases[i].direct, &text, &len);
		if (a != cases[i].want)
			fail_msg("case %zu (%s): got %d, want %d", i,
			    cases[i].content, (int)a, (int)cases[i].want);
		if (cases[i].text != NULL) {
			assert_int_equal(len, strlen(cases[i].text));
			assert_memory_equal(text, cases[i].text, len);
		}
		cJSON_Delete(ev);
	}
}

static void
commands_are_recognised(void **state)
{
	(void)state;
	assert_int_equal(matrix_command("help", 4, true), MATRIX_CMD_HELP);
	assert_int_equal(
	    matrix_command(" Topics ", 8, true), MATRIX_CMD_TOPICS);
	assert_int_equal(matrix_command("doctor", 6, false), MATRIX_CMD_DOCTOR);
	assert_int_equal(
	    matrix_command("doctor stop", 11, true), MATRIX_CMD_DOCTOR_STOP);
	assert_int_equal(matrix_command("", 0, true), MATRIX_CMD_HELP);
	assert_int_equal(matrix_command("", 0, false), MATRIX_CMD_NONE);
	assert_int_equal(
	    matrix_command("help me crack my back", 21, true), MATRIX_CMD_NONE);
}

static void
reply_fallback_is_stripped(void **state)
{
	const char *b = "> <@a:x> question\n> more\n\nreal text";

	(void)state;
	assert_string_equal(
	    b + matrix_strip_fallback(b, strlen(b)), "real text");
	assert_int_equal(matrix_strip_fallback("> quote only", 12), 0);
	assert_int_equal(matrix_strip_fallback("plain", 5), 0);
}

/* ---- replies ------------------------------------------------------------- */

static void
reply_is_a_notice_rich_reply_with_mentions_and_escaped_html(void **state)
{
	struct buf out;
	struct matrix_reply_to to = {"$q/1+2", NULL, "@a:x", true};
	cJSON *c, *rel;
	const char *html;

	(void)state;
	buf_init(&out, 65536);
	assert_int_equal(matrix_reply_content(&out, &to,
	                     "Get help now <b>&</b>\n\nSecond\nline", true),
	    0);
	c = cJSON_Parse(buf_str(&out));
	assert_non_null(c);
	assert_string_equal(matrix_json_str(c, "msgtype"), "m.notice");
	assert_string_equal(matrix_json_str(c, "body"),
	    "@a:x: Get help now <b>&</b>\n\nSecond\nline");
	assert_string_equal(
	    matrix_json_str(c, "format"), "org.matrix.custom.html");
	html = matrix_json_str(c, "formatted_body");
	assert_non_null(strstr(html,
	    "<p><strong>Get help now "
	    "&lt;b&gt;&amp;&lt;/b&gt;</strong></p>"));
	assert_non_null(strstr(html, "<p>Second<br/>line</p>"));
	assert_non_null(strstr(html, "href=\"https://matrix.to/#/@a:x\""));
	assert_null(strstr(html, "mx-reply"));
	rel = cJSON_GetObjectItemCaseSensitive(c, "m.relates_to");
	assert_null(cJSON_GetObjectItemCaseSensitive(rel, "rel_type"));
	assert_string_equal(matrix_json_str(cJSON_GetObjectItemCaseSensitive(
	                                        rel, "m.in_reply_to"),
	                        "event_id"),
	    "$q/1+2");
	assert_string_equal(
	    cJSON_GetArrayItem(
	        cJSON_GetObjectItemCaseSensitive(
	            cJSON_GetObjectItemCaseSensitive(c, "m.mentions"),
	            "user_ids"),
	        0)
	        ->valuestring,
	    "@a:x");
	cJSON_Delete(c);
	buf_free(&out);
}

static void
reply_in_a_thread_stays_in_the_thread(void **state)
{
	struct buf out;
	struct matrix_reply_to to = {"$q", "$root", "@a:x", false};
	cJSON *c, *rel;

	(void)state;
	buf_init(&out, 65536);
	assert_int_equal(matrix_reply_content(&out, &to, "answer", false), 0);
	c = cJSON_Parse(buf_str(&out));
	rel = cJSON_GetObjectItemCaseSensitive(c, "m.relates_to");
	assert_string_equal(matrix_json_str(rel, "rel_type"), "m.thread");
	assert_string_equal(matrix_json_str(rel, "event_id"), "$root");
	assert_true(cJSON_IsFalse(
	    cJSON_GetObjectItemCaseSensitive(rel, "is_falling_back")));
	assert_string_equal(matrix_json_str(cJSON_GetObjectItemCaseSensitive(
	                                        rel, "m.in_reply_to"),
	                        "event_id"),
	    "$q");
	assert_string_equal(matrix_json_str(c, "body"), "answer");
	cJSON_Delete(c);
	buf_free(&out);
}

static void
reply_that_does_not_fit_fails(void **state)
{
	struct buf out;
	struct matrix_reply_to to = {"$q", NULL, "@a:x", false};

	(void)state;
	buf_init(&out, 64);
	assert_int_equal(matrix_reply_content(&out, &to,
	                     "a long answer that will not fit in 64 bytes "
	                     "once it is JSON and HTML",
	                     false),
	    -1);
	buf_free(&out);
}

static void
txn_ids_are_stable_distinct_and_url_safe(void **state)
{
	char a[MATRIX_TXN_SIZE], b[MATRIX_TXN_SIZE], c[MATRIX_TXN_SIZE];

	(void)state;
	matrix_txn_id(a, "$ev/1+x", "reply");
	matrix_txn_id(b, "$ev/1+x", "reply");
	matrix_txn_id(c, "$ev/2+x", "reply");
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	matrix_txn_id(c, "$ev/1+x", "e2ee");
	assert_string_not_equal(a, c);
	for (const char *p = a; *p != '\0'; p++)
		assert_true(strchr("abcdefghijklmnopqrstuvwxyz"
		                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~",
		                *p) != NULL);
}

/* ---- limits and timing --------------------------------------------------- */

static void
flood_limit_allows_a_burst_then_the_rate(void **state)
{
	struct matrix_flood f;
	int ok = 0;

	(void)state;
	assert_int_equal(matrix_flood_init(&f, 4), 0);
	for (int i = 0; i < 10; i++)
		ok += matrix_flood_take(&f, "@a:x", 6, 3, 100.0);
	assert_int_equal(ok, 3);
	/* 6 per minute: one more after 10 seconds. */
	assert_false(matrix_flood_take(&f, "@a:x", 6, 3, 105.0));
	assert_true(matrix_flood_take(&f, "@a:x", 6, 3, 115.5));
	/* Others are not affected; a full table recycles. */
	for (int i = 0; i < 8; i++) {
		char key[16];

		snprintf(key, sizeof(key), "@u%d:x", i);
		assert_true(matrix_flood_take(&f, key, 6, 3, 120.0 + i));
	}
	matrix_flood_free(&f);
}

static void
backoff_grows_with_jitter_and_a_cap(void **state)
{
	uint32_t rng = 42;

	(void)state;
	for (unsigned a = 0; a < 40; a++) {
		long d = matrix_backoff_ms(a, 100, 5000, &rng);
		long full = 100L << (a < 6 ? a : 6);

		if (full > 5000)
			full = 5000;
		assert_true(d >= full / 2);
		assert_true(d <= full);
	}
}

static void
rate_limit_wait_prefers_header_then_body_then_backoff(void **state)
{
	cJSON *body = cJSON_Parse("{\"errcode\":\"M_LIMIT_EXCEEDED\","
	                          "\"retry_after_ms\":2500}");
	cJSON *none = cJSON_Parse("{\"errcode\":\"M_LIMIT_EXCEEDED\"}");

	(void)state;
	assert_int_equal(matrix_rate_limit_ms(1000, body, 50, 60000), 1000);
	assert_int_equal(matrix_rate_limit_ms(-1, body, 50, 60000), 2500);
	assert_int_equal(matrix_rate_limit_ms(-1, none, 50, 60000), 50);
	assert_int_equal(matrix_rate_limit_ms(-1, NULL, 50, 60000), 50);
	assert_int_equal(matrix_rate_limit_ms(-1, body, 50, 2000), 2000);
	assert_int_equal(matrix_rate_limit_ms(900000, body, 50, 2000), 2000);
	cJSON_Delete(body);
	cJSON_Delete(none);
}

/* ---- secrets in logs ----------------------------------------------------- */

static void
redaction_removes_every_secret(void **state)
{
	const char *secrets[2] = {"syt_abc", "hunter2"};
	char out[128];

	(void)state;
	matrix_redact("token syt_abc and syt_abc, pw hunter2!", secrets, 2, out,
	    sizeof(out));
	assert_string_equal(out,
	    "token <redacted> and <redacted>, pw "
	    "<redacted>!");
	matrix_redact("nothing here", secrets, 2, out, sizeof(out));
	assert_string_equal(out, "nothing here");
	/* Truncation never leaves part of a secret behind. */
	matrix_redact("syt_abc", secrets, 2, out, 6);
	assert_null(strstr(out, "syt"));
}

static void
log_lines_never_contain_the_token(void **state)
{
	char path[] = "/tmp/backbot-test-log-XXXXXX";
	char token[] = "syt_TOKEN_never_printed";
	char text[512];
	struct matrix_log log;
	FILE *f;
	int fd;
	size_t n;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w+");
	assert_non_null(f);
	log.out = f;
	log.verbosity = 2;
	log.secrets[0] = token;
	log.secrets[1] = "";
	matrix_logf(&log, 1, "GET /sync?access_token=%s failed", token);
	matrix_logf(&log, 0, "Authorization: Bearer %s", token);
	matrix_logf(&log, 3, "too verbose to print %s", "x");
	rewind(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	unlink(path);
	assert_null(strstr(text, token));
	assert_non_null(strstr(text, "access_token=<redacted> failed"));
	assert_non_null(strstr(text,
	    "error: Authorization: Bearer "
	    "<redacted>"));
	assert_null(strstr(text, "too verbose"));
}

/* ---- state ------------------------------------------------------------ */

static void
ring_remembers_recent_ids_only(void **state)
{
	struct matrix_ring r;

	(void)state;
	assert_int_equal(matrix_ring_init(&r, 3), 0);
	matrix_ring_add(&r, "$1");
	matrix_ring_add(&r, "$2");
	matrix_ring_add(&r, "$3");
	assert_true(matrix_ring_has(&r, "$1"));
	matrix_ring_add(&r, "$4");
	assert_false(matrix_ring_has(&r, "$1"));
	assert_true(matrix_ring_has(&r, "$4"));
	assert_true(matrix_ring_has(&r, "$2"));
	matrix_ring_free(&r);
}

static void
state_round_trips_through_an_atomic_file(void **state)
{
	char dir[] = "/tmp/backbot-test-state-XXXXXX";
	char path[256];
	struct matrix_state s, t;
	struct matrix_room *room;
	struct diag d;
	struct stat sb;

	(void)state;
	diag_clear(&d);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub/matrix-state.json", dir);
	assert_int_equal(matrix_state_init(&s), 0);
	snprintf(s.user_id, sizeof(s.user_id), ME);
	snprintf(s.next_batch, sizeof(s.next_batch), "s72_/+x");
	room = matrix_state_room(&s, "!r:x", true);
	room->joined = 2;
	room->encrypted = true;
	room->notified = true;
	matrix_ring_add(&s.partial, "$done");
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(file_mkdirs(path, &d), 0);
	snprintf(path, sizeof(path), "%s/sub/matrix-state.json", dir);
	assert_int_equal(matrix_state_save(&s, path, &d), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);

	assert_int_equal(matrix_state_init(&t), 0);
	assert_int_equal(matrix_state_load(&t, path, &d), 0);
	assert_string_equal(t.user_id, ME);
	assert_string_equal(t.next_batch, "s72_/+x");
	room = matrix_state_room(&t, "!r:x", false);
	assert_non_null(room);
	assert_int_equal(room->joined, 2);
	assert_true(room->encrypted && room->notified);
	assert_true(matrix_ring_has(&t.partial, "$done"));
	matrix_state_free(&t);

	/* A damaged file is reported; a missing one is not an error. */
	assert_int_equal(
	    file_write_atomic(path, "{\"user_id\":", 11, 0600, &d), 0);
	assert_int_equal(matrix_state_init(&t), 0);
	assert_int_equal(matrix_state_load(&t, path, &d), -1);
	matrix_state_free(&t);
	unlink(path);
	assert_int_equal(matrix_state_init(&t), 0);
	assert_int_equal(matrix_state_load(&t, path, &d), 1);
	matrix_state_free(&t);
	matrix_state_free(&s);
	snprintf(path, sizeof(path), "%s/sub", dir);
	rmdir(path);
	rmdir(dir);
}

static void
invite_allow_list_matches_users_and_whole_servers(void **state)
{
	struct matrix_config c;

	(void)state;
	matrix_config_defaults(&c);
	assert_true(matrix_invite_allowed(&c, "@anyone:any"));
	c.allow_count = 2;
	snprintf(c.allow[0], MATRIX_MAX_ID, "@alice:a.org");
	snprintf(c.allow[1], MATRIX_MAX_ID, "example.org");
	assert_true(matrix_invite_allowed(&c, "@alice:a.org"));
	assert_false(matrix_invite_allowed(&c, "@bob:a.org"));
	assert_true(matrix_invite_allowed(&c, "@bob:example.org"));
	assert_false(matrix_invite_allowed(&c, "@bob:evilexample.org"));
	assert_false(matrix_invite_allowed(&c, "?"));
}

/* ---- requests through a canned http ----------------------------------------
 */

struct canned {
	long status; /* 0: transport failure */
	const char *body;
	long retry_after_ms; /* header, -1 none */
};

struct fake_http {
	struct http base;
	const struct canned *replies;
	size_t count, next;
	char urls[8][512];
	char bodies[8][256];
	char bearer[8][64];
	volatile sig_atomic_t *raise_stop; /* set during the Nth call */
	size_t stop_at;
};

static int
fake_perform(
    struct http *h, const struct http_request *req, struct http_response *resp)
{
	struct fake_http *f = (struct fake_http *)h;
	const struct canned *c;
	size_t i = f->next;

	http_response_reset(resp);
	if (i < 8) {
		snprintf(f->urls[i], sizeof(f->urls[i]), "%s", req->url);
		snprintf(f->bodies[i], sizeof(f->bodies[i]), "%s",
		    req->body != NULL ? req->body : "");
		snprintf(f->bearer[i], sizeof(f->bearer[i]), "%s",
		    req->bearer != NULL ? req->bearer : "");
	}
	if (f->raise_stop != NULL && i == f->stop_at)
		*f->raise_stop = 1;
	f->next++;
	if (i >= f->count) {
		snprintf(resp->error, sizeof(resp->error), "no more replies");
		return -1;
	}
	c = &f->replies[i];
	if (c->status == 0) {
		snprintf(resp->error, sizeof(resp->error), "connection reset");
		return -1;
	}
	resp->status = c->status;
	resp->retry_after_ms = c->retry_after_ms;
	buf_append_str(&resp->body, c->body);
	return 0;
}

static void
fake_free(struct http *h)
{
	(void)h;
}

static const struct http_ops fake_ops = {fake_perform, fake_free};

static volatile sig_atomic_t test_stop;

static void
setup_client(struct matrix_client *mc, struct fake_http *f,
    const struct canned *replies, size_t n)
{
	memset(f, 0, sizeof(*f));
	f->base.ops = &fake_ops;
	f->replies = replies;
	f->count = n;
	memset(mc, 0, sizeof(*mc));
	mc->http = &f->base;
	snprintf(mc->base, sizeof(mc->base), "https://hs.example");
	mc->token = "syt_secret";
	mc->stop = &test_stop;
	mc->backoff_initial_ms = 1;
	mc->backoff_max_ms = 4;
	mc->rng = 1;
	test_stop = 0;
}

static void
init_call(struct matrix_call *c, const char *method, const char *path,
    const char *body, unsigned attempts)
{
	memset(c, 0, sizeof(*c));
	c->method = method;
	c->path = path;
	c->body = body;
	c->auth = true;
	c->max_attempts = attempts;
	c->what = "test";
}

static void
call_retries_429_5xx_network_and_malformed_with_the_same_request(void **state)
{
	static const struct canned replies[] = {
	    {429, "{\"errcode\":\"M_LIMIT_EXCEEDED\",\"retry_after_ms\":5}",
	        -1},
	    {500, "{\"errcode\":\"M_UNKNOWN\"}", -1},
	    {0, "", -1},
	    {200, "{\"event_id\":", -1},
	    {502, "<html>bad gateway</html>", -1},
	    {200, "{\"event_id\":\"$new\"}", -1},
	};
	struct matrix_client mc;
	struct fake_http f;
	struct matrix_call c;

	(void)state;
	setup_client(&mc, &f, replies, 6);
	init_call(&c, "PUT",
	    "/_matrix/client/v3/rooms/%21r/send/"
	    "m.room.message/bb.reply.1",
	    "{\"body\":\"x\"}", 0);
	assert_int_equal(matrix_call(&mc, &c), MATRIX_CALL_OK);
	assert_int_equal(f.next, 6);
	for (size_t i = 1; i < 6; i++) {
		assert_string_equal(f.urls[i], f.urls[0]);
		assert_string_equal(f.bodies[i], f.bodies[0]);
	}
	assert_string_equal(f.urls[0],
	    "https://hs.example/_matrix/client/v3/"
	    "rooms/%21r/send/m.room.message/"
	    "bb.reply.1");
	/* The token goes in the header field, never the URL. */
	assert_string_equal(f.bearer[0], "syt_secret");
	assert_null(strstr(f.urls[0], "syt_secret"));
	assert_string_equal(matrix_json_str(c.json, "event_id"), "$new");
	cJSON_Delete(c.json);
}

static void
call_unknown_token_is_fatal(void **state)
{
	static const struct canned replies[] = {
	    {401, "{\"errcode\":\"M_UNKNOWN_TOKEN\",\"error\":\"gone\"}", -1},
	};
	struct matrix_client mc;
	struct fake_http f;
	struct matrix_call c;

	(void)state;
	setup_client(&mc, &f, replies, 1);
	init_call(&c, "GET", "/_matrix/client/v3/sync", NULL, 0);
	assert_int_equal(matrix_call(&mc, &c), MATRIX_CALL_FATAL);
	assert_string_equal(c.errcode, "M_UNKNOWN_TOKEN");
	assert_null(c.json);
}

static void
call_other_4xx_is_returned_with_errcode(void **state)
{
	static const struct canned replies[] = {
	    {403,
	        "{\"errcode\":\"M_FORBIDDEN\",\"error\":\"not\\nin "
	        "room\"}",
	        -1},
	};
	struct matrix_client mc;
	struct fake_http f;
	struct matrix_call c;

	(void)state;
	setup_client(&mc, &f, replies, 1);
	init_call(&c, "POST", "/x", "{}", 0);
	assert_int_equal(matrix_call(&mc, &c), MATRIX_CALL_ERROR);
	assert_int_equal(c.status, 403);
	assert_string_equal(c.errcode, "M_FORBIDDEN");
	/* Control characters from the server never reach a log line. */
	assert_string_equal(c.error, "not?in room");
}

static void
call_gives_up_after_max_attempts(void **state)
{
	static const struct canned replies[] = {
	    {500, "{}", -1},
	    {503, "{}", -1},
	    {200, "{}", -1},
	};
	struct matrix_client mc;
	struct fake_http f;
	struct matrix_call c;

	(void)state;
	setup_client(&mc, &f, replies, 3);
	init_call(&c, "PUT", "/typing", "{}", 1);
	assert_int_equal(matrix_call(&mc, &c), MATRIX_CALL_GAVE_UP);
	assert_int_equal(f.next, 1);
}

static void
call_best_effort_never_waits(void **state)
{
	static const struct canned replies[] = {
	    {429, "{\"retry_after_ms\":60000}", 60000},
	};
	struct matrix_client mc;
	struct fake_http f;
	struct matrix_call c;
	int64_t t0;

	(void)state;
	setup_client(&mc, &f, replies, 1);
	init_call(&c, "PUT", "/typing", "{\"typing\":true}", 1);
	t0 = matrix_now_us();
	assert_int_equal(matrix_call(&mc, &c), MATRIX_CALL_GAVE_UP);
	assert_true(matrix_now_us() - t0 < 500000);
	assert_int_equal(f.next, 1);
}

static void
call_stops_when_the_flag_is_raised(void **state)
{
	static const struct canned replies[] = {
	    {429, "{\"retry_after_ms\":60000}", -1},
	    {200, "{}", -1},
	};
	struct matrix_client mc;
	struct fake_http f;
	struct matrix_call c;

	(void)state;
	setup_client(&mc, &f, replies, 2);
	f.raise_stop = &test_stop;
	f.stop_at = 0;
	init_call(&c, "GET", "/sync", NULL, 0);
	/* Would wait a minute for the 429; the flag ends it at once. */
	assert_int_equal(matrix_call(&mc, &c), MATRIX_CALL_STOPPED);
	assert_int_equal(f.next, 1);
}

static void
path_segments_are_escaped(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(matrix_path(&b, "rooms", "!r:x", "receipt", "m.read",
	                     "$e/v+1", (char *)NULL),
	    0);
	assert_string_equal(buf_str(&b),
	    "/_matrix/client/v3/rooms/%21r%3Ax/"
	    "receipt/m.read/%24e%2Fv%2B1");
	buf_reset(&b);
	assert_int_equal(matrix_path(&b, "join", "#room:x", (char *)NULL), 0);
	assert_string_equal(buf_str(&b), "/_matrix/client/v3/join/%23room%3Ax");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(config_reports_json_errors_with_position),
	    cmocka_unit_test(config_names_unknown_and_mistyped_settings),
	    cmocka_unit_test(config_secret_values_are_never_echoed),
	    cmocka_unit_test(config_check_names_missing_settings),
	    cmocka_unit_test(config_environment_wins_over_the_file),
	    cmocka_unit_test(config_load_of_a_missing_explicit_file_fails),
	    cmocka_unit_test(filter_skips_own_notices_edits_state_and_non_text),
	    cmocka_unit_test(addressing_follows_mentions_prefix_and_names),
	    cmocka_unit_test(commands_are_recognised),
	    cmocka_unit_test(reply_fallback_is_stripped),
	    cmocka_unit_test(
	        reply_is_a_notice_rich_reply_with_mentions_and_escaped_html),
	    cmocka_unit_test(reply_in_a_thread_stays_in_the_thread),
	    cmocka_unit_test(reply_that_does_not_fit_fails),
	    cmocka_unit_test(txn_ids_are_stable_distinct_and_url_safe),
	    cmocka_unit_test(flood_limit_allows_a_burst_then_the_rate),
	    cmocka_unit_test(backoff_grows_with_jitter_and_a_cap),
	    cmocka_unit_test(
	        rate_limit_wait_prefers_header_then_body_then_backoff),
	    cmocka_unit_test(redaction_removes_every_secret),
	    cmocka_unit_test(log_lines_never_contain_the_token),
	    cmocka_unit_test(ring_remembers_recent_ids_only),
	    cmocka_unit_test(state_round_trips_through_an_atomic_file),
	    cmocka_unit_test(invite_allow_list_matches_users_and_whole_servers),
	    cmocka_unit_test(
	        call_retries_429_5xx_network_and_malformed_with_the_same_request),
	    cmocka_unit_test(call_unknown_token_is_fatal),
	    cmocka_unit_test(call_other_4xx_is_returned_with_errcode),
	    cmocka_unit_test(call_gives_up_after_max_attempts),
	    cmocka_unit_test(call_best_effort_never_waits),
	    cmocka_unit_test(call_stops_when_the_flag_is_raised),
	    cmocka_unit_test(path_segments_are_escaped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
