/* triage.c - red-flag rules, negation scope and the level of a message.
 *
 * A rule fires when one of its patterns matches and every part of that
 * pattern has at least one occurrence that is not discounted.  An
 * occurrence is discounted by a cue (negation, hypothetical, someone
 * else) that ends within the cue's word window before it, with no scope
 * boundary ("but", "and", a full stop...) in between.  Commas end scope
 * too for urgent and emergency rules: "no fever, I wet myself" must not
 * read as a denial of wetting, and when in doubt the higher level wins.
 *
 * Everything is searched with the same compiled-once regexes; assessing a
 * message allocates nothing.
 */
#include "triage.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "candidates.h"
#include "diag.h"
#include "jsonfile.h"
#include "lexicon.h"
#include "pattern.h"
#include "text.h"

#define TRIAGE_LEVELS   5
#define MAX_OCCURRENCES 32 /* occurrences of one part examined per message */
#define WINDOW_SLACK    4  /* words a multi-word cue may itself span */

static const char *const level_names[TRIAGE_LEVELS] = {
    "none", "caution", "routine", "urgent", "emergency"};

struct cue {
	char *kind; /* "negation", "hypothetical", ... */
	struct rx *rx;
	struct rx *stop;   /* ends this cue's scope early; may be NULL */
	struct rx *unless; /* anywhere in the message disables it */
	size_t window;     /* words allowed between cue and symptom */
	enum triage_level max_level; /* cue ignored for rules above this */
};

struct rule {
	char *id;
	char *reason;
	char *file;
	enum triage_level level;
	struct pattern *patterns;
	size_t pattern_count;
	size_t first_pattern; /* number of patterns[0] in the candidates */
	char **examples;      /* must reach 'level' */
	size_t example_count;
	char **nots; /* must stay below 'level' */
	size_t not_count;
};

struct triage {
	struct rule *rules;
	size_t rule_count, rule_cap;
	struct cue *cues;
	size_t cue_count, cue_cap;
	struct rx *scope_end;         /* boundaries for every level */
	struct rx *scope_end_serious; /* extra ones for urgent and above */
	struct rx *clause_break;      /* ends every cue's reach, even inside
	                                 a match */
	char *guidance[TRIAGE_LEVELS];
	struct rx_env *env;
	const struct lexicon *lex;
	struct candidates *candidates; /* NULL: try every pattern */
};

const char *
triage_level_name(enum triage_level level)
{
	return (unsigned)level < TRIAGE_LEVELS ? level_names[level] : "none";
}

int
triage_level_parse(const char *name, enum triage_level *level)
{
	int i;

	for (i = 0; i < TRIAGE_LEVELS; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*level = (enum triage_level)i;
			return 0;
		}
	}
	return -1;
}

static void
free_strings(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
triage_free(struct triage *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->rule_count; i++) {
		struct rule *r = &t->rules[i];
		size_t j;

		for (j = 0; j < r->pattern_count; j++)
			pattern_free(&r->patterns[j]);
		free(r->patterns);
		free_strings(r->examples, r->example_count);
		free_strings(r->nots, r->not_count);
		free(r->id);
		free(r->reason);
		free(r->file);
	}
	free(t->rules);
	for (i = 0; i < t->cue_count; i++) {
		free(t->cues[i].kind);
		rx_free(t->cues[i].rx);
		rx_free(t->cues[i].stop);
		rx_free(t->cues[i].unless);
	}
	free(t->cues);
	rx_free(t->scope_end);
	rx_free(t->scope_end_serious);
	rx_free(t->clause_break);
	for (i = 0; i < TRIAGE_LEVELS; i++)
		free(t->guidance[i]);
	rx_env_free(t->env);
	candidates_free(t->candidates);
	free(t);
}

/* ---------------------------------------------------------------- loading */

struct loader {
	struct triage *t;
	const char *path;
	const char *text;
	struct diag *d;
	int errors;
};

static struct rx *
compile_member(struct loader *ld, const cJSON *obj, const char *key,
    const char *where, int required)
{
	const char *src = jsonfile_string(obj, key);
	char why[256];
	size_t off;
	struct rx *rx;

	if (src == NULL) {
		if (required || cJSON_GetObjectItemCaseSensitive(obj, key)) {
			diag_add(ld->d, "%s: %s.%s: expected a regex string",
			    ld->path, where, key);
			ld->errors++;
		}
		return NULL;
	}
	rx = rx_compile(src, ld->t->lex, why, sizeof(why), &off);
	if (rx == NULL) {
		diag_add_at(ld->d, ld->path, ld->text,
		    jsonfile_offset_of(ld->text, src) + off, "%s.%s: %s", where,
		    key, why);
		ld->errors++;
	}
	return rx;
}

static char **
copy_strings(struct loader *ld, const cJSON *obj, const char *key,
    const char *where, size_t *count)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, key);
	const cJSON *item;
	char **v;

	*count = 0;
	if (arr == NULL)
		return NULL;
	if (!cJSON_IsArray(arr)) {
		diag_add(ld->d, "%s: %s.%s: expected an array of strings",
		    ld->path, where, key);
		ld->errors++;
		return NULL;
	}
	v = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*v));
	if (v == NULL)
		goto nomem;
	cJSON_ArrayForEach(item, arr)
	{
		if (!cJSON_IsString(item)) {
			diag_add(ld->d, "%s: %s.%s[%zu]: expected a string",
			    ld->path, where, key, *count);
			ld->errors++;
			continue;
		}
		v[*count] = strdup(item->valuestring);
		if (v[*count] == NULL)
			goto nomem;
		(*count)++;
	}
	return v;
nomem:
	diag_add(ld->d, "%s: out of memory", ld->path);
	ld->errors++;
	return v;
}

static int
parse_level(struct loader *ld, const cJSON *obj, const char *key,
    const char *where, enum triage_level *level)
{
	const char *name = jsonfile_string(obj, key);

	if (name == NULL || triage_level_parse(name, level) == -1) {
		diag_add(ld->d,
		    "%s: %s.%s: expected one of none, caution, "
		    "routine, urgent, emergency",
		    ld->path, where, key);
		ld->errors++;
		return -1;
	}
	return 0;
}

static void
load_rule(struct loader *ld, const cJSON *node, size_t index)
{
	struct triage *t = ld->t;
	struct rule *r;
	const cJSON *pats, *item, *none;
	const char *id = jsonfile_string(node, "id");
	const char *reason = jsonfile_string(node, "reason");
	char where[128];
	size_t i = 0;

	snprintf(where, sizeof(where), "rules[%zu]", index);
	if (t->rule_count == t->rule_cap) {
		size_t ncap = t->rule_cap == 0 ? 64 : t->rule_cap * 2;
		struct rule *nr = realloc(t->rules, ncap * sizeof(*nr));

		if (nr == NULL) {
			diag_add(ld->d, "%s: out of memory", ld->path);
			ld->errors++;
			return;
		}
		t->rules = nr;
		t->rule_cap = ncap;
	}
	r = &t->rules[t->rule_count++];
	memset(r, 0, sizeof(*r));
	if (id == NULL || reason == NULL) {
		diag_add(ld->d, "%s: %s: needs string \"id\" and \"reason\"",
		    ld->path, where);
		ld->errors++;
		return;
	}
	snprintf(where, sizeof(where), "rule %s", id);
	r->id = strdup(id);
	r->reason = strdup(reason);
	r->file = strdup(ld->path);
	if (r->id == NULL || r->reason == NULL || r->file == NULL) {
		diag_add(ld->d, "%s: out of memory", ld->path);
		ld->errors++;
		return;
	}
	if (parse_level(ld, node, "level", where, &r->level) == 0 &&
	    r->level == TRIAGE_NONE) {
		diag_add(ld->d, "%s: %s: a rule's level cannot be none",
		    ld->path, where);
		ld->errors++;
	}
	pats = cJSON_GetObjectItemCaseSensitive(node, "patterns");
	if (!cJSON_IsArray(pats) || cJSON_GetArraySize(pats) == 0) {
		diag_add_at(ld->d, ld->path, ld->text,
		    jsonfile_offset_of(ld->text, id),
		    "%s: \"patterns\" must be a non-empty array", where);
		ld->errors++;
		return;
	}
	r->patterns =
	    calloc((size_t)cJSON_GetArraySize(pats), sizeof(*r->patterns));
	if (r->patterns == NULL) {
		diag_add(ld->d, "%s: out of memory", ld->path);
		ld->errors++;
		return;
	}
	none = cJSON_GetObjectItemCaseSensitive(node, "none");
	cJSON_ArrayForEach(item, pats)
	{
		char pwhere[160];
		struct pattern_origin o = {ld->path, ld->text, pwhere};

		snprintf(pwhere, sizeof(pwhere), "%s: patterns[%zu]", where, i);
		if (pattern_from_json(
		        &r->patterns[i], item, 1.0, t->lex, &o, ld->d) == -1)
			ld->errors++;
		r->pattern_count = ++i;
		/* The rule's own "none" vetoes every one of its patterns
		 * (reported once if it is wrong). */
		snprintf(pwhere, sizeof(pwhere), "%s", where);
		if (none != NULL &&
		    pattern_add_none(
		        &r->patterns[i - 1], none, t->lex, &o, ld->d) == -1) {
			ld->errors++;
			none = NULL;
		}
	}
	r->examples =
	    copy_strings(ld, node, "examples", where, &r->example_count);
	r->nots = copy_strings(ld, node, "not", where, &r->not_count);
}

static void
load_cue(struct loader *ld, const cJSON *node, size_t index)
{
	struct triage *t = ld->t;
	struct cue *c;
	const cJSON *window;
	const char *kind = jsonfile_string(node, "kind");
	char where[64];

	snprintf(where, sizeof(where), "cues[%zu]", index);
	if (t->cue_count == t->cue_cap) {
		size_t ncap = t->cue_cap == 0 ? 16 : t->cue_cap * 2;
		struct cue *nc = realloc(t->cues, ncap * sizeof(*nc));

		if (nc == NULL) {
			diag_add(ld->d, "%s: out of memory", ld->path);
			ld->errors++;
			return;
		}
		t->cues = nc;
		t->cue_cap = ncap;
	}
	c = &t->cues[t->cue_count++];
	memset(c, 0, sizeof(*c));
	c->max_level = TRIAGE_EMERGENCY;
	c->kind = strdup(kind != NULL ? kind : "cue");
	if (c->kind == NULL) {
		diag_add(ld->d, "%s: out of memory", ld->path);
		ld->errors++;
		return;
	}
	c->rx = compile_member(ld, node, "re", where, 1);
	c->stop = compile_member(ld, node, "stop", where, 0);
	c->unless = compile_member(ld, node, "unless", where, 0);
	window = cJSON_GetObjectItemCaseSensitive(node, "window");
	if (!cJSON_IsNumber(window) || window->valuedouble < 0 ||
	    window->valuedouble > 50) {
		diag_add(ld->d,
		    "%s: %s.window: expected a number of words "
		    "[0..50]",
		    ld->path, where);
		ld->errors++;
	} else {
		c->window = (size_t)window->valuedouble;
	}
	if (cJSON_GetObjectItemCaseSensitive(node, "max_level") != NULL)
		parse_level(ld, node, "max_level", where, &c->max_level);
}

static void
load_guidance(struct loader *ld, const cJSON *obj)
{
	const cJSON *item;

	if (!cJSON_IsObject(obj)) {
		diag_add(ld->d, "%s: guidance: expected an object", ld->path);
		ld->errors++;
		return;
	}
	cJSON_ArrayForEach(item, obj)
	{
		enum triage_level level;

		if (triage_level_parse(item->string, &level) == -1 ||
		    level == TRIAGE_NONE || !cJSON_IsString(item)) {
			diag_add(ld->d,
			    "%s: guidance.%s: expected a level "
			    "name with a string",
			    ld->path, item->string);
			ld->errors++;
			continue;
		}
		free(ld->t->guidance[level]);
		ld->t->guidance[level] = strdup(item->valuestring);
	}
}

static void
load_file(struct triage *t, const char *path, struct diag *d, int *errors)
{
	static const char *const known[] = {"rules", "cues", "guidance",
	    "scope_end", "scope_end_serious", "clause_break", "questions",
	    "answers_yes", "answers_no", "answers_unsure", "result", NULL};
	struct loader ld = {t, path, NULL, d, 0};
	struct buf text;
	cJSON *root;
	const cJSON *item, *node;
	size_t i;

	buf_init(&text, JSONFILE_MAX_BYTES);
	root = jsonfile_parse(path, &text, d);
	if (root == NULL) {
		(*errors)++;
		buf_free(&text);
		return;
	}
	ld.text = buf_str(&text);
	cJSON_ArrayForEach(item, root)
	{
		for (i = 0; known[i] != NULL; i++) {
			if (strcmp(item->string, known[i]) == 0)
				break;
		}
		if (known[i] == NULL) {
			diag_add_at(d, path, ld.text,
			    jsonfile_offset_of(ld.text, item->string),
			    "unknown member \"%s\"", item->string);
			ld.errors++;
		}
	}
	node = cJSON_GetObjectItemCaseSensitive(root, "rules");
	if (node != NULL && !cJSON_IsArray(node)) {
		diag_add(d, "%s: rules: expected an array", path);
		ld.errors++;
	}
	i = 0;
	if (cJSON_IsArray(node)) {
		cJSON_ArrayForEach(item, node) load_rule(&ld, item, i++);
	}
	node = cJSON_GetObjectItemCaseSensitive(root, "cues");
	if (node != NULL && !cJSON_IsArray(node)) {
		diag_add(d, "%s: cues: expected an array", path);
		ld.errors++;
	}
	i = 0;
	if (cJSON_IsArray(node)) {
		cJSON_ArrayForEach(item, node) load_cue(&ld, item, i++);
	}
	node = cJSON_GetObjectItemCaseSensitive(root, "guidance");
	if (node != NULL)
		load_guidance(&ld, node);
	if (cJSON_GetObjectItemCaseSensitive(root, "scope_end") != NULL) {
		rx_free(t->scope_end);
		t->scope_end = compile_member(&ld, root, "scope_end", "", 1);
	}
	if (cJSON_GetObjectItemCaseSensitive(root, "clause_break")) {
		rx_free(t->clause_break);
		t->clause_break =
		    compile_member(&ld, root, "clause_break", "", 1);
	}
	if (cJSON_GetObjectItemCaseSensitive(root, "scope_end_serious")) {
		rx_free(t->scope_end_serious);
		t->scope_end_serious =
		    compile_member(&ld, root, "scope_end_serious", "", 1);
	}
	*errors += ld.errors;
	cJSON_Delete(root);
	buf_free(&text);
}

struct triage *
triage_load_dir(const char *dir, const struct lexicon *lex, struct diag *d)
{
	struct triage *t = calloc(1, sizeof(*t));
	char **paths = NULL;
	long n, i;
	int errors = 0;

	if (t == NULL || (t->env = rx_env_new()) == NULL) {
		diag_add(d, "%s: out of memory", dir);
		triage_free(t);
		return NULL;
	}
	t->lex = lex;
	n = jsonfile_list(dir, &paths, d);
	if (n < 0) {
		triage_free(t);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		const char *base = strrchr(paths[i], '/');

		/* The lexicon is read by the bot before any pattern. */
		if (strcmp(base != NULL ? base + 1 : paths[i],
		        "lexicon.json") != 0)
			load_file(t, paths[i], d, &errors);
	}
	jsonfile_list_free(paths, n);
	if (errors == 0) {
		if (t->rule_count == 0) {
			diag_add(d, "%s: no triage rules found", dir);
			errors++;
		}
		for (i = TRIAGE_CAUTION; i < TRIAGE_LEVELS; i++) {
			if (t->guidance[i] == NULL) {
				diag_add(d, "%s: no guidance text for level %s",
				    dir, level_names[i]);
				errors++;
			}
		}
	}
	if (errors > 0) {
		triage_free(t);
		return NULL;
	}
	return t;
}

/* ------------------------------------------------------------- assessing */

/* Number of words that start in s[from..to). */
static size_t
words_between(const char *s, size_t from, size_t to)
{
	size_t n = 0, i;

	for (i = from; i < to; i++) {
		if (s[i] != ' ' && (i == from || s[i - 1] == ' '))
			n++;
	}
	return n;
}

/* Start of the word 'words' words before 'pos'. */
static size_t
back_words(const char *s, size_t pos, size_t words)
{
	while (pos > 0 && words > 0) {
		pos--;
		while (pos > 0 && s[pos - 1] != ' ')
			pos--;
		words--;
	}
	return pos;
}

/* True when 'rx' (may be NULL) has a match starting inside s[from..to). */
static bool
found_between(struct rx *rx, struct rx_env *env, const char *s, size_t len,
    size_t from, size_t to)
{
	const struct rx_span *sp;
	size_t a, b;
	long n, i;

	if (rx == NULL || from >= to)
		return false;
	n = rx_spans(rx, env, s, len, &sp);
	if (n < 0)
		return rx_find(rx, env, s, len, from, &a, &b) == 1 && a < to;
	for (i = 0; i < n && sp[i].start < to; i++) {
		if (sp[i].start >= from)
			return true;
	}
	return false;
}

/* Does cue 'c', ending at 'b', reach the occurrence starting at 'pos'? */
static bool
cue_reaches(const struct triage *t, const struct cue *c, struct rx_env *env,
    enum triage_level level, const char *s, size_t len, size_t b, size_t pos)
{
	if (words_between(s, b, pos) > c->window)
		return false;
	if (found_between(t->scope_end, env, s, len, b, pos))
		return false;
	if (level >= TRIAGE_URGENT &&
	    found_between(t->scope_end_serious, env, s, len, b, pos))
		return false;
	if (found_between(c->stop, env, s, len, b, pos))
		return false;
	return !found_between(c->unless, env, s, len, 0, len);
}

/* Does a cue reach the occurrence starting at 'pos'?  The cues' matches
 * are found once per message (rx_spans) and only compared here. */
static bool
discounted(const struct triage *t, struct rx_env *env, enum triage_level level,
    const char *s, size_t len, size_t pos)
{
	size_t i;

	for (i = 0; i < t->cue_count; i++) {
		const struct cue *c = &t->cues[i];
		size_t from = back_words(s, pos, c->window + WINDOW_SLACK);
		const struct rx_span *sp;
		size_t a, b;
		long n, k;

		if (c->rx == NULL || level > c->max_level)
			continue;
		n = rx_spans(c->rx, env, s, len, &sp);
		for (k = 0; k < n && sp[k].end <= pos; k++) {
			if (sp[k].start >= from &&
			    cue_reaches(
			        t, c, env, level, s, len, sp[k].end, pos))
				return true;
		}
		if (n >= 0)
			continue;
		/* Too many matches to remember: search directly. */
		for (k = 0; k < MAX_OCCURRENCES &&
		     rx_find(c->rx, env, s, len, from, &a, &b) == 1 && b <= pos;
		     k++) {
			from = b > a ? b : a + 1;
			if (cue_reaches(t, c, env, level, s, len, b, pos))
				return true;
		}
	}
	return false;
}

/* Does regex 'rx' have an occurrence that no cue discounts? */
static bool
has_live_occurrence(const struct triage *t, struct rx_env *env, struct rx *rx,
    enum triage_level level, const char *s, size_t len)
{
	size_t from = 0, a, b;
	int n, rc;

	for (n = 0; n < MAX_OCCURRENCES; n++) {
		rc = rx_find(rx, env, s, len, from, &a, &b);
		if (rc == -1)
			return true; /* cannot tell: assume the worst */
		if (rc == 0)
			return false;
		/* A match that runs across a clause break ("legs ... but
		 * both of them are numb") has a part that no cue before it
		 * reaches: it counts. */
		if (found_between(t->clause_break, env, s, len, a + 1, b))
			return true;
		if (!discounted(t, env, level, s, len, a))
			return true;
		from = b > a ? b : a + 1;
	}
	return true; /* too many to examine: assume the worst */
}

/* Does pattern 'p' of rule 'r' fire: possible, every regex it needs
 * found where no cue discounts it, and none of those it must not have? */
static bool
pattern_fires(const struct triage *t, struct rx_env *env, const struct rule *r,
    const struct pattern *p, const char *s, size_t len)
{
	size_t j;

	if (!pattern_possible(p, env, s))
		return false;
	for (j = 0; j < p->all_count; j++) {
		if (!has_live_occurrence(t, env, p->all[j], r->level, s, len))
			return false;
	}
	return pattern_none_clear(p, env, s, len);
}

/* Rule 'r' fired: raise the level, and keep its reason among the most
 * serious ones, sorted; when full, a new reason replaces the last one
 * only if it is more serious. */
static void
add_reason(struct triage_result *out, const struct rule *r)
{
	size_t j;

	if (r->level > out->level)
		out->level = r->level;
	if (out->reason_count == TRIAGE_MAX_REASONS) {
		if (r->level <= out->levels[TRIAGE_MAX_REASONS - 1])
			return;
		j = TRIAGE_MAX_REASONS - 1;
	} else {
		j = out->reason_count++;
	}
	while (j > 0 && out->levels[j - 1] < r->level) {
		out->rule_ids[j] = out->rule_ids[j - 1];
		out->reasons[j] = out->reasons[j - 1];
		out->levels[j] = out->levels[j - 1];
		j--;
	}
	out->rule_ids[j] = r->id;
	out->reasons[j] = r->reason;
	out->levels[j] = r->level;
}

void
triage_assess(struct triage *t, struct rx_env *env, const char *norm,
    size_t len, struct triage_result *out)
{
	const struct candidates *cand = t->candidates;
	const uint32_t *ids;
	size_t i, j, k, listed;

	if (env == NULL) {
		env = t->env;
		rx_env_begin(env, norm, len);
	}
	memset(out, 0, sizeof(*out));
	if (cand == NULL ||
	    !candidates_select(t->candidates, rx_env_scanned(env, norm, len))) {
		/* No selection: every pattern of every rule is tried. */
		for (i = 0; i < t->rule_count; i++) {
			const struct rule *r = &t->rules[i];

			for (j = 0; j < r->pattern_count; j++) {
				if (pattern_fires(t, env, r, &r->patterns[j],
				        norm, len)) {
					add_reason(out, r);
					break;
				}
			}
		}
		return;
	}
	/* The candidates in order: a rule's patterns are neighbours (rules
	 * are the candidates' groups, see triage_index()), and a rule fires
	 * at its first pattern that does. */
	listed = candidates_list(cand, &ids);
	for (k = 0; k < listed;) {
		const struct rule *r;
		bool fired = false;

		i = candidates_group(cand, ids[k]);
		if (i >= t->rule_count) { /* cannot happen: all are in groups */
			k++;
			continue;
		}
		r = &t->rules[i];
		for (; k < listed && candidates_group(cand, ids[k]) == i; k++) {
			if (!fired &&
			    pattern_fires(t, env, r,
			        &r->patterns[ids[k] - r->first_pattern], norm,
			        len))
				fired = true;
		}
		if (fired)
			add_reason(out, r);
	}
}

void
triage_each_example(const struct triage *t,
    void (*fn)(const char *example, void *ctx), void *ctx)
{
	size_t i, j;

	for (i = 0; i < t->rule_count; i++) {
		for (j = 0; j < t->rules[i].example_count; j++)
			fn(t->rules[i].examples[j], ctx);
		for (j = 0; j < t->rules[i].not_count; j++)
			fn(t->rules[i].nots[j], ctx);
	}
}

void
triage_register(struct triage *t, struct prefilter *pf)
{
	size_t i, j;

	for (i = 0; i < t->rule_count; i++) {
		for (j = 0; j < t->rules[i].pattern_count; j++)
			pattern_register(&t->rules[i].patterns[j], pf);
	}
	for (i = 0; i < t->cue_count; i++) {
		rx_register(t->cues[i].rx, pf);
		rx_register(t->cues[i].stop, pf);
		rx_register(t->cues[i].unless, pf);
	}
	rx_register(t->scope_end, pf);
	rx_register(t->scope_end_serious, pf);
	rx_register(t->clause_break, pf);
}

void
triage_index(struct triage *t, const struct prefilter *pf)
{
	size_t i;

	/* Without the index every pattern is tried: slower, same answers. */
	candidates_free(t->candidates);
	t->candidates = candidates_new();
	for (i = 0; i < t->rule_count && t->candidates != NULL; i++) {
		struct rule *r = &t->rules[i];

		if (candidates_add_group(t->candidates, r->patterns,
		        r->pattern_count, pf, &r->first_pattern) == -1) {
			candidates_free(t->candidates);
			t->candidates = NULL;
		}
	}
}

const char *
triage_guidance(const struct triage *t, enum triage_level level)
{
	return level > TRIAGE_NONE && level < TRIAGE_LEVELS ? t->guidance[level]
	                                                    : NULL;
}

size_t
triage_rule_count(const struct triage *t)
{
	return t->rule_count;
}

/* Run one example through the whole pipeline and compare with 'want'. */
static size_t
check_one(struct triage *t, const struct rule *r, const char *ex, bool reach,
    char *norm, size_t normsize, struct diag *d)
{
	struct triage_result res;
	size_t len = strlen(ex);

	if (TEXT_NORM_SIZE(len) > normsize) {
		diag_add(d, "%s: rule %s: example too long: \"%.40s...\"",
		    r->file, r->id, ex);
		return 1;
	}
	len = text_normalise(ex, len, norm, normsize, t->lex);
	triage_assess(t, NULL, norm, len, &res);
	if (reach && res.level < r->level) {
		diag_add(d,
		    "%s: rule %s: example \"%s\" gives %s, expected "
		    "%s",
		    r->file, r->id, ex, level_names[res.level],
		    level_names[r->level]);
		return 1;
	}
	if (!reach && res.level >= r->level) {
		diag_add(d,
		    "%s: rule %s: counter-example \"%s\" gives %s "
		    "(via %s), expected below %s",
		    r->file, r->id, ex, level_names[res.level],
		    res.reason_count > 0 ? res.rule_ids[0] : "?",
		    level_names[r->level]);
		return 1;
	}
	return 0;
}

size_t
triage_check_examples(struct triage *t, struct diag *d)
{
	char norm[TEXT_NORM_SIZE(2048)];
	size_t i, j, failures = 0;

	for (i = 0; i < t->rule_count; i++) {
		const struct rule *r = &t->rules[i];

		for (j = 0; j < r->example_count; j++)
			failures += check_one(
			    t, r, r->examples[j], true, norm, sizeof(norm), d);
		for (j = 0; j < r->not_count; j++)
			failures += check_one(
			    t, r, r->nots[j], false, norm, sizeof(norm), d);
	}
	return failures;
}
