/* matrix.c - backbot as a Matrix bot: matrix_run() and the sync loop.
 *
 * After signing in (matrix_login.c) it long-polls /sync with a filter
 * asking only for what the bot reads, joins rooms it is invited to and
 * hands each new message to matrix_reply.c.  The first sync's events are
 * history and are never answered; in a newly joined room nothing before the
 * bot's own join is. The sync position is saved after each batch has been
 * handled, and replies carry transaction ids derived from the question's event
 * id, so neither a retry nor a restart can post an answer twice.
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
#include "http.h"
#include "matrix_impl.h"

#define SEEN_RING     8192
#define FLOOD_BUCKETS 4096

/* The one global: set by the signal handler, polled everywhere else. */
static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* Only what the bot reads: messages and membership in joined rooms.  The
 * first sync's timeline is history and skipped, so it asks for one event
 * per room: a bot in many rooms would otherwise start with a huge reply. */
#define SYNC_FILTER(limit)                                                     \
	"{\"account_data\":{\"types\":[]},\"presence\":{\"types\":[]},"        \
	"\"room\":{\"account_data\":{\"types\":[]},"                           \
	"\"ephemeral\":{\"types\":[]},"                                        \
	"\"state\":{\"types\":[\"m.room.member\",\"m.room.encryption\"],"      \
	"\"lazy_load_members\":true},"                                         \
	"\"timeline\":{\"types\":[\"m.room.message\",\"m.room.member\","       \
	"\"m.room.encrypted\",\"m.room.encryption\"],\"limit\":" limit "}}}"

static const char sync_filter[] = SYNC_FILTER("50");
static const char first_sync_filter[] = SYNC_FILTER("1");

static const char *
env_get(const char *name)
{
	return getenv(name);
}

/* ---- sync ------------------------------------------------------------- */

static bool
is_own_join(const struct matrix_bot *c, const cJSON *ev)
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
learn(struct matrix_bot *c, struct matrix_room *room, const cJSON *ev)
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
			snprintf(c->display_name, sizeof(c->display_name), "%s",
			    name);
	}
}

static int
handle_invites(struct matrix_bot *c, const cJSON *invites)
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
			        (char *)NULL) != 0)
				continue;
		} else {
			action = "decline";
			if (matrix_path(&c->path, "rooms", r->string, "leave",
			        (char *)NULL) != 0)
				continue;
		}
		st = matrix_bot_call(
		    c, &mc, "POST", buf_str(&c->path), "{}", action, 5, 30000);
		cJSON_Delete(mc.json);
		if (st == MATRIX_CALL_STOPPED)
			return -1;
		if (st == MATRIX_CALL_FATAL) {
			c->status = MATRIX_EXIT_NETWORK;
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
handle_room(
    struct matrix_bot *c, const char *room_id, const cJSON *jr, bool first)
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
	cJSON_ArrayForEach(ev, evs) learn(c, room, ev);
	evs = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(jr, "state_after"), "events");
	cJSON_ArrayForEach(ev, evs) learn(c, room, ev);

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
			matrix_logf(&c->log, 2,
			    "room=%s event=%s "
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
			if (matrix_notify_encrypted(c, room) != 0)
				return -1;
		} else if (matrix_handle_message(c, room, ev) != 0) {
			return -1;
		}
		/* Handled: a restart inside this batch must not redo it. */
		matrix_ring_add(&c->st.partial, eid);
	}
	if (!first && join_idx >= 0) {
		matrix_logf(&c->log, 1, "room=%s action=joined members=%ld%s",
		    room_id, room->joined,
		    room->encrypted ? " encrypted=yes" : "");
		if (room->encrypted && matrix_notify_encrypted(c, room) != 0)
			return -1;
	}
	return 0;
}

/* Handle one sync reply.  0 done, -1 stopped or fatal part-way. */
static int
handle_sync(struct matrix_bot *c, const cJSON *json, bool first)
{
	const cJSON *rooms, *r;

	rooms = cJSON_GetObjectItemCaseSensitive(json, "rooms");
	if (handle_invites(
	        c, cJSON_GetObjectItemCaseSensitive(rooms, "invite")) != 0)
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
		matrix_doctor_forget_room(c, r->string);
		matrix_state_forget_room(&c->st, r->string);
	}
	return 0;
}

static int
save_state(struct matrix_bot *c, struct diag *d)
{
	struct diag local;

	diag_clear(&local);
	if (matrix_state_save(&c->st, c->state_path, &local) != 0) {
		/* Keep running: the next save may succeed (disk full). */
		matrix_logf(&c->log, 0, "cannot save state: %s",
		    local.count > 0 ? local.messages[0] : "?");
		if (d != NULL && stop_flag)
			diag_add(d, "%s",
			    local.count > 0 ? local.messages[0]
			                    : "cannot save state");
		return -1;
	}
	return 0;
}

static int
sync_loop(struct matrix_bot *c, struct diag *d)
{
	struct matrix_call mc;
	struct buf q;
	const char *nb;
	enum matrix_call_status r;
	bool first, changed;
	unsigned errors = 0;
	int ret = -1;

	buf_init(&q, 64 * 1024);
	while (!stop_flag) {
		first = c->st.next_batch[0] == '\0';
		buf_reset(&q);
		if (buf_append_str(&q, "/_matrix/client/v3/sync?filter=") !=
		        0 ||
		    http_append_escaped(
		        &q, first ? first_sync_filter : sync_filter) != 0 ||
		    buf_printf(&q, "&timeout=%ld&set_presence=offline",
		        first ? 0L : c->cfg.sync_timeout_ms) != 0 ||
		    (!first &&
		        (buf_append_str(&q, "&since=") != 0 ||
		            http_append_escaped(&q, c->st.next_batch) != 0))) {
			diag_add(d, "sync: request too long");
			c->status = MATRIX_EXIT_NETWORK;
			goto out;
		}
		/* The transfer may take the long-poll timeout plus a margin
		 * for a slow server. */
		r = matrix_bot_call(c, &mc, "GET", buf_str(&q), NULL, "sync", 0,
		    c->cfg.sync_timeout_ms + 30000);
		if (r == MATRIX_CALL_STOPPED)
			break;
		if (r == MATRIX_CALL_FATAL) {
			matrix_token_rejected(c, &mc, d);
			goto out;
		}
		if (r != MATRIX_CALL_OK) {
			errors++;
			matrix_logf(&c->log, 0, "sync refused: %ld %s %s",
			    mc.status, mc.errcode, mc.error);
			if (errors >= 5 && !first) {
				/* The server no longer knows our position:
				 * start over, skipping history again. */
				matrix_logf(&c->log, 0,
				    "sync position "
				    "rejected; starting "
				    "afresh");
				c->st.next_batch[0] = '\0';
				errors = 0;
			}
			matrix_sleep_ms(
			    matrix_backoff_ms(errors, c->cfg.backoff_initial_ms,
			        c->cfg.backoff_max_ms, &c->client.rng),
			    &stop_flag);
			continue;
		}
		errors = 0;
		nb = matrix_json_str(mc.json, "next_batch");
		if (nb == NULL || nb[0] == '\0' ||
		    strlen(nb) >= sizeof(c->st.next_batch)) {
			matrix_logf(&c->log, 0,
			    "sync: reply without a usable "
			    "next_batch; retrying");
			cJSON_Delete(mc.json);
			matrix_sleep_ms(c->cfg.backoff_initial_ms, &stop_flag);
			continue;
		}
		if (handle_sync(c, mc.json, first) != 0) {
			cJSON_Delete(mc.json);
			if (c->status != 0) {
				if (c->status == MATRIX_EXIT_NETWORK &&
				    d->count == 0)
					diag_add(d,
					    "the homeserver rejected "
					    "the access token "
					    "(M_UNKNOWN_TOKEN); create "
					    "a new one");
				save_state(c, NULL);
				goto out;
			}
			break; /* stopped inside the batch */
		}
		/* An idle long poll may return the same position: no need
		 * to write (and fsync) the same state again. */
		changed = strcmp(c->st.next_batch, nb) != 0 ||
		    c->st.partial.count > 0;
		snprintf(c->st.next_batch, sizeof(c->st.next_batch), "%s", nb);
		cJSON_Delete(mc.json);
		/* The batch is handled: only now move the position. */
		c->st.partial.count = 0;
		c->st.partial.head = 0;
		if (changed)
			save_state(c, NULL);
		if (first)
			matrix_logf(&c->log, 1,
			    "initial sync done; %zu rooms; "
			    "answering new messages only",
			    c->st.room_count);
	}
	/* Stopped: keep the position of the last whole batch plus what was
	 * handled of the current one. */
	if (save_state(c, d) != 0) {
		c->status = MATRIX_EXIT_CONFIG;
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
matrix_run(struct bot *bot, const struct matrix_options *opts, struct diag *d)
{
	struct matrix_bot *c;
	struct sigaction old_int, old_term, old_pipe;
	struct diag ignore;
	int status = MATRIX_EXIT_CONFIG;
	int lr;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		diag_add(d, "out of memory");
		return MATRIX_EXIT_CONFIG;
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
	buf_init(&c->text, MATRIX_REPLY_MAX_BYTES / 2);
	buf_init(&c->content, MATRIX_REPLY_MAX_BYTES);
	buf_init(&c->path, 4096);
	buf_init(&c->scratch, MATRIX_DOCTOR_REPLY_MAX + 1);
	if (matrix_state_init(&c->st) != 0 ||
	    matrix_ring_init(&c->seen, SEEN_RING) != 0 ||
	    matrix_flood_init(&c->flood, FLOOD_BUCKETS) != 0) {
		diag_add(d, "out of memory");
		goto out;
	}
	c->doctors = calloc(MATRIX_DOCTOR_SESSIONS, sizeof(*c->doctors));
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
	        "%s/matrix-state.json",
	        c->cfg.state_dir) >= (int)sizeof(c->state_path) ||
	    snprintf(c->session_path, sizeof(c->session_path),
	        "%s/matrix-session.json",
	        c->cfg.state_dir) >= (int)sizeof(c->session_path)) {
		diag_add(d, "state_dir: path too long");
		goto restore;
	}
	if (file_mkdirs(c->cfg.state_dir, d) != 0)
		goto restore;

	if (matrix_sign_in(c, d) != 0) {
		/* set_base() refusals are configuration errors; the
		 * network ones set c->status. */
		status = c->status != 0 ? c->status
		    : stop_flag         ? 0
		                        : MATRIX_EXIT_CONFIG;
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
	    c->st.next_batch[0] != '\0' ? "resuming from the saved position"
	                                : "first start");

	if (sync_loop(c, d) != 0) {
		status = c->status != 0 ? c->status : MATRIX_EXIT_NETWORK;
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
