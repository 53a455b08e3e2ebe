/* matrix_config.c - Matrix bot settings from a JSON file and the
 * environment.
 *
 * The file is one JSON object; every key is optional and unknown keys are
 * errors, so a typo is reported rather than silently ignored.  The
 * environment (BACKBOT_*) wins over the file, so secrets can stay out of
 * it.  Every message names the setting and where it came from; secrets
 * are never echoed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "matrix_impl.h"

void
matrix_config_defaults(struct matrix_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->prefix, sizeof(c->prefix), "%s", MATRIX_DEFAULT_PREFIX);
	c->typing = true;
	c->receipts = true;
	c->sync_timeout_ms = 30000;
	c->backoff_initial_ms = 1000;
	c->backoff_max_ms = 60000;
	c->doctor_timeout_s = 900;
	c->room_per_minute = 20;
	c->room_burst = 10;
	c->user_per_minute = 10;
	c->user_burst = 5;
}

/* Copy a string setting; refuse it when it does not fit. */
static int
set_str(char *dst, size_t size, const char *value, const char *key,
    const char *where, bool secret, struct diag *d)
{
	size_t n = strlen(value);

	if (n >= size) {
		diag_add(d, "%s: %s: too long (at most %zu bytes)", where, key,
		    size - 1);
		return -1;
	}
	if (!secret && strchr(value, '\n') != NULL) {
		diag_add(d, "%s: %s: must be one line", where, key);
		return -1;
	}
	memcpy(dst, value, n + 1);
	return 0;
}

struct str_key {
	const char *name;
	size_t off;
	size_t size;
	bool secret;
};

#define STR_KEY(n, field, s)                                                   \
	{                                                                      \
		n, offsetof(struct matrix_config, field),                      \
		    sizeof(((struct matrix_config *)0)->field), s              \
	}

static const struct str_key str_keys[] = {
    STR_KEY("homeserver", homeserver, false),
    STR_KEY("user_id", user_id, false),
    STR_KEY("access_token", access_token, true),
    STR_KEY("device_id", device_id, false),
    STR_KEY("password", password, true),
    STR_KEY("display_name", display_name, false),
    STR_KEY("command_prefix", prefix, false),
    STR_KEY("state_dir", state_dir, false),
};

struct num_key {
	const char *name;
	double min, max;
};

static const struct num_key num_keys[] = {
    {"sync_timeout_ms", 0, 300000},
    {"backoff_initial_ms", 1, 600000},
    {"backoff_max_ms", 1, 3600000},
    {"doctor_timeout_s", 10, 86400},
    {"room_per_minute", 0.01, 1e6},
    {"room_burst", 1, 1e6},
    {"user_per_minute", 0.01, 1e6},
    {"user_burst", 1, 1e6},
};

static void
set_num(struct matrix_config *c, const char *key, double v)
{
	if (strcmp(key, "sync_timeout_ms") == 0)
		c->sync_timeout_ms = (long)v;
	else if (strcmp(key, "backoff_initial_ms") == 0)
		c->backoff_initial_ms = (long)v;
	else if (strcmp(key, "backoff_max_ms") == 0)
		c->backoff_max_ms = (long)v;
	else if (strcmp(key, "doctor_timeout_s") == 0)
		c->doctor_timeout_s = (long)v;
	else if (strcmp(key, "room_per_minute") == 0)
		c->room_per_minute = v;
	else if (strcmp(key, "room_burst") == 0)
		c->room_burst = v;
	else if (strcmp(key, "user_per_minute") == 0)
		c->user_per_minute = v;
	else if (strcmp(key, "user_burst") == 0)
		c->user_burst = v;
}

static int
parse_allow(
    struct matrix_config *c, const cJSON *v, const char *path, struct diag *d)
{
	const cJSON *item;
	size_t i = 0;

	if (!cJSON_IsArray(v)) {
		diag_add(d,
		    "%s: allow_invites_from: expected an array of "
		    "user ids or server names",
		    path);
		return -1;
	}
	c->allow_count = 0;
	cJSON_ArrayForEach(item, v)
	{
		if (!cJSON_IsString(item) || item->valuestring[0] == '\0') {
			diag_add(d,
			    "%s: allow_invites_from[%zu]: expected a "
			    "user id or server name",
			    path, i);
			return -1;
		}
		if (c->allow_count == MATRIX_MAX_ALLOW) {
			diag_add(d,
			    "%s: allow_invites_from: at most %d entries", path,
			    MATRIX_MAX_ALLOW);
			return -1;
		}
		if (set_str(c->allow[c->allow_count], MATRIX_MAX_ID,
		        item->valuestring, "allow_invites_from", path, false,
		        d) != 0)
			return -1;
		c->allow_count++;
		i++;
	}
	return 0;
}

static int
apply_key(struct matrix_config *c, const cJSON *item, const char *path,
    struct diag *d)
{
	const char *key = item->string;
	size_t i;

	for (i = 0; i < sizeof(str_keys) / sizeof(str_keys[0]); i++) {
		if (strcmp(key, str_keys[i].name) != 0)
			continue;
		if (!cJSON_IsString(item)) {
			diag_add(d, "%s: %s: expected a string", path, key);
			return -1;
		}
		return set_str((char *)c + str_keys[i].off, str_keys[i].size,
		    item->valuestring, key, path, str_keys[i].secret, d);
	}
	for (i = 0; i < sizeof(num_keys) / sizeof(num_keys[0]); i++) {
		if (strcmp(key, num_keys[i].name) != 0)
			continue;
		if (!cJSON_IsNumber(item) ||
		    item->valuedouble < num_keys[i].min ||
		    item->valuedouble > num_keys[i].max) {
			diag_add(d, "%s: %s: expected a number from %g to %g",
			    path, key, num_keys[i].min, num_keys[i].max);
			return -1;
		}
		set_num(c, key, item->valuedouble);
		return 0;
	}
	if (strcmp(key, "allow_http") == 0 || strcmp(key, "typing") == 0 ||
	    strcmp(key, "read_receipts") == 0) {
		if (!cJSON_IsBool(item)) {
			diag_add(
			    d, "%s: %s: expected true or false", path, key);
			return -1;
		}
		if (key[0] == 'a')
			c->allow_http = cJSON_IsTrue(item);
		else if (key[0] == 't')
			c->typing = cJSON_IsTrue(item);
		else
			c->receipts = cJSON_IsTrue(item);
		return 0;
	}
	if (strcmp(key, "allow_invites_from") == 0)
		return parse_allow(c, item, path, d);
	diag_add(d, "%s: unknown setting \"%.64s\"", path, key);
	return -1;
}

int
matrix_config_parse(struct matrix_config *c, const char *text, size_t len,
    const char *path, struct diag *d)
{
	cJSON *root = NULL;
	const cJSON *item;
	const char *end = NULL;
	int ret = -1;

	root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (root == NULL) {
		size_t off =
		    end != NULL && end >= text ? (size_t)(end - text) : len;
		diag_add_at(d, path, text, off, "invalid JSON");
		goto out;
	}
	/* cJSON_ParseWithLengthOpts cannot require the end; check it. */
	if (end != NULL) {
		while ((size_t)(end - text) < len &&
		    (*end == ' ' || *end == '\n' || *end == '\t' ||
		        *end == '\r'))
			end++;
		if ((size_t)(end - text) < len) {
			diag_add_at(d, path, text, (size_t)(end - text),
			    "unexpected text after the JSON object");
			goto out;
		}
	}
	if (!cJSON_IsObject(root)) {
		diag_add(d, "%s: expected a JSON object of settings", path);
		goto out;
	}
	cJSON_ArrayForEach(item, root)
	{
		if (apply_key(c, item, path, d) != 0)
			goto out;
	}
	ret = 0;
out:
	cJSON_Delete(root);
	return ret;
}

int
matrix_config_env(struct matrix_config *c, matrix_getenv_fn get, struct diag *d)
{
	static const struct {
		const char *var;
		const char *key;
	} vars[] = {
	    {"BACKBOT_HOMESERVER", "homeserver"},
	    {"BACKBOT_USER_ID", "user_id"},
	    {"BACKBOT_ACCESS_TOKEN", "access_token"},
	    {"BACKBOT_PASSWORD", "password"},
	    {"BACKBOT_STATE_DIR", "state_dir"},
	};
	size_t i, j;
	const char *v;

	for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		v = get(vars[i].var);
		if (v == NULL || v[0] == '\0')
			continue;
		for (j = 0; j < sizeof(str_keys) / sizeof(str_keys[0]); j++) {
			if (strcmp(str_keys[j].name, vars[i].key) != 0)
				continue;
			if (set_str((char *)c + str_keys[j].off,
			        str_keys[j].size, v, vars[i].key, vars[i].var,
			        str_keys[j].secret, d) != 0)
				return -1;
		}
	}
	return 0;
}

int
matrix_default_path(char *out, size_t size, matrix_getenv_fn get,
    const char *xdg_var, const char *home_rel, const char *file)
{
	const char *xdg = get(xdg_var);
	const char *home = get("HOME");
	int n;

	/* XDG says relative values are invalid and must be ignored. */
	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(out, size, "%s/backbot%s%s", xdg,
		    file != NULL ? "/" : "", file != NULL ? file : "");
	else if (home != NULL && home[0] == '/')
		n = snprintf(out, size, "%s/%s/backbot%s%s", home, home_rel,
		    file != NULL ? "/" : "", file != NULL ? file : "");
	else
		return -1;
	return n > 0 && (size_t)n < size ? 0 : -1;
}

static bool
valid_user_id(const char *s)
{
	const char *colon = strchr(s, ':');

	return s[0] == '@' && colon != NULL && colon > s + 1 &&
	    colon[1] != '\0' && strpbrk(s, " \t\r\n") == NULL;
}

int
matrix_config_check(
    struct matrix_config *c, matrix_getenv_fn get, struct diag *d)
{
	const char *p;

	if (c->homeserver[0] == '\0') {
		diag_add(d,
		    "missing setting: homeserver (set \"homeserver\" "
		    "in the config file or BACKBOT_HOMESERVER)");
		return -1;
	}
	if (strncmp(c->homeserver, "https://", 8) != 0 &&
	    strncmp(c->homeserver, "http://", 7) != 0) {
		/* A server name for .well-known discovery: host[:port]. */
		for (p = c->homeserver; *p != '\0'; p++)
			if (!(*p == '.' || *p == '-' || *p == ':' ||
			        *p == '[' || *p == ']' ||
			        (*p >= 'a' && *p <= 'z') ||
			        (*p >= 'A' && *p <= 'Z') ||
			        (*p >= '0' && *p <= '9'))) {
				diag_add(d,
				    "bad setting: homeserver: expected "
				    "https://host or a server name, got "
				    "\"%.200s\"",
				    c->homeserver);
				return -1;
			}
	}
	if (c->user_id[0] != '\0' && !valid_user_id(c->user_id)) {
		diag_add(d,
		    "bad setting: user_id: expected @name:server, got "
		    "\"%.200s\"",
		    c->user_id);
		return -1;
	}
	if (c->access_token[0] == '\0' && c->password[0] == '\0') {
		diag_add(d,
		    "missing setting: access_token (set "
		    "\"access_token\" in the config file or "
		    "BACKBOT_ACCESS_TOKEN, or give BACKBOT_PASSWORD "
		    "with user_id to log in once)");
		return -1;
	}
	if (c->access_token[0] == '\0' && c->user_id[0] == '\0') {
		diag_add(d,
		    "missing setting: user_id (needed to log in with "
		    "a password; set \"user_id\" or BACKBOT_USER_ID)");
		return -1;
	}
	if (strpbrk(c->access_token, " \t\r\n") != NULL) {
		diag_add(d, "bad setting: access_token: contains white space");
		return -1;
	}
	if (c->prefix[0] == '\0' || strpbrk(c->prefix, " \t") != NULL) {
		diag_add(d, "bad setting: command_prefix: must be one word");
		return -1;
	}
	if (c->backoff_max_ms < c->backoff_initial_ms) {
		diag_add(d,
		    "bad setting: backoff_max_ms is below "
		    "backoff_initial_ms");
		return -1;
	}
	if (c->state_dir[0] == '\0' &&
	    matrix_default_path(c->state_dir, sizeof(c->state_dir), get,
	        "XDG_STATE_HOME", ".local/state", NULL) != 0) {
		diag_add(d,
		    "missing setting: state_dir (set \"state_dir\", "
		    "XDG_STATE_HOME or HOME)");
		return -1;
	}
	if (c->state_dir[0] != '/') {
		diag_add(d, "bad setting: state_dir: must be an absolute path");
		return -1;
	}
	return 0;
}

int
matrix_config_load(struct matrix_config *c, const char *path,
    matrix_getenv_fn get, struct diag *d)
{
	char def[MATRIX_MAX_PATH];
	struct buf text;
	bool explicit_path = path != NULL;
	int ret = -1;

	buf_init(&text, MATRIX_CONFIG_MAX_BYTES);
	matrix_config_defaults(c);
	if (path == NULL) {
		if (matrix_default_path(def, sizeof(def), get,
		        "XDG_CONFIG_HOME", ".config", "matrix.json") == 0)
			path = def;
	}
	if (path != NULL) {
		if (buf_read_file(&text, path) != 0) {
			if (errno == ENOENT && !explicit_path) {
				/* No default file: the environment may
				 * carry everything. */
			} else if (errno == EFBIG) {
				diag_add(d,
				    "%s: config file too large (at most "
				    "%u bytes)",
				    path, MATRIX_CONFIG_MAX_BYTES);
				goto out;
			} else {
				diag_add(d, "%s: cannot read config file: %s",
				    path, strerror(errno));
				goto out;
			}
		} else if (matrix_config_parse(
		               c, buf_str(&text), text.len, path, d) != 0) {
			goto out;
		}
	}
	if (matrix_config_env(c, get, d) != 0)
		goto out;
	if (matrix_config_check(c, get, d) != 0)
		goto out;
	ret = 0;
out:
	/* The file may hold the token: wipe our copy. */
	buf_free_secret(&text);
	return ret;
}
