/* literals.c - what literal text a regex needs, read from its source.
 *
 * A small recursive-descent reading of PCRE2 syntax answers three
 * questions about a regex:
 *   - which sets of strings must a match contain one of each?  A sequence
 *     offers several candidate sets (runs of mandatory literal characters,
 *     mandatory groups, the text a positive lookaround needs) and keeps the
 *     most selective few (longest shortest string), with the word
 *     boundaries the regex puts around each literal.  An alternation needs
 *     every branch known and unions one set of each;
 *   - which literals must every match start with (regex_starts());
 *   - is it only a list of whole words or phrases, and which (the exact
 *     word lists, regex_words()).
 * Anything unusual gives up, which only costs speed: the answers are
 * used to skip work, never to decide a match.
 */
#include "literals.h"

#include <stdlib.h>
#include <string.h>

#include "factor.h"

#define MAX_SET 512 /* literals in one set before giving up */

/* ------------------------------------------------------------ literal sets */

void
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
size_t
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

void
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
			const char *close = regex_group_end(ps->p, ps->end);
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

bool
regex_needs(const char *src, struct need *out)
{
	struct parser ps = {src, src + strlen(src), false};

	*out = parse_alternation_in(&ps, false, false);
	if (ps.failed || ps.p != ps.end)
		need_free(out);
	return out->n > 0;
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
			const char *close = regex_group_end(ps->p, ps->end);

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

static bool starts_alternation(struct parser *ps, bool boundary, bool after,
    struct litset *out, int depth);

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
			p = regex_group_end(p, end);
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

/* 'boundary': a \b comes just before; 'after': a word boundary (\b or
 * a space) comes just after the branch. */
static bool
starts_sequence(
    struct parser *ps, bool boundary, bool after, struct litset *out, int depth)
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
		if (p < ps->end && *p == '^') {
			/* Only position 0 then: trying the literal's other
			 * places costs a failed try, nothing more. */
			ps->p++;
			continue;
		}
		if (p >= ps->end || *p != '(')
			break;
		close = regex_group_end(p, ps->end);
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
		const char *close = regex_group_end(ps->p, ps->end);
		size_t open = ps->p[1] != '?'              ? 1
		    : (ps->p[2] == ':' || ps->p[2] == '>') ? 3
		                                           : 0;
		struct parser inner;
		bool inner_after;

		if (close == NULL || open == 0)
			return false;
		inner.p = ps->p + open;
		inner.end = close - 1;
		inner.failed = false;
		/* A space or \b right after the group ends a word. */
		inner_after = close < ps->end &&
		    (close[0] == ' ' ||
		        (close[0] == '\\' && close + 1 < ps->end &&
		            close[1] == 'b'));
		if (!starts_alternation(
		        &inner, boundary, inner_after, out, depth + 1) ||
		    inner.p != inner.end)
			return false;
		ps->p = close;
		/* Optional: a match may also start with what follows. */
		if (optional_quantifier(ps))
			return starts_sequence(
			    ps, boundary, after, out, depth + 1);
		skip_branch(ps);
		return !ps->failed;
	}
	if (class_chars(ps, chars, sizeof(chars), &n)) {
		for (i = 0; i < n; i++) {
			if (set_add(out, &chars[i], 1, flags) == -1)
				return false;
		}
		if (optional_quantifier(ps))
			return starts_sequence(
			    ps, boundary, after, out, depth + 1);
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
			return starts_sequence(
			    ps, boundary, after, out, depth + 1);
		}
		run[runlen++] = c;
		ps->p += width;
		if (repeat_next(ps->p, ps->end))
			break;
	}
	/* The run ends a word when the branch ends where one must end, or
	 * a \b follows. */
	if ((ps->p >= ps->end || *ps->p == '|' || *ps->p == ')')
	        ? after
	        : (ps->p + 1 < ps->end && ps->p[0] == '\\' && ps->p[1] == 'b'))
		flags |= LIT_END;
	if (runlen == 0 || set_add(out, run, runlen, flags) == -1)
		return false;
	skip_branch(ps);
	return !ps->failed;
}

static bool
starts_alternation(
    struct parser *ps, bool boundary, bool after, struct litset *out, int depth)
{
	for (;;) {
		if (!starts_sequence(ps, boundary, after, out, depth))
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
bool
regex_starts(const char *src, struct litset *out)
{
	struct parser ps = {src, src + strlen(src), false};

	memset(out, 0, sizeof(*out));
	/* One bare character would be found everywhere: not worth it. */
	if (starts_alternation(&ps, false, false, out, 0) && !ps.failed &&
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

void
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
regex_is_word_list(const char *src)
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
bool
regex_words(
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
