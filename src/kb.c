/* kb.c - loading FAQ answers.
 *
 * Strings are copied out of cJSON into one struct per answer; lookups are
 * linear, which is fine because the bot resolves each intent's answer
 * once at load time, not per question.
 */
#include "kb.h"

#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "jsonfile.h"

struct kb {
	struct kb_answer *items;
	size_t count;
	size_t cap;
};

static void
answer_clear(struct kb_answer *a)
{
	free(a->intent);
	free(a->title);
	free(a->source);
	free(a->text);
	free(a->file);
}

void
kb_free(struct kb *kb)
{
	size_t i;

	if (kb == NULL)
		return;
	for (i = 0; i < kb->count; i++)
		answer_clear(&kb->items[i]);
	free(kb->items);
	free(kb);
}

/* A required, non-empty string member copied to *dst. */
static int
copy_member(char **dst, const cJSON *node, const char *key, const char *path,
    size_t index, struct diag *d)
{
	const char *s = jsonfile_string(node, key);

	if (s == NULL || s[0] == '\0') {
		diag_add(d, "%s: answers[%zu].%s: expected a non-empty string",
		    path, index, key);
		return 1;
	}
	*dst = strdup(s);
	if (*dst == NULL) {
		diag_add(d, "%s: out of memory", path);
		return 1;
	}
	return 0;
}

static int
load_answer(struct kb_answer *a, const cJSON *node, size_t index,
    const char *path, struct diag *d)
{
	char *intent = NULL, *title = NULL, *source = NULL, *text = NULL;
	const cJSON *self_care;
	int errors = 0;

	memset(a, 0, sizeof(*a));
	if (!cJSON_IsObject(node)) {
		diag_add(
		    d, "%s: answers[%zu]: expected an object", path, index);
		return 1;
	}
	errors += copy_member(&intent, node, "intent", path, index, d);
	errors += copy_member(&title, node, "title", path, index, d);
	errors += copy_member(&source, node, "source", path, index, d);
	errors += copy_member(&text, node, "answer", path, index, d);
	self_care = cJSON_GetObjectItemCaseSensitive(node, "self_care");
	if (self_care != NULL && !cJSON_IsBool(self_care)) {
		diag_add(d,
		    "%s: answers[%zu].self_care: expected true or false", path,
		    index);
		errors++;
	}
	a->intent = intent;
	a->title = title;
	a->source = source;
	a->text = text;
	a->self_care = cJSON_IsTrue(self_care);
	a->file = strdup(path);
	if (a->file == NULL) {
		diag_add(d, "%s: out of memory", path);
		errors++;
	}
	return errors;
}

/* jsonfile_each() callback: one element of "answers". */
static int
add_answer(void *ctx, const cJSON *node, size_t index, const char *path,
    const char *text, struct diag *d)
{
	struct kb *kb = ctx;
	struct kb_answer *a;
	size_t i;
	int errors;

	if (kb->count == kb->cap) {
		size_t ncap = kb->cap == 0 ? 64 : kb->cap * 2;
		struct kb_answer *na = realloc(kb->items, ncap * sizeof(*na));

		if (na == NULL) {
			diag_add(d, "%s: out of memory", path);
			return -1;
		}
		kb->items = na;
		kb->cap = ncap;
	}
	a = &kb->items[kb->count++];
	errors = load_answer(a, node, index, path, d);
	if (a->intent == NULL)
		return errors;
	for (i = 0; i + 1 < kb->count; i++) {
		if (strcmp(kb->items[i].intent, a->intent) == 0) {
			diag_add_at(d, path, text,
			    jsonfile_offset_of(text, a->intent),
			    "intent %s has two answers", a->intent);
			return errors + 1;
		}
	}
	return errors;
}

struct kb *
kb_load_dir(const char *dir, struct diag *d)
{
	struct kb *kb = calloc(1, sizeof(*kb));
	char **paths = NULL;
	long n, i;
	int errors = 0;

	if (kb == NULL) {
		diag_add(d, "%s: out of memory", dir);
		return NULL;
	}
	n = jsonfile_list(dir, &paths, d);
	if (n < 0) {
		kb_free(kb);
		return NULL;
	}
	for (i = 0; i < n; i++)
		errors += jsonfile_each(paths[i], "answers", add_answer, kb, d);
	jsonfile_list_free(paths, n);
	if (errors == 0 && kb->count == 0) {
		diag_add(d,
		    "%s: no answers found (expected *.json files with "
		    "an \"answers\" array)",
		    dir);
		errors++;
	}
	if (errors > 0) {
		kb_free(kb);
		return NULL;
	}
	return kb;
}

const struct kb_answer *
kb_find(const struct kb *kb, const char *intent)
{
	size_t len = strlen(intent), i;

	while (len > 0) {
		for (i = 0; i < kb->count; i++) {
			const char *id = kb->items[i].intent;

			if (strlen(id) == len && strncmp(id, intent, len) == 0)
				return &kb->items[i];
		}
		while (len > 0 && intent[len - 1] != '.')
			len--;
		if (len > 0)
			len--; /* drop the dot */
	}
	return NULL;
}

size_t
kb_count(const struct kb *kb)
{
	return kb->count;
}

const struct kb_answer *
kb_at(const struct kb *kb, size_t index)
{
	return index < kb->count ? &kb->items[index] : NULL;
}
