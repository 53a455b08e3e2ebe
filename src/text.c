/* text.c - normalisation of user text and UTF-8 validation.
 *
 * One pass over the input, writing words into a small word buffer; at the
 * end of each word the lexicon gets a chance to respell it.  The output is
 * words separated by single spaces, with "." and "," as tokens of their
 * own, no leading or trailing space.
 */
#include "text.h"

#include <string.h>

#include "lexicon.h"

bool
text_valid_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		size_t n, k;
		unsigned long cp;

		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* Eight bytes at a time: one multiply and a shift per word, then a
 * final mix so that every input bit reaches every output bit.  Long
 * texts go 32 bytes at a time through four independent lanes, which the
 * processor runs side by side. */
static uint64_t
hash_mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15u;
	return h ^ (h >> 32);
}

uint64_t
text_hash64(const char *s, size_t len)
{
	uint64_t h = 0x243f6a8885a308d3u ^ len, w;
	size_t i = 0;

	if (len >= 64) {
		uint64_t lane[4] = {h, h ^ 0x13198a2e03707344u,
		    h ^ 0xa4093822299f31d0u, h ^ 0x082efa98ec4e6c89u};
		unsigned k;

		for (; i + 32 <= len; i += 32) {
			for (k = 0; k < 4; k++) {
				memcpy(&w, s + i + 8 * k, 8);
				lane[k] = hash_mix(lane[k], w);
			}
		}
		for (k = 1; k < 4; k++)
			lane[0] = hash_mix(lane[0], lane[k]);
		h = lane[0];
	}
	for (; i + 8 <= len; i += 8) {
		memcpy(&w, s + i, 8);
		h = hash_mix(h, w);
	}
	if (i < len) {
		w = 0;
		memcpy(&w, s + i, len - i);
		h = hash_mix(h, w);
	}
	/* The finaliser of MurmurHash3. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdu;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53u;
	h ^= h >> 33;
	return h;
}

uint32_t
text_hash(const char *s, size_t len)
{
	return (uint32_t)text_hash64(s, len);
}

bool
text_is_blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' &&
		    s[i] != '\n' && s[i] != '\v' && s[i] != '\f')
			return false;
	}
	return true;
}

/* Output under construction: the text so far plus the word being read. */
struct norm {
	char *out;
	size_t size; /* of 'out' */
	size_t len;  /* bytes written to 'out' */
	char word[LEXICON_MAX_WORD * 2];
	size_t wlen;
	bool wfull;   /* the word outgrew 'word' and was flushed raw */
	char pending; /* '.' or ',' waiting to be written, or 0 */
	const struct lexicon *lex;
};

static void
emit(struct norm *n, const char *s, size_t len)
{
	if (n->len + len + 1 >= n->size)
		return; /* out of room: the rest is dropped */
	memcpy(n->out + n->len, s, len);
	n->len += len;
}

static void
emit_separator(struct norm *n)
{
	if (n->len > 0)
		emit(n, " ", 1);
}

static void
flush_word(struct norm *n)
{
	const char *fixed = NULL;

	if (n->wlen == 0)
		return;
	if (n->pending != 0 && n->len > 0) {
		emit_separator(n);
		emit(n, &n->pending, 1);
	}
	n->pending = 0;
	if (!n->wfull) {
		emit_separator(n);
		if (n->lex != NULL && n->wlen <= LEXICON_MAX_WORD)
			fixed = lexicon_respell(n->lex, n->word, n->wlen);
	}
	if (fixed != NULL)
		emit(n, fixed, strlen(fixed));
	else
		emit(n, n->word, n->wlen);
	n->wlen = 0;
	n->wfull = false;
}

static void
add_letter(struct norm *n, char c)
{
	/* Cut runs of three or more equal letters to two. */
	if (n->wlen >= 2 && n->word[n->wlen - 1] == c &&
	    n->word[n->wlen - 2] == c && c >= 'a' && c <= 'z')
		return;
	if (n->wlen == sizeof(n->word)) {
		/* An absurdly long "word": write what we have and go on. */
		if (!n->wfull)
			emit_separator(n);
		emit(n, n->word, n->wlen);
		n->wlen = 0;
		n->wfull = true;
	}
	n->word[n->wlen++] = c;
}

static void
add_mark(struct norm *n, char mark)
{
	flush_word(n);
	/* A question mark outranks a full stop, which outranks a comma;
	 * repeated marks collapse ("?!" is "?"). */
	if (n->pending == 0 || mark == '?' ||
	    (mark == '.' && n->pending == ','))
		n->pending = mark;
}

size_t
text_normalise(const char *in, size_t len, char *out, size_t outsize,
    const struct lexicon *lex)
{
	const unsigned char *p = (const unsigned char *)in;
	struct norm n;
	size_t i;

	if (outsize == 0)
		return 0;
	memset(&n, 0, sizeof(n));
	n.out = out;
	n.size = outsize;
	n.lex = lex;
	for (i = 0; i < len; i++) {
		unsigned char c = p[i];

		if (c >= 'A' && c <= 'Z') {
			add_letter(&n, (char)(c - 'A' + 'a'));
			/* Bytes >= 0x80 also reach add_letter(), after the
			 * UTF-8 cases below; the branches are alike on purpose.
			 */
			/* NOLINTNEXTLINE(bugprone-branch-clone) */
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			add_letter(&n, (char)c);
		} else if (c == '\'' || c == '`' ||
		    (c == '&' && n.wlen > 0 && i + 1 < len &&
		        (p[i + 1] | 0x20) >= 'a' && (p[i + 1] | 0x20) <= 'z')) {
			/* can't -> cant, a&e -> ae: join the word */
		} else if (c == '?') {
			add_mark(&n, '?');
		} else if (c == '.' || c == '!' || c == ';' || c == ':') {
			add_mark(&n, '.');
		} else if (c == ',') {
			add_mark(&n, ',');
		} else if (c == 0xe2 && i + 2 < len && p[i + 1] == 0x80) {
			unsigned char t = p[i + 2];

			i += 2;
			if (t == 0x98 || t == 0x99)
				continue; /* curly apostrophes */
			if (t == 0xa6)
				add_mark(&n, '.'); /* ellipsis */
			else
				flush_word(&n); /* dashes, curly quotes */
		} else if (c == 0xc2 && i + 1 < len &&
		    (p[i + 1] == 0xa0 || p[i + 1] == 0xb4)) {
			i++;
			if (p[i] == 0xa0)
				flush_word(&n); /* no-break space */
		} else if (c >= 0x80) {
			add_letter(&n, (char)c);
		} else {
			flush_word(&n);
		}
	}
	flush_word(&n);
	/* A final question mark tells a question from a statement. */
	if (n.pending == '?' && n.len > 0) {
		emit_separator(&n);
		emit(&n, "?", 1);
	}
	n.out[n.len] = '\0';
	return n.len;
}
