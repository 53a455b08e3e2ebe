/* bot.c - the question pipeline: validate, normalise, triage, rank, answer.
 *
 * Loading resolves everything that does not depend on the question (the
 * answer of every intent, the lexicon, compiled patterns), so answering
 * only normalises into a preallocated buffer and runs the matchers.
 * Safety policy lives here, in one place: an emergency withholds every
 * answer, an urgent flag withholds self-care answers, and the triage
 * guidance always leads.
 */
#include "bot.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "diag.h"
#include "doctor.h"
#include "intent.h"
#include "kb.h"
#include "kbcache.h"
#include "lexicon.h"
#include "pattern.h"
#include "prefilter.h"
#include "text.h"

#define RANK_DEPTH                                                             \
	(BOT_MAX_ALTERNATIVES + 2) /* intents ranked per question              \
	                            */
#define ALTERNATIVE_MIN 0.3        /* weakest candidate worth listing */
#define CLOSE_CALL      0.15       /* top two this close: offer the other one */
#define PATH_SIZE       4096

struct bot {
	struct lexicon *lex;
	struct kb *kb;
	struct intent_set *intents;
	struct triage *triage;
	struct doctor *doctor;
	struct rx_env *env;
	struct prefilter *prefilter;
	const struct kb_answer **answer_of; /* per intent index */
	const struct kb_answer *none_answer;
	char *norm; /* TEXT_NORM_SIZE(BOT_MAX_QUESTION_BYTES) bytes */
};

void
bot_free(struct bot *bot)
{
	if (bot == NULL)
		return;
	doctor_free(bot->doctor);
	triage_free(bot->triage);
	intent_free(bot->intents);
	kb_free(bot->kb);
	lexicon_free(bot->lex);
	rx_env_free(bot->env);
	prefilter_free(bot->prefilter);
	free(bot->answer_of);
	free(bot->norm);
	free(bot);
}

static void
join(char *dst, const char *root, const char *rest)
{
	snprintf(dst, PATH_SIZE, "%s/%s", root, rest);
}

/* Link every intent to its answer; report intents without one. */
static size_t
link_answers(struct bot *bot, const char *root, struct diag *d)
{
	size_t i, n = intent_count(bot->intents), problems = 0;

	bot->answer_of = calloc(n + 1, sizeof(*bot->answer_of));
	if (bot->answer_of == NULL) {
		diag_add(d, "out of memory");
		return 1;
	}
	for (i = 0; i < n; i++) {
		const char *id = intent_id(bot->intents, i);

		bot->answer_of[i] = kb_find(bot->kb, id);
		if (bot->answer_of[i] == NULL) {
			diag_add(
			    d, "%s/faq: intent %s has no answer", root, id);
			problems++;
		}
	}
	bot->none_answer = kb_find(bot->kb, INTENT_NONE);
	if (bot->none_answer == NULL) {
		diag_add(d,
		    "%s/faq: no answer for \"%s\" (what to say when "
		    "nothing matches)",
		    root, INTENT_NONE);
		problems++;
	}
	return problems;
}

/* The knowledge base's example utterances, normalised: what the
 * prefilter is tuned on (prefilter_tune()). */
struct samples {
	const struct lexicon *lex;
	char **text;
	size_t *len;
	size_t count, cap;
};

static void
add_sample(const char *example, void *ctx)
{
	struct samples *s = ctx;
	size_t len = strlen(example), size = TEXT_NORM_SIZE(len);
	char *norm;

	if (s->count == s->cap) {
		size_t ncap = s->cap == 0 ? 256 : s->cap * 2;
		char **nt = realloc(s->text, ncap * sizeof(*nt));
		size_t *nl;

		if (nt == NULL)
			return; /* a smaller sample only tunes less */
		s->text = nt;
		nl = realloc(s->len, ncap * sizeof(*nl));
		if (nl == NULL)
			return;
		s->len = nl;
		s->cap = ncap;
	}
	norm = malloc(size);
	if (norm == NULL)
		return;
	s->len[s->count] = text_normalise(example, len, norm, size, s->lex);
	s->text[s->count++] = norm;
}

static void
tune_prefilter(struct bot *bot)
{
	struct samples s = {bot->lex, NULL, NULL, 0, 0};
	size_t i;

	intent_each_example(bot->intents, add_sample, &s);
	triage_each_example(bot->triage, add_sample, &s);
	prefilter_tune(
	    bot->prefilter, (const char *const *)s.text, s.len, s.count);
	for (i = 0; i < s.count; i++)
		free(s.text[i]);
	free(s.text);
	free(s.len);
}

/* Skip the regexes that cannot match: the prefilter, taken from the
 * cache when it holds one for these regexes, else built, tuned and saved
 * there (every regex compiled by now).  Only a speed-up, so a failure is
 * not an error. */
static void
build_prefilter(struct bot *bot, const char *root, const struct kbcache *cache)
{
	const void *saved;
	size_t len;

	bot->prefilter = prefilter_new();
	if (bot->prefilter == NULL)
		return;
	intent_register(bot->intents, bot->prefilter);
	triage_register(bot->triage, bot->prefilter);
	saved = kbcache_automaton(cache, &len);
	if (saved != NULL)
		prefilter_use_saved(bot->prefilter, saved, len);
	if (prefilter_build(bot->prefilter) == -1)
		return;
	if (!prefilter_reused(bot->prefilter)) {
		tune_prefilter(bot);
		(void)kbcache_save(root, bot->prefilter);
	}
	intent_index(bot->intents, bot->prefilter);
	triage_index(bot->triage, bot->prefilter);
	rx_env_use_prefilter(bot->env, bot->prefilter);
}

/* Load the knowledge base at 'root'; with 'use_cache', take what an
 * earlier load worked out from the cache (kbcache.h). */
static struct bot *
load(const char *root, bool use_cache, struct diag *d)
{
	struct bot *bot = calloc(1, sizeof(*bot));
	struct kbcache *cache = NULL;
	char path[PATH_SIZE];
	size_t before = d->count + d->dropped;

	if (bot == NULL) {
		diag_add(d, "out of memory");
		return NULL;
	}
	bot->env = rx_env_new();
	bot->norm = malloc(TEXT_NORM_SIZE(BOT_MAX_QUESTION_BYTES));
	if (bot->env == NULL || bot->norm == NULL) {
		diag_add(d, "out of memory");
		goto fail;
	}
	join(path, root, "intents/lexicon.json");
	bot->lex = lexicon_load(path, d);
	join(path, root, "intents/triage/lexicon.json");
	if (bot->lex != NULL && access(path, F_OK) == 0 &&
	    lexicon_add_file(bot->lex, path, d) == -1) {
		lexicon_free(bot->lex);
		bot->lex = NULL;
	}
	join(path, root, "faq");
	bot->kb = kb_load_dir(path, d);
	if (bot->lex != NULL && use_cache) {
		cache = kbcache_open(root);
		lexicon_use_kbcache(bot->lex, cache);
	}
	if (bot->lex != NULL) {
		/* Patterns need the lexicon's word classes. */
		join(path, root, "intents");
		bot->intents = intent_load_dir(path, bot->lex, d);
		join(path, root, "intents/triage");
		bot->triage = triage_load_dir(path, bot->lex, d);
	}
	join(path, root, "intents/triage/doctor.json");
	bot->doctor = doctor_load(path, d);
	if (bot->kb != NULL && bot->intents != NULL)
		link_answers(bot, root, d);
	if (d->count + d->dropped > before)
		goto fail;
	build_prefilter(bot, root, cache);
	lexicon_use_kbcache(bot->lex, NULL);
	kbcache_free(cache);
	return bot;
fail:
	if (bot->lex != NULL)
		lexicon_use_kbcache(bot->lex, NULL);
	kbcache_free(cache);
	bot_free(bot);
	return NULL;
}

struct bot *
bot_load(const char *root, struct diag *d)
{
	return load(root, true, d);
}

size_t
bot_check(const char *root, struct diag *d)
{
	struct bot *bot;
	size_t problems = 0, i, n;

	/* Every regex is checked again, whatever the cache says. */
	bot = load(root, false, d);
	if (bot == NULL)
		return d->count + d->dropped > 0 ? d->count + d->dropped : 1;
	/* Every answer should be reachable. */
	n = kb_count(bot->kb);
	for (i = 0; i < n; i++) {
		const struct kb_answer *a = kb_at(bot->kb, i);

		if (strcmp(a->intent, INTENT_NONE) != 0 &&
		    intent_find(bot->intents, a->intent) < 0) {
			diag_add(d,
			    "%s: answer for %s, but no intent in "
			    "intents/ has that id",
			    a->file, a->intent);
			problems++;
		}
	}
	problems += intent_check_examples(bot->intents, bot->env, bot->lex, d);
	problems += triage_check_examples(bot->triage, d);
	bot_free(bot);
	return problems;
}

const char *
bot_status_message(enum bot_status status)
{
	switch (status) {
	case BOT_OK:
		return "ok";
	case BOT_EMPTY:
		return "empty question";
	case BOT_TOO_LONG:
		return "question too long (the limit is 16384 bytes)";
	case BOT_BAD_UTF8:
		return "question is not valid UTF-8 text";
	}
	return "unknown status";
}

/* How much of the answer the triage level lets through. */
static void
apply_safety(struct bot_reply *r, const struct kb_answer *a)
{
	r->answer = a != NULL ? a->text : NULL;
	r->withheld = false;
	if (r->triage.level == TRIAGE_EMERGENCY ||
	    (r->triage.level == TRIAGE_URGENT && a != NULL && a->self_care)) {
		r->withheld = r->answer != NULL;
		r->answer = NULL;
	}
}

enum bot_status
bot_answer(
    struct bot *bot, const char *question, size_t len, struct bot_reply *out)
{
	struct intent_score ranked[RANK_DEPTH];
	size_t n, i, normlen;
	const struct kb_answer *a;
	double best;

	if (len > BOT_MAX_QUESTION_BYTES)
		return BOT_TOO_LONG;
	if (!text_valid_utf8(question, len))
		return BOT_BAD_UTF8;
	if (text_is_blank(question, len))
		return BOT_EMPTY;
	normlen = text_normalise(question, len, bot->norm,
	    TEXT_NORM_SIZE(BOT_MAX_QUESTION_BYTES), bot->lex);

	memset(out, 0, sizeof(*out));
	rx_env_begin(bot->env, bot->norm, normlen);
	triage_assess(bot->triage, bot->env, bot->norm, normlen, &out->triage);
	out->guidance = triage_guidance(bot->triage, out->triage.level);

	n = intent_rank(
	    bot->intents, bot->env, bot->norm, normlen, ranked, RANK_DEPTH);
	best = n > 0 ? ranked[0].score : 0;
	if (n > 0 && best >= INTENT_MIN_CONFIDENCE &&
	    strcmp(intent_id(bot->intents, ranked[0].index), INTENT_NONE) !=
	        0) {
		a = bot->answer_of[ranked[0].index];
		out->intent = intent_id(bot->intents, ranked[0].index);
		out->confidence = best;
		i = 1;
	} else {
		a = bot->none_answer;
		out->intent = INTENT_NONE;
		/* Sure it is out of scope when a "none" pattern won, or
		 * when nothing in scope scored at all. */
		out->confidence =
		    n > 0 && best >= INTENT_MIN_CONFIDENCE ? best : 1.0 - best;
		i = n > 0 && best >= INTENT_MIN_CONFIDENCE ? 1 : 0;
	}
	out->title = a != NULL ? a->title : NULL;
	for (; i < n && out->alternative_count < BOT_MAX_ALTERNATIVES; i++) {
		struct bot_alternative *alt;
		const char *id = intent_id(bot->intents, ranked[i].index);

		if (ranked[i].score < ALTERNATIVE_MIN ||
		    strcmp(id, INTENT_NONE) == 0 ||
		    strcmp(id, out->intent) == 0)
			continue;
		alt = &out->alternatives[out->alternative_count++];
		alt->intent = id;
		alt->title = bot->answer_of[ranked[i].index]->title;
		alt->confidence = ranked[i].score;
	}
	if (strcmp(out->intent, INTENT_NONE) == 0 &&
	    out->triage.level > TRIAGE_NONE) {
		/* A symptom report, not an off-topic question: the guidance
		 * is the answer, not "I don't know about that". */
		out->answer = NULL;
		return BOT_OK;
	}
	apply_safety(out, a);
	return BOT_OK;
}

/* True when the runner-up is close enough to offer. */
static bool
close_call(const struct bot_reply *r)
{
	return r->alternative_count > 0 &&
	    strcmp(r->intent, INTENT_NONE) != 0 &&
	    r->confidence - r->alternatives[0].confidence <= CLOSE_CALL;
}

int
bot_render_text(const struct bot_reply *r, struct buf *out)
{
	int rc = 0;

	if (r->guidance != NULL)
		rc |= buf_append_str(out, r->guidance);
	if (r->answer != NULL) {
		if (out->len > 0)
			rc |= buf_append_str(out, "\n\n");
		rc |= buf_append_str(out, r->answer);
	}
	if (r->withheld && r->triage.level < TRIAGE_EMERGENCY)
		rc |= buf_append_str(out,
		    "\n\nI have left out the self-care "
		    "steps for now: please get checked first.");
	if (close_call(r) && r->triage.level < TRIAGE_EMERGENCY)
		rc |= buf_printf(out,
		    "\n\nIf you meant %s instead, just ask "
		    "about that.",
		    r->alternatives[0].title);
	return rc == 0 ? 0 : -1;
}

int
bot_render_json(const struct bot_reply *r, struct buf *out)
{
	struct buf text;
	size_t i;
	int rc = 0;

	buf_init(&text, 65536);
	rc |= bot_render_text(r, &text);
	rc |= buf_append_str(out, "{\"intent\":");
	rc |= buf_append_json_string(out, r->intent);
	rc |=
	    buf_printf(out, ",\"confidence\":%.2f,\"triage\":", r->confidence);
	rc |= buf_append_json_string(out, triage_level_name(r->triage.level));
	rc |= buf_append_str(out, ",\"answer\":");
	rc |= buf_append_json_string(out, buf_str(&text));
	rc |= buf_append_str(out, ",\"alternatives\":[");
	for (i = 0; i < r->alternative_count; i++) {
		rc |= buf_append_str(
		    out, i > 0 ? ",{\"intent\":" : "{\"intent\":");
		rc |= buf_append_json_string(out, r->alternatives[i].intent);
		rc |= buf_printf(out, ",\"confidence\":%.2f}",
		    r->alternatives[i].confidence);
	}
	rc |= buf_append_str(out, "],\"reasons\":[");
	for (i = 0; i < r->triage.reason_count; i++) {
		rc |= buf_append_str(out, i > 0 ? ",{\"id\":" : "{\"id\":");
		rc |= buf_append_json_string(out, r->triage.rule_ids[i]);
		rc |= buf_append_str(out, ",\"level\":");
		rc |= buf_append_json_string(
		    out, triage_level_name(r->triage.levels[i]));
		rc |= buf_append_str(out, ",\"reason\":");
		rc |= buf_append_json_string(out, r->triage.reasons[i]);
		rc |= buf_append_char(out, '}');
	}
	rc |= buf_printf(
	    out, "],\"withheld\":%s}", r->withheld ? "true" : "false");
	buf_free(&text);
	return rc == 0 ? 0 : -1;
}

const char *
bot_answer_for(const struct bot *bot, const char *intent)
{
	const struct kb_answer *a = kb_find(bot->kb, intent);

	return a != NULL ? a->text : NULL;
}

int
bot_render_topics(const struct bot *bot, struct buf *out)
{
	size_t i, n = kb_count(bot->kb);
	int rc = 0;

	rc |= buf_append_str(out, "Things you can ask me about:\n");
	for (i = 0; i < n; i++) {
		const struct kb_answer *a = kb_at(bot->kb, i);

		/* Chat small talk and the fallback are not topics. */
		if (strncmp(a->intent, "chat.", 5) == 0 ||
		    strcmp(a->intent, INTENT_NONE) == 0)
			continue;
		rc |= buf_printf(out, "- %s\n", a->title);
	}
	return rc == 0 ? 0 : -1;
}

const struct doctor *
bot_doctor(const struct bot *bot)
{
	return bot->doctor;
}

const struct triage *
bot_triage(const struct bot *bot)
{
	return bot->triage;
}

size_t
bot_intent_count(const struct bot *bot)
{
	return intent_count(bot->intents);
}
