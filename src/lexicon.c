/* lexicon.c - word-class macros and the spelling map.
 *
 * Both are small string->string tables kept in one open-addressing hash
 * table each (FNV-1a, power-of-two size, at most half full), so respelling
 * a word costs one hash and usually one comparison.  The strings are
 * copied out of cJSON; nothing here keeps a cJSON node.
 */
#include "lexicon.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "jsonfile.h"
#include "text.h"

#define MACRO_MAX_DEPTH 4 /* {a} may use {b}, which may use {c}, ... */

struct entry {
	char *key; /* NULL = empty slot */
	size_t keylen;
	char *value;
};

struct table {
	struct entry *slots;
	size_t size; /* power of two, or 0 */
	size_t used;
};

struct cache_entry {
	const char *key;
	void *value;
	void (*release)(void *);
	char *own_key; /* the key when it is a copy, freed with the entry */
};

struct cache {
	struct cache_entry *slots;
	size_t size; /* power of two, or 0 */
	size_t used;
};

struct lexicon {
	struct table macros;
	struct table spelling;
	struct cache *cache;           /* see lexicon_cache_add() */
	const struct kbcache *kbcache; /* see lexicon_use_kbcache() */
};

static const struct entry *
table_find(const struct table *t, const char *key, size_t len)
{
	size_t i;

	if (t->size == 0)
		return NULL;
	for (i = text_hash(key, len) & (t->size - 1); t->slots[i].key != NULL;
	     i = (i + 1) & (t->size - 1)) {
		if (t->slots[i].keylen == len &&
		    memcmp(t->slots[i].key, key, len) == 0)
			return &t->slots[i];
	}
	return NULL;
}

/* Insert a copy of key/value; a repeated key keeps its first value.
 * Returns 0, 1 when the key was already there, -1 out of memory. */
static int
table_put(struct table *t, const char *key, const char *value)
{
	size_t len = strlen(key), i;

	if (table_find(t, key, len) != NULL)
		return 1;
	if ((t->used + 1) * 2 > t->size) {
		size_t nsize = t->size == 0 ? 64 : t->size * 2, j;
		struct entry *ns = calloc(nsize, sizeof(*ns));

		if (ns == NULL)
			return -1;
		for (j = 0; j < t->size; j++) {
			struct entry *e = &t->slots[j];

			if (e->key == NULL)
				continue;
			i = text_hash(e->key, e->keylen) & (nsize - 1);
			while (ns[i].key != NULL)
				i = (i + 1) & (nsize - 1);
			ns[i] = *e;
		}
		free(t->slots);
		t->slots = ns;
		t->size = nsize;
	}
	i = text_hash(key, len) & (t->size - 1);
	while (t->slots[i].key != NULL)
		i = (i + 1) & (t->size - 1);
	t->slots[i].key = strdup(key);
	t->slots[i].value = strdup(value);
	if (t->slots[i].key == NULL || t->slots[i].value == NULL) {
		free(t->slots[i].key);
		free(t->slots[i].value);
		t->slots[i].key = NULL;
		return -1;
	}
	t->slots[i].keylen = len;
	t->used++;
	return 0;
}

static void
table_free(struct table *t)
{
	size_t i;

	for (i = 0; i < t->size; i++) {
		free(t->slots[i].key);
		free(t->slots[i].value);
	}
	free(t->slots);
}

struct lexicon *
lexicon_new_empty(void)
{
	struct lexicon *lex = calloc(1, sizeof(*lex));

	if (lex == NULL)
		return NULL;
	lex->cache = calloc(1, sizeof(*lex->cache));
	if (lex->cache == NULL) {
		free(lex);
		return NULL;
	}
	return lex;
}

void *
lexicon_cache_find(const struct lexicon *lex, const char *key)
{
	const struct cache *c = lex->cache;
	size_t i;

	if (c->size == 0)
		return NULL;
	for (i = text_hash(key, strlen(key)) & (c->size - 1); c->slots[i].key;
	     i = (i + 1) & (c->size - 1)) {
		if (strcmp(c->slots[i].key, key) == 0)
			return c->slots[i].value;
	}
	return NULL;
}

int
lexicon_cache_add(const struct lexicon *lex, const char *key, void *value,
    void (*release)(void *), bool copy_key)
{
	struct cache *c = lex->cache;
	size_t i;

	if ((c->used + 1) * 2 > c->size) {
		size_t nsize = c->size == 0 ? 256 : c->size * 2, j;
		struct cache_entry *ns = calloc(nsize, sizeof(*ns));

		if (ns == NULL)
			return -1;
		for (j = 0; j < c->size; j++) {
			if (c->slots[j].key == NULL)
				continue;
			i = text_hash(
			        c->slots[j].key, strlen(c->slots[j].key)) &
			    (nsize - 1);
			while (ns[i].key != NULL)
				i = (i + 1) & (nsize - 1);
			ns[i] = c->slots[j];
		}
		free(c->slots);
		c->slots = ns;
		c->size = nsize;
	}
	i = text_hash(key, strlen(key)) & (c->size - 1);
	while (c->slots[i].key != NULL)
		i = (i + 1) & (c->size - 1);
	c->slots[i].own_key = copy_key ? strdup(key) : NULL;
	if (copy_key && c->slots[i].own_key == NULL)
		return -1;
	c->slots[i].key = copy_key ? c->slots[i].own_key : key;
	c->slots[i].value = value;
	c->slots[i].release = release;
	c->used++;
	return 0;
}

/* Copy the string members of object 'name' in 'root' into 't'. */
static int
load_table(struct table *t, const cJSON *root, const char *name,
    const char *path, const char *text, struct diag *d)
{
	const cJSON *obj = cJSON_GetObjectItemCaseSensitive(root, name);
	const cJSON *item;
	int errors = 0;

	if (obj == NULL)
		return 0;
	if (!cJSON_IsObject(obj)) {
		diag_add(d, "%s: %s: expected an object", path, name);
		return 1;
	}
	cJSON_ArrayForEach(item, obj)
	{
		int rc;

		if (!cJSON_IsString(item)) {
			diag_add(d, "%s: %s.%s: expected a string", path, name,
			    item->string);
			errors++;
			continue;
		}
		rc = table_put(t, item->string, item->valuestring);
		if (rc == -1) {
			diag_add(d, "%s: out of memory", path);
			return errors + 1;
		}
		if (rc == 1) {
			diag_add_at(d, path, text,
			    jsonfile_offset_of(text, item->string),
			    "%s: \"%s\" defined twice", name, item->string);
			errors++;
		}
	}
	return errors;
}

int
lexicon_add_file(struct lexicon *lex, const char *path, struct diag *d)
{
	struct buf text;
	cJSON *root;
	int errors = 1;

	buf_init(&text, JSONFILE_MAX_BYTES);
	root = jsonfile_parse(path, &text, d);
	if (root != NULL) {
		errors = load_table(
		    &lex->macros, root, "words", path, buf_str(&text), d);
		errors += load_table(
		    &lex->spelling, root, "spelling", path, buf_str(&text), d);
	}
	cJSON_Delete(root);
	buf_free(&text);
	return errors > 0 ? -1 : 0;
}

struct lexicon *
lexicon_load(const char *path, struct diag *d)
{
	struct lexicon *lex = lexicon_new_empty();

	if (lex == NULL) {
		diag_add(d, "%s: out of memory", path);
		return NULL;
	}
	if (lexicon_add_file(lex, path, d) == -1) {
		lexicon_free(lex);
		return NULL;
	}
	return lex;
}

static int
is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

/* The expansion of macro 'e', computed once and kept in the cache under
 * "{name}" (a name cannot otherwise be a cache key: keys are regexes,
 * where a braced lower-case name has already been expanded). */
static const char *expanded_macro(const struct lexicon *lex,
    const struct entry *e, int depth, char *why, size_t whysize,
    size_t *offset);

static int
expand(const struct lexicon *lex, const char *src, struct buf *out, int depth,
    char *why, size_t whysize, size_t *offset)
{
	size_t i = 0;

	if (depth > MACRO_MAX_DEPTH) {
		snprintf(why, whysize, "macros nested more than %d deep",
		    MACRO_MAX_DEPTH);
		*offset = 0;
		return -1;
	}
	while (src[i] != '\0') {
		size_t j, run = 0;
		const struct entry *e;
		const char *text;

		/* Copy plain text up to the next possible macro at once. */
		while (src[i + run] != '\0' && src[i + run] != '{') {
			if (src[i + run] == '\\' && src[i + run + 1] != '\0')
				run++;
			run++;
		}
		if (run > 0) {
			if (buf_append(out, src + i, run) == -1)
				goto full;
			i += run;
			continue;
		}
		j = i + 1;
		if (!(src[j] >= 'a' && src[j] <= 'z')) {
			if (buf_append_char(out, src[i]) == -1)
				goto full;
			i++;
			continue;
		}
		while (is_name_char(src[j]))
			j++;
		if (src[j] != '}') {
			if (buf_append_char(out, src[i]) == -1)
				goto full;
			i++;
			continue;
		}
		e = table_find(&lex->macros, src + i + 1, j - i - 1);
		if (e == NULL) {
			snprintf(why, whysize, "unknown word class {%.*s}",
			    (int)(j - i - 1), src + i + 1);
			*offset = i;
			return -1;
		}
		text = expanded_macro(lex, e, depth + 1, why, whysize, offset);
		if (text == NULL) {
			*offset = i;
			return -1;
		}
		if (buf_append_str(out, "(?:") == -1 ||
		    buf_append_str(out, text) == -1 ||
		    buf_append_char(out, ')') == -1)
			goto full;
		i = j + 1;
	}
	return 0;
full:
	snprintf(why, whysize, "pattern too long after expanding macros");
	*offset = i;
	return -1;
}

static void
release_string(void *s)
{
	free(s);
}

static const char *
expanded_macro(const struct lexicon *lex, const struct entry *e, int depth,
    char *why, size_t whysize, size_t *offset)
{
	char key[LEXICON_MAX_WORD + 8];
	const char *text;
	struct buf b;

	if (e->keylen + 3 <= sizeof(key)) {
		snprintf(key, sizeof(key), "{%s}", e->key);
		text = lexicon_cache_find(lex, key);
		if (text != NULL)
			return text;
	} else {
		snprintf(why, whysize, "word class name too long");
		return NULL;
	}
	buf_init(&b, 1u << 20);
	if (expand(lex, e->value, &b, depth, why, whysize, offset) == -1 ||
	    buf_append(&b, "", 0) == -1) {
		buf_free(&b);
		return NULL;
	}
	if (key[0] != '\0' &&
	    lexicon_cache_add(lex, key, b.data, release_string, true) == 0)
		return b.data; /* owned by the cache now */
	buf_free(&b);
	snprintf(why, whysize, "out of memory");
	return NULL;
}

int
lexicon_expand(const struct lexicon *lex, const char *src, struct buf *out,
    char *why, size_t whysize, size_t *offset)
{
	return expand(lex, src, out, 0, why, whysize, offset);
}

const char *
lexicon_respell(const struct lexicon *lex, const char *word, size_t len)
{
	const struct entry *e = table_find(&lex->spelling, word, len);

	return e != NULL ? e->value : NULL;
}

void
lexicon_use_kbcache(struct lexicon *lex, const struct kbcache *c)
{
	lex->kbcache = c;
}

const struct kbcache *
lexicon_kbcache(const struct lexicon *lex)
{
	return lex->kbcache;
}

void
lexicon_free(struct lexicon *lex)
{
	size_t i;

	if (lex == NULL)
		return;
	table_free(&lex->macros);
	table_free(&lex->spelling);
	for (i = 0; i < lex->cache->size; i++) {
		struct cache_entry *e = &lex->cache->slots[i];

		if (e->key == NULL)
			continue;
		free(e->own_key);
		if (e->release != NULL)
			e->release(
			    e->value); /* a borrowed key may go with it */
	}
	free(lex->cache->slots);
	free(lex->cache);
	free(lex);
}
