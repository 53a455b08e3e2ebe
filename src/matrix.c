/* matrix.c - backbot as a Matrix bot: start-up, the sync loop, replies.
 *
 * Start-up checks /versions, then whoami with the configured access
 * token (or logs in once with a password when GET /login offers it and
 * keeps the token), then long-polls /sync with a filter asking only for
 * what the bot reads.  The first sync's events are history and are never
 * answered; in a newly joined room nothing before the bot's own join is.
 * The sync position is saved after each batch has been handled, and
 * replies carry transaction ids derived from the question's event id, so
 * neither a retry nor a restart can post an answer twice.
 *
 * Signals only raise a flag; every wait and transfer polls it, so SIGINT
 * or SIGTERM abandons the request in flight, saves the state and returns.
 */
#include "matrix.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "bot.h"
#include "buf.h"
#include "diag.h"
#include "doctor.h"
#include "http.h"
#include "matrix_impl.h"
#include "triage.h"

#define EXIT_CONFIG 2
#define EXIT_NETWORK 3

#define MAX_DOCTOR_SESSIONS 256
#define SEEN_RING 8192
#define FLOOD_BUCKETS 4096
#define REPLY_MAX_BYTES (48u * 1024u) /* events are capped at 64 KiB */
#define STARTUP_ATTEMPTS 8
#define SEND_ATTEMPTS 12
#define DOCTOR_REPLY_MAX 1024

/* The one global: set by the signal handler, polled everywhere else. */
static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* Only what the bot reads: messages and membership in joined rooms. */
static const char sync_filter[] =
    "{\"account_data\":{\"types\":[]},\"presence\":{\"types\":[]},"
    "\"room\":{\"account_data\":{\"types\":[]},"
    "\"ephemeral\":{\"types\":[]},"
    "\"state\":{\"types\":[\"m.room.member\",\"m.room.encryption\"],"
    "\"lazy_load_members\":true},"
    "\"timeline\":{\"types\":[\"m.room.message\",\"m.room.member\","
    "\"m.room.encrypted\",\"m.room.encryption\"],\"limit\":50}}}";

static const char encrypted_notice[] =
    "This room is end-to-end encrypted, and I cannot read encrypted "
    "messages, so I will not answer here. Ask me in a room or direct chat "
    "without encryption.";

struct doctor_slot {
	bool used;
	char room[MATRIX_MAX_ID];
	char user[MATRIX_MAX_ID];
	double last; /* monotonic seconds */
	struct doctor_session s;
};

struct ctx {
	struct bot *bot;
	struct matrix_config cfg;
	struct matrix_log log;
	struct matrix_client client;
	struct matrix_state st;
	struct matrix_ring seen;
	struct matrix_flood flood;
	struct doctor_slot *doctors;
	struct http *http;
	bool http_allows_http;
	char token[MATRIX_MAX_SECRET];
	char me[MATRIX_MAX_ID];
	char device[MATRIX_MAX_ID];
	char display_name[MATRIX_MAX_ID];
	char state_path[MATRIX_MAX_PATH];
	char session_path[MATRIX_MAX_PATH];
	struct buf text;    /* reply text */
	struct buf content; /* reply JSON */
	struct buf path;    /* request path */
	struct buf scratch;
	int status; /* exit status once something fatal happened */
};

static const char *
env_get(const char *name)
{
	return getenv(name);
}

static double
now_s(void)
{
	return (double)matrix_now_us() / 1e6;
}

/* ---- small request helpers ------------------------------------------- */

static enum matrix_call_status
call_timeout(struct ctx *c, struct matrix_call *mc, const char *method,
    const char *path, const char *body, const char *what, unsigned attempts,
    long timeout_ms)
{
	memset(mc, 0, sizeof(*mc));
	mc->method = method;
	mc->path = path;
	mc->body = body;
	mc->auth = true;
	mc->timeout_ms = timeout_ms;
	mc->max_attempts = attempts;
	mc->what = what;
	return matrix_call(&c->client, mc);
}

static enum matrix_call_status
call(struct ctx *c, struct matrix_call *mc, const char *method,
    const char *path, const char *body, const char *what, unsigned attempts)
{
	return call_timeout(c, mc, method, path, body, what, attempts, 30000);
}

static void
token_rejected(struct ctx *c, const struct matrix_call *mc, struct diag *d)
{
	diag_add(d, "the homeserver rejected the access token (%s): it was "
		    "revoked or the bot's session was logged out; create a new "
		    "access token and set it in the config file or "
		    "BACKBOT_ACCESS_TOKEN",
	    mc->errcode[0] != '\0' ? mc->errcode : "401");
	c->status = EXIT_NETWORK;
}

static int
make_http(struct ctx *c, bool allow_http, struct diag *d)
{
	struct http_curl_options ho;

	if (c->http != NULL && c->http_allows_http == allow_http)
		return 0;
	http_free(c->http);
	memset(&ho, 0, sizeof(ho));
	ho.allow_http = allow_http;
	ho.abort_flag = &stop_flag;
	ho.user_agent = "backbot";
	c->http = http_curl_new(&ho, d);
	c->http_allows_http = allow_http;
	c->client.http = c->http;
	return c->http != NULL ? 0 : -1;
}

static int
set_base(struct ctx *c, const char *url, struct diag *d)
{
	size_t n = strlen(url);

	while (n > 0 && url[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof(c->client.base)) {
		diag_add(d, "homeserver: bad base URL");
		return -1;
	}
	memcpy(c->client.base, url, n);
	c->client.base[n] = '\0';
	if (strncmp(c->client.base, "https://", 8) != 0) {
		if (strncmp(c->client.base, "http://", 7) != 0) {
			diag_add(d, "homeserver: \"%.200s\" is not an http(s) "
				    "URL", c->client.base);
			return -1;
		}
		if (!c->cfg.allow_http &&
		    !http_url_is_loopback(c->client.base)) {
			diag_add(d, "homeserver: refusing plain http:// to "
				    "%.200s (only loopback hosts may use it "
				    "unless \"allow_http\" is true)",
			    c->client.base);
			return -1;
		}
	}
	return make_http(c, strncmp(c->client.base, "http://", 7) == 0, d);
}

/* ---- start-up -------------------------------------------------------- */

/* .well-known discovery when 'homeserver' is a server name. */
static int
discover(struct ctx *c, struct diag *d)
{
	const char *hs = c->cfg.homeserver;
	struct matrix_call mc;
	const cJSON *m;
	const char *base;
	char url[MATRIX_MAX_URL + 64];
	enum matrix_call_status r;
	int ret = -1;

	if (strncmp(hs, "https://", 8) == 0 || strncmp(hs, "http://", 7) == 0)
		return set_base(c, hs, d);
	snprintf(url, sizeof(url), "%s://%s/.well-known/matrix/client",
	    c->cfg.allow_http ? "http" : "https", hs);
	if (make_http(c, c->cfg.allow_http, d) != 0)
		return -1;
	memset(&mc, 0, sizeof(mc));
	mc.method = "GET";
	mc.path = url;
	mc.absolute = true;
	mc.timeout_ms = 15000;
	mc.max_attempts = 3;
	mc.what = "discovery";
	r = matrix_call(&c->client, &mc);
	if (r == MATRIX_CALL_OK) {
		m = cJSON_GetObjectItemCaseSensitive(mc.json, "m.homeserver");
		base = matrix_json_str(m, "base_url");
		if (base == NULL) {
			diag_add(d, "%s: no m.homeserver.base_url", url);
			c->status = EXIT_NETWORK;
			goto out;
		}
		matrix_logf(&c->log, 1, "discovered homeserver %s for %s",
		    base, hs);
		ret = set_base(c, base, d);
		goto out;
	}
	if (r == MATRIX_CALL_ERROR && mc.status == 404) {
		/* No .well-known: the server name is the homeserver. */
		snprintf(url, sizeof(url), "%s://%s",
		    c->cfg.allow_http ? "http" : "https", hs);
		ret = set_base(c, url, d);
		goto out;
	}
	if (r != MATRIX_CALL_STOPPED) {
		diag_add(d, "%s: discovery failed: %s", url,
		    mc.error[0] != '\0' ? mc.error : "no answer");
		c->status = EXIT_NETWORK;
	}
out:
	cJSON_Delete(mc.json);
	return ret;
}

static int
check_versions(struct ctx *c, struct diag *d)
{
	struct matrix_call mc;
	const cJSON *v, *vs;
	bool ok = false;
	enum matrix_call_status r;

	memset(&mc, 0, sizeof(mc));
	mc.method = "GET";
	mc.path = "/_matrix/client/versions";
	mc.timeout_ms = 15000;
	mc.max_attempts = STARTUP_ATTEMPTS;
	mc.what = "versions";
	r = matrix_call(&c->client, &mc);
	if (r != MATRIX_CALL_OK) {
		if (r != MATRIX_CALL_STOPPED)
			diag_add(d, "%s: not a Matrix homeserver, or not "
				    "reachable: %s%s%s", c->client.base,
			    mc.status != 0 ? "HTTP status " : "",
			    mc.status != 0 ? "" : mc.error,
			    mc.status != 0 ? mc.errcode : "");
		c->status = EXIT_NETWORK;
		return -1;
	}
	vs = cJSON_GetObjectItemCaseSensitive(mc.json, "versions");
	cJSON_ArrayForEach(v, vs)
	{
		if (cJSON_IsString(v) && strncmp(v->valuestring, "v1.", 3) == 0)
			ok = true;
	}
	cJSON_Delete(mc.json);
	if (!ok) {
		diag_add(d, "%s: the homeserver does not offer Client-Server "
			    "API v1.x", c->client.base);
		c->status = EXIT_NETWORK;
		return -1;
	}
	return 0;
}

static int
copy_id(char *dst, size_t size, const char *src)
{
	if (src == NULL || strlen(src) >= size)
		return -1;
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

/* 0 ok, 1 token unknown, -1 other failure (d filled). */
static int
whoami(struct ctx *c, struct diag *d)
{
	struct matrix_call mc;
	enum matrix_call_status r;
	int ret = -1;

	r = call(c, &mc, "GET", "/_matrix/client/v3/account/whoami", NULL,
	    "whoami", STARTUP_ATTEMPTS);
	if (r == MATRIX_CALL_FATAL)
		return 1;
	if (r != MATRIX_CALL_OK) {
		if (r != MATRIX_CALL_STOPPED)
			diag_add(d, "whoami failed: %s %s", mc.errcode,
			    mc.error[0] != '\0' ? mc.error : "no answer");
		c->status = EXIT_NETWORK;
		goto out;
	}
	if (copy_id(c->me, sizeof(c->me),
		matrix_json_str(mc.json, "user_id")) != 0) {
		diag_add(d, "whoami: no user_id in the reply");
		c->status = EXIT_NETWORK;
		goto out;
	}
	(void)copy_id(c->device, sizeof(c->device),
	    matrix_json_str(mc.json, "device_id"));
	ret = 0;
out:
	cJSON_Delete(mc.json);
	return ret;
}

static int
password_login(struct ctx *c, struct diag *d)
{
	struct matrix_call mc;
	struct matrix_session ss;
	cJSON *req = NULL, *ident;
	const cJSON *f, *flows;
	char *body = NULL;
	bool offered = false;
	enum matrix_call_status r;
	int ret = -1;

	memset(&mc, 0, sizeof(mc));
	r = call(c, &mc, "GET", "/_matrix/client/v3/login", NULL, "login",
	    STARTUP_ATTEMPTS);
	if (r != MATRIX_CALL_OK) {
		diag_add(d, "GET /login failed: %s",
		    mc.error[0] != '\0' ? mc.error : "no answer");
		c->status = EXIT_NETWORK;
		goto out;
	}
	flows = cJSON_GetObjectItemCaseSensitive(mc.json, "flows");
	cJSON_ArrayForEach(f, flows)
	{
		const char *t = matrix_json_str(f, "type");

		if (t != NULL && strcmp(t, "m.login.password") == 0)
			offered = true;
	}
	cJSON_Delete(mc.json);
	mc.json = NULL;
	if (!offered) {
		diag_add(d, "the homeserver does not offer password login; "
			    "create an access token for the bot account and set "
			    "BACKBOT_ACCESS_TOKEN");
		c->status = EXIT_CONFIG;
		goto out;
	}
	req = cJSON_CreateObject();
	ident = req != NULL ? cJSON_AddObjectToObject(req, "identifier") :
			      NULL;
	if (ident == NULL ||
	    cJSON_AddStringToObject(req, "type", "m.login.password") == NULL ||
	    cJSON_AddStringToObject(ident, "type", "m.id.user") == NULL ||
	    cJSON_AddStringToObject(ident, "user", c->cfg.user_id) == NULL ||
	    cJSON_AddStringToObject(req, "password", c->cfg.password) ==
		NULL ||
	    cJSON_AddStringToObject(req, "initial_device_display_name",
		"backbot") == NULL ||
	    (c->cfg.device_id[0] != '\0' &&
		cJSON_AddStringToObject(req, "device_id", c->cfg.device_id) ==
		    NULL))
		goto nomem;
	body = cJSON_PrintUnformatted(req);
	if (body == NULL)
		goto nomem;
	r = call(c, &mc, "POST", "/_matrix/client/v3/login", body, "login",
	    STARTUP_ATTEMPTS);
	if (r != MATRIX_CALL_OK) {
		if (r == MATRIX_CALL_ERROR) {
			diag_add(d, "password login as %s refused: %s %s",
			    c->cfg.user_id, mc.errcode, mc.error);
			c->status = EXIT_CONFIG;
		} else {
			diag_add(d, "password login failed: %s",
			    mc.error[0] != '\0' ? mc.error : "no answer");
			c->status = EXIT_NETWORK;
		}
		goto out;
	}
	if (copy_id(c->token, sizeof(c->token),
		matrix_json_str(mc.json, "access_token")) != 0 ||
	    copy_id(c->me, sizeof(c->me),
		matrix_json_str(mc.json, "user_id")) != 0) {
		diag_add(d, "login: reply lacks access_token or user_id");
		c->status = EXIT_NETWORK;
		goto out;
	}
	(void)copy_id(c->device, sizeof(c->device),
	    matrix_json_str(mc.json, "device_id"));
	/* Keep the token so the password is needed only once. */
	memset(&ss, 0, sizeof(ss));
	snprintf(ss.homeserver, sizeof(ss.homeserver), "%s", c->client.base);
	snprintf(ss.user_id, sizeof(ss.user_id), "%s", c->me);
	snprintf(ss.device_id, sizeof(ss.device_id), "%s", c->device);
	snprintf(ss.access_token, sizeof(ss.access_token), "%s", c->token);
	if (matrix_mkdirs(c->cfg.state_dir, d) != 0 ||
	    matrix_session_save(&ss, c->session_path, d) != 0) {
		memset(&ss, 0, sizeof(ss));
		c->status = EXIT_CONFIG;
		goto out;
	}
	memset(&ss, 0, sizeof(ss));
	matrix_logf(&c->log, 1, "logged in with a password as %s (device %s); "
				"token stored in %s",
	    c->me, c->device, c->session_path);
	ret = 0;
	goto out;
nomem:
	diag_add(d, "login: out of memory");
out:
	if (body != NULL) {
		memset(body, 0, strlen(body));
		cJSON_free(body);
	}
	cJSON_Delete(req);
	cJSON_Delete(mc.json);
	return ret;
}

static int
authenticate(struct ctx *c, struct diag *d)
{
	struct matrix_session ss;
	struct matrix_call mc;
	bool from_session = false;
	int r;

	if (c->cfg.access_token[0] != '\0') {
		snprintf(c->token, sizeof(c->token), "%s",
		    c->cfg.access_token);
	} else if (matrix_session_load(&ss, c->session_path, d) == 0 &&
	    strcmp(ss.homeserver, c->client.base) == 0 &&
	    strcmp(ss.user_id, c->cfg.user_id) == 0) {
		snprintf(c->token, sizeof(c->token), "%s", ss.access_token);
		from_session = true;
	}
	memset(&ss, 0, sizeof(ss));
	if (c->token[0] != '\0') {
		r = whoami(c, d);
		if (r < 0)
			return -1;
		if (r == 1 && !(from_session && c->cfg.password[0] != '\0')) {
			memset(&mc, 0, sizeof(mc));
			snprintf(mc.errcode, sizeof(mc.errcode),
			    "M_UNKNOWN_TOKEN");
			token_rejected(c, &mc, d);
			return -1;
		}
		if (r == 1) {
			matrix_logf(&c->log, 1, "stored token rejected; "
						"logging in again");
			c->token[0] = '\0';
		}
	}
	if (c->token[0] == '\0' && password_login(c, d) != 0)
		return -1;
	if (c->cfg.user_id[0] != '\0' && strcmp(c->cfg.user_id, c->me) != 0) {
		diag_add(d, "user_id: the access token belongs to %s, not %s",
		    c->me, c->cfg.user_id);
		c->status = EXIT_CONFIG;
		return -1;
	}
	return 0;
}

/* ---- doctor sessions ------------------------------------------------- */

static struct doctor_slot *
doctor_find(struct ctx *c, const char *room, const char *user, bool create)
{
	struct doctor_slot *free_slot = NULL, *oldest = NULL;
	double now = now_s();

	for (size_t i = 0; i < MAX_DOCTOR_SESSIONS; i++) {
		struct doctor_slot *s = &c->doctors[i];

		if (s->used && now - s->last > (double)c->cfg.doctor_timeout_s)
			s->used = false; /* forgotten after the timeout */
		if (!s->used) {
			if (free_slot == NULL)
				free_slot = s;
			continue;
		}
		if (strcmp(s->room, room) == 0 && strcmp(s->user, user) == 0) {
			s->last = now;
			return s;
		}
		if (oldest == NULL || s->last < oldest->last)
			oldest = s;
	}
	if (!create)
		return NULL;
	if (free_slot == NULL)
		free_slot = oldest;
	memset(free_slot, 0, sizeof(*free_slot));
	free_slot->used = true;
	snprintf(free_slot->room, sizeof(free_slot->room), "%s", room);
	snprintf(free_slot->user, sizeof(free_slot->user), "%s", user);
	free_slot->last = now;
	doctor_begin(&free_slot->s);
	return free_slot;
}

static void
doctor_forget_room(struct ctx *c, const char *room)
{
	for (size_t i = 0; i < MAX_DOCTOR_SESSIONS; i++)
		if (c->doctors[i].used && strcmp(c->doctors[i].room, room) == 0)
			c->doctors[i].used = false;
}

/* Append the current question with its number. */
static int
doctor_ask(struct ctx *c, const struct doctor_slot *s)
{
	const struct doctor *doc = bot_doctor(c->bot);
	const char *q = doctor_question(doc, &s->s);

	if (q == NULL)
		return 0;
	return buf_printf(&c->text, "Question %zu of %zu: %s", s->s.next + 1,
	    doctor_question_count(doc), q);
}

/* ---- replies ---------------------------------------------------------- */

/* What a handled message produced, for the log line. */
struct outcome {
	const char *intent;
	enum triage_level level;
	bool strong;
};

static int
compose_help(struct ctx *c)
{
	const char *help = bot_answer_for(c->bot, "chat.help");

	if (help != NULL && (buf_append_str(&c->text, help) != 0 ||
				buf_append_str(&c->text, "\n\n") != 0))
		return -1;
	return buf_printf(&c->text,
	    "Commands: \"%s help\" (this), \"%s topics\" (what I know about), "
	    "\"%s doctor\" (a guided check: should you see a doctor?). In a "
	    "group room, mention me or start with %s; in a direct chat, just "
	    "ask.",
	    c->cfg.prefix, c->cfg.prefix, c->cfg.prefix, c->cfg.prefix);
}

static int
compose_question(struct ctx *c, const char *text, size_t len,
    struct outcome *o)
{
	struct bot_reply r;
	enum bot_status st;

	st = bot_answer(c->bot, text, len, &r);
	if (st == BOT_EMPTY) {
		o->intent = "chat.help";
		return compose_help(c);
	}
	if (st != BOT_OK) {
		o->intent = "refused";
		return buf_printf(&c->text, "Sorry, I cannot answer that: %s.",
		    bot_status_message(st));
	}
	o->intent = r.intent;
	o->level = r.triage.level;
	o->strong = r.triage.level != TRIAGE_NONE && r.guidance != NULL;
	return bot_render_text(&r, &c->text);
}

/* Returns 1 when the message was consumed as a doctor answer, 0 when it
 * was not one, -1 on a full buffer. */
static int
compose_doctor_answer(struct ctx *c, struct doctor_slot *s, const char *text,
    size_t len, bool addressed, struct outcome *o)
{
	const struct doctor *doc = bot_doctor(c->bot);

	buf_reset(&c->scratch);
	if (buf_append(&c->scratch, text,
		len < DOCTOR_REPLY_MAX ? len : DOCTOR_REPLY_MAX) != 0)
		return -1;
	if (doctor_reply(doc, &s->s, buf_str(&c->scratch)) != 0) {
		if (!addressed)
			return 0;
		/* An addressed message that is not yes/no: answer it as a
		 * question, and remind them of the open check. */
		if (compose_question(c, text, len, o) != 0 ||
		    buf_printf(&c->text, "\n\n(The doctor check is still "
					 "open. Answer yes, no or not sure, "
					 "or say \"%s stop\".) ",
			c->cfg.prefix) != 0 ||
		    doctor_ask(c, s) != 0)
			return -1;
		return 1;
	}
	o->intent = "doctor";
	if (doctor_done(&s->s)) {
		o->intent = "doctor.result";
		o->level = s->s.level;
		o->strong = s->s.level != TRIAGE_NONE;
		if (doctor_render_result(doc, &s->s, bot_triage(c->bot),
			&c->text) != 0)
			return -1;
		s->used = false;
		return 1;
	}
	return doctor_ask(c, s) == 0 ? 1 : -1;
}

static void
best_effort(struct ctx *c, const char *method, const char *body,
    const char *what)
{
	struct matrix_call mc;

	if (call(c, &mc, method, buf_str(&c->path), body, what, 1) ==
	    MATRIX_CALL_FATAL)
		c->status = EXIT_NETWORK;
	cJSON_Delete(mc.json);
}

static void
set_typing(struct ctx *c, const char *room, bool on)
{
	if (!c->cfg.typing)
		return;
	buf_reset(&c->path);
	if (matrix_path(&c->path, "rooms", room, "typing", c->me, NULL) != 0)
		return;
	best_effort(c, "PUT", on ? "{\"typing\":true,\"timeout\":30000}" :
				   "{\"typing\":false}",
	    "typing");
}

static void
send_receipt(struct ctx *c, const char *room, const char *event_id)
{
	if (!c->cfg.receipts)
		return;
	buf_reset(&c->path);
	if (matrix_path(&c->path, "rooms", room, "receipt", "m.read",
		event_id, NULL) != 0)
		return;
	best_effort(c, "POST", "{}", "receipt");
}

/* Send c->content into 'room' under transaction id 'txn'.  Returns the
 * call status; 'event_id' receives the new event's id ("" if none). */
static enum matrix_call_status
send_content(struct ctx *c, const char *room, const char *txn,
    char *event_id, size_t size)
{
	struct matrix_call mc;
	enum matrix_call_status r;

	event_id[0] = '\0';
	buf_reset(&c->path);
	if (matrix_path(&c->path, "rooms", room, "send", "m.room.message",
		txn, NULL) != 0)
		return MATRIX_CALL_ERROR;
	r = call(c, &mc, "PUT", buf_str(&c->path), buf_str(&c->content),
	    "send", SEND_ATTEMPTS);
	if (r == MATRIX_CALL_OK)
		(void)copy_id(event_id, size,
		    matrix_json_str(mc.json, "event_id"));
	else if (r == MATRIX_CALL_ERROR)
		matrix_logf(&c->log, 0, "room=%s send refused: %ld %s %s", room,
		    mc.status, mc.errcode, mc.error);
	else if (r == MATRIX_CALL_FATAL)
		c->status = EXIT_NETWORK;
	cJSON_Delete(mc.json);
	return r;
}

static int
notify_encrypted(struct ctx *c, struct matrix_room *room)
{
	char txn[MATRIX_TXN_SIZE], sent[MATRIX_MAX_ID];
	enum matrix_call_status r;

	if (room->notified)
		return 0;
	buf_reset(&c->content);
	if (matrix_notice_content(&c->content, encrypted_notice) != 0)
		return 0;
	matrix_txn_id(txn, room->id, "e2ee");
	r = send_content(c, room->id, txn, sent, sizeof(sent));
	if (r == MATRIX_CALL_STOPPED || r == MATRIX_CALL_FATAL)
		return -1;
	room->notified = true; /* once, even if the send was refused */
	matrix_logf(&c->log, 1, "room=%s action=encrypted-notice reply=%s",
	    room->id, sent);
	return 0;
}

/* Handle one answerable-looking timeline event.  -1 when stopped or
 * fatal (the batch is abandoned). */
static int
handle_message(struct ctx *c, struct matrix_room *room, const cJSON *ev)
{
	struct matrix_msg m;
	struct matrix_identity id;
	struct matrix_reply_to to;
	struct outcome o = {"none", TRIAGE_NONE, false};
	struct doctor_slot *ds;
	enum matrix_skip skip;
	enum matrix_address addr;
	enum matrix_command cmd;
	enum matrix_call_status r;
	const char *text = NULL;
	size_t len = 0;
	bool direct;
	char txn[MATRIX_TXN_SIZE], sent[MATRIX_MAX_ID];
	int64_t t0 = matrix_now_us(), took, t1;
	int rc;

	matrix_msg_parse(ev, c->me, &m);
	skip = matrix_msg_filter(&m, c->me);
	if (skip != MATRIX_ANSWERABLE) {
		matrix_logf(&c->log, 2, "room=%s event=%s action=ignore "
					"reason=%s",
		    room->id, m.event_id != NULL ? m.event_id : "-",
		    matrix_skip_name(skip));
		return 0;
	}
	direct = room->joined >= 0 && room->joined <= 2;
	id.user_id = c->me;
	id.display_name = c->display_name;
	id.prefix = c->cfg.prefix;
	addr = matrix_addressed(&id, &m, direct, &text, &len);
	ds = doctor_find(c, room->id, m.sender, false);
	if (addr == MATRIX_NOT_ADDRESSED && ds == NULL) {
		matrix_logf(&c->log, 2, "room=%s event=%s action=ignore "
					"reason=not-addressed",
		    room->id, m.event_id);
		return 0;
	}

	buf_reset(&c->text);
	cmd = addr != MATRIX_NOT_ADDRESSED ?
	    matrix_command(text, len, addr == MATRIX_ADDRESSED_PREFIX) :
	    MATRIX_CMD_NONE;
	rc = 0;
	if (cmd == MATRIX_CMD_NONE && ds != NULL) {
		rc = compose_doctor_answer(c, ds, text, len,
		    addr != MATRIX_NOT_ADDRESSED, &o);
		if (rc == 0) {
			matrix_logf(&c->log, 2, "room=%s event=%s "
						"action=ignore "
						"reason=not-addressed",
			    room->id, m.event_id);
			return 0;
		}
		rc = rc < 0 ? -1 : 0;
	}
	/* Flood limits apply to everything the bot would say. */
	if (!matrix_flood_take(&c->flood, room->id, c->cfg.room_per_minute,
		c->cfg.room_burst, now_s()) ||
	    !matrix_flood_take(&c->flood, m.sender, c->cfg.user_per_minute,
		c->cfg.user_burst, now_s())) {
		matrix_logf(&c->log, 1, "room=%s event=%s sender=%s "
					"action=flood-limited",
		    room->id, m.event_id, m.sender);
		return 0;
	}
	if (c->text.len == 0 && rc == 0) {
		switch (cmd) {
		case MATRIX_CMD_HELP:
			o.intent = "chat.help";
			rc = compose_help(c);
			break;
		case MATRIX_CMD_TOPICS:
			o.intent = "topics";
			rc = buf_append_str(&c->text,
				 "I can answer questions about:\n") != 0 ||
			    bot_render_topics(c->bot, &c->text) != 0;
			break;
		case MATRIX_CMD_DOCTOR:
			o.intent = "doctor";
			ds = doctor_find(c, room->id, m.sender, true);
			doctor_begin(&ds->s);
			rc = buf_printf(&c->text,
				 "Let's check whether you should see a doctor. "
				 "Answer each question with yes, no or not "
				 "sure%s (\"%s stop\" ends the check).\n\n",
				 direct ? "" : " (a plain reply is fine)",
				 c->cfg.prefix) != 0 ||
			    doctor_ask(c, ds) != 0;
			break;
		case MATRIX_CMD_DOCTOR_STOP:
			o.intent = "doctor.stop";
			if (ds != NULL)
				ds->used = false;
			rc = buf_append_str(&c->text,
			    ds != NULL ? "The doctor check is stopped." :
					 "There is no doctor check to stop.");
			break;
		case MATRIX_CMD_NONE:
			rc = compose_question(c, text, len, &o);
			break;
		}
	}
	if (rc != 0)
		matrix_logf(&c->log, 1, "room=%s event=%s reply cut short "
					"(too long)",
		    room->id, m.event_id);

	to.event_id = m.event_id;
	to.thread_root = m.thread_root;
	to.asker = m.sender;
	to.name_asker = !direct;
	buf_reset(&c->content);
	if (matrix_reply_content(&c->content, &to, buf_str(&c->text),
		o.strong) != 0) {
		matrix_logf(&c->log, 0, "room=%s event=%s reply too large",
		    room->id, m.event_id);
		return 0;
	}
	took = matrix_now_us() - t0;

	send_receipt(c, room->id, m.event_id);
	set_typing(c, room->id, true);
	matrix_txn_id(txn, m.event_id, "reply");
	t1 = matrix_now_us();
	r = send_content(c, room->id, txn, sent, sizeof(sent));
	if (r == MATRIX_CALL_STOPPED || r == MATRIX_CALL_FATAL)
		return -1;
	set_typing(c, room->id, false);
	matrix_logf(&c->log, 1,
	    "room=%s event=%s sender=%s action=%s intent=%s triage=%s "
	    "took_us=%lld send_ms=%lld reply=%s",
	    room->id, m.event_id, m.sender,
	    r == MATRIX_CALL_OK ? "reply" : "reply-failed", o.intent,
	    triage_level_name(o.level), (long long)took,
	    (long long)((matrix_now_us() - t1) / 1000), sent);
	return c->status != 0 ? -1 : 0;
}

/* ---- sync ------------------------------------------------------------- */

static bool
is_own_join(const struct ctx *c, const cJSON *ev)
{
	const cJSON *content, *unsig, *prev;
	const char *type = matrix_json_str(ev, "type");
	const char *sk = matrix_json_str(ev, "state_key");
	const char *mem, *prev_mem = NULL;

	if (type == NULL || sk == NULL || strcmp(type, "m.room.member") != 0 ||
	    strcmp(sk, c->me) != 0)
		return false;
	content = cJSON_GetObjectItemCaseSensitive(ev, "content");
	mem = matrix_json_str(content, "membership");
	if (mem == NULL || strcmp(mem, "join") != 0)
		return false;
	unsig = cJSON_GetObjectItemCaseSensitive(ev, "unsigned");
	prev = cJSON_GetObjectItemCaseSensitive(unsig, "prev_content");
	prev_mem = matrix_json_str(prev, "membership");
	/* A join after a join is a profile change, not a new join. */
	return prev_mem == NULL || strcmp(prev_mem, "join") != 0;
}

/* Learn from a state-ish event: encryption and the bot's own name. */
static void
learn(struct ctx *c, struct matrix_room *room, const cJSON *ev)
{
	const char *type = matrix_json_str(ev, "type");
	const char *sk = matrix_json_str(ev, "state_key");
	const char *name;

	if (type == NULL || sk == NULL)
		return;
	if (strcmp(type, "m.room.encryption") == 0) {
		room->encrypted = true;
	} else if (strcmp(type, "m.room.member") == 0 &&
	    strcmp(sk, c->me) == 0 && c->cfg.display_name[0] == '\0') {
		name = matrix_json_str(
		    cJSON_GetObjectItemCaseSensitive(ev, "content"),
		    "displayname");
		if (name != NULL && strlen(name) < sizeof(c->display_name))
			snprintf(c->display_name, sizeof(c->display_name),
			    "%s", name);
	}
}

static int
handle_invites(struct ctx *c, const cJSON *invites)
{
	const cJSON *r, *ev, *evs;
	struct matrix_call mc;
	enum matrix_call_status st;
	const char *inviter, *action;

	cJSON_ArrayForEach(r, invites)
	{
		if (r->string == NULL || strlen(r->string) >= MATRIX_MAX_ID)
			continue;
		inviter = NULL;
		evs = cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(r, "invite_state"),
		    "events");
		cJSON_ArrayForEach(ev, evs)
		{
			const char *type = matrix_json_str(ev, "type");
			const char *sk = matrix_json_str(ev, "state_key");

			if (type != NULL && sk != NULL &&
			    strcmp(type, "m.room.member") == 0 &&
			    strcmp(sk, c->me) == 0)
				inviter = matrix_json_str(ev, "sender");
		}
		if (inviter == NULL)
			inviter = "?";
		buf_reset(&c->path);
		if (matrix_invite_allowed(&c->cfg, inviter)) {
			action = "join";
			if (matrix_path(&c->path, "rooms", r->string, "join",
				NULL) != 0)
				continue;
		} else {
			action = "decline";
			if (matrix_path(&c->path, "rooms", r->string, "leave",
				NULL) != 0)
				continue;
		}
		st = call(c, &mc, "POST", buf_str(&c->path), "{}", action, 5);
		cJSON_Delete(mc.json);
		if (st == MATRIX_CALL_STOPPED)
			return -1;
		if (st == MATRIX_CALL_FATAL) {
			c->status = EXIT_NETWORK;
			return -1;
		}
		matrix_logf(&c->log, 1, "room=%s action=%s inviter=%s%s%s%s",
		    r->string, action, inviter,
		    st == MATRIX_CALL_OK ? "" : " failed=",
		    st == MATRIX_CALL_OK ? "" : mc.errcode,
		    st == MATRIX_CALL_OK ? "" : mc.error);
	}
	return 0;
}

static int
handle_room(struct ctx *c, const char *room_id, const cJSON *jr, bool first)
{
	struct matrix_room *room;
	const cJSON *summary, *v, *evs, *ev, *timeline;
	int join_idx = -1, i;
	const char *eid, *type, *sender;

	room = matrix_state_room(&c->st, room_id, true);
	if (room == NULL)
		return 0; /* table full or bad id: ignore the room */
	summary = cJSON_GetObjectItemCaseSensitive(jr, "summary");
	v = cJSON_GetObjectItemCaseSensitive(summary, "m.joined_member_count");
	if (cJSON_IsNumber(v) && v->valuedouble >= 0)
		room->joined = (long)v->valuedouble;
	evs = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(jr, "state"), "events");
	cJSON_ArrayForEach(ev, evs)
		learn(c, room, ev);
	evs = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(jr, "state_after"), "events");
	cJSON_ArrayForEach(ev, evs)
		learn(c, room, ev);

	timeline = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(jr, "timeline"), "events");
	i = 0;
	cJSON_ArrayForEach(ev, timeline)
	{
		if (is_own_join(c, ev))
			join_idx = i;
		i++;
	}
	i = 0;
	cJSON_ArrayForEach(ev, timeline)
	{
		int idx = i++;

		eid = matrix_json_str(ev, "event_id");
		if (eid == NULL || strlen(eid) >= MATRIX_MAX_ID)
			continue;
		learn(c, room, ev);
		if (first || idx <= join_idx) {
			/* History: before start-up or before the bot's own
			 * join.  Never answered. */
			matrix_ring_add(&c->seen, eid);
			continue;
		}
		if (matrix_ring_has(&c->seen, eid) ||
		    matrix_ring_has(&c->st.partial, eid)) {
			matrix_logf(&c->log, 2, "room=%s event=%s "
						"action=ignore reason=duplicate",
			    room_id, eid);
			continue;
		}
		matrix_ring_add(&c->seen, eid);
		type = matrix_json_str(ev, "type");
		sender = matrix_json_str(ev, "sender");
		if (type != NULL && strcmp(type, "m.room.encrypted") == 0 &&
		    sender != NULL && strcmp(sender, c->me) != 0) {
			room->encrypted = true;
			if (notify_encrypted(c, room) != 0)
				return -1;
		} else if (handle_message(c, room, ev) != 0) {
			return -1;
		}
		/* Handled: a restart inside this batch must not redo it. */
		matrix_ring_add(&c->st.partial, eid);
	}
	if (!first && join_idx >= 0) {
		matrix_logf(&c->log, 1, "room=%s action=joined members=%ld%s",
		    room_id, room->joined,
		    room->encrypted ? " encrypted=yes" : "");
		if (room->encrypted && notify_encrypted(c, room) != 0)
			return -1;
	}
	return 0;
}

/* Handle one sync reply.  0 done, -1 stopped or fatal part-way. */
static int
handle_sync(struct ctx *c, const cJSON *json, bool first)
{
	const cJSON *rooms, *r;

	rooms = cJSON_GetObjectItemCaseSensitive(json, "rooms");
	if (handle_invites(c, cJSON_GetObjectItemCaseSensitive(rooms,
				  "invite")) != 0)
		return -1;
	cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(rooms, "join"))
	{
		if (r->string == NULL || strlen(r->string) >= MATRIX_MAX_ID)
			continue;
		if (handle_room(c, r->string, r, first) != 0)
			return -1;
	}
	cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(rooms, "leave"))
	{
		if (r->string == NULL)
			continue;
		matrix_logf(&c->log, 1, "room=%s action=left", r->string);
		doctor_forget_room(c, r->string);
		matrix_state_forget_room(&c->st, r->string);
	}
	return 0;
}

static int
save_state(struct ctx *c, struct diag *d)
{
	struct diag local;

	diag_clear(&local);
	if (matrix_state_save(&c->st, c->state_path, &local) != 0) {
		/* Keep running: the next save may succeed (disk full). */
		matrix_logf(&c->log, 0, "cannot save state: %s",
		    local.count > 0 ? local.messages[0] : "?");
		if (d != NULL && stop_flag)
			diag_add(d, "%s", local.count > 0 ? local.messages[0] :
							   "cannot save state");
		return -1;
	}
	return 0;
}

static int
sync_loop(struct ctx *c, struct diag *d)
{
	struct matrix_call mc;
	struct buf q;
	const char *nb;
	enum matrix_call_status r;
	bool first;
	unsigned errors = 0;
	int ret = -1;

	buf_init(&q, 64 * 1024);
	while (!stop_flag) {
		first = c->st.next_batch[0] == '\0';
		buf_reset(&q);
		if (buf_append_str(&q, "/_matrix/client/v3/sync?filter=") !=
			0 ||
		    http_append_escaped(&q, sync_filter) != 0 ||
		    buf_printf(&q, "&timeout=%ld&set_presence=offline",
			first ? 0L : c->cfg.sync_timeout_ms) != 0 ||
		    (!first && (buf_append_str(&q, "&since=") != 0 ||
				   http_append_escaped(&q,
				       c->st.next_batch) != 0))) {
			diag_add(d, "sync: request too long");
			c->status = EXIT_NETWORK;
			goto out;
		}
		/* The transfer may take the long-poll timeout plus a margin
		 * for a slow server. */
		r = call_timeout(c, &mc, "GET", buf_str(&q), NULL, "sync", 0,
		    c->cfg.sync_timeout_ms + 30000);
		if (r == MATRIX_CALL_STOPPED)
			break;
		if (r == MATRIX_CALL_FATAL) {
			token_rejected(c, &mc, d);
			goto out;
		}
		if (r != MATRIX_CALL_OK) {
			errors++;
			matrix_logf(&c->log, 0, "sync refused: %ld %s %s",
			    mc.status, mc.errcode, mc.error);
			if (errors >= 5 && !first) {
				/* The server no longer knows our position:
				 * start over, skipping history again. */
				matrix_logf(&c->log, 0, "sync position "
							"rejected; starting "
							"afresh");
				c->st.next_batch[0] = '\0';
				errors = 0;
			}
			matrix_sleep_ms(matrix_backoff_ms(errors,
					    c->cfg.backoff_initial_ms,
					    c->cfg.backoff_max_ms,
					    &c->client.rng),
			    &stop_flag);
			continue;
		}
		errors = 0;
		nb = matrix_json_str(mc.json, "next_batch");
		if (nb == NULL || nb[0] == '\0' ||
		    strlen(nb) >= sizeof(c->st.next_batch)) {
			matrix_logf(&c->log, 0, "sync: reply without a usable "
						"next_batch; retrying");
			cJSON_Delete(mc.json);
			matrix_sleep_ms(c->cfg.backoff_initial_ms, &stop_flag);
			continue;
		}
		if (handle_sync(c, mc.json, first) != 0) {
			cJSON_Delete(mc.json);
			if (c->status != 0) {
				if (c->status == EXIT_NETWORK && d->count == 0)
					diag_add(d, "the homeserver rejected "
						    "the access token "
						    "(M_UNKNOWN_TOKEN); create "
						    "a new one");
				save_state(c, NULL);
				goto out;
			}
			break; /* stopped inside the batch */
		}
		snprintf(c->st.next_batch, sizeof(c->st.next_batch), "%s", nb);
		cJSON_Delete(mc.json);
		/* The batch is handled: only now move the position. */
		c->st.partial.count = 0;
		c->st.partial.head = 0;
		save_state(c, NULL);
		if (first)
			matrix_logf(&c->log, 1, "initial sync done; %zu rooms; "
						"answering new messages only",
			    c->st.room_count);
	}
	/* Stopped: keep the position of the last whole batch plus what was
	 * handled of the current one. */
	if (save_state(c, d) != 0) {
		c->status = EXIT_CONFIG;
		goto out;
	}
	ret = 0;
out:
	buf_free(&q);
	return ret;
}

/* ---- entry ------------------------------------------------------------ */

static int
install_signals(struct sigaction *old_int, struct sigaction *old_term,
    struct sigaction *old_pipe)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a blocking call returns so the flag is seen. */
	if (sigaction(SIGINT, &sa, old_int) != 0 ||
	    sigaction(SIGTERM, &sa, old_term) != 0)
		return -1;
	sa.sa_handler = SIG_IGN;
	return sigaction(SIGPIPE, &sa, old_pipe);
}

int
matrix_run(struct bot *bot, const struct matrix_options *opts,
    struct diag *d)
{
	struct ctx *c;
	struct sigaction old_int, old_term, old_pipe;
	struct diag ignore;
	int status = EXIT_CONFIG;
	int lr;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		diag_add(d, "out of memory");
		return EXIT_CONFIG;
	}
	stop_flag = 0;
	c->bot = bot;
	c->log.out = stderr;
	c->log.verbosity = opts->verbosity;
	c->log.secrets[0] = c->token;
	c->log.secrets[1] = c->cfg.password;
	c->client.log = &c->log;
	c->client.stop = &stop_flag;
	c->client.token = c->token;
	c->client.rng = (uint32_t)matrix_now_us() | 1u;
	buf_init(&c->text, REPLY_MAX_BYTES / 2);
	buf_init(&c->content, REPLY_MAX_BYTES);
	buf_init(&c->path, 4096);
	buf_init(&c->scratch, DOCTOR_REPLY_MAX + 1);
	if (matrix_state_init(&c->st) != 0 ||
	    matrix_ring_init(&c->seen, SEEN_RING) != 0 ||
	    matrix_flood_init(&c->flood, FLOOD_BUCKETS) != 0) {
		diag_add(d, "out of memory");
		goto out;
	}
	c->doctors = calloc(MAX_DOCTOR_SESSIONS, sizeof(*c->doctors));
	if (c->doctors == NULL) {
		diag_add(d, "out of memory");
		goto out;
	}
	if (install_signals(&old_int, &old_term, &old_pipe) != 0) {
		diag_add(d, "cannot install signal handlers");
		goto out;
	}

	if (matrix_config_load(&c->cfg, opts->config_path, env_get, d) != 0)
		goto restore;
	c->client.backoff_initial_ms = c->cfg.backoff_initial_ms;
	c->client.backoff_max_ms = c->cfg.backoff_max_ms;
	snprintf(c->display_name, sizeof(c->display_name), "%s",
	    c->cfg.display_name);
	if (snprintf(c->state_path, sizeof(c->state_path),
		"%s/matrix-state.json", c->cfg.state_dir) >=
		(int)sizeof(c->state_path) ||
	    snprintf(c->session_path, sizeof(c->session_path),
		"%s/matrix-session.json", c->cfg.state_dir) >=
		(int)sizeof(c->session_path)) {
		diag_add(d, "state_dir: path too long");
		goto restore;
	}
	if (matrix_mkdirs(c->cfg.state_dir, d) != 0)
		goto restore;

	if (discover(c, d) != 0 || check_versions(c, d) != 0 ||
	    authenticate(c, d) != 0) {
		/* set_base() refusals are configuration errors; the
		 * network ones set c->status. */
		status = c->status != 0 ? c->status :
		    stop_flag	    ? 0 :
				      EXIT_CONFIG;
		if (stop_flag && c->status == 0)
			diag_clear(d);
		goto restore;
	}

	diag_clear(&ignore);
	lr = matrix_state_load(&c->st, c->state_path, &ignore);
	if (lr < 0 || (lr == 0 && strcmp(c->st.user_id, c->me) != 0)) {
		/* Damaged, or another account's: start afresh, which
		 * skips history, rather than refuse to run. */
		matrix_logf(&c->log, 0, "%s: %s; starting from the present",
		    c->state_path,
		    lr < 0 ? (ignore.count > 0 ? ignore.messages[0] : "damaged")
			   : "belongs to another account");
		matrix_state_free(&c->st);
		if (matrix_state_init(&c->st) != 0) {
			diag_add(d, "out of memory");
			goto restore;
		}
	}
	snprintf(c->st.user_id, sizeof(c->st.user_id), "%s", c->me);
	matrix_logf(&c->log, 1, "signed in as %s (device %s) on %s; %s", c->me,
	    c->device[0] != '\0' ? c->device : "?", c->client.base,
	    c->st.next_batch[0] != '\0' ? "resuming from the saved position" :
					  "first start");

	if (sync_loop(c, d) != 0) {
		status = c->status != 0 ? c->status : EXIT_NETWORK;
		goto restore;
	}
	matrix_logf(&c->log, 1, "stopped; state saved");
	status = 0;
restore:
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
out:
	http_free(c->http);
	matrix_state_free(&c->st);
	matrix_ring_free(&c->seen);
	matrix_flood_free(&c->flood);
	free(c->doctors);
	buf_free(&c->text);
	buf_free(&c->content);
	buf_free(&c->path);
	buf_free(&c->scratch);
	/* Secrets out of memory before it is returned. */
	memset(c->token, 0, sizeof(c->token));
	memset(&c->cfg, 0, sizeof(c->cfg));
	free(c);
	return status;
}
