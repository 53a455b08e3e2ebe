/* prefilter.c - literal sets of regexes in one Aho-Corasick automaton.
 *
 * The sets come from literals.c.  The automaton works on a reduced
 * alphabet (letters, digits, space, '.', ',' and "other"), which is all
 * normalised text contains, so the full rows of its busiest states stay
 * small.  Per-scan marks use a generation stamp so nothing is cleared
 * between messages.
 */
#include "prefilter.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "factor.h"
#include "literals.h"
#include "prefilter_impl.h"
#include "text.h"

#define DENSE_MIN  3    /* children that earn a state a full row */
#define DENSE_ROWS 4096 /* full rows at most (640 KiB) */

static inline unsigned
byte_class(unsigned char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 'a';
	if (c >= '0' && c <= '9')
		return 26 + (c - '0');
	if (c == ' ')
		return 36;
	if (c == '.')
		return 37;
	if (c == ',')
		return 38;
	if (c >= 'A' && c <= 'Z')
		return c - 'A'; /* text is lower case; patterns may not be */
	return 39;
}

struct prefilter *
prefilter_new(void)
{
	return calloc(1, sizeof(struct prefilter));
}

/* Drop the literals' texts and lists, which only building needs (the
 * scan uses 'lit_refs'). */
static void
free_literal_lists(struct prefilter *pf)
{
	size_t i, f;

	for (i = 0; pf->lit != NULL && i < pf->lit_count; i++) {
		for (f = 0; f < 4; f++) {
			free(pf->lit[i].sets[f]);
			free(pf->lit[i].start_sets[f]);
		}
		free(pf->lit[i].exact);
	}
	for (i = 0; pf->lits != NULL && i < pf->lit_count; i++)
		free(pf->lits[i]);
	free(pf->lits);
	free(pf->lit);
	pf->lits = NULL;
	pf->lit = NULL;
}

static void free_alternative_sources(struct prefilter *pf);

/* Drop the exact regexes' languages (after the build). */
static void
free_words(struct prefilter *pf)
{
	size_t i;

	for (i = 0; pf->words != NULL && i < pf->registered; i++)
		ws_free(&pf->words[i]);
	free(pf->words);
	pf->words = NULL;
}

/* Drop the per-state arrays the build works with (packed into 'state'
 * once it is done). */
static void
free_state_arrays(struct prefilter *pf)
{
	free(pf->first);
	free(pf->kids);
	free(pf->fail);
	free(pf->dict);
	free(pf->out);
	free(pf->row_of);
	pf->first = pf->fail = pf->dict = NULL;
	pf->kids = NULL;
	pf->out = NULL;
	pf->row_of = NULL;
}

void
prefilter_free_automaton(struct prefilter *pf)
{
	free_state_arrays(pf);
	free(pf->cls);
	free(pf->state);
	free(pf->rows);
	free(pf->live);
	free(pf->hits);
	free(pf->set_mark);
	free(pf->set_starts);
	free(pf->start_pos);
	free(pf->start_next);
	pf->state = NULL;
	pf->rows = NULL;
	pf->row_count = pf->row_span = 0;
	pf->cls = NULL;
	pf->live = NULL;
	pf->hits = NULL;
	pf->set_mark = NULL;
	pf->set_starts = NULL;
	pf->start_pos = pf->start_next = NULL;
}

void
prefilter_free(struct prefilter *pf)
{
	size_t i;

	if (pf == NULL)
		return;
	free(pf->regex);
	free_alternative_sources(pf);
	free_words(pf);
	for (i = 0; pf->set != NULL && i < pf->set_count; i++)
		set_free(&pf->set[i].ls);
	free(pf->set);
	free(pf->set_score);
	free(pf->set_index);
	free_literal_lists(pf);
	free(pf->lit_refs);
	free(pf->refs);
	free(pf->exacts);
	prefilter_free_automaton(pf);
	free(pf);
}

static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t
set_hash(const struct litset *ls)
{
	size_t i, h = 0;

	for (i = 0; i < ls->n; i++)
		h = h * 31 + text_hash(ls->s[i], strlen(ls->s[i]));
	return h;
}

static bool
same_set(const struct litset *a, const struct litset *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++) {
		if (strcmp(a->s[i], b->s[i]) != 0)
			return false;
	}
	return true;
}

/* A new set: 'ls' (taken over; NULL for an exact regex's own set).
 * Returns its id, or -1 when out of memory. */
static long
new_set(struct prefilter *pf, struct litset *ls, size_t score)
{
	struct set *st;

	if (pf->set_count == pf->set_cap) {
		size_t ncap = pf->set_cap == 0 ? 256 : pf->set_cap * 2;
		struct set *ns = realloc(pf->set, ncap * sizeof(*ns));

		if (ns == NULL)
			return -1;
		pf->set = ns;
		pf->set_cap = ncap;
	}
	st = &pf->set[pf->set_count];
	memset(st, 0, sizeof(*st));
	if (ls != NULL) {
		st->ls = *ls;
		memset(ls, 0, sizeof(*ls));
	}
	st->score = score;
	return (long)pf->set_count++;
}

/* Make the index of sets by content twice as big (or start it). */
static int
grow_set_index(struct prefilter *pf)
{
	size_t size = pf->set_index_size == 0 ? 512 : pf->set_index_size * 2;
	long *index = malloc(size * sizeof(*index));
	size_t i, h;

	if (index == NULL)
		return -1;
	for (i = 0; i < size; i++)
		index[i] = -1;
	for (i = 0; i < pf->set_count; i++) {
		if (pf->set[i].ls.n == 0)
			continue; /* an exact regex's own */
		for (h = set_hash(&pf->set[i].ls) & (size - 1); index[h] >= 0;
		     h = (h + 1) & (size - 1))
			;
		index[h] = (long)i;
	}
	free(pf->set_index);
	pf->set_index = index;
	pf->set_index_size = size;
	return 0;
}

/* The id of the set with the contents of 'ls', which is taken over
 * (freed when the set exists already).  -1 when out of memory. */
static long
intern_set(struct prefilter *pf, struct litset *ls)
{
	size_t i, j, h, score;
	long id;

	/* Sorted and without repeats, so equal sets look the same. */
	qsort(ls->s, ls->n, sizeof(*ls->s), compare_strings);
	for (i = j = 0; i < ls->n; i++) {
		if (j > 0 && strcmp(ls->s[i], ls->s[j - 1]) == 0)
			free(ls->s[i]);
		else
			ls->s[j++] = ls->s[i];
	}
	ls->n = j;
	if ((pf->set_count + 1) * 2 > pf->set_index_size &&
	    grow_set_index(pf) == -1)
		return -1;
	for (h = set_hash(ls) & (pf->set_index_size - 1); pf->set_index[h] >= 0;
	     h = (h + 1) & (pf->set_index_size - 1)) {
		if (same_set(&pf->set[pf->set_index[h]].ls, ls)) {
			set_free(ls);
			return pf->set_index[h];
		}
	}
	score = set_shortest(ls);
	id = new_set(pf, ls, score);
	if (id >= 0)
		pf->set_index[h] = id;
	return id;
}

int
prefilter_reserve_regexes(struct prefilter *pf, size_t n)
{
	size_t ncap = pf->regex_cap == 0 ? 256 : pf->regex_cap;
	struct regex_info *nr;

	if (n <= pf->regex_cap)
		return 0;
	while (ncap < n)
		ncap *= 2;
	nr = realloc(pf->regex, ncap * sizeof(*nr));
	if (nr == NULL)
		return -1;
	pf->regex = nr;
	pf->regex_cap = ncap;
	return 0;
}

/* A new regex entry for 'src'; its id, or PREFILTER_NONE. */
static size_t
new_regex(struct prefilter *pf, const char *src)
{
	size_t id;

	if (prefilter_reserve_regexes(pf, pf->regex_count + 1) == -1)
		return PREFILTER_NONE;
	id = pf->regex_count++;
	memset(&pf->regex[id], 0, sizeof(pf->regex[id]));
	pf->regex[id].src = src;
	pf->regex[id].hash = text_hash64(src, strlen(src));
	return id;
}

size_t
prefilter_add(struct prefilter *pf, const char *src)
{
	size_t id;

	if (pf->built)
		return PREFILTER_NONE; /* too late: it will simply always run */
	id = new_regex(pf, src);
	if (id != PREFILTER_NONE)
		pf->registered = pf->regex_count;
	return id;
}

/* Work out the literal sets of regex 'id' from its source. */
static void
analyse(struct prefilter *pf, size_t id, bool may_be_exact)
{
	struct regex_info *r = &pf->regex[id];
	struct wordset ws = {0};
	struct need nd = {0};
	struct litset starts;
	bool before, after;
	size_t k;
	long set;

	/* An alternative only says where its regex could match: it needs
	 * no exact answer of its own. */
	if (!may_be_exact || !regex_words(r->src, &ws, &before, &after)) {
		ws_free(&ws);
		ws.ok = false;
		before = after = false;
		(void)regex_needs(r->src, &nd);
	}
	if (ws.ok)
		pf->words[id] = ws;
	r->bounds = (unsigned char)((before ? 1 : 0) | (after ? 2 : 0));
	if (ws.ok) {
		/* Scores as rarer than any set: it says exactly. */
		set = new_set(pf, NULL, SIZE_MAX);
		if (set < 0) {
			ws_free(&pf->words[id]);
		} else {
			r->sets[0] = (uint32_t)set;
			r->set_count = 1;
			r->exact = true;
		}
	}
	for (k = 0; k < nd.n; k++) {
		set = intern_set(pf, &nd.set[k]);
		if (set < 0) {
			r->set_count = 0; /* always run: slower */
			break;
		}
		r->sets[r->set_count++] = (uint32_t)set;
	}
	need_free(&nd);
	if (!ws.ok && regex_starts(r->src, &starts)) {
		set = intern_set(pf, &starts);
		if (set >= 0) {
			pf->set[set].starts = true;
			r->has_start = true;
			r->start_set = (uint32_t)set;
		}
	}
}

/* ------------------------------------------------------------ alternatives */

#define MAX_BARS         255 /* in one alternation, to split it */
#define MAX_ALTERNATIVES 16  /* entries for one regex's alternatives */

/* The bars at the top level of [p, end) into bars[] and their count;
 * -1 when there are more than MAX_BARS, or the text is not well
 * formed. */
static long
find_bars(const char *p, const char *end, const char **bars)
{
	long n = 0;

	while (p != NULL && p < end) {
		if (*p == '|') {
			if (n == MAX_BARS)
				return -1;
			bars[n++] = p;
		}
		p = regex_atom_end(p, end);
	}
	return p == NULL ? -1 : n;
}

/* The alternation of regex 'src' worth splitting: the whole regex when
 * it has bars at the top level (*group NULL), else its first group at
 * the top level that is a plain group, not repeated, with bars inside
 * (*group at its '(', *inner just inside, *close at its ')').  The
 * number of bars, 0 when there is no such alternation. */
static long
find_alternation(const char *src, const char **group, const char **inner,
    const char **close, const char **bars)
{
	const char *end = src + strlen(src), *p;
	long n = find_bars(src, end, bars);

	*group = NULL;
	*inner = src;
	*close = end;
	if (n != 0)
		return n < 0 ? 0 : n;
	for (p = src; p != NULL && p < end; p = regex_atom_end(p, end)) {
		const char *e;

		if (*p != '(' || (p[1] == '?' && p[2] != ':'))
			continue; /* not a group, or a lookaround, option... */
		e = regex_group_end(p, end);
		if (e == NULL || (*e != '\0' && strchr("?*+{", *e) != NULL))
			continue;
		*inner = p + (p[1] == '?' ? 3 : 1);
		n = find_bars(*inner, e - 1, bars);
		if (n > 0) {
			*group = p;
			*close = e - 1;
			return n;
		}
	}
	return 0;
}

/* How much of 'rest', what follows an alternation, its alternatives keep:
 * a first \b or space (not repeated), which says a word ends there. */
static size_t
rest_kept(const char *rest)
{
	size_t n = rest[0] == ' ' ? 1 : strncmp(rest, "\\b", 2) == 0 ? 2 : 0;

	return n > 0 && rest[n] != '\0' && strchr("?*+{", rest[n]) != NULL ? 0
	                                                                   : n;
}

/* One branch of an alternation: [p, end) of the regex's text. */
struct branch {
	const char *p, *end;
};

/* What stands for some branches of the alternation of regex 'src': the
 * regex up to its alternation with only those branches, \bwhy (?:a) for
 * \bwhy (?:a|b) back, so that any match of the regex through one of them
 * begins with a match of it.  (Their order does not matter: the result
 * only says where the regex could match.)  What follows the alternation
 * is left out (every alternative needs it alike, the regex's own sets
 * check it, and analysing it once per alternative costs memory and
 * start-up time), but for a first \b or space.  NULL when out of
 * memory. */
static char *
alternative_source(const char *src, const char *group, const char *close,
    const struct branch *b, const size_t *pick, size_t n)
{
	size_t before = group != NULL ? (size_t)(group - src) : 0;
	size_t after = group != NULL ? rest_kept(close + 1) : 0;
	size_t len = before + 3 + 1 + after + 1, i;
	char *s, *w;

	for (i = 0; i < n; i++)
		len += (size_t)(b[pick[i]].end - b[pick[i]].p) + 1;
	s = w = malloc(len);
	if (s == NULL)
		return NULL;
	if (group != NULL) {
		memcpy(w, src, before);
		memcpy(w + before, "(?:", 3);
		w += before + 3;
	}
	for (i = 0; i < n; i++) {
		if (i > 0)
			*w++ = '|';
		memcpy(
		    w, b[pick[i]].p, (size_t)(b[pick[i]].end - b[pick[i]].p));
		w += b[pick[i]].end - b[pick[i]].p;
	}
	if (group != NULL) {
		*w++ = ')';
		memcpy(w, close + 1, after);
		w += after;
	}
	*w = '\0';
	return s;
}

/* Does every match of the regex through branch 'b' start with a literal
 * (regex_starts())?  Only then can its anchored searches start where
 * those literals are. */
static bool
branch_starts_known(const char *src, const char *group, const char *close,
    const struct branch *b)
{
	static const size_t only = 0;
	char *alt = alternative_source(src, group, close, b, &only, 1);
	struct litset starts;
	bool known = alt != NULL && regex_starts(alt, &starts);

	if (known)
		set_free(&starts);
	free(alt);
	return known;
}

/* Cut the 'n' branches of an alternation into 'runs' groups, in
 * order[] with the first branch of group k at order[at[k]]: neighbours
 * in groups of about equal size, except that when there are more
 * branches than groups, those without start literals go together in the
 * last group, so that the other groups keep theirs.  Returns the number
 * of groups. */
static size_t
group_branches(const char *src, const char *group, const char *close,
    const struct branch *b, size_t n, size_t *order, size_t *at)
{
	size_t runs = n < MAX_ALTERNATIVES ? n : MAX_ALTERNATIVES, k, i, m = 0;

	for (i = 0; i < n; i++)
		order[i] = i;
	if (n > MAX_ALTERNATIVES) {
		size_t unknown = n;

		/* Those with starts first, in order, then the others. */
		for (i = 0; i < n; i++) {
			if (branch_starts_known(src, group, close, &b[i]))
				order[m++] = i;
			else
				order[--unknown] = i;
		}
		if (m > 0 && m < n) {
			size_t with = m < runs - 1 ? m : runs - 1;

			for (k = 0; k < with; k++)
				at[k] = k * m / with;
			at[with] = m;
			at[with + 1] = n;
			return with + 1;
		}
		for (i = 0; i < n; i++)
			order[i] = i;
	}
	for (k = 0; k <= runs; k++)
		at[k] = k * n / runs;
	return runs;
}

/* Give the alternatives of regex 'id' entries of their own and analyse
 * them, when it is an alternation.  A match of P(?:a|b)S begins with a
 * match of P(?:a) or of P(?:b), at the same place, so the regex can only
 * match where one of those could: with their sets checked one by one, a
 * regex whose literals all occurred, but not those of any one
 * alternative, is ruled out, and its anchored searches start only where
 * a possible alternative can.  A long alternation is cut into at most
 * MAX_ALTERNATIVES groups of branches (see group_branches()): each entry
 * costs memory and a check.  On failure the regex simply has none. */
static void
add_alternatives(struct prefilter *pf, size_t id)
{
	const char *bars[MAX_BARS], *group, *inner, *close;
	const char *src = pf->regex[id].src;
	long n = find_alternation(src, &group, &inner, &close, bars);
	struct branch b[MAX_BARS + 1];
	size_t order[MAX_BARS + 1], at[MAX_ALTERNATIVES + 1];
	size_t first = pf->regex_count, branches = (size_t)n + 1, runs, k, i;
	char **grown;

	if (n <= 0)
		return;
	for (i = 0; i < branches; i++) {
		b[i].p = i == 0 ? inner : bars[i - 1] + 1;
		b[i].end = i == branches - 1 ? close : bars[i];
	}
	runs = group_branches(src, group, close, b, branches, order, at);
	grown = realloc(
	    pf->branch_src, (pf->branch_src_count + runs) * sizeof(*grown));
	if (grown == NULL)
		return;
	pf->branch_src = grown;
	for (k = 0; k < runs; k++) {
		char *alt = alternative_source(
		    src, group, close, b, order + at[k], at[k + 1] - at[k]);
		size_t a;

		if (alt == NULL)
			break;
		pf->branch_src[pf->branch_src_count++] = alt;
		a = new_regex(pf, alt);
		if (a == PREFILTER_NONE)
			break;
		analyse(pf, a, false);
	}
	if (k == runs) {
		pf->regex[id].branch_at = (uint32_t)first;
		pf->regex[id].branch_count = (uint32_t)runs;
	} else {
		pf->regex_count = first; /* half done: none at all */
	}
}

/* Free the alternatives' sources (after the build). */
static void
free_alternative_sources(struct prefilter *pf)
{
	size_t i;

	for (i = 0; i < pf->branch_src_count; i++)
		free(pf->branch_src[i]);
	free(pf->branch_src);
	pf->branch_src = NULL;
	pf->branch_src_count = 0;
}

/* The index of literal 's' (added when new) through the hash index. */
static long
intern(struct prefilter *pf, long *index, size_t size, const char *s)
{
	size_t h;

	for (h = text_hash(s, strlen(s)) & (size - 1);
	     index[h] >= 0 && strcmp(pf->lits[index[h]], s) != 0;
	     h = (h + 1) & (size - 1))
		;
	if (index[h] >= 0)
		return index[h];
	if (pf->lit_count == pf->lit_cap) {
		size_t ncap = pf->lit_cap == 0 ? 256 : pf->lit_cap * 2;
		char **nl = realloc(pf->lits, ncap * sizeof(*nl));
		struct literal *nli;

		if (nl == NULL)
			return -1;
		pf->lits = nl;
		nli = realloc(pf->lit, ncap * sizeof(*nli));
		if (nli == NULL)
			return -1;
		pf->lit = nli;
		pf->lit_cap = ncap;
	}
	pf->lits[pf->lit_count] = strdup(s);
	if (pf->lits[pf->lit_count] == NULL)
		return -1;
	memset(&pf->lit[pf->lit_count], 0, sizeof(struct literal));
	pf->lit[pf->lit_count].len = strlen(s);
	index[h] = (long)pf->lit_count;
	return (long)pf->lit_count++;
}

/* Intern the literals (through a temporary hash index) and note which
 * sets they belong to, or which exact regexes use them as a word. */
static int
collect_literals(struct prefilter *pf)
{
	size_t r, i, k, mentions = 0, size = 64;
	long *index, at;
	int rc = -1;

	for (k = 0; k < pf->set_count; k++)
		mentions += pf->set[k].ls.n;
	for (r = 0; r < pf->registered; r++)
		mentions += pf->words[r].n;
	while (size < mentions * 2)
		size *= 2;
	index = malloc(size * sizeof(*index));
	if (index == NULL)
		return -1;
	for (i = 0; i < size; i++)
		index[i] = -1;
	for (k = 0; k < pf->set_count; k++) {
		const struct litset *ls = &pf->set[k].ls;

		for (i = 0; i < ls->n; i++) {
			unsigned f = (unsigned)(ls->s[i][0] - '0') & 3;
			struct literal *l;
			uint32_t *ns;

			at = intern(pf, index, size, ls->s[i] + 1);
			if (at < 0)
				goto out;
			l = &pf->lit[at];
			if (l->count[f] > 0 &&
			    l->sets[f][l->count[f] - 1] == (uint32_t)k)
				continue;
			ns = realloc(
			    l->sets[f], (l->count[f] + 1) * sizeof(*ns));
			if (ns == NULL)
				goto out;
			l->sets[f] = ns;
			l->sets[f][l->count[f]++] = (uint32_t)k;
			if (!pf->set[k].starts)
				continue;
			ns = realloc(l->start_sets[f],
			    (l->start_count[f] + 1) * sizeof(*ns));
			if (ns == NULL)
				goto out;
			l->start_sets[f] = ns;
			l->start_sets[f][l->start_count[f]++] = (uint32_t)k;
		}
	}
	for (r = 0; r < pf->registered; r++) {
		for (i = 0; i < pf->words[r].n; i++) {
			struct literal *l;
			struct exact_ref *ne;

			at = intern(pf, index, size, pf->words[r].w[i].s);
			if (at < 0)
				goto out;
			l = &pf->lit[at];
			ne = realloc(
			    l->exact, (l->exact_count + 1) * sizeof(*ne));
			if (ne == NULL)
				goto out;
			l->exact = ne;
			/* Padding too: the automaton may be saved as bytes. */
			memset(&l->exact[l->exact_count], 0, sizeof(*ne));
			l->exact[l->exact_count].regex = (uint32_t)r;
			l->exact[l->exact_count].set = pf->regex[r].sets[0];
			l->exact[l->exact_count].bounds = pf->regex[r].bounds;
			l->exact[l->exact_count].open = pf->words[r].w[i].open;
			l->exact_count++;
		}
	}
	rc = 0;
out:
	free(index);
	return rc;
}

/* A literal's lists are stored by the word boundaries (LIT_* flags)
 * their sets need around it, in this order of flags: both, start, none,
 * end.  Whatever boundaries an occurrence has, the lists it satisfies
 * are then neighbours, one range of slots (see boundary_slots()). */
static const unsigned char slot_flags[4] = {
    LIT_START | LIT_END, LIT_START, 0, LIT_END};

/* Pack every literal's lists into the arrays the scan reads, and drop
 * the lists.  -1 when out of memory. */
static int
pack_literals(struct prefilter *pf)
{
	size_t i, f, refs = 0, exacts = 0;

	for (i = 0; i < pf->lit_count; i++) {
		for (f = 0; f < 4; f++)
			refs += pf->lit[i].count[f] + pf->lit[i].start_count[f];
		exacts += pf->lit[i].exact_count;
	}
	if (refs >= UINT32_MAX || exacts >= UINT32_MAX)
		return -1;
	pf->lit_refs = calloc(pf->lit_count + 1, sizeof(*pf->lit_refs));
	pf->refs = malloc((refs + 1) * sizeof(*pf->refs));
	pf->exacts = calloc(exacts + 1, sizeof(*pf->exacts));
	if (pf->lit_refs == NULL || pf->refs == NULL || pf->exacts == NULL)
		return -1;
	for (refs = exacts = i = 0; i < pf->lit_count; i++) {
		struct literal *l = &pf->lit[i];
		struct literal_refs *r = &pf->lit_refs[i];

		for (f = 0; f < 8; f++) {
			unsigned flags = slot_flags[f % 4];
			const uint32_t *list =
			    f < 4 ? l->sets[flags] : l->start_sets[flags];
			size_t count =
			    f < 4 ? l->count[flags] : l->start_count[flags];

			r->at[f] = (uint32_t)refs;
			if (count > 0)
				memcpy(pf->refs + refs, list,
				    count * sizeof(*list));
			refs += count;
		}
		r->at[8] = (uint32_t)refs;
		r->len = (uint32_t)l->len;
		r->exact_at = (uint32_t)exacts;
		r->exact_count = (uint32_t)l->exact_count;
		if (l->exact_count > 0)
			memcpy(pf->exacts + exacts, l->exact,
			    l->exact_count * sizeof(*l->exact));
		exacts += l->exact_count;
	}
	pf->ref_count = refs;
	pf->exact_count = exacts;
	return 0;
}

/* The child of state 's' along class 'c', or 0. */
static uint32_t
child(const struct prefilter *pf, uint32_t s, unsigned c)
{
	uint32_t t, end;

	if (s == 0)
		return pf->root[c];
	for (t = pf->first[s], end = t + pf->kids[s]; t < end; t++) {
		if (pf->cls[t] == c)
			return t;
	}
	return 0;
}

/* The automaton's move from 's' on class 'c', following failure links,
 * while it is built (from the per-state arrays). */
static uint32_t
step(const struct prefilter *pf, uint32_t s, unsigned c)
{
	for (;;) {
		uint32_t t, row = s < pf->row_span ? pf->row_of[s] : 0;

		if (row != 0)
			return pf->rows[(size_t)(row - 1) * ALPHABET + c];
		t = child(pf, s, c);

		if (t != 0 || s == 0)
			return t;
		s = pf->fail[s];
	}
}

/* An upper bound on the states the trie needs: one per literal byte.
 * The arrays are zero-filled by calloc, so the pages of states never
 * used cost no memory. */
static size_t
trie_size(const struct prefilter *pf)
{
	size_t n = 1, i;

	for (i = 0; i < pf->lit_count; i++)
		n += strlen(pf->lits[i]);
	return n;
}

/* While the trie is built, a state's children are a list: first[s], then
 * through next[]. */
static uint32_t
listed_child(
    const struct prefilter *pf, const uint32_t *next, uint32_t s, unsigned c)
{
	uint32_t t;

	if (s == 0)
		return pf->root[c];
	for (t = pf->first[s]; t != 0; t = next[t]) {
		if (pf->cls[t] == c)
			return t;
	}
	return 0;
}

/* Number the states breadth-first, turning the children lists into runs
 * of neighbours (first[s] and kids[s]).  The shallow states, where a
 * scan spends most of its steps, then sit together at the start of every
 * array.  -1 when out of memory. */
static int
renumber(struct prefilter *pf, const uint32_t *next)
{
	size_t n = pf->state_count, head = 0, tail = 0, i;
	uint32_t *order = malloc(n * sizeof(*order)); /* new id -> old */
	uint32_t *id = malloc(n * sizeof(*id));       /* old id -> new */
	uint32_t *first = calloc(n, sizeof(*first));
	unsigned char *kids = calloc(n, 1), *cls = malloc(n);
	int32_t *out = malloc(n * sizeof(*out));
	unsigned c;

	if (order == NULL || id == NULL || first == NULL || kids == NULL ||
	    cls == NULL || out == NULL)
		goto fail;
	id[0] = 0;
	order[tail++] = 0;
	while (head < tail) {
		uint32_t u = order[head++], v;
		unsigned k = 0;

		for (c = 0; u == 0 && c < ALPHABET; c++) {
			if (pf->root[c] != 0) {
				id[pf->root[c]] = (uint32_t)tail;
				order[tail++] = pf->root[c];
			}
		}
		for (v = u == 0 ? 0 : pf->first[u]; v != 0; v = next[v], k++) {
			id[v] = (uint32_t)tail;
			order[tail++] = v;
		}
		kids[head - 1] = (unsigned char)k; /* at most ALPHABET */
	}
	if (tail != n)
		goto fail; /* cannot happen: every state is some child */
	kids[0] = 0;
	for (i = 0; i < n; i++) {
		uint32_t u = order[i];

		cls[i] = pf->cls[u];
		out[i] = pf->out[u];
		first[i] = kids[i] != 0 ? id[pf->first[u]] : 0;
	}
	for (c = 0; c < ALPHABET; c++)
		pf->root[c] = id[pf->root[c]];
	free(pf->first);
	free(pf->cls);
	free(pf->out);
	pf->first = first;
	pf->kids = kids;
	pf->cls = cls;
	pf->out = out;
	free(order);
	free(id);
	return 0;
fail:
	free(order);
	free(id);
	free(first);
	free(kids);
	free(cls);
	free(out);
	return -1;
}

/* Failure and dictionary links, breadth-first, which is the order of the
 * states' numbers: a state's failure target is shallower, so done. */
static void
link_failures(struct prefilter *pf)
{
	uint32_t u, v;

	for (u = 1; u < pf->state_count; u++) {
		uint32_t f = pf->fail[u];

		pf->dict[u] = pf->out[f] >= 0 ? f : pf->dict[f];
		for (v = pf->first[u]; v < pf->first[u] + pf->kids[u]; v++)
			pf->fail[v] = step(pf, f, pf->cls[v]);
	}
}

/* Full rows for the root and the busiest shallow states, breadth-first
 * (so a state's failure target, which is shallower, has its row first).
 * -1 when out of memory. */
static int
build_rows(struct prefilter *pf)
{
	uint16_t *row_of = calloc(pf->state_count, sizeof(*row_of));
	uint32_t *rows = malloc((size_t)DENSE_ROWS * ALPHABET * sizeof(*rows));
	size_t n = 0, span = 1;
	uint32_t u, v;
	unsigned c;

	if (row_of == NULL || rows == NULL) {
		free(row_of);
		free(rows);
		return -1;
	}
	for (c = 0; c < ALPHABET; c++)
		rows[c] = pf->root[c];
	row_of[0] = (uint16_t)++n;
	for (u = 1; u < pf->state_count && n < DENSE_ROWS; u++) {
		uint32_t *row = rows + n * ALPHABET;

		if (pf->kids[u] < DENSE_MIN)
			continue;
		for (c = 0; c < ALPHABET; c++) {
			v = child(pf, u, c);
			row[c] = v != 0 ? v : step(pf, pf->fail[u], c);
		}
		row_of[u] = (uint16_t)++n;
		span = u + 1;
	}
	pf->row_of = row_of;
	pf->rows = rows;
	pf->row_count = n;
	pf->row_span = span;
	/* Only the busy states' part is needed. */
	row_of = realloc(pf->row_of, span * sizeof(*row_of));
	if (row_of != NULL)
		pf->row_of = row_of;
	rows = realloc(pf->rows, n * ALPHABET * sizeof(*rows));
	if (rows != NULL)
		pf->rows = rows;
	return 0;
}

/* Pack the per-state arrays into 'state' for the scan and free them,
 * once the automaton is built.  -1 when out of memory (nothing changed).
 */
static int
pack_states(struct prefilter *pf)
{
	struct pf_state *st = calloc(pf->state_count + 1, sizeof(*st));
	size_t i;

	if (st == NULL)
		return -1;
	for (i = 0; i < pf->state_count; i++) {
		st[i].row = i < pf->row_span ? pf->row_of[i] : 0;
		st[i].kids = pf->kids[i];
		st[i].first = pf->first[i];
		st[i].fail = pf->fail[i];
		st[i].dict = pf->dict[i];
		st[i].out = pf->out[i];
	}
	free_state_arrays(pf);
	pf->state = st;
	return 0;
}

/* The move from 's' on class 'c' during a scan, from the packed
 * states. */
static inline uint32_t
scan_step(const struct prefilter *pf, uint32_t s, unsigned c)
{
	for (;;) {
		const struct pf_state *st = &pf->state[s];
		uint32_t t, end;

		if (st->row != 0)
			return pf->rows[(size_t)(st->row - 1) * ALPHABET + c];
		for (t = st->first, end = t + st->kids; t < end; t++) {
			if (pf->cls[t] == c)
				return t;
		}
		if (s == 0)
			return 0;
		s = st->fail;
	}
}

int
prefilter_alloc_scan(struct prefilter *pf)
{
	pf->live = malloc((pf->set_count + 1) * sizeof(*pf->live));
	pf->set_mark = calloc(pf->set_count + 1, sizeof(*pf->set_mark));
	pf->set_starts = calloc(pf->set_count + 1, sizeof(*pf->set_starts));
	/* Only registered regexes are exact: alternatives need no hits. */
	pf->hits = calloc(pf->registered + 1, sizeof(*pf->hits));
	pf->start_pos = malloc(MAX_STARTS * sizeof(*pf->start_pos));
	pf->start_next = malloc(MAX_STARTS * sizeof(*pf->start_next));
	return pf->live == NULL || pf->set_mark == NULL ||
	        pf->set_starts == NULL || pf->hits == NULL ||
	        pf->start_pos == NULL || pf->start_next == NULL
	    ? -1
	    : 0;
}

int
prefilter_build(struct prefilter *pf)
{
	size_t total, i;
	uint32_t *next = NULL, st;
	int rc = -1;

	if (pf->built)
		return 0;
	if (pf->saved != NULL && prefilter_take_saved(pf) == 0) {
		rc = 0;
		goto forget;
	}
	pf->words = calloc(pf->registered + 1, sizeof(*pf->words));
	if (pf->words == NULL)
		goto out;
	for (i = 0; i < pf->registered; i++)
		analyse(pf, i, true);
	for (i = 0; i < pf->registered; i++) {
		if (!pf->regex[i].exact)
			add_alternatives(pf, i);
	}
	prefilter_free_automaton(pf);
	memset(pf->root, 0, sizeof(pf->root));
	if (pf->set_count >= UINT32_MAX || pf->regex_count >= UINT32_MAX ||
	    prefilter_alloc_scan(pf) == -1 || collect_literals(pf) == -1 ||
	    pack_literals(pf) == -1)
		goto out;
	total = trie_size(pf);
	if (total == SIZE_MAX || total >= UINT32_MAX)
		goto out;
	pf->first = calloc(total, sizeof(*pf->first));
	pf->fail = calloc(total, sizeof(*pf->fail));
	pf->cls = calloc(total, sizeof(*pf->cls));
	pf->out = malloc(total * sizeof(*pf->out));
	pf->dict = calloc(total, sizeof(*pf->dict));
	next = calloc(total, sizeof(*next));
	if (pf->first == NULL || pf->fail == NULL || pf->cls == NULL ||
	    pf->out == NULL || pf->dict == NULL || next == NULL)
		goto out;
	/* The trie; state 0 is the root. */
	pf->state_count = 1;
	pf->out[0] = -1;
	for (i = 0; i < pf->lit_count; i++) {
		const unsigned char *p = (const unsigned char *)pf->lits[i];

		for (st = 0; *p != '\0'; p++) {
			unsigned c = byte_class(*p);
			uint32_t t = listed_child(pf, next, st, c);

			if (t == 0) {
				if (pf->state_count >= total)
					goto out; /* cannot happen: sized above
					           */
				t = (uint32_t)pf->state_count++;
				pf->out[t] = -1;
				pf->cls[t] = (unsigned char)c;
				if (st == 0) {
					pf->root[c] = t;
				} else {
					next[t] = pf->first[st];
					pf->first[st] = t;
				}
			}
			st = t;
		}
		pf->out[st] = (int32_t)i;
	}
	if (renumber(pf, next) == -1)
		goto out;
	link_failures(pf);
	free(pf->set_score);
	pf->set_score = malloc((pf->set_count + 1) * sizeof(*pf->set_score));
	if (pf->set_score == NULL || build_rows(pf) == -1 ||
	    pack_states(pf) == -1)
		goto out;
	pf->built = true;
	prefilter_list_sets(pf, false);
	rc = 0;
	/* The automaton holds everything now: drop the literal sets (they
	 * can be large) and the exact regexes' languages, keeping only the
	 * sets' scores. */
	for (i = 0; i < pf->set_count; i++) {
		pf->set_score[i] = pf->set[i].score;
		set_free(&pf->set[i].ls);
	}
	free(pf->set);
	pf->set = NULL;
	pf->set_cap = 0;
	free_words(pf);
	free_literal_lists(pf);
	free(pf->set_index);
	pf->set_index = NULL;
	pf->set_index_size = 0;
forget:
	for (i = 0; i < pf->regex_count; i++)
		pf->regex[i].src = NULL;
	free_alternative_sources(pf);
	pf->saved = NULL;
	pf->saved_len = 0;
out:
	free(next);
	return rc;
}

/* A literal of set 'id' (one where regexes start) starts at 'pos'. */
static void
record_start(struct prefilter *pf, uint32_t id, size_t pos)
{
	struct set_starts *st = &pf->set_starts[id];
	bool fresh = st->stamp != pf->generation;

	/* Without branches (whether a set is new to this scan is not
	 * predictable): a list from an older scan is started again. */
	uint32_t keep = (uint32_t)fresh - 1; /* all ones when not fresh */

	st->stamp = pf->generation;
	st->head = (st->head & keep) | (NO_START & ~keep);
	st->lost = (st->lost & !fresh) != 0;
	if (pf->start_count == MAX_STARTS || pos >= NO_START) {
		st->lost = true;
		return;
	}
	pf->start_pos[pf->start_count] = (uint32_t)pos;
	pf->start_next[pf->start_count] = st->head;
	st->head = (uint32_t)pf->start_count++;
}

/* Set 'id' occurred in this scan. */
static void
mark_set(struct prefilter *pf, uint32_t id)
{
	/* Without branches: 'live' has room for one more than every set,
	 * so the id can always be written and is kept only when new. */
	struct set_mark *m = &pf->set_mark[id];
	size_t fresh = m->stamp != pf->generation;

	m->stamp = pf->generation;
	pf->live[pf->live_count] = id;
	pf->live_count += fresh & m->listed;
}

/* The slots [*lo, *hi) of the lists (see slot_flags) whose boundaries
 * an occurrence has: 'start_ok' when no word character comes before it,
 * 'end_ok' when none comes after.  The lists needing no boundary always
 * apply. */
static void
boundary_slots(bool start_ok, bool end_ok, unsigned *lo, unsigned *hi)
{
	*lo = start_ok ? (end_ok ? 0 : 1) : 2;
	*hi = end_ok ? 4 : 3;
}

/* Literal 'lit' ends at text[end - 1]: mark the regexes that need it,
 * and record exact matches whose word boundaries hold. */
static void
mark_literal(
    struct prefilter *pf, int32_t lit, const char *text, size_t len, size_t end)
{
	struct literal_refs *l = &pf->lit_refs[lit];
	size_t i, start = end - (l->len <= end ? l->len : end), stop;
	/* Without branches: the character before the literal (or its own
	 * first one, at the start of the text) and the one after (or its
	 * own last one, at the end) are read either way. */
	bool start_ok =
	    (start == 0) | !is_word_char(text[start > 0 ? start - 1 : start]);
	bool end_ok =
	    (end == len) | !is_word_char(text[end < len ? end : end - 1]);
	size_t word_end = end;
	unsigned lo, hi, seen;

	boundary_slots(start_ok, end_ok, &lo, &hi);
	for (i = l->at[4 + lo]; i < l->at[4 + hi]; i++)
		record_start(pf, pf->refs[i], start);
	/* Marking twice changes nothing: an occurrence with the same
	 * boundaries as an earlier one of this literal is skipped. */
	seen = (start_ok ? 2u : 0u) | (end_ok ? 1u : 0u);
	if (l->seen[seen] != pf->generation) {
		l->seen[seen] = pf->generation;
		for (i = l->at[lo]; i < l->at[hi]; i++)
			mark_set(pf, pf->refs[i]);
	}
	for (i = 0; i < l->exact_count; i++) {
		const struct exact_ref *e = &pf->exacts[l->exact_at + i];
		unsigned char b = e->bounds;
		struct exact_hit *h = &pf->hits[e->regex];

		stop = end;
		if ((b & 1) && !start_ok)
			continue;
		if (e->open) {
			/* \w* runs to the end of the word. */
			if (word_end == end)
				while (word_end < len &&
				    is_word_char(text[word_end]))
					word_end++;
			stop = word_end;
		} else if ((b & 2) && !end_ok) {
			continue;
		}
		mark_set(pf, e->set);
		if (h->gen != pf->generation || start < h->start ||
		    (start == h->start && stop < h->end)) {
			h->gen = pf->generation;
			h->start = start;
			h->end = stop;
		}
	}
}

void
prefilter_scan(struct prefilter *pf, const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text;
	uint32_t s = 0;
	size_t i;

	if (!pf->built)
		return;
	if (++pf->generation == 0) {
		/* Wrapped: forget every old stamp. */
		for (i = 0; i < pf->set_count; i++) {
			pf->set_mark[i].stamp = 0;
			pf->set_starts[i].stamp = 0;
		}
		for (i = 0; i < pf->registered; i++)
			pf->hits[i].gen = 0;
		for (i = 0; i < pf->lit_count; i++)
			memset(pf->lit_refs[i].seen, 0,
			    sizeof(pf->lit_refs[i].seen));
		pf->generation = 1;
	}
	pf->live_count = 0;
	pf->start_count = 0;
	for (i = 0; i < len; i++) {
		uint32_t t;

		s = scan_step(pf, s, byte_class(p[i]));
		for (t = s; t != 0; t = pf->state[t].dict) {
			if (pf->state[t].out >= 0)
				mark_literal(
				    pf, pf->state[t].out, text, len, i + 1);
		}
	}
}

/* A set found in at least this share of the sample texts is common. */
#define COMMON_PERCENT 50

/* Keep in each regex its sets that are not common; when all are, the
 * one found least often.  Exact regexes keep their own set. */
static void
drop_common_sets(struct prefilter *pf, const uint32_t *found, size_t n)
{
	size_t r, k, kept;

	for (r = 0; r < pf->regex_count; r++) {
		struct regex_info *ri = &pf->regex[r];
		size_t least = 0;

		if (ri->exact || ri->set_count < 2)
			continue;
		for (k = kept = 0; k < ri->set_count; k++) {
			uint32_t id = ri->sets[k];

			if (found[id] < found[ri->sets[least]])
				least = k;
			if ((uint64_t)found[id] * 100 <
			    (uint64_t)n * COMMON_PERCENT)
				ri->sets[kept++] = id;
		}
		if (kept == 0)
			ri->sets[kept++] = ri->sets[least];
		ri->set_count = (unsigned char)kept;
	}
}

/* Does regex 'r' ever need the start positions of its own start set?
 * Not when each of its alternatives has a start set: prefilter_starts()
 * then asks those (and, should they fail, searches without starts). */
static bool
own_starts_needed(const struct prefilter *pf, const struct regex_info *r)
{
	size_t k;

	for (k = 0; k < r->branch_count; k++) {
		if (!pf->regex[r->branch_at + k].has_start)
			return true;
	}
	return r->branch_count == 0;
}

/* Remove from the literals' mark lists every set no regex checks, and
 * from their start lists every set no anchored search asks for. */
static void
stop_marking_unused(struct prefilter *pf)
{
	bool *used = calloc(pf->set_count + 1, sizeof(*used));
	bool *starts_used = calloc(pf->set_count + 1, sizeof(*starts_used));
	size_t r, k, i, w = 0;

	if (used == NULL || starts_used == NULL) {
		free(used);
		free(starts_used);
		return; /* only costs time */
	}
	for (r = 0; r < pf->regex_count; r++) {
		struct regex_info *ri = &pf->regex[r];

		for (k = 0; k < ri->set_count; k++)
			used[ri->sets[k]] = true;
		if (ri->has_start && own_starts_needed(pf, ri))
			starts_used[ri->start_set] = true;
		else
			ri->has_start = false;
	}
	for (i = 0; i < pf->lit_count; i++) {
		struct literal_refs *l = &pf->lit_refs[i];
		uint32_t at[9];

		for (k = 0; k < 8; k++) {
			size_t j;

			at[k] = (uint32_t)w;
			for (j = l->at[k]; j < l->at[k + 1]; j++) {
				if ((k < 4 ? used : starts_used)[pf->refs[j]])
					pf->refs[w++] = pf->refs[j];
			}
		}
		at[8] = (uint32_t)w;
		memcpy(l->at, at, sizeof(at));
	}
	pf->ref_count = w;
	free(used);
	free(starts_used);
}

/* How rare a set is: found in fewer sample texts first, then by its
 * shortest literal as before.  Each regex's sets are put rarest first,
 * so a check that fails fails soonest and the key (sets[0]) is the set
 * that occurs least. */
static void
rank_by_rarity(struct prefilter *pf, const uint32_t *found, size_t n)
{
	size_t r, k, j;

	for (k = 0; k < pf->set_count; k++) {
		if (pf->set_score[k] == SIZE_MAX)
			continue; /* an exact regex's own: rarest of all */
		pf->set_score[k] = (n - (found[k] < n ? found[k] : n)) * 1024 +
		    (pf->set_score[k] < 1023 ? pf->set_score[k] : 1023);
	}
	for (r = 0; r < pf->regex_count; r++) {
		struct regex_info *ri = &pf->regex[r];

		for (k = 1; k < ri->set_count; k++) {
			uint32_t id = ri->sets[k];

			for (j = k; j > 0 &&
			     pf->set_score[ri->sets[j - 1]] < pf->set_score[id];
			     j--)
				ri->sets[j] = ri->sets[j - 1];
			ri->sets[j] = id;
		}
	}
}

void
prefilter_tune(struct prefilter *pf, const char *const *texts,
    const size_t *lens, size_t n)
{
	uint32_t *found;
	size_t i, k;

	if (!pf->built || pf->reused || n == 0)
		return;
	found = calloc(pf->set_count + 1, sizeof(*found));
	if (found == NULL)
		return;                /* only costs time */
	prefilter_list_sets(pf, true); /* counting needs them all */
	for (i = 0; i < n; i++) {
		prefilter_scan(pf, texts[i], lens[i]);
		for (k = 0; k < pf->live_count; k++)
			found[pf->live[k]]++;
	}
	drop_common_sets(pf, found, n);
	stop_marking_unused(pf);
	rank_by_rarity(pf, found, n);
	prefilter_list_sets(pf, false);
	free(found);
}

int
prefilter_exact(
    const struct prefilter *pf, size_t id, size_t *start, size_t *end)
{
	if (!pf->built || id >= pf->regex_count || !pf->regex[id].exact)
		return -1;
	if (pf->hits[id].gen != pf->generation)
		return 0;
	*start = pf->hits[id].start;
	*end = pf->hits[id].end;
	return 1;
}

size_t
prefilter_live(const struct prefilter *pf, const size_t **ids)
{
	if (!pf->built)
		return PREFILTER_NONE;
	*ids = pf->live;
	return pf->live_count;
}

void
prefilter_list_sets(struct prefilter *pf, bool all)
{
	size_t i;

	for (i = 0; i < pf->set_count; i++)
		pf->set_mark[i].listed = all;
	for (i = 0; i < pf->registered; i++) {
		if (pf->regex[i].set_count > 0)
			pf->set_mark[pf->regex[i].sets[0]].listed = 1;
	}
}

bool
prefilter_filters(const struct prefilter *pf, size_t id)
{
	return id < pf->regex_count && pf->regex[id].set_count > 0;
}

size_t
prefilter_key(const struct prefilter *pf, size_t id, size_t *score)
{
	/* Sets are kept best first; an exact regex has only its own. */
	if (!prefilter_filters(pf, id))
		return PREFILTER_NONE;
	*score = pf->set_score[pf->regex[id].sets[0]];
	return pf->regex[id].sets[0];
}

/* Did every set regex 'r' checks occur in the last scan? */
static bool
sets_occurred(const struct prefilter *pf, const struct regex_info *r)
{
	size_t k;

	for (k = 0; k < r->set_count; k++) {
		if (pf->set_mark[r->sets[k]].stamp != pf->generation)
			return false;
	}
	return true;
}

/* Merge the start positions of set 'set' from 'from' on into the
 * ordered pos[0..*n), at most 'max' of them; -1 when some were lost or
 * there are more. */
static int
merge_starts(const struct prefilter *pf, uint32_t set, size_t from, size_t *pos,
    size_t *n, size_t max)
{
	const struct set_starts *st = &pf->set_starts[set];
	uint32_t o;
	size_t i, j;

	if (st->stamp != pf->generation)
		return 0; /* none of its literals occurred */
	if (st->lost)
		return -1;
	for (o = st->head; o != NO_START; o = pf->start_next[o]) {
		if (pf->start_pos[o] < from)
			continue;
		/* Insertion in order, without repeats. */
		for (i = 0; i < *n && pos[i] < pf->start_pos[o]; i++)
			;
		if (i < *n && pos[i] == pf->start_pos[o])
			continue;
		if (*n == max)
			return -1;
		for (j = *n; j > i; j--)
			pos[j] = pos[j - 1];
		pos[i] = pf->start_pos[o];
		(*n)++;
	}
	return 0;
}

/* Where the possible alternatives of regex 'r' can start; -1 when one
 * of them does not start with known literals, or on too many. */
static long
alternative_starts(const struct prefilter *pf, const struct regex_info *r,
    size_t from, size_t *pos, size_t max)
{
	size_t n = 0, k;

	for (k = 0; k < r->branch_count; k++) {
		const struct regex_info *a = &pf->regex[r->branch_at + k];

		if (!sets_occurred(pf, a))
			continue;
		if (!a->has_start ||
		    merge_starts(pf, a->start_set, from, pos, &n, max) == -1)
			return -1;
	}
	return (long)n;
}

long
prefilter_starts(
    const struct prefilter *pf, size_t id, size_t from, size_t *pos, size_t max)
{
	const struct regex_info *r;
	size_t n = 0;
	long found;

	if (!pf->built || id >= pf->regex_count)
		return -1;
	r = &pf->regex[id];
	if (r->branch_count > 0) {
		found = alternative_starts(pf, r, from, pos, max);
		if (found >= 0)
			return found;
	}
	if (!r->has_start ||
	    merge_starts(pf, r->start_set, from, pos, &n, max) == -1)
		return -1;
	return (long)n;
}

size_t
prefilter_set_count(const struct prefilter *pf)
{
	return pf->set_count;
}

bool
prefilter_possible(const struct prefilter *pf, size_t id)
{
	const struct regex_info *r;
	size_t k;

	if (!pf->built || id >= pf->regex_count)
		return true;
	r = &pf->regex[id];
	if (!sets_occurred(pf, r))
		return false;
	for (k = 0; k < r->branch_count; k++) {
		if (sets_occurred(pf, &pf->regex[r->branch_at + k]))
			return true;
	}
	return r->branch_count == 0;
}
