/* prefilter.c - required-literal analysis of regexes + Aho-Corasick.
 *
 * Analysis is a small recursive-descent reading of PCRE2 syntax that
 * answers one question per (sub)pattern: which set of strings must a
 * match contain one of?  A sequence offers several candidate sets (runs
 * of mandatory literal characters, mandatory groups); the most selective
 * one (longest shortest string) is kept.  An alternation needs every
 * branch known and unions them.  Anything unusual gives up ("unknown"),
 * which only costs speed.
 *
 * The automaton works on a reduced alphabet (letters, digits, space, '.',
 * ',' and "other"), which is all normalised text contains, so its dense
 * transition table stays small.  Per-scan marks use a generation stamp so
 * nothing is cleared between messages.
 */
#include "prefilter.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SET  512 /* literals in one set before giving up */
#define ALPHABET 40  /* see byte_class() */

/* ------------------------------------------------------------ literal sets */

struct litset {
	bool known;
	char **s;
	size_t n;
};

static void
set_free(struct litset *ls)
{
	size_t i;

	for (i = 0; i < ls->n; i++)
		free(ls->s[i]);
	free(ls->s);
	ls->s = NULL;
	ls->n = 0;
	ls->known = false;
}

static int
set_add(struct litset *ls, const char *s, size_t len)
{
	char **ns;
	char *copy;

	if (ls->n >= MAX_SET)
		return -1;
	copy = malloc(len + 1);
	ns = realloc(ls->s, (ls->n + 1) * sizeof(*ns));
	if (copy == NULL || ns == NULL) {
		free(copy);
		if (ns != NULL)
			ls->s = ns;
		return -1;
	}
	memcpy(copy, s, len);
	copy[len] = '\0';
	ls->s = ns;
	ls->s[ls->n++] = copy;
	ls->known = true;
	return 0;
}

static size_t
set_shortest(const struct litset *ls)
{
	size_t i, m = SIZE_MAX;

	for (i = 0; i < ls->n; i++) {
		size_t l = strlen(ls->s[i]);

		if (l < m)
			m = l;
	}
	return ls->n == 0 ? 0 : m;
}

/* Keep the better of *best and *cand (by shortest literal, then by
 * fewer literals); frees the other. */
static void
keep_better(struct litset *best, struct litset *cand)
{
	size_t b = set_shortest(best), c = set_shortest(cand);

	if (cand->known &&
	    (!best->known || c > b || (c == b && cand->n < best->n))) {
		set_free(best);
		*best = *cand;
	} else {
		set_free(cand);
	}
	memset(cand, 0, sizeof(*cand));
}

/* ------------------------------------------------------------ the parser */

struct parser {
	const char *p, *end;
	bool failed; /* syntax we do not analyse */
};

static struct litset parse_alternation(struct parser *ps);

/* Skip a character class starting at '['. */
static void
skip_class(struct parser *ps)
{
	ps->p++;
	if (ps->p < ps->end && *ps->p == '^')
		ps->p++;
	if (ps->p < ps->end && *ps->p == ']')
		ps->p++;
	while (ps->p < ps->end && *ps->p != ']') {
		if (*ps->p == '\\')
			ps->p++;
		else if (*ps->p == '[' && ps->p + 1 < ps->end &&
		    ps->p[1] == ':') {
			const char *close = strstr(ps->p, ":]");

			if (close != NULL && close < ps->end)
				ps->p = close + 1;
		}
		ps->p++;
	}
	if (ps->p >= ps->end)
		ps->failed = true;
	else
		ps->p++;
}

/* Read a quantifier after an atom; returns its minimum (1 when none). */
static unsigned
parse_quantifier(struct parser *ps, bool *quantified)
{
	unsigned min = 1;

	*quantified = false;
	if (ps->p >= ps->end)
		return 1;
	if (*ps->p == '?' || *ps->p == '*') {
		min = 0;
		*quantified = true;
		ps->p++;
	} else if (*ps->p == '+') {
		*quantified = true;
		ps->p++;
	} else if (*ps->p == '{' && ps->p + 1 < ps->end && ps->p[1] >= '0' &&
	    ps->p[1] <= '9') {
		const char *q = ps->p + 1;

		min = 0;
		while (q < ps->end && *q >= '0' && *q <= '9')
			min = min * 10 + (unsigned)(*q++ - '0');
		while (q < ps->end && ((*q >= '0' && *q <= '9') || *q == ','))
			q++;
		if (q >= ps->end || *q != '}')
			return 1; /* a literal '{' */
		ps->p = q + 1;
		*quantified = true;
	} else {
		return 1;
	}
	if (ps->p < ps->end && (*ps->p == '?' || *ps->p == '+'))
		ps->p++; /* lazy or possessive */
	return min;
}

/* The literal run so far becomes a candidate. */
static void
flush_run(struct litset *best, const char *run, size_t *runlen)
{
	struct litset cand = {0};

	if (*runlen > 0 && set_add(&cand, run, *runlen) == 0)
		keep_better(best, &cand);
	else
		set_free(&cand);
	*runlen = 0;
}

static struct litset
parse_sequence(struct parser *ps)
{
	struct litset best = {0};
	char run[256];
	size_t runlen = 0;

	while (
	    ps->p < ps->end && *ps->p != '|' && *ps->p != ')' && !ps->failed) {
		char c = *ps->p;
		bool literal = false, quantified, group = false;
		struct litset inner = {0};
		unsigned min;
		char lit = 0;

		if (c == '\\') {
			char e = ps->p + 1 < ps->end ? ps->p[1] : '\0';

			ps->p += 2;
			if (strchr("bBsSdDwW", e) != NULL && e != '\0') {
				/* class or assertion: not a literal */
			} else if (e != '\0' &&
			    !((e >= 'a' && e <= 'z') ||
			        (e >= 'A' && e <= 'Z') ||
			        (e >= '0' && e <= '9'))) {
				literal = true;
				lit = e;
			} else {
				ps->failed = true;
				break;
			}
		} else if (c == '[') {
			skip_class(ps);
		} else if (c == '.' || c == '^' || c == '$') {
			ps->p++;
		} else if (c == '(') {
			bool skip = false;

			ps->p++;
			if (ps->p < ps->end && *ps->p == '?') {
				if (ps->p + 1 < ps->end &&
				    (ps->p[1] == ':' || ps->p[1] == '>')) {
					ps->p += 2;
				} else if (ps->p + 1 < ps->end &&
				    (ps->p[1] == '=' || ps->p[1] == '!')) {
					ps->p += 2;
					skip = true;
				} else if (ps->p + 2 < ps->end &&
				    ps->p[1] == '<' &&
				    (ps->p[2] == '=' || ps->p[2] == '!')) {
					ps->p += 3;
					skip = true;
				} else {
					ps->failed = true;
					break;
				}
			}
			inner = parse_alternation(ps);
			if (ps->p >= ps->end || *ps->p != ')') {
				ps->failed = true;
				set_free(&inner);
				break;
			}
			ps->p++;
			if (skip)
				set_free(&inner); /* lookaround: no text */
			else
				group = true;
		} else {
			literal = true;
			lit = c;
			ps->p++;
		}
		min = parse_quantifier(ps, &quantified);
		if (literal && min >= 1 && runlen < sizeof(run)) {
			run[runlen++] = lit;
			if (quantified)
				flush_run(&best, run, &runlen);
			continue;
		}
		flush_run(&best, run, &runlen);
		if (group && min >= 1)
			keep_better(&best, &inner);
		else
			set_free(&inner);
	}
	flush_run(&best, run, &runlen);
	return best;
}

static struct litset
parse_alternation(struct parser *ps)
{
	struct litset all = {0};
	bool unknown = false;

	for (;;) {
		struct litset branch = parse_sequence(ps);
		size_t i;

		if (!branch.known || ps->failed)
			unknown = true;
		for (i = 0; i < branch.n && !unknown; i++) {
			if (set_add(&all, branch.s[i], strlen(branch.s[i])) ==
			    -1)
				unknown = true;
		}
		set_free(&branch);
		if (ps->p < ps->end && *ps->p == '|') {
			ps->p++;
			continue;
		}
		break;
	}
	if (unknown)
		set_free(&all);
	return all;
}

/* ------------------------------------------------------------ automaton */

struct literal {
	size_t *regexes; /* ids of regexes that need this literal */
	size_t count;
	uint32_t seen; /* scan generation it was last marked in */
};

struct prefilter {
	/* Registered regexes: their literal ids, or always-run. */
	struct litset *sets;
	bool *always;
	uint32_t *possible; /* generation stamp per regex */
	size_t regex_count, regex_cap;
	/* Distinct literals and the automaton over them. */
	char **lits;
	struct literal *lit;
	size_t lit_count, lit_cap;
	uint32_t (*next)[ALPHABET]; /* state x class -> state */
	int32_t *out;               /* literal ending here, or -1 */
	uint32_t *dict;             /* next state on the suffix chain with
	                               an output, 0 for none */
	size_t state_count;
	uint32_t generation;
	bool built;
};

static unsigned
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

void
prefilter_free(struct prefilter *pf)
{
	size_t i;

	if (pf == NULL)
		return;
	for (i = 0; i < pf->regex_count; i++)
		set_free(&pf->sets[i]);
	free(pf->sets);
	free(pf->always);
	free(pf->possible);
	for (i = 0; i < pf->lit_count; i++) {
		free(pf->lits[i]);
		free(pf->lit[i].regexes);
	}
	free(pf->lits);
	free(pf->lit);
	free(pf->next);
	free(pf->out);
	free(pf->dict);
	free(pf);
}

size_t
prefilter_add(struct prefilter *pf, const char *src)
{
	struct parser ps = {src, src + strlen(src), false};
	struct litset ls;
	size_t id;

	if (pf->regex_count == pf->regex_cap) {
		size_t ncap = pf->regex_cap == 0 ? 256 : pf->regex_cap * 2;
		struct litset *ns = realloc(pf->sets, ncap * sizeof(*ns));
		bool *na;

		if (ns == NULL)
			return PREFILTER_NONE;
		pf->sets = ns;
		na = realloc(pf->always, ncap * sizeof(*na));
		if (na == NULL)
			return PREFILTER_NONE;
		pf->always = na;
		pf->regex_cap = ncap;
	}
	ls = parse_alternation(&ps);
	if (ps.failed || ps.p != ps.end || set_shortest(&ls) == 0)
		set_free(&ls);
	id = pf->regex_count++;
	pf->sets[id] = ls;
	pf->always[id] = !ls.known;
	pf->built = false;
	return id;
}

static uint32_t
hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/* Intern the literals (through a temporary hash index) and note which
 * regexes need each. */
static int
collect_literals(struct prefilter *pf)
{
	size_t r, i, mentions = 0, size = 64, h;
	long *index;
	int rc = -1;

	for (r = 0; r < pf->regex_count; r++)
		mentions += pf->sets[r].n;
	while (size < mentions * 2)
		size *= 2;
	index = malloc(size * sizeof(*index));
	if (index == NULL)
		return -1;
	for (i = 0; i < size; i++)
		index[i] = -1;
	for (r = 0; r < pf->regex_count; r++) {
		for (i = 0; i < pf->sets[r].n; i++) {
			const char *s = pf->sets[r].s[i];
			struct literal *l;
			size_t *nr;

			for (h = hash_str(s) & (size - 1); index[h] >= 0 &&
			     strcmp(pf->lits[index[h]], s) != 0;
			     h = (h + 1) & (size - 1))
				;
			if (index[h] < 0) {
				if (pf->lit_count == pf->lit_cap) {
					size_t ncap = pf->lit_cap == 0
					    ? 256
					    : pf->lit_cap * 2;
					char **nl = realloc(
					    pf->lits, ncap * sizeof(*nl));
					struct literal *nli;

					if (nl == NULL)
						goto out;
					pf->lits = nl;
					nli = realloc(
					    pf->lit, ncap * sizeof(*nli));
					if (nli == NULL)
						goto out;
					pf->lit = nli;
					pf->lit_cap = ncap;
				}
				pf->lits[pf->lit_count] = strdup(s);
				if (pf->lits[pf->lit_count] == NULL)
					goto out;
				memset(&pf->lit[pf->lit_count], 0,
				    sizeof(struct literal));
				index[h] = (long)pf->lit_count++;
			}
			l = &pf->lit[index[h]];
			if (l->count > 0 && l->regexes[l->count - 1] == r)
				continue;
			nr = realloc(l->regexes, (l->count + 1) * sizeof(*nr));
			if (nr == NULL)
				goto out;
			l->regexes = nr;
			l->regexes[l->count++] = r;
		}
	}
	rc = 0;
out:
	free(index);
	return rc;
}

int
prefilter_build(struct prefilter *pf)
{
	size_t total = 1, i, s, head, tail;
	uint32_t *fail = NULL, *queue = NULL;
	int rc = -1;

	free(pf->next);
	free(pf->out);
	free(pf->dict);
	free(pf->possible);
	pf->next = NULL;
	pf->out = NULL;
	pf->dict = NULL;
	pf->built = false;
	pf->possible = calloc(pf->regex_count + 1, sizeof(*pf->possible));
	if (pf->possible == NULL || collect_literals(pf) == -1)
		goto out;
	for (i = 0; i < pf->lit_count; i++)
		total += strlen(pf->lits[i]);
	pf->next = calloc(total, sizeof(*pf->next));
	pf->out = malloc(total * sizeof(*pf->out));
	pf->dict = calloc(total, sizeof(*pf->dict));
	fail = calloc(total, sizeof(*fail));
	queue = malloc(total * sizeof(*queue));
	if (pf->next == NULL || pf->out == NULL || pf->dict == NULL ||
	    fail == NULL || queue == NULL)
		goto out;
	/* The trie: state 0 is the root; 0 in 'next' means "no edge yet"
	 * (no edge ever leads back to the root while building). */
	pf->state_count = 1;
	pf->out[0] = -1;
	for (i = 0; i < pf->lit_count; i++) {
		const unsigned char *p = (const unsigned char *)pf->lits[i];

		for (s = 0; *p != '\0'; p++) {
			unsigned c = byte_class(*p);

			if (pf->next[s][c] == 0) {
				pf->out[pf->state_count] = -1;
				pf->next[s][c] = (uint32_t)pf->state_count++;
			}
			s = pf->next[s][c];
		}
		pf->out[s] = (int32_t)i;
	}
	/* Breadth-first: failure links, dictionary links, and the missing
	 * edges filled in from the failure state (a full DFA). */
	head = tail = 0;
	for (i = 0; i < ALPHABET; i++) {
		if (pf->next[0][i] != 0)
			queue[tail++] = pf->next[0][i];
	}
	while (head < tail) {
		uint32_t u = queue[head++];

		pf->dict[u] =
		    pf->out[fail[u]] >= 0 ? fail[u] : pf->dict[fail[u]];
		for (i = 0; i < ALPHABET; i++) {
			uint32_t v = pf->next[u][i];

			if (v != 0) {
				fail[v] = pf->next[fail[u]][i];
				queue[tail++] = v;
			} else {
				pf->next[u][i] = pf->next[fail[u]][i];
			}
		}
	}
	pf->built = true;
	rc = 0;
out:
	free(fail);
	free(queue);
	return rc;
}

static void
mark_literal(struct prefilter *pf, int32_t lit)
{
	struct literal *l = &pf->lit[lit];
	size_t i;

	if (l->seen == pf->generation)
		return;
	l->seen = pf->generation;
	for (i = 0; i < l->count; i++)
		pf->possible[l->regexes[i]] = pf->generation;
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
		memset(pf->possible, 0, pf->regex_count * sizeof(uint32_t));
		for (i = 0; i < pf->lit_count; i++)
			pf->lit[i].seen = 0;
		pf->generation = 1;
	}
	for (i = 0; i < len; i++) {
		uint32_t t;

		s = pf->next[s][byte_class(p[i])];
		for (t = s; t != 0; t = pf->dict[t]) {
			if (pf->out[t] >= 0)
				mark_literal(pf, pf->out[t]);
		}
	}
}

bool
prefilter_possible(const struct prefilter *pf, size_t id)
{
	if (!pf->built || id >= pf->regex_count)
		return true;
	return pf->always[id] || pf->possible[id] == pf->generation;
}

void
prefilter_stats(const struct prefilter *pf, size_t *regexes, size_t *unfiltered,
    size_t *literals, size_t *states)
{
	size_t i, n = 0;

	for (i = 0; i < pf->regex_count; i++)
		n += pf->always[i];
	*regexes = pf->regex_count;
	*unfiltered = n;
	*literals = pf->lit_count;
	*states = pf->state_count;
}
