/* matrix_reply.c - answering one Matrix message.
 *
 * Decides whether a timeline message is for the bot, runs the command or
 * the question through the bot (triage first, exactly as in the
 * terminal), keeps the guided doctor checks per person and room, applies
 * the flood limits, and sends the m.notice reply with a read receipt and
 * a typing notice around it.  The reply's transaction id comes from the
 * question's event id, so retries and restarts cannot post it twice.
 */
#include <string.h>

#include "bot.h"
#include "buf.h"
#include "diag.h"
#include "doctor.h"
#include "http.h"
#include "matrix_impl.h"
#include "triage.h"

#define SEND_ATTEMPTS 12

static const char encrypted_notice[] =
    "This room is end-to-end encrypted, and I cannot read encrypted "
    "messages, so I will not answer here. Ask me in a room or direct chat "
    "without encryption.";

/* ---- doctor sessions ------------------------------------------------- */

static struct matrix_doctor_slot *
doctor_find(
    struct matrix_bot *c, const char *room, const char *user, bool create)
{
	struct matrix_doctor_slot *free_slot = NULL, *oldest = NULL;
	double now = matrix_now_s();

	for (size_t i = 0; i < MATRIX_DOCTOR_SESSIONS; i++) {
		struct matrix_doctor_slot *s = &c->doctors[i];

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

void
matrix_doctor_forget_room(struct matrix_bot *c, const char *room)
{
	for (size_t i = 0; i < MATRIX_DOCTOR_SESSIONS; i++)
		if (c->doctors[i].used && strcmp(c->doctors[i].room, room) == 0)
			c->doctors[i].used = false;
}

/* Append the current question with its number. */
static int
doctor_ask(struct matrix_bot *c, const struct matrix_doctor_slot *s)
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
compose_help(struct matrix_bot *c)
{
	const char *help = bot_answer_for(c->bot, "chat.help");

	if (help != NULL &&
	    (buf_append_str(&c->text, help) != 0 ||
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
compose_question(
    struct matrix_bot *c, const char *text, size_t len, struct outcome *o)
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
compose_doctor_answer(struct matrix_bot *c, struct matrix_doctor_slot *s,
    const char *text, size_t len, bool addressed, struct outcome *o)
{
	const struct doctor *doc = bot_doctor(c->bot);

	buf_reset(&c->scratch);
	if (buf_append(&c->scratch, text,
	        len < MATRIX_DOCTOR_REPLY_MAX ? len
	                                      : MATRIX_DOCTOR_REPLY_MAX) != 0)
		return -1;
	if (doctor_reply(doc, &s->s, buf_str(&c->scratch)) != 0) {
		if (!addressed)
			return 0;
		/* An addressed message that is not yes/no: answer it as a
		 * question, and remind them of the open check. */
		if (compose_question(c, text, len, o) != 0 ||
		    buf_printf(&c->text,
		        "\n\n(The doctor check is still "
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
		if (doctor_render_result(
		        doc, &s->s, bot_triage(c->bot), &c->text) != 0)
			return -1;
		s->used = false;
		return 1;
	}
	return doctor_ask(c, s) == 0 ? 1 : -1;
}

static void
best_effort(struct matrix_bot *c, const char *method, const char *body,
    const char *what)
{
	struct matrix_call mc;

	if (matrix_bot_call(c, &mc, method, buf_str(&c->path), body, what, 1,
	        30000) == MATRIX_CALL_FATAL)
		c->status = MATRIX_EXIT_NETWORK;
	cJSON_Delete(mc.json);
}

static void
set_typing(struct matrix_bot *c, const char *room, bool on)
{
	if (!c->cfg.typing)
		return;
	buf_reset(&c->path);
	if (matrix_path(
	        &c->path, "rooms", room, "typing", c->me, (char *)NULL) != 0)
		return;
	best_effort(c, "PUT",
	    on ? "{\"typing\":true,\"timeout\":30000}" : "{\"typing\":false}",
	    "typing");
}

static void
send_receipt(struct matrix_bot *c, const char *room, const char *event_id)
{
	if (!c->cfg.receipts)
		return;
	buf_reset(&c->path);
	if (matrix_path(&c->path, "rooms", room, "receipt", "m.read", event_id,
	        (char *)NULL) != 0)
		return;
	best_effort(c, "POST", "{}", "receipt");
}

/* Send c->content into 'room' under transaction id 'txn'.  Returns the
 * call status; 'event_id' receives the new event's id ("" if none). */
static enum matrix_call_status
send_content(struct matrix_bot *c, const char *room, const char *txn,
    char *event_id, size_t size)
{
	struct matrix_call mc;
	enum matrix_call_status r;

	event_id[0] = '\0';
	buf_reset(&c->path);
	if (matrix_path(&c->path, "rooms", room, "send", "m.room.message", txn,
	        (char *)NULL) != 0)
		return MATRIX_CALL_ERROR;
	r = matrix_bot_call(c, &mc, "PUT", buf_str(&c->path),
	    buf_str(&c->content), "send", SEND_ATTEMPTS, 30000);
	if (r == MATRIX_CALL_OK)
		(void)matrix_copy_id(
		    event_id, size, matrix_json_str(mc.json, "event_id"));
	else if (r == MATRIX_CALL_ERROR)
		matrix_logf(&c->log, 0, "room=%s send refused: %ld %s %s", room,
		    mc.status, mc.errcode, mc.error);
	else if (r == MATRIX_CALL_FATAL)
		c->status = MATRIX_EXIT_NETWORK;
	cJSON_Delete(mc.json);
	return r;
}

int
matrix_notify_encrypted(struct matrix_bot *c, struct matrix_room *room)
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
int
matrix_handle_message(
    struct matrix_bot *c, struct matrix_room *room, const cJSON *ev)
{
	struct matrix_msg m;
	struct matrix_identity id;
	struct matrix_reply_to to;
	struct outcome o = {"none", TRIAGE_NONE, false};
	struct matrix_doctor_slot *ds, saved;
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
		matrix_logf(&c->log, 2,
		    "room=%s event=%s action=ignore "
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
		matrix_logf(&c->log, 2,
		    "room=%s event=%s action=ignore "
		    "reason=not-addressed",
		    room->id, m.event_id);
		return 0;
	}

	buf_reset(&c->text);
	cmd = addr != MATRIX_NOT_ADDRESSED
	    ? matrix_command(text, len, addr == MATRIX_ADDRESSED_PREFIX)
	    : MATRIX_CMD_NONE;
	rc = 0;
	if (ds != NULL)
		saved = *ds;
	if (cmd == MATRIX_CMD_NONE && ds != NULL) {
		rc = compose_doctor_answer(
		    c, ds, text, len, addr != MATRIX_NOT_ADDRESSED, &o);
		if (rc == 0) {
			matrix_logf(&c->log, 2,
			    "room=%s event=%s "
			    "action=ignore "
			    "reason=not-addressed",
			    room->id, m.event_id);
			return 0;
		}
		rc = rc < 0 ? -1 : 0;
	}
	/* Flood limits apply to everything the bot would say. */
	if (!matrix_flood_take(&c->flood, room->id, c->cfg.room_per_minute,
	        c->cfg.room_burst, matrix_now_s()) ||
	    !matrix_flood_take(&c->flood, m.sender, c->cfg.user_per_minute,
	        c->cfg.user_burst, matrix_now_s())) {
		/* Not answered, so the check did not move on either. */
		if (ds != NULL)
			*ds = saved;
		matrix_logf(&c->log, 1,
		    "room=%s event=%s sender=%s "
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
			    ds != NULL ? "The doctor check is stopped."
			               : "There is no doctor check to stop.");
			break;
		case MATRIX_CMD_NONE:
			rc = compose_question(c, text, len, &o);
			break;
		}
	}
	if (rc != 0)
		matrix_logf(&c->log, 1,
		    "room=%s event=%s reply cut short "
		    "(too long)",
		    room->id, m.event_id);

	to.event_id = m.event_id;
	to.thread_root = m.thread_root;
	to.asker = m.sender;
	to.name_asker = !direct;
	buf_reset(&c->content);
	if (matrix_reply_content(
	        &c->content, &to, buf_str(&c->text), o.strong) != 0) {
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
