/* prefilter.c - required-literal analysis of regexes + Aho-Corasick.
 *
 * Analysis is a small recursive-descent reading of PCRE2 syntax that
 * answers one question per (sub)pattern: which sets of strings must a
 * match contain one of each?  A sequence offers several candidate sets
 * (runs of mandatory literal characters, mandatory groups, the text a
 * positive lookaround needs) and keeps the most selective few (longest
 * shortest string): a match needs one literal of every kept set.  An
 * alternation needs every branch known and unions one set of each.
 * Anything unusual gives up ("unknown"), which only costs speed.
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

#include "text.h"

#define MAX_SET    512  /* literals in one set before giving up */
#define MAX_NEED   4    /* sets of one regex that must all occur */
#define ALPHABET   40   /* see byte_class() */
#define DENSE_MIN  3    /* children that earn a state a full row */
#define DENSE_ROWS 4096 /* full rows at most (640 KiB) */
#define MAX_STARTS 4096 /* start positions remembered per scan */
#define NO_START   UINT32_MAX

/* ------------------------------------------------------------ literal sets */

/* A literal is stored after one byte of flags, '0' + LIT_*: where the
 * regex needs a word boundary around it (\bpt\b is rarer than pt). */
#define LIT_START 1 /* a word starts where the literal starts */
#define LIT_END   2 /* a word ends where the literal ends */

struct litset {
	bool known;
	char **s; /* flags byte, then the literal */
	size_t n, cap;
	size_t shortest; /* see set_shortest(); kept as literals come */
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
	ls->cap = 0;
	ls->known = false;
}

/* How rare a stored literal is, roughly: its length, a boundary
 * counting as one more character; 0 for the empty literal. */
static size_t
literal_weight(const char *s)
{
	unsigned f = (unsigned)(s[0] - '0');
	size_t l = strlen(s + 1);

	if (l > 0)
		l += (f & LIT_START ? 1 : 0) + (f & LIT_END ? 1 : 0);
	return l;
}

/* Add string 's' (malloc'd) to 'ls', which takes it over.  -1 when the
 * set is full or memory runs out (then 's' still belongs to the caller). */
static int
set_take(struct litset *ls, char *s)
{
	if (ls->n >= MAX_SET)
		return -1;
	if (ls->n == ls->cap) {
		size_t ncap = ls->cap == 0 ? 8 : ls->cap * 2;
		char **ns = realloc(ls->s, ncap * sizeof(*ns));

		if (ns == NULL)
			return -1;
		ls->s = ns;
		ls->cap = ncap;
	}
	ls->s[ls->n++] = s;
	if (ls->n == 1 || literal_weight(s) < ls->shortest)
		ls->shortest = literal_weight(s);
	ls->known = true;
	return 0;
}

/* 'c' as the automaton sees it: every byte of one class is the same. */
static char
canonical(char c)
{
	if (c >= 'A' && c <= 'Z')
		return (char)(c - 'A' + 'a');
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ' ' ||
	    c == '.' || c == ',')
		return c;
	return '?'; /* "other" */
}

static bool is_word_char(char c);

/* Add a copy of the 'len' bytes at 's', in canonical form, so that two
 * literals the automaton cannot tell apart are one literal.  'flags'
 * (LIT_*) count only next to a word character. */
static int
set_add(struct litset *ls, const char *s, size_t len, unsigned flags)
{
	char *copy = malloc(len + 2);
	size_t i;

	if (copy == NULL)
		return -1;
	if (len == 0 || !is_word_char(s[0]))
		flags &= ~(unsigned)LIT_START;
	if (len == 0 || !is_word_char(s[len - 1]))
		flags &= ~(unsigned)LIT_END;
	copy[0] = (char)('0' + flags);
	for (i = 0; i < len; i++)
		copy[i + 1] = canonical(s[i]);
	copy[len + 1] = '\0';
	if (set_take(ls, copy) == -1) {
		free(copy);
		return -1;
	}
	return 0;
}

/* The shortest literal, a boundary counting as one more character:
 * a rough measure of how rarely the set occurs. */
static size_t
set_shortest(const struct litset *ls)
{
	return ls->n == 0 ? 0 : ls->shortest;
}

/* Is 'a' more selective than 'b'?  By shortest literal, then by fewer
 * literals. */
static bool
set_better(const struct litset *a, const struct litset *b)
{
	size_t la = set_shortest(a), lb = set_shortest(b);

	return la > lb || (la == lb && a->n < b->n);
}

/* What a (sub)pattern needs: one literal of each set; none known when
 * n == 0.  Sets are kept best first. */
struct need {
	struct litset set[MAX_NEED];
	size_t n;
};

static void
need_free(struct need *nd)
{
	size_t i;

	for (i = 0; i < nd->n; i++)
		set_free(&nd->set[i]);
	nd->n = 0;
}

/* Offer 'cand' to 'nd', which keeps it if it is among the best
 * MAX_NEED; 'cand' is taken over (or freed) either way.  Sets with an
 * empty string say nothing and are dropped. */
static void
need_offer(struct need *nd, struct litset *cand)
{
	size_t at, i;

	if (!cand->known || set_shortest(cand) == 0) {
		set_free(cand);
		return;
	}
	/* A set with a blank literal occurs in every message of two words:
	 * it would only cost time. */
	for (i = 0; i < cand->n; i++) {
		if (strspn(cand->s[i] + 1, " ") == strlen(cand->s[i] + 1)) {
			set_free(cand);
			return;
		}
	}
	for (at = nd->n; at > 0 && set_better(cand, &nd->set[at - 1]); at--)
		;
	if (at == MAX_NEED) {
		set_free(cand);
		return;
	}
	if (nd->n == MAX_NEED)
		set_free(&nd->set[--nd->n]);
	memmove(
	    &nd->set[at + 1], &nd->set[at], (nd->n - at) * sizeof(nd->set[0]));
	nd->set[at] = *cand;
	nd->n++;
	memset(cand, 0, sizeof(*cand));
}

/* Move every set of 'from' into 'to'. */
static void
need_merge(struct need *to, struct need *from)
{
	size_t i;

	for (i = 0; i < from->n; i++)
		need_offer(to, &from->set[i]);
	from->n = 0;
}

/* ------------------------------------------------------------ the parser */

struct parser {
	const char *p, *end;
	bool failed; /* syntax we do not analyse */
};

static struct need parse_alternation_in(
    struct parser *ps, bool before, bool after);

/* Skip a character class starting at '['.  When it lists plain
 * characters only ("[?]", "[.?]"), *chars gets them (up to 8); otherwise
 * it is left empty. */
static void
skip_class(struct parser *ps, char chars[9])
{
	const char *start = ps->p + 1;
	bool plain = true;

	ps->p++;
	if (ps->p < ps->end && *ps->p == '^') {
		plain = false;
		ps->p++;
	}
	if (ps->p < ps->end && *ps->p == ']')
		ps->p++;
	while (ps->p < ps->end && *ps->p != ']') {
		if (*ps->p == '\\' || *ps->p == '-' || *ps->p == '[')
			plain = false;
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
	chars[0] = '\0';
	if (ps->p >= ps->end) {
		ps->failed = true;
		return;
	}
	if (plain && ps->p > start && ps->p - start <= 8) {
		memcpy(chars, start, (size_t)(ps->p - start));
		chars[ps->p - start] = '\0';
	}
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

/* The literal run so far becomes a candidate; 'flags' (LIT_*) say
 * whether word boundaries surround it. */
static void
flush_run(struct need *nd, const char *run, size_t *runlen, unsigned flags)
{
	struct litset cand = {0};

	if (*runlen > 0 && set_add(&cand, run, *runlen, flags) == 0)
		need_offer(nd, &cand);
	else
		set_free(&cand);
	*runlen = 0;
}

/* Each of 'chars' as a one-character literal: a candidate set. */
static void
offer_chars(struct need *nd, const char *chars)
{
	struct litset cand = {0};

	for (; *chars != '\0'; chars++) {
		if (set_add(&cand, chars, 1, 0) == -1) {
			set_free(&cand);
			return;
		}
	}
	need_offer(nd, &cand);
}

/* Just past the group that starts at p ('('), or NULL. */
static const char *
group_close(const char *p, const char *end)
{
	int depth = 0;

	while (p < end) {
		if (*p == '\\') {
			p += 2;
			continue;
		}
		if (*p == '[') {
			struct parser cls = {p, end, false};
			char chars[9];

			skip_class(&cls, chars);
			if (cls.failed)
				return NULL;
			p = cls.p;
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

/* What one branch needs.  'before' / 'after': a word boundary is
 * asserted just before / after the branch (\b(?:...) and (?:...)\b). */
static struct need
parse_sequence(struct parser *ps, bool before, bool after)
{
	struct need nd = {0};
	char run[256];
	size_t runlen = 0;
	unsigned run_flags = 0;
	bool boundary = before; /* the last thing read was \b */

	while (
	    ps->p < ps->end && *ps->p != '|' && *ps->p != ')' && !ps->failed) {
		char c = *ps->p, chars[9] = "";
		bool literal = false, quantified, group = false;
		bool was_boundary = boundary;
		struct need inner = {0};
		unsigned min;
		char lit = 0;

		boundary = false;
		if (c == '\\') {
			char e = ps->p + 1 < ps->end ? ps->p[1] : '\0';

			if (e == 'b' && runlen > 0)
				flush_run(
				    &nd, run, &runlen, run_flags | LIT_END);
			ps->p += 2;
			if (strchr("bBsSdDwW", e) != NULL && e != '\0') {
				/* class or assertion: not a literal */
				boundary = e == 'b';
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
			skip_class(ps, chars);
			if (chars[0] != '\0' && chars[1] == '\0') {
				literal = true;
				lit = chars[0];
				chars[0] = '\0';
			}
		} else if (c == '.' || c == '^' || c == '$') {
			ps->p++;
		} else if (c == '(') {
			const char *close = group_close(ps->p, ps->end);
			bool negative = false, plain = false, inner_after;

			ps->p++;
			if (ps->p < ps->end && *ps->p == '?') {
				if (ps->p + 1 < ps->end &&
				    (ps->p[1] == ':' || ps->p[1] == '>')) {
					plain = true;
					ps->p += 2;
				} else if (ps->p + 1 < ps->end &&
				    (ps->p[1] == '=' || ps->p[1] == '!')) {
					negative = ps->p[1] == '!';
					ps->p += 2;
				} else if (ps->p + 2 < ps->end &&
				    ps->p[1] == '<' &&
				    (ps->p[2] == '=' || ps->p[2] == '!')) {
					negative = ps->p[2] == '!';
					ps->p += 3;
				} else {
					ps->failed = true;
					break;
				}
			} else {
				plain = true;
			}
			/* Boundaries around a group bind its branches when
			 * nothing (no quantifier) comes between. */
			inner_after = plain && close != NULL &&
			    close + 1 < ps->end && close[0] == '\\' &&
			    close[1] == 'b';
			inner = parse_alternation_in(
			    ps, plain && was_boundary, inner_after);
			if (ps->p >= ps->end || *ps->p != ')') {
				ps->failed = true;
				need_free(&inner);
				break;
			}
			ps->p++;
			if (negative)
				need_free(
				    &inner); /* says what must be absent */
			else
				group = true; /* a positive lookaround's text
				                 must be there too */
		} else {
			literal = true;
			lit = c;
			ps->p++;
		}
		min = parse_quantifier(ps, &quantified);
		if (literal && min >= 1 && runlen < sizeof(run)) {
			if (runlen == 0)
				run_flags = was_boundary ? LIT_START : 0;
			run[runlen++] = lit;
			if (quantified)
				flush_run(&nd, run, &runlen, run_flags);
			continue;
		}
		flush_run(&nd, run, &runlen, run_flags);
		if (chars[0] != '\0' && min >= 1)
			offer_chars(&nd, chars);
		if (group && min >= 1)
			need_merge(&nd, &inner);
		else
			need_free(&inner);
		if (quantified)
			boundary = false;
	}
	flush_run(&nd, run, &runlen, run_flags | (after ? LIT_END : 0));
	return nd;
}

/* One branch needs all its sets; of an alternation, only one branch
 * matches, so it needs the union of one set from each branch (the best
 * one).  A lone branch keeps all its sets. */
static struct need
parse_alternation_in(struct parser *ps, bool before, bool after)
{
	struct need first = parse_sequence(ps, before, after), all = {0};
	bool unknown = false;

	if (ps->p >= ps->end || *ps->p != '|')
		return first;
	all.n = 1;
	for (;;) {
		struct need branch = first;
		size_t i;

		first.n = 0;
		if (branch.n == 0 || ps->failed)
			unknown = true;
		/* Move the best set's strings over rather than copy them. */
		for (i = 0; !unknown && i < branch.set[0].n; i++) {
			if (set_take(&all.set[0], branch.set[0].s[i]) == -1)
				unknown = true;
			else
				branch.set[0].s[i] = NULL;
		}
		need_free(&branch);
		if (ps->p < ps->end && *ps->p == '|') {
			ps->p++;
			first = parse_sequence(ps, before, after);
			continue;
		}
		break;
	}
	if (unknown)
		need_free(&all);
	return all;
}

static struct need
parse_alternation(struct parser *ps)
{
	return parse_alternation_in(ps, false, false);
}

/* ------------------------------------------------ where matches start
 *
 * Many regexes can only start matching with one of a few literals:
 * \b(?:doctor|gp|clinic) ..., (?<=back )been at me.  Then a match starts
 * exactly where the scan found one of them, and the regex need only be
 * tried there, anchored, instead of at every position of the text.
 * Zero-width things before the literal (\b, lookarounds) are skipped;
 * anything else at the start (a class, \w, an optional part, ^) means
 * the regex has no such literals. */

/* Past the rest of the branch at ps->p (to '|', ')' or the end). */
static void
skip_branch(struct parser *ps)
{
	while (ps->p < ps->end && *ps->p != '|' && *ps->p != ')') {
		if (*ps->p == '\\') {
			ps->p += 2;
		} else if (*ps->p == '[') {
			char chars[9];

			skip_class(ps, chars);
			if (ps->failed)
				return;
		} else if (*ps->p == '(') {
			const char *close = group_close(ps->p, ps->end);

			if (close == NULL) {
				ps->failed = true;
				return;
			}
			ps->p = close;
		} else {
			ps->p++;
		}
	}
	if (ps->p > ps->end)
		ps->p = ps->end;
}

/* Does the character at p begin an optional repeat ("?", "*", "{0")? */
static bool
optional_next(const char *p, const char *end)
{
	return p < end &&
	    (*p == '?' || *p == '*' ||
	        (*p == '{' && p + 1 < end && p[1] == '0'));
}

/* Does a repeat of at least one begin at p ("+", "{2")? */
static bool
repeat_next(const char *p, const char *end)
{
	return p < end && (*p == '+' || *p == '{');
}

static bool starts_alternation(
    struct parser *ps, bool boundary, struct litset *out, int depth);

/* Is the group p..close (close just past its ')') zero-width: only
 * anchors and lookarounds in every branch, as in (?:^|(?<=\. ))? */
static bool
zero_width_group(const char *p, const char *close)
{
	const char *end = close - 1;

	if (p[1] == '?' && (p[2] == ':' || p[2] == '>'))
		p += 3;
	else if (p[1] != '?')
		p++;
	else
		return false;
	while (p < end) {
		if (*p == '|' || *p == '^') {
			p++;
		} else if (p + 1 < end && p[0] == '\\' && p[1] == 'b') {
			p += 2;
		} else if (p + 2 < end && p[0] == '(' && p[1] == '?' &&
		    (p[2] == '=' || p[2] == '!' || p[2] == '<')) {
			p = group_close(p, end);
			if (p == NULL)
				return false;
		} else {
			return false;
		}
	}
	return true;
}

/* The characters a class at ps->p ('[') or \d stands for, when it is a
 * short list of plain ones ("[lst]", "[1-5]", "\d"); false otherwise. */
static bool
class_chars(struct parser *ps, char *chars, size_t max, size_t *n)
{
	const char *p = ps->p;

	*n = 0;
	if (p + 1 < ps->end && p[0] == '\\' && p[1] == 'd') {
		char c;

		for (c = '0'; c <= '9' && *n < max; c++)
			chars[(*n)++] = c;
		ps->p += 2;
		return *n == 10;
	}
	if (*p != '[' || p + 1 >= ps->end || p[1] == '^' || p[1] == ']')
		return false;
	for (p++; p < ps->end && *p != ']'; p++) {
		char lo = *p, hi = *p, c;

		if (!is_word_char(lo) || lo == '_')
			return false;
		if (p + 2 < ps->end && p[1] == '-' && p[2] != ']') {
			hi = p[2];
			p += 2;
			if (!is_word_char(hi) || hi < lo)
				return false;
		}
		for (c = lo; c <= hi; c++) {
			if (*n == max)
				return false;
			chars[(*n)++] = c;
		}
	}
	if (p >= ps->end)
		return false;
	ps->p = p + 1;
	return *n > 0;
}

/* Read the quantifier at ps->p, if any; is it an optional one? */
static bool
optional_quantifier(struct parser *ps)
{
	bool quantified;

	return parse_quantifier(ps, &quantified) == 0;
}

static bool
starts_sequence(struct parser *ps, bool boundary, struct litset *out, int depth)
{
	char run[256], chars[36];
	size_t runlen = 0, n, i;
	unsigned flags;

	if (depth > 32)
		return false;
	/* Zero-width things first. */
	for (;;) {
		const char *p = ps->p, *close;

		if (p + 1 < ps->end && p[0] == '\\' && p[1] == 'b') {
			boundary = true;
			ps->p += 2;
			continue;
		}
		if (p >= ps->end || *p != '(')
			break;
		close = group_close(p, ps->end);
		if (close == NULL)
			return false;
		if (p[1] == '?' &&
		    (p[2] == '=' || p[2] == '!' ||
		        (p[2] == '<' && p + 3 < ps->end &&
		            (p[3] == '=' || p[3] == '!')))) {
			ps->p = close;
			if (optional_next(ps->p, ps->end) ||
			    repeat_next(ps->p, ps->end))
				return false;
		} else if (zero_width_group(p, close)) {
			ps->p = close;
			(void)optional_quantifier(ps);
		} else {
			break;
		}
	}
	if (ps->p >= ps->end || *ps->p == '|' || *ps->p == ')')
		return false; /* an empty branch starts anywhere */
	flags = boundary ? LIT_START : 0;
	if (*ps->p == '(') {
		const char *close = group_close(ps->p, ps->end);
		size_t open = ps->p[1] != '?'              ? 1
		    : (ps->p[2] == ':' || ps->p[2] == '>') ? 3
		                                           : 0;
		struct parser inner;

		if (close == NULL || open == 0)
			return false;
		inner.p = ps->p + open;
		inner.end = close - 1;
		inner.failed = false;
		if (!starts_alternation(&inner, boundary, out, depth + 1) ||
		    inner.p != inner.end)
			return false;
		ps->p = close;
		/* Optional: a match may also start with what follows. */
		if (optional_quantifier(ps))
			return starts_sequence(ps, boundary, out, depth + 1);
		skip_branch(ps);
		return !ps->failed;
	}
	if (class_chars(ps, chars, sizeof(chars), &n)) {
		for (i = 0; i < n; i++) {
			if (set_add(out, &chars[i], 1, flags) == -1)
				return false;
		}
		if (optional_quantifier(ps))
			return starts_sequence(ps, boundary, out, depth + 1);
		skip_branch(ps);
		return !ps->failed;
	}
	/* A run of literal characters. */
	while (ps->p < ps->end && runlen < sizeof(run)) {
		char c = *ps->p;
		size_t width = 1;

		if (c == '\\' && ps->p + 1 < ps->end &&
		    !is_word_char(ps->p[1]) && ps->p[1] != '\0') {
			c = ps->p[1];
			width = 2;
		} else if (strchr(".^$|()[]*+?{}\\", c) != NULL) {
			break;
		}
		if (optional_next(ps->p + width, ps->end)) {
			if (runlen > 0)
				break;
			/* An optional first character: it, or what
			 * follows. */
			if (set_add(out, &c, 1, flags) == -1)
				return false;
			ps->p += width;
			(void)optional_quantifier(ps);
			return starts_sequence(ps, boundary, out, depth + 1);
		}
		run[runlen++] = c;
		ps->p += width;
		if (repeat_next(ps->p, ps->end))
			break;
	}
	if (runlen == 0 || set_add(out, run, runlen, flags) == -1)
		return false;
	skip_branch(ps);
	return !ps->failed;
}

static bool
starts_alternation(
    struct parser *ps, bool boundary, struct litset *out, int depth)
{
	for (;;) {
		if (!starts_sequence(ps, boundary, out, depth))
			return false;
		if (ps->p < ps->end && *ps->p == '|') {
			ps->p++;
			continue;
		}
		return true;
	}
}

/* The literals every match of 'src' starts with, in *out; false (and
 * *out empty) when there are none to tell. */
static bool
start_literals(const char *src, struct litset *out)
{
	struct parser ps = {src, src + strlen(src), false};

	memset(out, 0, sizeof(*out));
	/* One bare character would be found everywhere: not worth it. */
	if (starts_alternation(&ps, false, out, 0) && !ps.failed &&
	    ps.p == ps.end && out->n > 0 && set_shortest(out) >= 2)
		return true;
	set_free(out);
	return false;
}

/* ------------------------------------------------ exact word lists
 *
 * Many patterns are just "one of these words or phrases, as whole words":
 * \b(?:crack|cracks|pop(?:ping)?|lift\w*)\b.  For those the automaton can
 * give the exact answer, not only "possible": enumerate the (small,
 * finite) language, find occurrences, and check the word boundaries
 * around them.  A word may end in \w* ("open": any rest of the word).
 * Anything else makes the regex non-exact, and PCRE2 decides as usual. */

#define MAX_WORDS    128 /* strings in one enumerated language */
#define MAX_WORD_LEN 96

struct word {
	char s[MAX_WORD_LEN + 1];
	size_t len;
	bool open; /* ends with \w* */
};

struct wordset {
	struct word *w;
	size_t n;
	bool ok;
};

static void
ws_free(struct wordset *ws)
{
	free(ws->w);
	ws->w = NULL;
	ws->n = 0;
}

static struct wordset
ws_single(void)
{
	struct wordset ws = {calloc(1, sizeof(struct word)), 1, true};

	if (ws.w == NULL) {
		ws.ok = false;
		ws.n = 0;
	}
	return ws;
}

/* a := a followed by b (every pair). */
static bool
ws_concat(struct wordset *a, const struct wordset *b)
{
	struct word *out;
	size_t i, j, k = 0;

	if (a->n * b->n > MAX_WORDS)
		return false;
	out = malloc((a->n * b->n + 1) * sizeof(*out));
	if (out == NULL)
		return false;
	for (i = 0; i < a->n; i++) {
		for (j = 0; j < b->n; j++) {
			const struct word *x = &a->w[i], *y = &b->w[j];

			if (x->open && (y->len > 0 || y->open)) {
				free(out);
				return false; /* \w* in the middle */
			}
			if (x->len + y->len > MAX_WORD_LEN) {
				free(out);
				return false;
			}
			memcpy(out[k].s, x->s, x->len);
			memcpy(out[k].s + x->len, y->s, y->len);
			out[k].len = x->len + y->len;
			out[k].s[out[k].len] = '\0';
			out[k].open = x->open || y->open;
			k++;
		}
	}
	free(a->w);
	a->w = out;
	a->n = k;
	return true;
}

/* a := a or b. */
static bool
ws_union(struct wordset *a, const struct wordset *b)
{
	struct word *out;

	if (a->n + b->n > MAX_WORDS)
		return false;
	out = realloc(a->w, (a->n + b->n + 1) * sizeof(*out));
	if (out == NULL)
		return false;
	memcpy(out + a->n, b->w, b->n * sizeof(*out));
	a->w = out;
	a->n += b->n;
	return true;
}

static struct wordset ws_alternation(struct parser *ps);

/* Append 'len' bytes to every word of 'ws' (none may be open). */
static bool
ws_append(struct wordset *ws, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < ws->n; i++) {
		struct word *w = &ws->w[i];

		if (w->open || w->len + len > MAX_WORD_LEN)
			return false;
		memcpy(w->s + w->len, s, len);
		w->len += len;
		w->s[w->len] = '\0';
	}
	return true;
}

static struct wordset
ws_sequence(struct parser *ps)
{
	struct wordset acc = ws_single();
	char run[MAX_WORD_LEN];
	size_t runlen = 0;

	while (acc.ok && ps->p < ps->end && *ps->p != '|' && *ps->p != ')') {
		struct wordset atom = {0};
		char c = *ps->p;
		bool plain = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == ' ';

		/* A run of plain characters is appended in one go. */
		if (plain && (ps->p + 1 >= ps->end || ps->p[1] != '?')) {
			if (runlen == sizeof(run)) {
				acc.ok = false;
				break;
			}
			run[runlen++] = c;
			ps->p++;
			if (ps->p < ps->end &&
			    (*ps->p == '*' || *ps->p == '+' || *ps->p == '{'))
				acc.ok = false;
			continue;
		}
		if (runlen > 0 && !ws_append(&acc, run, runlen)) {
			acc.ok = false;
			break;
		}
		runlen = 0;
		if (c == '\\' && ps->p + 2 < ps->end && ps->p[1] == 'w' &&
		    ps->p[2] == '*') {
			atom = ws_single();
			if (atom.ok)
				atom.w[0].open = true;
			ps->p += 3;
		} else if (c == '(' && ps->p + 2 < ps->end && ps->p[1] == '?' &&
		    ps->p[2] == ':') {
			ps->p += 3;
			atom = ws_alternation(ps);
			if (ps->p >= ps->end || *ps->p != ')')
				atom.ok = false;
			else
				ps->p++;
		} else if (plain) {
			atom = ws_single();
			if (atom.ok) {
				atom.w[0].s[0] = c;
				atom.w[0].s[1] = '\0';
				atom.w[0].len = 1;
			}
			ps->p++;
		} else {
			atom.ok = false;
		}
		if (atom.ok && ps->p < ps->end && *ps->p == '?') {
			struct wordset empty = ws_single();

			ps->p++;
			if (ps->p < ps->end && (*ps->p == '?' || *ps->p == '+'))
				atom.ok = false; /* lazy/possessive: keep out */
			else
				atom.ok = empty.ok && ws_union(&atom, &empty);
			free(empty.w);
		} else if (ps->p < ps->end &&
		    (*ps->p == '*' || *ps->p == '+' || *ps->p == '{')) {
			atom.ok = false;
		}
		if (!atom.ok || !ws_concat(&acc, &atom))
			acc.ok = false;
		ws_free(&atom);
	}
	if (acc.ok && runlen > 0 && !ws_append(&acc, run, runlen))
		acc.ok = false;
	if (!acc.ok)
		ws_free(&acc);
	return acc;
}

static struct wordset
ws_alternation(struct parser *ps)
{
	struct wordset all = ws_sequence(ps);

	while (all.ok && ps->p < ps->end && *ps->p == '|') {
		struct wordset branch;

		ps->p++;
		branch = ws_sequence(ps);
		if (!branch.ok || !ws_union(&all, &branch))
			all.ok = false;
		ws_free(&branch);
	}
	if (!all.ok)
		ws_free(&all);
	return all;
}

static bool
is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_';
}

/* A quick look for syntax that can never be a plain word list, to spare
 * the enumeration for regexes that would fail it anyway. */
static bool
could_be_exact(const char *p, const char *end)
{
	for (; p < end; p++) {
		switch (*p) {
		case '[':
		case '.':
		case '^':
		case '$':
		case '+':
		case '{':
			return false;
		case '\\':
			if (p + 2 < end && p[1] == 'w' && p[2] == '*')
				p += 2;
			else
				return false;
			break;
		case '(':
			if (p + 2 >= end || p[1] != '?' || p[2] != ':')
				return false;
			break;
		default:
			break;
		}
	}
	return true;
}

/* Grammar of plain word lists, without enumerating them:
 * alt := seq ('|' seq)*; seq := (atom '?'?)*; atom := [a-z0-9 ] | \w* |
 * '(?:' alt ')'.  Returns false at the first thing outside it. */
static bool
valid_words(struct parser *ps, int depth)
{
	if (depth > 32)
		return false;
	for (;;) {
		while (ps->p < ps->end && *ps->p != '|' && *ps->p != ')') {
			char c = *ps->p;

			if (c == '\\' && ps->p + 2 < ps->end &&
			    ps->p[1] == 'w' && ps->p[2] == '*') {
				ps->p += 3;
			} else if (c == '(' && ps->p + 2 < ps->end &&
			    ps->p[1] == '?' && ps->p[2] == ':') {
				ps->p += 3;
				if (!valid_words(ps, depth + 1) ||
				    ps->p >= ps->end || *ps->p != ')')
					return false;
				ps->p++;
			} else if ((c >= 'a' && c <= 'z') ||
			    (c >= '0' && c <= '9') || c == ' ') {
				ps->p++;
			} else {
				return false;
			}
			if (ps->p < ps->end && *ps->p == '?')
				ps->p++;
			if (ps->p < ps->end &&
			    (*ps->p == '?' || *ps->p == '*' || *ps->p == '+' ||
			        *ps->p == '{'))
				return false;
		}
		if (ps->p < ps->end && *ps->p == '|') {
			ps->p++;
			continue;
		}
		return true;
	}
}

bool
prefilter_plain_words(const char *src)
{
	size_t len = strlen(src);
	struct parser ps = {src, src + len, false};

	if (len >= 2 && src[0] == '\\' && src[1] == 'b')
		ps.p += 2;
	if (ps.end - ps.p >= 2 && ps.end[-2] == '\\' && ps.end[-1] == 'b' &&
	    (ps.end - ps.p < 3 || ps.end[-3] != '\\'))
		ps.end -= 2;
	return could_be_exact(ps.p, ps.end) && valid_words(&ps, 0) &&
	    ps.p == ps.end;
}

/* Is there a '|' outside every group in p[..end)? */
static bool
has_top_level_bar(const char *p, const char *end)
{
	int depth = 0;

	for (; p < end; p++) {
		if (*p == '\\' && p + 1 < end)
			p++;
		else if (*p == '(')
			depth++;
		else if (*p == ')')
			depth--;
		else if (*p == '|' && depth == 0)
			return true;
	}
	return false;
}

/* Parse "\b BODY \b" (either \b optional) into an exact word set. */
static bool
exact_words(
    const char *src, struct wordset *ws, bool *need_start, bool *need_end)
{
	size_t len = strlen(src), i;
	struct parser ps;

	*need_start = len >= 2 && src[0] == '\\' && src[1] == 'b';
	*need_end = len >= 2 && src[len - 2] == '\\' && src[len - 1] == 'b' &&
	    (len < 3 || src[len - 3] != '\\');
	ps.p = src + (*need_start ? 2 : 0);
	ps.end = src + len - (*need_end ? 2 : 0);
	ps.failed = false;
	if (ps.p > ps.end || !could_be_exact(ps.p, ps.end))
		return false;
	/* "\\ba|b\\b" binds the \\b to the first and last branch only:
	 * keep out bars outside a group when there is a boundary. */
	if ((*need_start || *need_end) && has_top_level_bar(ps.p, ps.end))
		return false;
	*ws = ws_alternation(&ps);
	if (!ws->ok || ps.p != ps.end || ws->n == 0) {
		ws_free(ws);
		return false;
	}
	for (i = 0; i < ws->n; i++) {
		const struct word *w = &ws->w[i];

		/* Whole-word strings only: boundaries are then simple. */
		if (w->len == 0 || !is_word_char(w->s[0]) ||
		    (!w->open && !is_word_char(w->s[w->len - 1]))) {
			ws_free(ws);
			return false;
		}
	}
	return true;
}

/* ------------------------------------------------------------ automaton */

struct exact_ref {
	uint32_t regex;       /* an exact regex with this literal as a word */
	uint32_t set;         /* the regex's own set */
	bool open;            /* the word ends in \w* */
	unsigned char bounds; /* the regex's: bit 0 \b before, 1 after */
};

/* A literal while the automaton is built: the sets it belongs to, by
 * the boundaries they need around it (LIT_* flags), and of those the
 * sets some regex starts with. */
struct literal {
	uint32_t *sets[4];
	size_t count[4];
	uint32_t *start_sets[4];
	size_t start_count[4];
	struct exact_ref *exact;
	size_t exact_count;
	size_t len; /* of the literal, so a match knows where it starts */
};

/* The same, packed for the scan, which touches one of these for every
 * literal it finds: lists 0-3 are the sets by flags, 4-7 the start sets
 * by flags, each refs[at[k]..at[k + 1]). */
struct literal_refs {
	uint32_t *refs;
	uint32_t at[9];
	uint32_t seen[4]; /* scan generation list k was last marked in */
	uint32_t len;
	uint32_t exact_count;
	struct exact_ref *exact; /* the literal's, borrowed */
};

/* What an exact regex found in the last scanned text. */
struct exact_hit {
	uint32_t gen; /* == generation when it matched */
	size_t start, end;
};

/* A distinct literal set.  Regexes share them (a word class makes the
 * same set everywhere it is used), so a scan marks sets, not regexes,
 * and a regex is possible when all its sets are marked.  An exact regex
 * has a set of its own, marked when a word of it is found. */
struct set {
	struct litset ls; /* until the automaton is built */
	size_t score;     /* set_shortest(): higher is rarer */
	bool starts;      /* regexes start with it: its positions are kept */
};

/* Where a set regexes start with occurred in the scan of generation
 * 'stamp': a list through the prefilter's 'start_next' from 'head', and
 * whether some positions were lost (too many). */
struct set_starts {
	uint32_t stamp;
	uint32_t head;
	bool lost;
};

/* What the prefilter knows about one registered regex. */
struct regex_info {
	uint32_t sets[MAX_NEED]; /* all must occur */
	unsigned char set_count; /* 0: always run it */
	bool has_start;          /* every match starts with a literal... */
	uint32_t start_set;      /* ...of this set */
	struct wordset words;    /* exact regexes: their language */
	unsigned char bounds;    /* bit 0: \b before, bit 1: \b after */
};

struct prefilter {
	/* Registered regexes: their literal ids, or always-run. */
	struct regex_info *regex; /* per registered regex */
	struct exact_hit *hits;   /* per regex */
	size_t regex_count, regex_cap;
	/* Distinct sets, their index by content, and those the last scan
	 * marked. */
	struct set *set;
	size_t set_count, set_cap;
	uint32_t *set_stamp; /* per set: generation it occurred in; apart
	                        from 'set' so marking stays in cache */
	struct set_starts *set_starts; /* per set, likewise */
	long *set_index;               /* open addressing; -1 for empty */
	size_t set_index_size;
	size_t *live;
	size_t live_count;
	/* Start positions found by the scan (MAX_STARTS), each set's in a
	 * list from its 'start_head'. */
	uint32_t *start_pos, *start_next;
	size_t start_count;
	/* Distinct literals and the automaton over them. */
	char **lits;
	struct literal *lit;
	struct literal_refs *lit_refs; /* per literal, once built */
	size_t lit_count, lit_cap;
	/* The trie: the root's edges in a full row; every other state's
	 * children in a list (first child, next sibling, edge class), as
	 * most states have one child.  'fail' is the Aho-Corasick failure
	 * link. */
	uint32_t root[ALPHABET];
	uint32_t *first, *sibling, *fail;
	/* Busy states (the root, shallow states with many children) also
	 * get a full row of moves, failure links already followed, so a step
	 * from them is one lookup: row_of[s] is 1 + its row, or 0. */
	uint32_t *row_of, *rows;
	unsigned char *cls;
	int32_t *out;   /* literal ending here, or -1 */
	uint32_t *dict; /* next state on the suffix chain with
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
	size_t i, f;

	if (pf == NULL)
		return;
	for (i = 0; i < pf->regex_count; i++)
		ws_free(&pf->regex[i].words);
	free(pf->regex);
	free(pf->hits);
	for (i = 0; i < pf->set_count; i++)
		set_free(&pf->set[i].ls);
	free(pf->set);
	free(pf->set_stamp);
	free(pf->set_starts);
	free(pf->set_index);
	free(pf->live);
	free(pf->start_pos);
	free(pf->start_next);
	for (i = 0; i < pf->lit_count; i++) {
		free(pf->lits[i]);
		for (f = 0; f < 4; f++) {
			free(pf->lit[i].sets[f]);
			free(pf->lit[i].start_sets[f]);
		}
		free(pf->lit[i].exact);
	}
	free(pf->lits);
	free(pf->lit);
	if (pf->lit_refs != NULL) {
		for (i = 0; i < pf->lit_count; i++)
			free(pf->lit_refs[i].refs);
		free(pf->lit_refs);
	}
	free(pf->first);
	free(pf->sibling);
	free(pf->fail);
	free(pf->cls);
	free(pf->out);
	free(pf->dict);
	free(pf->row_of);
	free(pf->rows);
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

size_t
prefilter_add(struct prefilter *pf, const char *src)
{
	struct parser ps = {src, src + strlen(src), false};
	struct wordset ws = {0};
	struct need nd = {0};
	struct litset starts;
	bool before, after;
	size_t id, k;
	long set;

	if (pf->built)
		return PREFILTER_NONE; /* too late: it will simply always run */
	if (pf->regex_count == pf->regex_cap) {
		size_t ncap = pf->regex_cap == 0 ? 256 : pf->regex_cap * 2;
		struct regex_info *nr = realloc(pf->regex, ncap * sizeof(*nr));

		if (nr == NULL)
			return PREFILTER_NONE;
		pf->regex = nr;
		pf->regex_cap = ncap;
	}
	if (!exact_words(src, &ws, &before, &after)) {
		memset(&ws, 0, sizeof(ws));
		nd = parse_alternation(&ps);
		if (ps.failed || ps.p != ps.end)
			need_free(&nd);
	}
	id = pf->regex_count++;
	memset(&pf->regex[id], 0, sizeof(pf->regex[id]));
	pf->regex[id].words = ws;
	pf->regex[id].bounds =
	    (unsigned char)((before ? 1 : 0) | (after ? 2 : 0));
	if (ws.ok) {
		/* Scores as rarer than any set: it says exactly. */
		set = new_set(pf, NULL, SIZE_MAX);
		if (set < 0) {
			ws_free(&pf->regex[id].words);
		} else {
			pf->regex[id].sets[0] = (uint32_t)set;
			pf->regex[id].set_count = 1;
		}
	}
	for (k = 0; k < nd.n; k++) {
		set = intern_set(pf, &nd.set[k]);
		if (set < 0) {
			pf->regex[id].set_count = 0; /* always run: slower */
			break;
		}
		pf->regex[id].sets[pf->regex[id].set_count++] = (uint32_t)set;
	}
	need_free(&nd);
	if (!ws.ok && start_literals(src, &starts)) {
		set = intern_set(pf, &starts);
		if (set >= 0) {
			pf->set[set].starts = true;
			pf->regex[id].has_start = true;
			pf->regex[id].start_set = (uint32_t)set;
		}
	}
	return id;
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
	for (r = 0; r < pf->regex_count; r++)
		mentions += pf->regex[r].words.n;
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
	for (r = 0; r < pf->regex_count; r++) {
		for (i = 0; i < pf->regex[r].words.n; i++) {
			struct literal *l;
			struct exact_ref *ne;

			at = intern(pf, index, size, pf->regex[r].words.w[i].s);
			if (at < 0)
				goto out;
			l = &pf->lit[at];
			ne = realloc(
			    l->exact, (l->exact_count + 1) * sizeof(*ne));
			if (ne == NULL)
				goto out;
			l->exact = ne;
			l->exact[l->exact_count].regex = (uint32_t)r;
			l->exact[l->exact_count].set = pf->regex[r].sets[0];
			l->exact[l->exact_count].bounds = pf->regex[r].bounds;
			l->exact[l->exact_count].open =
			    pf->regex[r].words.w[i].open;
			l->exact_count++;
		}
	}
	rc = 0;
out:
	free(index);
	return rc;
}

/* Pack every literal's lists into one array for the scan, and drop the
 * lists.  -1 when out of memory. */
static int
pack_literals(struct prefilter *pf)
{
	size_t i, f, n;

	pf->lit_refs = calloc(pf->lit_count + 1, sizeof(*pf->lit_refs));
	if (pf->lit_refs == NULL)
		return -1;
	for (i = 0; i < pf->lit_count; i++) {
		struct literal *l = &pf->lit[i];
		struct literal_refs *r = &pf->lit_refs[i];

		for (n = 0, f = 0; f < 4; f++)
			n += l->count[f] + l->start_count[f];
		if (n >= UINT32_MAX)
			return -1;
		r->refs = malloc((n + 1) * sizeof(*r->refs));
		if (r->refs == NULL)
			return -1;
		for (n = 0, f = 0; f < 8; f++) {
			const uint32_t *list =
			    f < 4 ? l->sets[f] : l->start_sets[f - 4];
			size_t count =
			    f < 4 ? l->count[f] : l->start_count[f - 4];

			r->at[f] = (uint32_t)n;
			if (count > 0)
				memcpy(
				    r->refs + n, list, count * sizeof(*list));
			n += count;
		}
		r->at[8] = (uint32_t)n;
		r->len = (uint32_t)l->len;
		r->exact = l->exact;
		r->exact_count = (uint32_t)l->exact_count;
		for (f = 0; f < 4; f++) {
			free(l->sets[f]);
			free(l->start_sets[f]);
			l->sets[f] = l->start_sets[f] = NULL;
		}
	}
	return 0;
}

/* The child of state 's' along class 'c', or 0. */
static uint32_t
child(const struct prefilter *pf, uint32_t s, unsigned c)
{
	uint32_t t;

	if (s == 0)
		return pf->root[c];
	for (t = pf->first[s]; t != 0; t = pf->sibling[t]) {
		if (pf->cls[t] == c)
			return t;
	}
	return 0;
}

/* The automaton's move from 's' on class 'c', following failure links. */
static uint32_t
step(const struct prefilter *pf, uint32_t s, unsigned c)
{
	for (;;) {
		uint32_t t, row = pf->row_of != NULL ? pf->row_of[s] : 0;

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

/* Full rows for the root and the busiest shallow states, in the
 * breadth-first order of 'queue' (so a state's failure target, which is
 * shallower, has its row first). */
static int
build_rows(struct prefilter *pf, const uint32_t *queue, size_t count)
{
	uint32_t *row_of = calloc(pf->state_count, sizeof(*row_of));
	uint32_t *rows = malloc((size_t)DENSE_ROWS * ALPHABET * sizeof(*rows));
	size_t i, n = 0;
	unsigned c;

	if (row_of == NULL || rows == NULL) {
		free(row_of);
		free(rows);
		return -1;
	}
	pf->row_of = row_of;
	pf->rows = rows;
	for (c = 0; c < ALPHABET; c++)
		rows[c] = pf->root[c];
	row_of[0] = (uint32_t)++n;
	for (i = 0; i < count && n < DENSE_ROWS; i++) {
		uint32_t u = queue[i], v, *row = rows + n * ALPHABET;
		unsigned children = 0;

		for (v = pf->first[u]; v != 0; v = pf->sibling[v])
			children++;
		if (children < DENSE_MIN)
			continue;
		for (c = 0; c < ALPHABET; c++) {
			v = child(pf, u, c);
			row[c] = v != 0 ? v : step(pf, pf->fail[u], c);
		}
		row_of[u] = (uint32_t)++n;
	}
	return 0;
}

int
prefilter_build(struct prefilter *pf)
{
	size_t total, i, head, tail;
	uint32_t *queue = NULL, st;
	int rc = -1;

	free(pf->first);
	free(pf->sibling);
	free(pf->fail);
	free(pf->cls);
	free(pf->out);
	free(pf->dict);
	free(pf->row_of);
	free(pf->rows);
	free(pf->live);
	free(pf->hits);
	pf->live = NULL;
	pf->row_of = pf->rows = NULL;
	pf->first = pf->sibling = pf->fail = pf->dict = NULL;
	pf->cls = NULL;
	pf->out = NULL;
	pf->built = false;
	memset(pf->root, 0, sizeof(pf->root));
	if (pf->set_count >= UINT32_MAX || pf->regex_count >= UINT32_MAX)
		goto out;
	pf->live = malloc((pf->set_count + 1) * sizeof(*pf->live));
	free(pf->set_stamp);
	free(pf->set_starts);
	pf->set_stamp = calloc(pf->set_count + 1, sizeof(*pf->set_stamp));
	pf->set_starts = calloc(pf->set_count + 1, sizeof(*pf->set_starts));
	pf->hits = calloc(pf->regex_count + 1, sizeof(*pf->hits));
	pf->start_pos = malloc(MAX_STARTS * sizeof(*pf->start_pos));
	pf->start_next = malloc(MAX_STARTS * sizeof(*pf->start_next));
	if (pf->live == NULL || pf->set_stamp == NULL ||
	    pf->set_starts == NULL || pf->hits == NULL ||
	    pf->start_pos == NULL || pf->start_next == NULL ||
	    collect_literals(pf) == -1 || pack_literals(pf) == -1)
		goto out;
	total = trie_size(pf);
	if (total == SIZE_MAX || total >= UINT32_MAX)
		goto out;
	pf->first = calloc(total, sizeof(*pf->first));
	pf->sibling = calloc(total, sizeof(*pf->sibling));
	pf->fail = calloc(total, sizeof(*pf->fail));
	pf->cls = calloc(total, sizeof(*pf->cls));
	pf->out = malloc(total * sizeof(*pf->out));
	pf->dict = calloc(total, sizeof(*pf->dict));
	queue = malloc(total * sizeof(*queue));
	if (pf->first == NULL || pf->sibling == NULL || pf->fail == NULL ||
	    pf->cls == NULL || pf->out == NULL || pf->dict == NULL ||
	    queue == NULL)
		goto out;
	/* The trie; state 0 is the root. */
	pf->state_count = 1;
	pf->out[0] = -1;
	for (i = 0; i < pf->lit_count; i++) {
		const unsigned char *p = (const unsigned char *)pf->lits[i];

		for (st = 0; *p != '\0'; p++) {
			unsigned c = byte_class(*p);
			uint32_t t = child(pf, st, c);

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
					pf->sibling[t] = pf->first[st];
					pf->first[st] = t;
				}
			}
			st = t;
		}
		pf->out[st] = (int32_t)i;
	}
	/* Breadth-first: failure and dictionary links. */
	head = tail = 0;
	for (i = 0; i < ALPHABET; i++) {
		if (pf->root[i] != 0)
			queue[tail++] = pf->root[i];
	}
	while (head < tail) {
		uint32_t u = queue[head++], v;

		pf->dict[u] = pf->out[pf->fail[u]] >= 0 ? pf->fail[u]
		                                        : pf->dict[pf->fail[u]];
		for (v = pf->first[u]; v != 0; v = pf->sibling[v]) {
			pf->fail[v] = step(pf, pf->fail[u], pf->cls[v]);
			queue[tail++] = v;
		}
	}
	if (build_rows(pf, queue, tail) == -1)
		goto out;
	pf->built = true;
	rc = 0;
	/* The automaton holds everything now: drop the literal sets (they
	 * can be large), keeping only which regexes are exact. */
	for (i = 0; i < pf->set_count; i++)
		set_free(&pf->set[i].ls);
	for (i = 0; i < pf->regex_count; i++)
		ws_free(&pf->regex[i].words);
	free(pf->set_index);
	pf->set_index = NULL;
	pf->set_index_size = 0;
out:
	free(queue);
	return rc;
}

/* A literal of set 'id' (one where regexes start) starts at 'pos'. */
static void
record_start(struct prefilter *pf, uint32_t id, size_t pos)
{
	struct set_starts *st = &pf->set_starts[id];

	if (st->stamp != pf->generation) {
		st->stamp = pf->generation;
		st->head = NO_START;
		st->lost = false;
	}
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
	if (pf->set_stamp[id] != pf->generation) {
		pf->set_stamp[id] = pf->generation;
		pf->live[pf->live_count++] = id;
	}
}

/* Literal 'lit' ends at text[end - 1]: mark the regexes that need it,
 * and record exact matches whose word boundaries hold. */
static void
mark_literal(
    struct prefilter *pf, int32_t lit, const char *text, size_t len, size_t end)
{
	struct literal_refs *l = &pf->lit_refs[lit];
	size_t i, start = end - l->len;
	bool start_ok = start == 0 || !is_word_char(text[start - 1]);
	bool end_ok = end == len || !is_word_char(text[end]);
	size_t word_end = end;

	unsigned f;

	for (f = 0; f < 4; f++) {
		if (l->at[f + 4] == l->at[f + 5] ||
		    ((f & LIT_START) && !start_ok) ||
		    ((f & LIT_END) && !end_ok))
			continue;
		for (i = l->at[f + 4]; i < l->at[f + 5]; i++)
			record_start(pf, l->refs[i], start);
	}
	for (f = 0; f < 4; f++) {
		if (l->seen[f] == pf->generation ||
		    ((f & LIT_START) && !start_ok) ||
		    ((f & LIT_END) && !end_ok))
			continue;
		l->seen[f] = pf->generation;
		for (i = l->at[f]; i < l->at[f + 1]; i++)
			mark_set(pf, l->refs[i]);
	}
	for (i = 0; i < l->exact_count; i++) {
		const struct exact_ref *e = &l->exact[i];
		unsigned char b = e->bounds;
		struct exact_hit *h = &pf->hits[e->regex];
		size_t stop = end;

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
			pf->set_stamp[i] = 0;
			pf->set_starts[i].stamp = 0;
		}
		for (i = 0; i < pf->regex_count; i++)
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

		s = step(pf, s, byte_class(p[i]));
		for (t = s; t != 0; t = pf->dict[t]) {
			if (pf->out[t] >= 0)
				mark_literal(pf, pf->out[t], text, len, i + 1);
		}
	}
}

int
prefilter_exact(
    const struct prefilter *pf, size_t id, size_t *start, size_t *end)
{
	if (!pf->built || id >= pf->regex_count || !pf->regex[id].words.ok)
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
	*score = pf->set[pf->regex[id].sets[0]].score;
	return pf->regex[id].sets[0];
}

long
prefilter_starts(
    const struct prefilter *pf, size_t id, size_t from, size_t *pos, size_t max)
{
	const struct set_starts *st;
	uint32_t o;
	size_t n = 0, i, j;

	if (!pf->built || id >= pf->regex_count || !pf->regex[id].has_start)
		return -1;
	st = &pf->set_starts[pf->regex[id].start_set];
	if (st->stamp != pf->generation)
		return 0; /* none of its literals occurred */
	if (st->lost)
		return -1;
	for (o = st->head; o != NO_START; o = pf->start_next[o]) {
		if (pf->start_pos[o] < from)
			continue;
		if (n == max)
			return -1;
		/* Insertion in order, without repeats. */
		for (i = 0; i < n && pos[i] < pf->start_pos[o]; i++)
			;
		if (i < n && pos[i] == pf->start_pos[o])
			continue;
		for (j = n; j > i; j--)
			pos[j] = pos[j - 1];
		pos[i] = pf->start_pos[o];
		n++;
	}
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
	for (k = 0; k < r->set_count; k++) {
		if (pf->set_stamp[r->sets[k]] != pf->generation)
			return false;
	}
	return true;
}

void
prefilter_stats(const struct prefilter *pf, size_t *regexes, size_t *unfiltered,
    size_t *exact, size_t *literals, size_t *states)
{
	size_t i, n = 0, x = 0;

	for (i = 0; i < pf->regex_count; i++) {
		n += pf->regex[i].set_count == 0;
		x += pf->regex[i].words.ok;
	}
	*regexes = pf->regex_count;
	*unfiltered = n;
	*exact = x;
	*literals = pf->lit_count;
	*states = pf->state_count;
}
