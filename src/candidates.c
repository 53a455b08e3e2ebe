/* candidates.c - patterns filed under a key set; see candidates.h.
 *
 * The index is a list of (key set, pattern number) entries sorted by
 * key, with where each key's entries begin, built on the first
 * selection; a selection is a bit set over pattern numbers, started from
 * the patterns that are always candidates and completed from the sets
 * the prefilter saw.  Each pattern also knows its group (an intent, a
 * rule), so a caller walks the candidates once, group after group.
 */
#include "candidates.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"
#include "prefilter.h"

#define NO_GROUP UINT32_MAX /* a pattern filed alone */

struct entry {
	size_t key; /* the prefilter's id of the key set */
	size_t pattern;
};

struct candidates {
	struct entry *entries; /* filtered patterns; sorted when indexed */
	size_t entry_count, entry_cap;
	size_t *first;    /* per key set: its first entry; one more at the
	                     end; NULL until built */
	size_t keys;      /* sets 'first' covers */
	uint64_t *always; /* bit per pattern: no key */
	uint64_t *bits;   /* the last selection */
	uint32_t *listed; /* the same, as pattern numbers in order */
	size_t listed_count;
	size_t count; /* patterns filed */
	size_t words; /* of 'always' and 'bits' */
	/* The group of every pattern, numbered in the order
	 * candidates_add_group() filed them (NO_GROUP for one filed alone). */
	uint32_t *group_of;
	size_t group_count, group_of_cap;
};

struct candidates *
candidates_new(void)
{
	return calloc(1, sizeof(struct candidates));
}

void
candidates_free(struct candidates *c)
{
	if (c == NULL)
		return;
	free(c->entries);
	free(c->first);
	free(c->always);
	free(c->bits);
	free(c->listed);
	free(c->group_of);
	free(c);
}

size_t
candidates_count(const struct candidates *c)
{
	return c->count;
}

/* Make room for pattern number 'n' in both bit sets. */
static int
grow_bits(struct candidates *c, size_t n)
{
	size_t need = n / 64 + 1, words = c->words == 0 ? 4 : c->words;
	uint64_t *a, *b;

	if (need <= c->words)
		return 0;
	while (words < need)
		words *= 2;
	a = realloc(c->always, words * sizeof(*a));
	if (a == NULL)
		return -1;
	c->always = a;
	b = realloc(c->bits, words * sizeof(*b));
	if (b == NULL)
		return -1;
	c->bits = b;
	memset(a + c->words, 0, (words - c->words) * sizeof(*a));
	memset(b + c->words, 0, (words - c->words) * sizeof(*b));
	c->words = words;
	return 0;
}

/* Room in 'group_of' for 'n' patterns.  -1 when out of memory. */
static int
grow_group_of(struct candidates *c, size_t n)
{
	size_t ncap = c->group_of_cap == 0 ? 256 : c->group_of_cap;
	uint32_t *no;

	if (n <= c->group_of_cap)
		return 0;
	while (ncap < n)
		ncap *= 2;
	no = realloc(c->group_of, ncap * sizeof(*no));
	if (no == NULL)
		return -1;
	c->group_of = no;
	c->group_of_cap = ncap;
	return 0;
}

int
candidates_add(
    struct candidates *c, const struct pattern *p, const struct prefilter *pf)
{
	size_t n = c->count, key = pattern_key(p, pf);

	if (n >= UINT32_MAX || grow_bits(c, n) == -1 ||
	    grow_group_of(c, n + 1) == -1)
		return -1;
	c->group_of[n] = NO_GROUP; /* candidates_add_group() says which */
	if (key == PREFILTER_NONE) {
		c->always[n / 64] |= (uint64_t)1 << (n % 64);
	} else {
		if (c->entry_count == c->entry_cap) {
			size_t ncap = c->entry_cap == 0 ? 64 : c->entry_cap * 2;
			struct entry *ne =
			    realloc(c->entries, ncap * sizeof(*ne));

			if (ne == NULL)
				return -1;
			c->entries = ne;
			c->entry_cap = ncap;
		}
		c->entries[c->entry_count].key = key;
		c->entries[c->entry_count].pattern = n;
		c->entry_count++;
	}
	c->count++;
	free(c->first); /* the index is built again */
	c->first = NULL;
	return 0;
}

int
candidates_add_group(struct candidates *c, const struct pattern *p, size_t n,
    const struct prefilter *pf, size_t *first)
{
	size_t i;

	if (c->group_count >= UINT32_MAX)
		return -1;
	*first = c->count;
	for (i = 0; i < n; i++) {
		if (candidates_add(c, &p[i], pf) == -1)
			return -1;
		c->group_of[c->count - 1] = (uint32_t)c->group_count;
	}
	c->group_count++;
	return 0;
}

static int
by_key(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->pattern < y->pattern ? -1 : x->pattern > y->pattern;
}

/* Sort the entries and note where each key's begin; -1 when out of
 * memory. */
static int
build_index(struct candidates *c, size_t keys)
{
	size_t k, e = 0;

	qsort(c->entries, c->entry_count, sizeof(*c->entries), by_key);
	free(c->listed);
	c->first = malloc((keys + 1) * sizeof(*c->first));
	c->listed = malloc((c->count + 1) * sizeof(*c->listed));
	if (c->first == NULL || c->listed == NULL) {
		free(c->first);
		c->first = NULL;
		return -1; /* 'listed' is freed with the set */
	}
	for (k = 0; k <= keys; k++) {
		while (e < c->entry_count && c->entries[e].key < k)
			e++;
		c->first[k] = e;
	}
	c->keys = keys;
	return 0;
}

/* The selection's bits as pattern numbers, in order, into 'listed'. */
static void
list_selection(struct candidates *c)
{
	size_t w, n = 0, words = (c->count + 63) / 64;

	for (w = 0; w < words; w++) {
		uint64_t word = c->bits[w];

		while (word != 0) {
			c->listed[n++] =
			    (uint32_t)(w * 64 + (size_t)__builtin_ctzll(word));
			word &= word - 1;
		}
	}
	c->listed_count = n;
}

bool
candidates_select(struct candidates *c, const struct prefilter *pf)
{
	const size_t *live;
	size_t n, i, e;

	if (pf == NULL || c->words == 0)
		return false;
	n = prefilter_live(pf, &live);
	if (n == PREFILTER_NONE)
		return false;
	if (c->first == NULL && build_index(c, prefilter_set_count(pf)) == -1)
		return false;
	memcpy(c->bits, c->always, c->words * sizeof(*c->bits));
	for (i = 0; i < n; i++) {
		if (live[i] >= c->keys)
			continue; /* a set no pattern is filed under */
		for (e = c->first[live[i]]; e < c->first[live[i] + 1]; e++) {
			size_t p = c->entries[e].pattern;

			c->bits[p / 64] |= (uint64_t)1 << (p % 64);
		}
	}
	list_selection(c);
	return true;
}

bool
candidates_has(const struct candidates *c, size_t n)
{
	return n < c->count && (c->bits[n / 64] >> (n % 64) & 1) != 0;
}

size_t
candidates_next(const struct candidates *c, size_t from)
{
	size_t w = from / 64;
	uint64_t word;

	if (from >= c->count)
		return c->count;
	word = c->bits[w] & (~(uint64_t)0 << (from % 64));
	for (;;) {
		if (word != 0) {
			size_t n = w * 64 + (size_t)__builtin_ctzll(word);

			return n < c->count ? n : c->count;
		}
		if (++w >= c->words || w * 64 >= c->count)
			return c->count;
		word = c->bits[w];
	}
}

size_t
candidates_list(const struct candidates *c, const uint32_t **ids)
{
	*ids = c->listed;
	return c->listed_count;
}

size_t
candidates_group(const struct candidates *c, size_t n)
{
	return n < c->count && c->group_of[n] != NO_GROUP ? c->group_of[n]
	                                                  : SIZE_MAX;
}
