/* matrix_login.c - signing the Matrix bot in.
 *
 * Finds the homeserver (a base URL, or a server name looked up through
 * .well-known), checks /versions, then proves the access token with
 * whoami.  Without a token it logs in once with a password, only when
 * GET /login offers that, and keeps the token in the state directory so
 * the password is not needed again.  Plain http is refused except to
 * loopback hosts or with allow_http.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "http.h"
#include "matrix_impl.h"

#define STARTUP_ATTEMPTS 8

double
matrix_now_s(void)
{
	return (double)matrix_now_us() / 1e6;
}

int
matrix_copy_id(char *dst, size_t size, const char *src)
{
	if (src == NULL || strlen(src) >= size)
		return -1;
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

enum matrix_call_status
matrix_bot_call(struct matrix_bot *c, struct matrix_call *mc,
    const char *method, const char *path, const char *body, const char *what,
    unsigned attempts, long timeout_ms)
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

void
matrix_token_rejected(
    struct matrix_bot *c, const struct matrix_call *mc, struct diag *d)
{
	diag_add(d,
	    "the homeserver rejected the access token (%s): it was "
	    "revoked or the bot's session was logged out; create a new "
	    "access token and set it in the config file or "
	    "BACKBOT_ACCESS_TOKEN",
	    mc->errcode[0] != '\0' ? mc->errcode : "401");
	c->status = MATRIX_EXIT_NETWORK;
}

static int
make_http(struct matrix_bot *c, bool allow_http, struct diag *d)
{
	struct http_curl_options ho;

	if (c->http != NULL && c->http_allows_http == allow_http)
		return 0;
	http_free(c->http);
	memset(&ho, 0, sizeof(ho));
	ho.allow_http = allow_http;
	ho.abort_flag = c->client.stop;
	ho.user_agent = "backbot";
	c->http = http_curl_new(&ho, d);
	c->http_allows_http = allow_http;
	c->client.http = c->http;
	return c->http != NULL ? 0 : -1;
}

static int
set_base(struct matrix_bot *c, const char *url, struct diag *d)
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
			diag_add(d,
			    "homeserver: \"%.200s\" is not an http(s) "
			    "URL",
			    c->client.base);
			return -1;
		}
		if (!c->cfg.allow_http &&
		    !http_url_is_loopback(c->client.base)) {
			diag_add(d,
			    "homeserver: refusing plain http:// to "
			    "%.200s (only loopback hosts may use it "
			    "unless \"allow_http\" is true)",
			    c->client.base);
			return -1;
		}
	}
	return make_http(c, strncmp(c->client.base, "http://", 7) == 0, d);
}

/* .well-known discovery when 'homeserver' is a server name. */
static int
discover(struct matrix_bot *c, struct diag *d)
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
			c->status = MATRIX_EXIT_NETWORK;
			goto out;
		}
		matrix_logf(
		    &c->log, 1, "discovered homeserver %s for %s", base, hs);
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
		c->status = MATRIX_EXIT_NETWORK;
	}
out:
	cJSON_Delete(mc.json);
	return ret;
}

static int
check_versions(struct matrix_bot *c, struct diag *d)
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
			diag_add(d,
			    "%s: not a Matrix homeserver, or not "
			    "reachable: %s%s%s",
			    c->client.base,
			    mc.status != 0 ? "HTTP status " : "",
			    mc.status != 0 ? "" : mc.error,
			    mc.status != 0 ? mc.errcode : "");
		c->status = MATRIX_EXIT_NETWORK;
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
		diag_add(d,
		    "%s: the homeserver does not offer Client-Server "
		    "API v1.x",
		    c->client.base);
		c->status = MATRIX_EXIT_NETWORK;
		return -1;
	}
	return 0;
}

/* 0 ok, 1 token unknown, -1 other failure (d filled). */
static int
whoami(struct matrix_bot *c, struct diag *d)
{
	struct matrix_call mc;
	enum matrix_call_status r;
	int ret = -1;

	r = matrix_bot_call(c, &mc, "GET", "/_matrix/client/v3/account/whoami",
	    NULL, "whoami", STARTUP_ATTEMPTS, 30000);
	if (r == MATRIX_CALL_FATAL)
		return 1;
	if (r != MATRIX_CALL_OK) {
		if (r != MATRIX_CALL_STOPPED)
			diag_add(d, "whoami failed: %s %s", mc.errcode,
			    mc.error[0] != '\0' ? mc.error : "no answer");
		c->status = MATRIX_EXIT_NETWORK;
		goto out;
	}
	if (matrix_copy_id(c->me, sizeof(c->me),
	        matrix_json_str(mc.json, "user_id")) != 0) {
		diag_add(d, "whoami: no user_id in the reply");
		c->status = MATRIX_EXIT_NETWORK;
		goto out;
	}
	(void)matrix_copy_id(c->device, sizeof(c->device),
	    matrix_json_str(mc.json, "device_id"));
	ret = 0;
out:
	cJSON_Delete(mc.json);
	return ret;
}

static int
password_login(struct matrix_bot *c, struct diag *d)
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
	r = matrix_bot_call(c, &mc, "GET", "/_matrix/client/v3/login", NULL,
	    "login", STARTUP_ATTEMPTS, 30000);
	if (r != MATRIX_CALL_OK) {
		diag_add(d, "GET /login failed: %s",
		    mc.error[0] != '\0' ? mc.error : "no answer");
		c->status = MATRIX_EXIT_NETWORK;
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
		diag_add(d,
		    "the homeserver does not offer password login; "
		    "create an access token for the bot account and set "
		    "BACKBOT_ACCESS_TOKEN");
		c->status = MATRIX_EXIT_CONFIG;
		goto out;
	}
	req = cJSON_CreateObject();
	ident = req != NULL ? cJSON_AddObjectToObject(req, "identifier") : NULL;
	if (ident == NULL ||
	    cJSON_AddStringToObject(req, "type", "m.login.password") == NULL ||
	    cJSON_AddStringToObject(ident, "type", "m.id.user") == NULL ||
	    cJSON_AddStringToObject(ident, "user", c->cfg.user_id) == NULL ||
	    cJSON_AddStringToObject(req, "password", c->cfg.password) == NULL ||
	    cJSON_AddStringToObject(
	        req, "initial_device_display_name", "backbot") == NULL ||
	    (c->cfg.device_id[0] != '\0' &&
	        cJSON_AddStringToObject(req, "device_id", c->cfg.device_id) ==
	            NULL))
		goto nomem;
	body = cJSON_PrintUnformatted(req);
	if (body == NULL)
		goto nomem;
	r = matrix_bot_call(c, &mc, "POST", "/_matrix/client/v3/login", body,
	    "login", STARTUP_ATTEMPTS, 30000);
	if (r != MATRIX_CALL_OK) {
		if (r == MATRIX_CALL_ERROR) {
			diag_add(d, "password login as %s refused: %s %s",
			    c->cfg.user_id, mc.errcode, mc.error);
			c->status = MATRIX_EXIT_CONFIG;
		} else {
			diag_add(d, "password login failed: %s",
			    mc.error[0] != '\0' ? mc.error : "no answer");
			c->status = MATRIX_EXIT_NETWORK;
		}
		goto out;
	}
	if (matrix_copy_id(c->token, sizeof(c->token),
	        matrix_json_str(mc.json, "access_token")) != 0 ||
	    matrix_copy_id(c->me, sizeof(c->me),
	        matrix_json_str(mc.json, "user_id")) != 0) {
		diag_add(d, "login: reply lacks access_token or user_id");
		c->status = MATRIX_EXIT_NETWORK;
		goto out;
	}
	(void)matrix_copy_id(c->device, sizeof(c->device),
	    matrix_json_str(mc.json, "device_id"));
	/* Keep the token so the password is needed only once. */
	memset(&ss, 0, sizeof(ss));
	snprintf(ss.homeserver, sizeof(ss.homeserver), "%s", c->client.base);
	snprintf(ss.user_id, sizeof(ss.user_id), "%s", c->me);
	snprintf(ss.device_id, sizeof(ss.device_id), "%s", c->device);
	snprintf(ss.access_token, sizeof(ss.access_token), "%s", c->token);
	if (file_mkdirs(c->cfg.state_dir, d) != 0 ||
	    matrix_session_save(&ss, c->session_path, d) != 0) {
		memset(&ss, 0, sizeof(ss));
		c->status = MATRIX_EXIT_CONFIG;
		goto out;
	}
	memset(&ss, 0, sizeof(ss));
	matrix_logf(&c->log, 1,
	    "logged in with a password as %s (device %s); "
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
authenticate(struct matrix_bot *c, struct diag *d)
{
	struct matrix_session ss;
	struct matrix_call mc;
	bool from_session = false;
	int r;

	if (c->cfg.access_token[0] != '\0') {
		snprintf(c->token, sizeof(c->token), "%s", c->cfg.access_token);
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
			snprintf(
			    mc.errcode, sizeof(mc.errcode), "M_UNKNOWN_TOKEN");
			matrix_token_rejected(c, &mc, d);
			return -1;
		}
		if (r == 1) {
			matrix_logf(&c->log, 1,
			    "stored token rejected; "
			    "logging in again");
			c->token[0] = '\0';
		}
	}
	if (c->token[0] == '\0' && password_login(c, d) != 0)
		return -1;
	if (c->cfg.user_id[0] != '\0' && strcmp(c->cfg.user_id, c->me) != 0) {
		diag_add(d, "user_id: the access token belongs to %s, not %s",
		    c->me, c->cfg.user_id);
		c->status = MATRIX_EXIT_CONFIG;
		return -1;
	}
	return 0;
}

int
matrix_sign_in(struct matrix_bot *c, struct diag *d)
{
	if (discover(c, d) != 0 || check_versions(c, d) != 0 ||
	    authenticate(c, d) != 0)
		return -1;
	return 0;
}
