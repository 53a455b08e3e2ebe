/* factor.c - prefix-tree rewrite of alternations; see factor.h.
 *
 * In every alternation, branches that start with a fixed character (a
 * literal not followed by a quantifier) are grouped by that character and
 * the character is pulled out: a|ab|b -> a(?:|b)|b, and so on down the
 * branches.  Why the order of tries is kept: at any one position only
 * branches starting with the character found there can go on, and among
 * those the original order holds.  A branch that could start with
 * anything (a class, a group, an assertion, an optional character, the
 * empty branch) keeps its place, and branches are only grouped between
 * two such branches.  Lookbehinds are copied as they are: PCRE2 wants
 * each of their branches to have one fixed length.
 *
 * The regex is checked once for syntax the rewrite does not know, then
 * written out straight from the source text: a branch is a range of it.
 */
#include "factor.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define MAX_DEPTH 200 /* nested groups; deeper regexes are left alone */

struct range {
	const char *p, *end;
};

static bool
is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

/* The end of the character class starting at p ('['), or NULL. */
const char *
regex_class_end(const char *p, const char *end)
{
	p++;
	if (p < end && *p == '^')
		p++;
	if (p < end && *p == ']')
		p++;
	while (p < end && *p != ']') {
		if (*p == '\\')
			p++;
		else if (*p == '[' && p + 1 < end && p[1] == ':') {
			const char *q = p + 2;

			while (q + 1 < end && !(q[0] == ':' && q[1] == ']'))
				q++;
			if (q + 1 >= end)
				return NULL;
			p = q + 1;
		}
		p++;
	}
	return p < end ? p + 1 : NULL;
}

/* Length of a group's opening ("(", "(?:", "(?<=" ...) at p, or 0 for
 * kinds the rewrite leaves alone (options, names, conditions). */
static size_t
group_open(const char *p, const char *end, bool *lookbehind)
{
	*lookbehind = false;
	if (p + 1 >= end || p[1] != '?')
		return 1;
	if (p + 2 < end && strchr(":=!>", p[2]) != NULL && p[2] != '\0')
		return 3;
	if (p + 3 < end && p[2] == '<' && (p[3] == '=' || p[3] == '!')) {
		*lookbehind = true;
		return 4;
	}
	return 0;
}

/* The end of the group starting at p ('('), just past its ')', or NULL
 * when it is unbalanced. */
const char *
regex_group_end(const char *p, const char *end)
{
	int depth = 0;

	while (p < end) {
		if (*p == '\\') {
			p += 2;
			continue;
		}
		if (*p == '[') {
			p = regex_class_end(p, end);
			if (p == NULL)
				return NULL;
			continue;
		}
		if (*p == '(')
			depth++;
		else if (*p == ')' && --depth == 0)
			return p + 1;
		p++;
	}
	return NULL;
}

/* Is every construct in the regex one the rewrite understands? */
static bool
supported(const char *p, const char *end)
{
	/* Escapes with a letter that stand for one thing and take no
	 * argument; anything else (\x, \p, \Q, back-references) is out. */
	static const char simple[] = "bBwWdDsShHvVAzZGntrfeR";
	int depth = 0;
	bool behind;

	while (p < end) {
		if (*p == '\\') {
			if (p + 1 >= end ||
			    (is_alnum(p[1]) && strchr(simple, p[1]) == NULL))
				return false;
			p += 2;
		} else if (*p == '[') {
			p = regex_class_end(p, end);
			if (p == NULL)
				return false;
		} else if (*p == '(') {
			size_t n = group_open(p, end, &behind);

			if (n == 0 || ++depth > MAX_DEPTH)
				return false;
			p += n;
		} else {
			if (*p == ')' && --depth < 0)
				return false;
			p++;
		}
	}
	return depth == 0;
}

static int write_alternation(
    const struct range *branches, size_t n, struct buf *out, int depth);

const char *
regex_atom_end(const char *p, const char *end)
{
	if (*p == '\\')
		return p + 1 < end ? p + 2 : NULL;
	if (*p == '[')
		return regex_class_end(p, end);
	if (*p == '(')
		return regex_group_end(p, end);
	return p + 1;
}

/* Split r at its top-level bars into *branches (malloc'd); the count,
 * or 0 when out of memory or the range is not well formed. */
static size_t
split_branches(struct range r, struct range **branches)
{
	const char *p, *start = r.p;
	size_t n = 1, i = 0;

	for (p = r.p; p != NULL && p < r.end;) {
		n += *p == '|';
		p = regex_atom_end(p, r.end);
	}
	if (p == NULL)
		return 0;
	*branches = calloc(n, sizeof(**branches));
	if (*branches == NULL)
		return 0;
	for (p = r.p; p != NULL && p < r.end;) {
		if (*p != '|' || i + 1 >= n) {
			p = regex_atom_end(p, r.end);
		} else {
			(*branches)[i].p = start;
			(*branches)[i++].end = p;
			start = ++p;
		}
	}
	(*branches)[i].p = start;
	(*branches)[i].end = r.end;
	return n;
}

/* Write one branch, rewriting the alternations of the groups in it. */
static int
write_sequence(struct range r, struct buf *out, int depth)
{
	const char *p = r.p, *copied = r.p;

	while (p < r.end) {
		const char *close;
		struct range inner, *branches;
		bool behind;
		size_t open, n;
		int rc;

		if (*p != '(') {
			p = regex_atom_end(p, r.end);
			if (p == NULL)
				return -1;
			continue;
		}
		close = regex_group_end(p, r.end);
		open = group_open(p, r.end, &behind);
		if (close == NULL || open == 0)
			return -1;
		if (behind) {
			p = close; /* copied as it is */
			continue;
		}
		if (buf_append(out, copied, (size_t)(p - copied + open)) == -1)
			return -1;
		inner.p = p + open;
		inner.end = close - 1;
		n = split_branches(inner, &branches);
		if (n == 0)
			return -1;
		rc = write_alternation(branches, n, out, depth + 1);
		free(branches);
		if (rc == -1 || buf_append_char(out, ')') == -1)
			return -1;
		p = copied = close;
	}
	return buf_append(out, copied, (size_t)(p - copied));
}

/* Length of the fixed first character of a branch ("a", "\."), or 0
 * when the branch could start with different characters or none. */
static size_t
fixed_start(struct range r)
{
	size_t k = 1;

	if (r.p == NULL || r.p >= r.end)
		return 0;
	if (r.p[0] == '\\') {
		if (r.p + 1 >= r.end || is_alnum(r.p[1]))
			return 0;
		k = 2;
	} else if (strchr(".^$|()[]*+?{}", r.p[0]) != NULL) {
		return 0;
	}
	if (r.p + k < r.end && strchr("?*+{", r.p[k]) != NULL)
		return 0;
	return k;
}

static int
separator(struct buf *out, bool *first)
{
	if (*first) {
		*first = false;
		return 0;
	}
	return buf_append_char(out, '|');
}

/* The byte a fixed first character stands for ('a' for "a", '.' for
 * "\."). */
static unsigned char
fixed_byte(struct range r)
{
	return (unsigned char)(r.p[0] == '\\' ? r.p[1] : r.p[0]);
}

static void
add_byte(uint64_t set[4], unsigned c)
{
	set[c / 64] |= (uint64_t)1 << (c % 64);
}

/* The bytes a branch can start with, in set[] (cleared first): for a
 * fixed first character, a group whose branches all have known first
 * bytes, a plain class, \d, or an optional first character followed by
 * such.  False when it could start with anything, or match nothing. */
static bool
first_bytes(struct range r, uint64_t set[4], int depth)
{
	const char *after;
	size_t k = fixed_start(r);

	memset(set, 0, 4 * sizeof(*set));
	if (r.p == NULL || r.p >= r.end || depth > 16)
		return false;
	if (k > 0) {
		add_byte(set, fixed_byte(r));
		return true;
	}
	if (r.p[0] == '\\' && r.p + 1 < r.end && r.p[1] == 'd') {
		after = r.p + 2;
		for (k = '0'; k <= '9'; k++)
			add_byte(set, (unsigned)k);
	} else if (r.p[0] == '[') {
		const char *q = r.p + 1;

		after = regex_class_end(r.p, r.end);
		if (after == NULL || *q == '^' || *q == ']')
			return false;
		for (; q < after - 1; q++) {
			unsigned lo = (unsigned char)*q, hi = lo, c;

			if (*q == '\\' || *q == '[')
				return false; /* escapes, [:classes:] */
			if (q + 2 < after - 1 && q[1] == '-') {
				hi = (unsigned char)q[2];
				q += 2;
			}
			for (c = lo; c <= hi; c++)
				add_byte(set, c);
		}
	} else if (r.p[0] == '(') {
		struct range inner, *branches = NULL;
		uint64_t one[4];
		bool behind;
		size_t open = group_open(r.p, r.end, &behind), n, i, w;

		after = regex_group_end(r.p, r.end);
		if (after == NULL || open == 0 ||
		    (r.p[1] == '?' && open != 3) || r.p[open - 1] == '=' ||
		    r.p[open - 1] == '!')
			return false; /* lookarounds and the like */
		inner.p = r.p + open;
		inner.end = after - 1;
		n = split_branches(inner, &branches);
		if (n == 0)
			return false;
		for (i = 0; i < n; i++) {
			if (!first_bytes(branches[i], one, depth + 1)) {
				free(branches);
				return false;
			}
			for (w = 0; w < 4; w++)
				set[w] |= one[w];
		}
		free(branches);
	} else {
		return false;
	}
	/* A repeat that may be empty lets the match start later. */
	return !(after < r.end &&
	    (*after == '?' || *after == '*' ||
	        (*after == '{' && after + 1 < r.end && after[1] == '0')));
}

/* Write branches b[0..n) as one alternation, factored.  Branches are
 * laid out in slots: a branch that does not start with a fixed
 * character has a slot of its own, where it was; a branch that does
 * joins the slot of the latest earlier branch with the same first
 * character, unless a branch in between could start with that
 * character too (then it opens a slot of its own). */
static int
write_alternation(const struct range *b, size_t n, struct buf *out, int depth)
{
	size_t *slot_first = NULL, *next = NULL, *last = NULL;
	struct range *sub = NULL;
	bool *barrier = NULL, first = true;
	size_t open_slot[256], blocked[256], blocked_all = 0;
	size_t slots = 0, i, t, s, k;
	int rc = -1;

	if (depth > MAX_DEPTH)
		return -1;
	if (n == 0)
		return 0;
	sub = calloc(n, sizeof(*sub));
	slot_first = calloc(n, sizeof(*slot_first));
	last = calloc(n, sizeof(*last));
	next = calloc(n, sizeof(*next));
	barrier = calloc(n, sizeof(*barrier));
	if (sub == NULL || slot_first == NULL || last == NULL || next == NULL ||
	    barrier == NULL)
		goto out;
	/* Slot numbers are stored plus one: 0 is "none". */
	memset(open_slot, 0, sizeof(open_slot));
	memset(blocked, 0, sizeof(blocked));
	for (i = 0; i < n; i++) {
		uint64_t set[4];
		unsigned c;

		next[i] = SIZE_MAX;
		if (fixed_start(b[i]) == 0) {
			barrier[slots] = true;
			slot_first[slots++] = i;
			if (!first_bytes(b[i], set, 0)) {
				blocked_all = slots;
				continue;
			}
			for (c = 0; c < 256; c++) {
				if (set[c / 64] >> (c % 64) & 1)
					blocked[c] = slots;
			}
			continue;
		}
		c = fixed_byte(b[i]);
		s = open_slot[c];
		if (s != 0 && blocked[c] < s && blocked_all < s) {
			next[last[s - 1]] = i;
			last[s - 1] = i;
			continue;
		}
		slot_first[slots] = last[slots] = i;
		open_slot[c] = ++slots;
	}
	for (s = 0; s < slots; s++) {
		size_t m = slot_first[s], count = 0;

		if (separator(out, &first) == -1)
			goto out;
		if (barrier[s] || next[m] == SIZE_MAX) {
			if (write_sequence(b[m], out, depth) == -1)
				goto out;
			continue;
		}
		for (t = m; t != SIZE_MAX; t = next[t]) {
			sub[count].p = b[t].p + fixed_start(b[t]);
			sub[count++].end = b[t].end;
		}
		k = fixed_start(b[m]);
		/* Pull out all that the group has in common. */
		for (;;) {
			size_t more = fixed_start(sub[0]);

			for (t = 1; more > 0 && t < count; t++) {
				if (fixed_start(sub[t]) != more ||
				    memcmp(sub[t].p, sub[0].p, more) != 0)
					more = 0;
			}
			if (more == 0)
				break;
			for (t = 0; t < count; t++)
				sub[t].p += more;
			k += more;
		}
		if (buf_append(out, b[m].p, k) == -1 ||
		    buf_append_str(out, "(?:") == -1 ||
		    write_alternation(sub, count, out, depth + 1) == -1 ||
		    buf_append_char(out, ')') == -1)
			goto out;
	}
	rc = 0;
out:
	free(sub);
	free(slot_first);
	free(last);
	free(next);
	free(barrier);
	return rc;
}

int
regex_factor(const char *src, struct buf *out)
{
	struct range all = {src, src + strlen(src)}, *branches;
	size_t n;
	int rc;

	buf_reset(out);
	if (!supported(all.p, all.end))
		return -1;
	n = split_branches(all, &branches);
	if (n == 0)
		return -1;
	rc = write_alternation(branches, n, out, 0);
	free(branches);
	return rc;
}
