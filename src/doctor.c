/* doctor.c - the guided red-flag check, one question at a time.
 *
 * Questions, the words that count as yes / no / not sure, and the text
 * for "no red flags" are data in intents/triage/doctor.json.  The session
 * is plain data owned by the caller, so any front end can keep as many as
 * it needs and nothing here remembers a conversation.
 */
#include "doctor.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "jsonfile.h"
#include "pattern.h"
#include "text.h"

#define DOCTOR_MAX_REPLY 512 /* bytes of a yes/no reply looked at */

struct question {
	char *id;
	char *ask;               /* what the person is asked */
	char *summary;           /* short form for the clinician summary */
	enum triage_level level; /* what "yes" means */
};

struct doctor {
	struct question q[DOCTOR_MAX_QUESTIONS];
	size_t count;
	struct rx *yes, *no, *unsure;
	char *all_clear; /* advice when nothing was flagged */
	struct rx_env *env;
};

void
doctor_free(struct doctor *doc)
{
	size_t i;

	if (doc == NULL)
		return;
	for (i = 0; i < doc->count; i++) {
		free(doc->q[i].id);
		free(doc->q[i].ask);
		free(doc->q[i].summary);
	}
	rx_free(doc->yes);
	rx_free(doc->no);
	rx_free(doc->unsure);
	free(doc->all_clear);
	rx_env_free(doc->env);
	free(doc);
}

static struct rx *
compile_answer(const cJSON *root, const char *key, const char *path,
    const char *text, struct diag *d)
{
	const char *src = jsonfile_string(root, key);
	char why[256];
	size_t off;
	struct rx *rx;

	if (src == NULL) {
		diag_add(d, "%s: %s: expected a regex string", path, key);
		return NULL;
	}
	rx = rx_compile(src, NULL, why, sizeof(why), &off);
	if (rx == NULL)
		diag_add_at(d, path, text, jsonfile_offset_of(text, src) + off,
		    "%s: %s", key, why);
	return rx;
}

static int
load_question(struct question *q, const cJSON *node, size_t i, const char *path,
    struct diag *d)
{
	const char *id = jsonfile_string(node, "id");
	const char *ask = jsonfile_string(node, "ask");
	const char *summary = jsonfile_string(node, "summary");
	const char *level = jsonfile_string(node, "level");

	if (id == NULL || ask == NULL || summary == NULL || level == NULL) {
		diag_add(d,
		    "%s: questions[%zu]: needs string \"id\", \"ask\", "
		    "\"summary\" and \"level\"",
		    path, i);
		return -1;
	}
	if (triage_level_parse(level, &q->level) == -1 ||
	    q->level == TRIAGE_NONE) {
		diag_add(d,
		    "%s: questions[%zu].level: expected caution, "
		    "routine, urgent or emergency",
		    path, i);
		return -1;
	}
	q->id = strdup(id);
	q->ask = strdup(ask);
	q->summary = strdup(summary);
	if (q->id == NULL || q->ask == NULL || q->summary == NULL) {
		diag_add(d, "%s: out of memory", path);
		return -1;
	}
	return 0;
}

struct doctor *
doctor_load(const char *path, struct diag *d)
{
	struct doctor *doc = NULL;
	struct buf text;
	cJSON *root;
	const cJSON *qs, *node;
	const char *all_clear;
	int errors = 0;

	buf_init(&text, JSONFILE_MAX_BYTES);
	root = jsonfile_parse(path, &text, d);
	if (root == NULL)
		goto out;
	doc = calloc(1, sizeof(*doc));
	if (doc == NULL || (doc->env = rx_env_new()) == NULL) {
		diag_add(d, "%s: out of memory", path);
		errors++;
		goto out;
	}
	qs = cJSON_GetObjectItemCaseSensitive(root, "questions");
	if (!cJSON_IsArray(qs) || cJSON_GetArraySize(qs) == 0 ||
	    cJSON_GetArraySize(qs) > DOCTOR_MAX_QUESTIONS) {
		diag_add(d,
		    "%s: questions: expected an array of 1 to %d "
		    "questions",
		    path, DOCTOR_MAX_QUESTIONS);
		errors++;
		goto out;
	}
	cJSON_ArrayForEach(node, qs)
	{
		if (load_question(
		        &doc->q[doc->count], node, doc->count, path, d) == -1)
			errors++;
		doc->count++;
	}
	doc->yes = compile_answer(root, "answers_yes", path, buf_str(&text), d);
	doc->no = compile_answer(root, "answers_no", path, buf_str(&text), d);
	doc->unsure =
	    compile_answer(root, "answers_unsure", path, buf_str(&text), d);
	if (doc->yes == NULL || doc->no == NULL || doc->unsure == NULL)
		errors++;
	node = cJSON_GetObjectItemCaseSensitive(root, "result");
	all_clear = jsonfile_string(node, "none");
	if (all_clear == NULL) {
		diag_add(d,
		    "%s: result.none: expected the advice for no red "
		    "flags",
		    path);
		errors++;
	} else {
		doc->all_clear = strdup(all_clear);
	}
out:
	cJSON_Delete(root);
	buf_free(&text);
	if (errors > 0) {
		doctor_free(doc);
		doc = NULL;
	}
	return doc;
}

size_t
doctor_question_count(const struct doctor *doc)
{
	return doc->count;
}

void
doctor_begin(struct doctor_session *s)
{
	memset(s, 0, sizeof(*s));
}

const char *
doctor_question(const struct doctor *doc, const struct doctor_session *s)
{
	if (s->done || s->next >= doc->count)
		return NULL;
	return doc->q[s->next].ask;
}

bool
doctor_done(const struct doctor_session *s)
{
	return s->done;
}

static bool
matches(const struct doctor *doc, struct rx *rx, const char *norm, size_t len)
{
	size_t a, b;

	return rx_find(rx, doc->env, norm, len, 0, &a, &b) == 1;
}

int
doctor_reply(
    const struct doctor *doc, struct doctor_session *s, const char *text)
{
	char norm[TEXT_NORM_SIZE(DOCTOR_MAX_REPLY)];
	size_t len = strlen(text);
	const struct question *q;
	enum doctor_answer a;

	if (s->done || s->next >= doc->count)
		return -1;
	if (len > DOCTOR_MAX_REPLY)
		len = DOCTOR_MAX_REPLY;
	len = text_normalise(text, len, norm, sizeof(norm), NULL);
	/* "not sure" before "no": it contains a "no"-like word. */
	if (matches(doc, doc->unsure, norm, len))
		a = DOCTOR_NOT_SURE;
	else if (matches(doc, doc->no, norm, len))
		a = DOCTOR_NO;
	else if (matches(doc, doc->yes, norm, len))
		a = DOCTOR_YES;
	else
		return -1;
	q = &doc->q[s->next];
	s->answers[s->next] = (unsigned char)a;
	if (a == DOCTOR_YES ||
	    (a == DOCTOR_NOT_SURE && q->level == TRIAGE_EMERGENCY)) {
		if (q->level > s->level)
			s->level = q->level;
	}
	s->next++;
	if (s->level == TRIAGE_EMERGENCY || s->next >= doc->count)
		s->done = true;
	return 0;
}

static const char *
answer_word(unsigned char a)
{
	switch (a) {
	case DOCTOR_YES:
		return "yes";
	case DOCTOR_NO:
		return "no";
	case DOCTOR_NOT_SURE:
		return "not sure";
	default:
		return "not asked";
	}
}

int
doctor_render_result(const struct doctor *doc, const struct doctor_session *s,
    const struct triage *t, struct buf *out)
{
	const char *advice = triage_guidance(t, s->level);
	size_t i;
	int rc = 0;

	rc |= buf_printf(out, "Result: %s\n%s\n\n",
	    s->level == TRIAGE_NONE ? "no red flags"
	                            : triage_level_name(s->level),
	    advice != NULL ? advice : doc->all_clear);
	rc |= buf_append_str(out,
	    "What you told me (you can show this to a "
	    "doctor, nurse or physiotherapist):\n");
	for (i = 0; i < doc->count; i++) {
		if (s->answers[i] == DOCTOR_UNASKED)
			continue;
		rc |= buf_printf(out, "- %s: %s\n", doc->q[i].summary,
		    answer_word(s->answers[i]));
	}
	return rc == 0 ? 0 : -1;
}

int
doctor_render_json(const struct doctor *doc, const struct doctor_session *s,
    const struct triage *t, struct buf *out)
{
	const char *advice = triage_guidance(t, s->level);
	size_t i;
	int rc = 0, first = 1;

	rc |= buf_append_str(out, "{\"triage\":");
	rc |= buf_append_json_string(out, triage_level_name(s->level));
	rc |= buf_append_str(out, ",\"advice\":");
	rc |= buf_append_json_string(
	    out, advice != NULL ? advice : doc->all_clear);
	rc |= buf_append_str(out, ",\"answers\":[");
	for (i = 0; i < doc->count; i++) {
		if (s->answers[i] == DOCTOR_UNASKED)
			continue;
		rc |= buf_append_str(out, first ? "{\"id\":" : ",{\"id\":");
		first = 0;
		rc |= buf_append_json_string(out, doc->q[i].id);
		rc |= buf_append_str(out, ",\"question\":");
		rc |= buf_append_json_string(out, doc->q[i].summary);
		rc |= buf_append_str(out, ",\"answer\":");
		rc |= buf_append_json_string(out, answer_word(s->answers[i]));
		rc |= buf_append_char(out, '}');
	}
	rc |= buf_append_str(out, "]}");
	return rc == 0 ? 0 : -1;
}
