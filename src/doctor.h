/* doctor.h - the guided "should I see a doctor?" check.
 *
 * The questions are data (intents/triage/doctor.json): each asks about one
 * TRIAGE.md red flag in plain words and carries the level a "yes" means.
 * A session is a small value the caller keeps (the terminal keeps one, the
 * Matrix bot one per user and room): ask doctor_question(), feed the
 * person's reply to doctor_reply(), until doctor_done().  The check stops at
 * the first emergency answer; "not sure" counts as yes for emergency
 * questions.
 */
#ifndef BACKBOT_DOCTOR_H
#define BACKBOT_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "triage.h"

struct buf;
struct diag;
struct doctor;

#define DOCTOR_MAX_QUESTIONS 32

enum doctor_answer {
	DOCTOR_UNASKED = 0,
	DOCTOR_YES,
	DOCTOR_NO,
	DOCTOR_NOT_SURE
};

struct doctor_session {
	size_t next;             /* index of the question to ask */
	enum triage_level level; /* highest level so far */
	bool done;               /* no more questions */
	unsigned char answers[DOCTOR_MAX_QUESTIONS]; /* enum doctor_answer */
};

/* Load the question file 'path'.  NULL with 'd' filled on error. */
struct doctor *doctor_load(const char *path, struct diag *d);

void doctor_free(struct doctor *doc); /* NULL is a no-op */

size_t doctor_question_count(const struct doctor *doc);

/* Start (or restart) a session. */
void doctor_begin(struct doctor_session *s);

/* The question to ask now; NULL when the session is done. */
const char *doctor_question(
    const struct doctor *doc, const struct doctor_session *s);

/* Parse a yes/no/not sure reply ("y", "yeah", "nope", "dunno", ...).
 * Returns -1, leaving 's' unchanged, when the reply is none of them. */
int doctor_reply(
    const struct doctor *doc, struct doctor_session *s, const char *text);

bool doctor_done(const struct doctor_session *s);

/* The outcome: level, what to do now, and a summary of the answers that
 * the person can show a clinician.  Returns 0 or -1 (buffer full). */
int doctor_render_result(const struct doctor *doc,
    const struct doctor_session *s, const struct triage *t, struct buf *out);

/* The outcome as one JSON object (no newline). */
int doctor_render_json(const struct doctor *doc, const struct doctor_session *s,
    const struct triage *t, struct buf *out);

#endif
