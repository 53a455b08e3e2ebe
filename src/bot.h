/* bot.h - question in, reply out: triage, intent matching and the answer.
 *
 * The bot is the whole brain without any I/O: it loads the knowledge base
 * (faq/ and intents/ under one root), and for each question runs triage
 * first, then the intent matcher, then picks the answer and decides how
 * much of it the triage level allows.  Front ends (terminal, Matrix) only
 * render a struct bot_reply.  Not thread-safe: one question at a time.
 */
#ifndef BACKBOT_BOT_H
#define BACKBOT_BOT_H

#include <stdbool.h>
#include <stddef.h>

#include "triage.h"

struct buf;
struct diag;
struct doctor;
struct bot;

#define BOT_MAX_QUESTION_BYTES 16384 /* longer questions are refused */
#define BOT_MAX_ALTERNATIVES   3     /* other candidate intents reported */

enum bot_status {
	BOT_OK = 0,
	BOT_EMPTY,    /* nothing but white space */
	BOT_TOO_LONG, /* more than BOT_MAX_QUESTION_BYTES */
	BOT_BAD_UTF8  /* not valid UTF-8 */
};

struct bot_alternative {
	const char *intent; /* borrowed */
	const char *title;  /* short human name of the topic; borrowed */
	double confidence;  /* [0,1] */
};

/* Everything a front end needs to show one reply.  All pointers are
 * borrowed from the bot and valid until its next bot_answer() call. */
struct bot_reply {
	const char *intent; /* SPEC id, "none" when nothing matched well */
	const char *title;  /* short human name of the topic */
	double confidence;  /* [0,1] */
	struct triage_result triage;
	const char *guidance; /* triage lead text; NULL at level none */
	const char *answer; /* answer body; NULL when the level withholds it */
	bool withheld;      /* true when triage held back the answer */
	size_t alternative_count;
	struct bot_alternative alternatives[BOT_MAX_ALTERNATIVES];
};

/* Load the knowledge base under 'root' (root/faq, root/intents and
 * root/intents/triage).  Every problem found is reported in 'd'; NULL on
 * error.  Caller frees with bot_free(). */
struct bot *bot_load(const char *root, struct diag *d);

/* Full knowledge-base validation for `backbot check`: everything
 * bot_load() checks, plus every intent has an answer, every answer has an
 * intent, every example utterance matches its own intent and every triage
 * example reaches its level.  Returns the number of problems (0 = clean). */
size_t bot_check(const char *root, struct diag *d);

/* Answer one question of 'len' bytes (need not be NUL-terminated).
 * Returns BOT_OK and fills 'out', or a bot_status saying why the question
 * was refused (and then 'out' is untouched). */
enum bot_status bot_answer(
    struct bot *bot, const char *question, size_t len, struct bot_reply *out);

/* A one-line description of a refusal status, e.g. "question too long". */
const char *bot_status_message(enum bot_status status);

/* Render a reply as plain text (guidance, answer, "you might also mean")
 * into 'out', lines separated by '\n'.  Returns 0 or -1 (buffer full). */
int bot_render_text(const struct bot_reply *r, struct buf *out);

/* Render a reply as one JSON Lines object of SPEC §3 (no newline).
 * Returns 0 or -1. */
int bot_render_json(const struct bot_reply *r, struct buf *out);

/* Text for the chat intents used by front ends: "chat.greeting" style ids
 * work too.  Borrowed; NULL when the knowledge base lacks it. */
const char *bot_answer_for(const struct bot *bot, const char *intent);

/* The topic list shown by `help`/`topics`: one "title" per line. */
int bot_render_topics(const struct bot *bot, struct buf *out);

/* The guided doctor check (doctor.h) loaded with this knowledge base. */
const struct doctor *bot_doctor(const struct bot *bot);

/* The triage rules, for rendering a doctor check's result. */
const struct triage *bot_triage(const struct bot *bot);

size_t bot_intent_count(const struct bot *bot);

void bot_free(struct bot *bot); /* NULL is a no-op */

#endif
