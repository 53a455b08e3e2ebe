/* prefilter_saved.c - save a built automaton, and take one back.
 *
 * Analysing the regexes and building the automaton depend on nothing but
 * the regexes' text, so an automaton built once can serve every later
 * start with the same regexes (kbcache.c keeps it on disk).  The bytes
 * are the prefilter's own arrays, in this machine's layout; a header
 * gives their sizes and the hash of every regex they were built for.
 *
 * Bytes read back are trusted for nothing: every index is checked to be
 * in range, the trie must be a tree whose literals end at the depth of
 * their length, and every failure and dictionary link must lead to a
 * shallower state, so no saved automaton can make a scan read out of
 * bounds or loop.  An automaton that fails a check is not taken.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "prefilter.h"
#include "prefilter_impl.h"

#define SAVED_MAGIC 0x35766c6966657270u /* "prefilv5", little-endian */

struct saved_header {
	uint64_t magic;
	uint64_t registered; /* regexes; alternatives follow them */
	uint64_t regex_count, set_count, lit_count, ref_count, exact_count;
	uint64_t state_count, row_count, row_span;
	uint32_t root[ALPHABET];
};

struct saved_regex {
	uint64_t hash;
	uint32_t sets[MAX_NEED];
	uint32_t start_set;
	uint32_t branch_at, branch_count;
	unsigned char set_count, has_start, exact, bounds;
};

/* Append 'size' bytes and pad to a multiple of 8. */
static int
put(struct buf *out, const void *data, size_t size)
{
	static const char zeros[8];

	if (size > 0 && buf_append(out, data, size) == -1)
		return -1;
	return buf_append(out, zeros, (8 - size % 8) % 8);
}

int
prefilter_save(const struct prefilter *pf, struct buf *out)
{
	struct saved_header h;
	struct saved_regex *r = NULL;
	uint64_t *s = NULL;
	size_t i, n = pf->state_count;
	int rc = -1;

	if (!pf->built)
		return -1;
	memset(&h, 0, sizeof(h));
	h.magic = SAVED_MAGIC;
	h.registered = pf->registered;
	h.regex_count = pf->regex_count;
	h.set_count = pf->set_count;
	h.lit_count = pf->lit_count;
	h.ref_count = pf->ref_count;
	h.exact_count = pf->exact_count;
	h.state_count = pf->state_count;
	h.row_count = pf->row_count;
	h.row_span = pf->row_span;
	memcpy(h.root, pf->root, sizeof(h.root));
	r = calloc(pf->regex_count + 1, sizeof(*r));
	s = calloc(pf->set_count + 1, sizeof(*s));
	if (r == NULL || s == NULL)
		goto out;
	for (i = 0; i < pf->regex_count; i++) {
		const struct regex_info *ri = &pf->regex[i];

		r[i].hash = ri->hash;
		memcpy(r[i].sets, ri->sets, sizeof(r[i].sets));
		r[i].start_set = ri->start_set;
		r[i].branch_at = ri->branch_at;
		r[i].branch_count = ri->branch_count;
		r[i].set_count = ri->set_count;
		r[i].has_start = ri->has_start;
		r[i].exact = ri->exact;
		r[i].bounds = ri->bounds;
	}
	for (i = 0; i < pf->set_count; i++) {
		s[i] = pf->set_score[i];
	}
	if (put(out, &h, sizeof(h)) == -1 ||
	    put(out, r, pf->regex_count * sizeof(*r)) == -1 ||
	    put(out, s, pf->set_count * sizeof(*s)) == -1 ||
	    put(out, pf->lit_refs, pf->lit_count * sizeof(*pf->lit_refs)) ==
	        -1 ||
	    put(out, pf->refs, pf->ref_count * sizeof(*pf->refs)) == -1 ||
	    put(out, pf->exacts, pf->exact_count * sizeof(*pf->exacts)) == -1 ||
	    put(out, pf->state, n * sizeof(*pf->state)) == -1 ||
	    put(out, pf->cls, n * sizeof(*pf->cls)) == -1 ||
	    put(out, pf->rows, pf->row_count * ALPHABET * sizeof(*pf->rows)) ==
	        -1)
		goto out;
	rc = 0;
out:
	free(r);
	free(s);
	return rc;
}

void
prefilter_use_saved(struct prefilter *pf, const void *data, size_t len)
{
	pf->saved = data;
	pf->saved_len = len;
}

bool
prefilter_reused(const struct prefilter *pf)
{
	return pf->reused;
}

size_t
prefilter_regex_count(const struct prefilter *pf)
{
	return pf->registered;
}

uint64_t
prefilter_regex_hash(const struct prefilter *pf, size_t id)
{
	return id < pf->registered ? pf->regex[id].hash : 0;
}

/* Reading the saved bytes in order. */
struct reader {
	const unsigned char *p;
	size_t left;
	bool bad;
};

/* The next 'count' items of 'size' bytes, copied into new memory (at
 * least one item, so an empty array is not NULL); NULL when the bytes
 * run out or memory does. */
static void *
take(struct reader *rd, size_t count, size_t size)
{
	size_t bytes, padded;
	void *copy;

	if (rd->bad || (size > 0 && count > SIZE_MAX / size - 1)) {
		rd->bad = true;
		return NULL;
	}
	bytes = count * size;
	padded = bytes + (8 - bytes % 8) % 8;
	/* The bytes must be there before any memory is asked for. */
	copy = padded <= rd->left ? calloc(1, bytes + size) : NULL;
	if (copy == NULL) {
		rd->bad = true;
		return NULL;
	}
	if (bytes > 0)
		memcpy(copy, rd->p, bytes);
	rd->p += padded;
	rd->left -= padded;
	return copy;
}

/* The regexes and sets: same regexes, indices in range; only the
 * registered ones have alternatives, which follow them. */
static bool
regexes_fit(const struct prefilter *pf, const struct saved_header *h,
    const struct saved_regex *r)
{
	size_t i, k;

	for (i = 0; i < h->regex_count; i++) {
		bool registered = i < h->registered;

		if ((registered && r[i].hash != pf->regex[i].hash) ||
		    (r[i].branch_count > 0 &&
		        (!registered || r[i].branch_at < h->registered ||
		            (uint64_t)r[i].branch_at + r[i].branch_count >
		                h->regex_count)) ||
		    r[i].set_count > MAX_NEED ||
		    (r[i].exact && r[i].set_count != 1) ||
		    (r[i].has_start && r[i].start_set >= h->set_count))
			return false;
		for (k = 0; k < r[i].set_count; k++) {
			if (r[i].sets[k] >= h->set_count)
				return false;
		}
	}
	return true;
}

/* The literals' lists: in range of the shared arrays, which point at
 * existing sets and regexes. */
static bool
literals_fit(const struct prefilter *pf, const struct saved_header *h)
{
	size_t i, k;

	for (i = 0; i < h->lit_count; i++) {
		const struct literal_refs *l = &pf->lit_refs[i];

		for (k = 0; k < 8; k++) {
			if (l->at[k] > l->at[k + 1])
				return false;
		}
		if (l->at[8] > h->ref_count || l->len == 0 ||
		    (uint64_t)l->exact_at + l->exact_count > h->exact_count)
			return false;
	}
	for (i = 0; i < h->ref_count; i++) {
		if (pf->refs[i] >= h->set_count)
			return false;
	}
	for (i = 0; i < h->exact_count; i++) {
		unsigned char open;

		/* Read as a byte: a bool must not hold anything else. */
		memcpy(&open, &pf->exacts[i].open, 1);
		if (pf->exacts[i].regex >= h->registered ||
		    pf->exacts[i].set >= h->set_count || open > 1)
			return false;
	}
	return true;
}

/* The trie: every link in range; walked from the root it is a tree
 * that reaches every state; a literal ends at the depth of its length;
 * failure and dictionary links lead to shallower states. */
static bool
trie_fits(const struct prefilter *pf, const struct saved_header *h)
{
	size_t n = h->state_count, head = 0, tail = 0, i;
	uint32_t *depth = malloc(n * sizeof(*depth));
	uint32_t *queue = malloc(n * sizeof(*queue));
	bool ok = false;
	unsigned c;

	if (depth == NULL || queue == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		const struct pf_state *st = &pf->state[i];

		if ((uint64_t)st->first + st->kids > n || st->kids > ALPHABET ||
		    st->fail >= n || st->dict >= n || pf->cls[i] >= ALPHABET ||
		    (st->out != -1 &&
		        (st->out < 0 || (size_t)st->out >= h->lit_count)) ||
		    st->row > h->row_count ||
		    (st->row != 0 && i >= h->row_span))
			goto out;
		depth[i] = UINT32_MAX; /* not reached yet */
	}
	for (i = 0; i < h->row_count * ALPHABET; i++) {
		if (pf->rows[i] >= n)
			goto out;
	}
	/* State 0 is the root; its children are in root[]. */
	depth[0] = 0;
	for (c = 0; c < ALPHABET; c++) {
		uint32_t t = pf->root[c];

		if (t == 0)
			continue;
		if (t >= n || depth[t] != UINT32_MAX || pf->cls[t] != c)
			goto out;
		depth[t] = 1;
		queue[tail++] = t;
	}
	while (head < tail) {
		uint32_t u = queue[head++], v;
		const struct pf_state *st = &pf->state[u];

		for (v = st->first; v < st->first + st->kids; v++) {
			if (depth[v] != UINT32_MAX)
				goto out; /* reached twice: not a tree */
			depth[v] = depth[u] + 1;
			queue[tail++] = v;
		}
	}
	if (tail != n - 1)
		goto out; /* some state unreachable */
	for (i = 1; i < n; i++) {
		const struct pf_state *st = &pf->state[i];

		if (depth[st->fail] >= depth[i] ||
		    (st->dict != 0 && depth[st->dict] >= depth[i]) ||
		    (st->out >= 0 && pf->lit_refs[st->out].len != depth[i]))
			goto out;
	}
	ok = pf->state[0].out == -1 && pf->state[0].kids == 0 &&
	    pf->state[0].row != 0;
out:
	free(depth);
	free(queue);
	return ok;
}

/* Undo a partial take. */
static void
drop_taken(struct prefilter *pf)
{
	prefilter_free_automaton(pf);
	free(pf->lit_refs);
	free(pf->refs);
	free(pf->exacts);
	free(pf->set_score);
	pf->lit_refs = NULL;
	pf->refs = NULL;
	pf->exacts = NULL;
	pf->set_score = NULL;
	pf->regex_count = pf->registered;
	pf->set_count = pf->set_cap = 0;
	pf->lit_count = pf->ref_count = pf->exact_count = 0;
	pf->state_count = pf->row_count = 0;
	memset(pf->root, 0, sizeof(pf->root));
}

int
prefilter_take_saved(struct prefilter *pf)
{
	struct reader rd = {pf->saved, pf->saved_len, false};
	struct saved_header h;
	struct saved_regex *r = NULL;
	uint64_t *s = NULL;
	size_t i, n;

	if (pf->set_count != 0 || pf->lit_count != 0 || rd.left < sizeof(h))
		return -1;
	memcpy(&h, rd.p, sizeof(h));
	rd.p += sizeof(h);
	rd.left -= sizeof(h);
	if (h.magic != SAVED_MAGIC || h.registered != pf->regex_count ||
	    h.regex_count < h.registered || h.regex_count >= UINT32_MAX ||
	    h.set_count >= UINT32_MAX || h.lit_count >= INT32_MAX ||
	    h.ref_count >= UINT32_MAX || h.exact_count >= UINT32_MAX ||
	    h.state_count == 0 || h.state_count >= UINT32_MAX ||
	    h.row_count == 0 || h.row_count > h.state_count ||
	    h.row_span == 0 || h.row_span > h.state_count)
		return -1;
	r = take(&rd, h.regex_count, sizeof(*r));
	if (r == NULL || !regexes_fit(pf, &h, r) ||
	    prefilter_reserve_regexes(pf, h.regex_count) == -1)
		goto fail;
	memset(pf->regex + pf->registered, 0,
	    (h.regex_count - pf->registered) * sizeof(*pf->regex));
	pf->regex_count = h.regex_count;
	s = take(&rd, h.set_count, sizeof(*s));
	n = h.state_count;
	pf->set_count = pf->set_cap = h.set_count;
	pf->lit_count = h.lit_count;
	pf->ref_count = h.ref_count;
	pf->exact_count = h.exact_count;
	pf->state_count = n;
	pf->row_count = h.row_count;
	pf->row_span = h.row_span;
	pf->lit_refs = take(&rd, h.lit_count, sizeof(*pf->lit_refs));
	pf->refs = take(&rd, h.ref_count, sizeof(*pf->refs));
	pf->exacts = take(&rd, h.exact_count, sizeof(*pf->exacts));
	pf->state = take(&rd, n, sizeof(*pf->state));
	pf->cls = take(&rd, n, sizeof(*pf->cls));
	pf->rows = take(&rd, h.row_count * ALPHABET, sizeof(*pf->rows));
	pf->set_score = s != NULL
	    ? malloc((h.set_count + 1) * sizeof(*pf->set_score))
	    : NULL;
	if (rd.bad || rd.left != 0 || pf->set_score == NULL)
		goto fail;
	memcpy(pf->root, h.root, sizeof(pf->root));
	if (!literals_fit(pf, &h) || !trie_fits(pf, &h) ||
	    prefilter_alloc_scan(pf) == -1)
		goto fail;
	for (i = 0; i < h.lit_count; i++)
		memset(pf->lit_refs[i].seen, 0, sizeof(pf->lit_refs[i].seen));
	for (i = 0; i < h.set_count; i++)
		pf->set_score[i] = (size_t)s[i];
	for (i = 0; i < h.regex_count; i++) {
		struct regex_info *ri = &pf->regex[i];

		memcpy(ri->sets, r[i].sets, sizeof(ri->sets));
		ri->start_set = r[i].start_set;
		ri->branch_at = r[i].branch_at;
		ri->branch_count = r[i].branch_count;
		ri->hash = r[i].hash;
		ri->set_count = r[i].set_count;
		ri->has_start = r[i].has_start != 0;
		ri->exact = r[i].exact != 0;
		ri->bounds = r[i].bounds;
	}
	pf->generation = 0;
	pf->built = true;
	pf->reused = true;
	prefilter_list_sets(pf, false);
	free(r);
	free(s);
	return 0;
fail:
	drop_taken(pf);
	free(r);
	free(s);
	return -1;
}
