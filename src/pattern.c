/* pattern.c - PCRE2 compilation and matching for knowledge-base patterns.
 *
 * Patterns run in byte mode (no PCRE2_UTF): text_normalise() has already
 * folded case and punctuation, so UTF-8 awareness would only cost time.
 * Captures are off (PCRE2_NO_AUTO_CAPTURE); only the bounds of the whole
 * match are used.
 */
#include "pattern.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"
#include "factor.h"
#include "jsonfile.h"
#include "kbcache.h"
#include "lexicon.h"
#include "literals.h"
#include "prefilter.h"

#define RX_MAX_EXPANDED  65536  /* bytes of one regex after macros */
#define RX_MATCH_LIMIT   200000 /* backtracking steps per search */
#define RX_DEPTH_LIMIT   2000   /* for the interpreter, if JIT is off */
#define RX_JIT_STACK_MAX (1u << 20)

struct rx {
	pcre2_code *code;
	/* The same, anchored with \G: tried only where the prefilter saw
	 * a match could start (see prefilter_starts()).  Compiled on first
	 * use; NULL with 'anchored_tried' when that failed. */
	pcre2_code *anchored;
	bool anchored_tried;
	bool anchored_jit; /* 'anchored' has machine code... */
	bool anchored_hot; /* ...once it runs often (see hot()) */
	uint32_t anchored_runs;
	uint32_t runs;  /* searches with 'code', for the same rule */
	char *src;      /* after macro expansion, for the prefilter */
	size_t pf_id;   /* id in the prefilter, or PREFILTER_NONE */
	unsigned refs;  /* owners: patterns using it, and the lexicon cache */
	bool jit_tried; /* JIT compilation happens once hot() */
	bool jit;       /* ...and worked: the fast entry point applies */
	bool factored;  /* 'code' is the prefix-tree form (factor.h) */
	/* The last search of a whole text begun with rx_env_begin(). */
	const struct rx_env *memo_env;
	uint32_t memo_gen;
	int memo_rc;
	size_t memo_start, memo_end;
	/* All matches in the text of rx_env_begin(); see rx_spans(). */
	struct rx_span *spans; /* RX_MAX_SPANS, allocated on first use */
	long span_count;
	const struct rx_env *spans_env;
	uint32_t spans_gen;
};

/* Compile 'src', as a prefix tree of its word lists when that works
 * (see factor.h); errors are those of 'src' itself. */
static pcre2_code *
compile_regex(const char *src, size_t len, int *errcode, PCRE2_SIZE *erroff)
{
	pcre2_code *code = NULL;
	struct buf factored;

	buf_init(&factored, 2 * RX_MAX_EXPANDED);
	if (regex_factor(src, &factored) == 0)
		code = pcre2_compile((PCRE2_SPTR)buf_str(&factored),
		    factored.len, PCRE2_NO_AUTO_CAPTURE, errcode, erroff, NULL);
	buf_free(&factored);
	if (code == NULL)
		code = pcre2_compile((PCRE2_SPTR)src, len,
		    PCRE2_NO_AUTO_CAPTURE, errcode, erroff, NULL);
	return code;
}

const char *
rx_engine(void)
{
	static char engine[80];

	if (engine[0] == '\0') {
		char version[64];

		if (pcre2_config(PCRE2_CONFIG_VERSION, version) < 0)
			snprintf(version, sizeof(version), "unknown");
		snprintf(engine, sizeof(engine), "PCRE2 %s", version);
	}
	return engine;
}

struct rx_env {
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit_stack;
	pcre2_match_data *md;
	struct prefilter *pf; /* may be NULL */
	const char *text;     /* of rx_env_begin(), or NULL */
	size_t text_len;
	uint32_t gen;   /* counts rx_env_begin() calls */
	uint64_t texts; /* the same, without wrapping */
};

void
rx_env_begin(struct rx_env *env, const char *text, size_t len)
{
	env->text = text;
	env->text_len = len;
	if (++env->gen == 0)
		env->gen = 1; /* 0 marks "never searched" */
	env->texts++;
	if (env->pf != NULL)
		prefilter_scan(env->pf, text, len);
}

void
rx_env_use_prefilter(struct rx_env *env, struct prefilter *pf)
{
	env->pf = pf;
}

void
rx_register(struct rx *rx, struct prefilter *pf)
{
	/* A shared regex is registered once. */
	if (rx != NULL && rx->pf_id == PREFILTER_NONE)
		rx->pf_id = prefilter_add(pf, rx->src);
}

static void
release_rx(void *rx)
{
	rx_free(rx);
}

struct rx_env *
rx_env_new(void)
{
	struct rx_env *env = calloc(1, sizeof(*env));

	if (env == NULL)
		return NULL;
	env->mctx = pcre2_match_context_create(NULL);
	env->jit_stack =
	    pcre2_jit_stack_create(32 * 1024, RX_JIT_STACK_MAX, NULL);
	env->md = pcre2_match_data_create(1, NULL);
	if (env->mctx == NULL || env->jit_stack == NULL || env->md == NULL) {
		rx_env_free(env);
		return NULL;
	}
	pcre2_set_match_limit(env->mctx, RX_MATCH_LIMIT);
	pcre2_set_depth_limit(env->mctx, RX_DEPTH_LIMIT);
	pcre2_jit_stack_assign(env->mctx, NULL, env->jit_stack);
	return env;
}

void
rx_env_free(struct rx_env *env)
{
	if (env == NULL)
		return;
	pcre2_match_data_free(env->md);
	pcre2_jit_stack_free(env->jit_stack);
	pcre2_match_context_free(env->mctx);
	free(env);
}

struct rx *
rx_compile(const char *src, const struct lexicon *lex, char *why,
    size_t whysize, size_t *offset)
{
	struct buf expanded;
	struct rx *rx = NULL;
	pcre2_code *code = NULL;
	int errcode;
	PCRE2_SIZE erroff;

	buf_init(&expanded, RX_MAX_EXPANDED);
	*offset = 0;
	if (src[0] == '\0') {
		snprintf(why, whysize, "empty pattern");
		goto out;
	}
	if (lex != NULL) {
		if (lexicon_expand(lex, src, &expanded, why, whysize, offset) ==
		    -1)
			goto out;
	} else if (buf_append_str(&expanded, src) == -1) {
		snprintf(why, whysize, "pattern too long");
		goto out;
	}
	if (lex != NULL) {
		rx = lexicon_cache_find(lex, buf_str(&expanded));
		if (rx != NULL) {
			rx->refs++;
			goto out;
		}
	}
	/* A plain word list is answered by the prefilter and is valid by
	 * construction, and a regex an earlier load compiled is valid too:
	 * compile these only if a search ever needs PCRE2. */
	if (!(lex != NULL &&
	        kbcache_checked(lexicon_kbcache(lex), buf_str(&expanded))) &&
	    !regex_is_word_list(buf_str(&expanded))) {
		/* As written, to check it; the faster, factored form is
		 * compiled when the regex is first needed. */
		code =
		    pcre2_compile((PCRE2_SPTR)buf_str(&expanded), expanded.len,
		        PCRE2_NO_AUTO_CAPTURE, &errcode, &erroff, NULL);
		if (code == NULL) {
			PCRE2_UCHAR msg[256];

			pcre2_get_error_message(errcode, msg, sizeof(msg));
			snprintf(why, whysize, "%s", (const char *)msg);
			/* The offset is into the expanded text; it maps back to
			 * the source only when no macro was expanded before it.
			 */
			*offset = erroff <= strlen(src) ? erroff : 0;
			goto out;
		}
	}
	rx = malloc(sizeof(*rx));
	if (rx == NULL) {
		snprintf(why, whysize, "out of memory");
		goto out;
	}
	memset(rx, 0, sizeof(*rx));
	rx->src = strdup(buf_str(&expanded));
	if (rx->src == NULL) {
		free(rx);
		rx = NULL;
		snprintf(why, whysize, "out of memory");
		goto out;
	}
	rx->code = code;
	rx->pf_id = PREFILTER_NONE;
	rx->refs = 1;
	code = NULL;
	/* Not being cached only costs time.  The cache's reference keeps
	 * 'rx', and so its key, alive as long as the entry. */
	if (lex != NULL &&
	    lexicon_cache_add(lex, rx->src, rx, release_rx, false) == 0)
		rx->refs++;
out:
	pcre2_code_free(code);
	buf_free(&expanded);
	return rx;
}

void
rx_free(struct rx *rx)
{
	if (rx == NULL || --rx->refs > 0)
		return;
	pcre2_code_free(rx->code);
	pcre2_code_free(rx->anchored);
	free(rx->src);
	free(rx->spans);
	free(rx);
}

/* Compile a regex whose compilation was put off (a plain word list). */
static int
compile_now(struct rx *rx)
{
	int errcode;
	PCRE2_SIZE erroff;

	rx->code = compile_regex(rx->src, strlen(rx->src), &errcode, &erroff);
	rx->factored = true;
	return rx->code != NULL ? 0 : -1;
}

#define RX_MAX_STARTS 32 /* start positions tried one by one */

/* Machine code for anchored searches costs memory: about ten times the
 * compiled regex (up to 70 KiB for a regex with large word classes), and
 * ~600 regexes run anchored.  Most of those runs go to a few dozen of
 * them, so an anchored regex is compiled to machine code only once it
 * has run at least HOT_RUNS times and in at least one text in HOT_SHARE
 * on average; the others are interpreted.  This saves ~85% of that
 * memory for about 5% of the speed. */
#define HOT_RUNS  32
#define HOT_SHARE 16
/* The same for a regex's plain (unanchored) code, with a lower bar:
 * machine code for every regex that ever ran that way cost about 0.6 MB
 * of peak memory on the benchmark's corpus, much of it for regexes that
 * run a handful of times; those that run in at least one text in 256
 * (and HOT_RUNS times) still get it, which keeps the speed and saves
 * about 0.35 MB. */
#define SEARCH_HOT_SHARE 256

/* Has a form of a regex that has now run once more ('*runs' times)
 * earned machine code? */
static bool
hot(uint32_t *runs, const struct rx_env *env, unsigned share)
{
	if (*runs < UINT32_MAX)
		(*runs)++;
	return *runs >= HOT_RUNS && (uint64_t)*runs * share >= env->texts;
}

/* One search with 'code' (through JIT's own entry point, which skips
 * pcre2_match()'s checks, when it has machine code): 1 with the match's
 * bounds, 0 for none, -1 when the match limit was hit. */
static int
search(const pcre2_code *code, bool jit, struct rx_env *env, const char *s,
    size_t len, size_t from, size_t *start, size_t *end)
{
	PCRE2_SIZE *ov;
	int rc = jit ? pcre2_jit_match(code, (PCRE2_SPTR)s, len, from, 0,
	                   env->md, env->mctx)
	             : pcre2_match(code, (PCRE2_SPTR)s, len, from, 0, env->md,
	                   env->mctx);

	if (rc == PCRE2_ERROR_NOMATCH)
		return 0;
	if (rc < 0)
		return -1;
	ov = pcre2_get_ovector_pointer(env->md);
	*start = ov[0];
	*end = ov[1];
	return 1;
}

/* Search s[from..len) only where the prefilter saw that a match can
 * start.  Returns like rx_find(), or -2 when that cannot be done (no
 * such positions known, too many of them, or no anchored code). */
static int
find_at_starts(struct rx *rx, struct rx_env *env, const char *s, size_t len,
    size_t from, size_t *start, size_t *end)
{
	size_t pos[RX_MAX_STARTS];
	long n, i;

	if (env->pf == NULL || rx->pf_id == PREFILTER_NONE || s != env->text ||
	    len != env->text_len)
		return -2;
	n = prefilter_starts(env->pf, rx->pf_id, from, pos, RX_MAX_STARTS);
	if (n < 0)
		return -2;
	if (n > 0 && !rx->anchored_tried) {
		struct buf src;
		int errcode;
		PCRE2_SIZE erroff;

		rx->anchored_tried = true;
		buf_init(&src, RX_MAX_EXPANDED + 16);
		if (buf_printf(&src, "\\G(?:%s)", rx->src) == 0)
			rx->anchored = compile_regex(
			    buf_str(&src), src.len, &errcode, &erroff);
		buf_free(&src);
	}
	if (n > 0 && rx->anchored == NULL)
		return -2;
	if (n > 0 && !rx->anchored_hot &&
	    hot(&rx->anchored_runs, env, HOT_SHARE)) {
		rx->anchored_hot = true;
		rx->anchored_jit =
		    pcre2_jit_compile(rx->anchored, PCRE2_JIT_COMPLETE) == 0;
	}
	for (i = 0; i < n; i++) {
		int rc = search(rx->anchored, rx->anchored_jit, env, s, len,
		    pos[i], start, end);

		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Make 'rx->code' ready to search: compiled (a plain word list waits
 * until now) and factored the first time it must run, since many
 * regexes are answered by the prefilter alone and never need it; compiled
 * to machine code once it runs often (hot(), as for anchored searches).
 * A failure to factor or JIT-compile is not an error: the regex as
 * written, interpreted, still works. */
static int
prepare(struct rx *rx, const struct rx_env *env)
{
	if (rx->code == NULL && compile_now(rx) == -1)
		return -1;
	if (rx->jit_tried)
		return 0;
	if (!rx->factored) {
		int errcode;
		PCRE2_SIZE erroff;
		pcre2_code *factored =
		    compile_regex(rx->src, strlen(rx->src), &errcode, &erroff);

		rx->factored = true;
		if (factored != NULL) {
			pcre2_code_free(rx->code);
			rx->code = factored;
		}
	}
	if (hot(&rx->runs, env, SEARCH_HOT_SHARE)) {
		rx->jit_tried = true;
		rx->jit = pcre2_jit_compile(rx->code, PCRE2_JIT_COMPLETE) == 0;
	}
	return 0;
}

/* False when the prefilter rules 'rx' out for the current text. */
static bool
rx_possible(const struct rx *rx, const struct rx_env *env, const char *s)
{
	return env->pf == NULL || rx->pf_id == PREFILTER_NONE ||
	    s != env->text || prefilter_possible(env->pf, rx->pf_id);
}

/* rx_find() without the memo: the cheapest way that gives the answer. */
static int
find(struct rx *rx, struct rx_env *env, const char *s, size_t len, size_t from,
    bool whole, size_t *start, size_t *end)
{
	int rc;

	/* Word lists: the prefilter's scan already has the answer. */
	if (whole && env->pf != NULL && rx->pf_id != PREFILTER_NONE) {
		rc = prefilter_exact(env->pf, rx->pf_id, start, end);
		if (rc >= 0)
			return rc;
	}
	rc = find_at_starts(rx, env, s, len, from, start, end);
	if (rc != -2)
		return rc;
	if (prepare(rx, env) == -1)
		return -1;
	return search(rx->code, rx->jit, env, s, len, from, start, end);
}

/* rx_find() once the prefilter has not ruled 'rx' out: the memo of the
 * whole text, else a search. */
static int
find_possible(struct rx *rx, struct rx_env *env, const char *s, size_t len,
    size_t from, size_t *start, size_t *end)
{
	bool whole = from == 0 && s == env->text && len == env->text_len;
	int rc;

	if (whole && rx->memo_env == env && rx->memo_gen == env->gen) {
		*start = rx->memo_start;
		*end = rx->memo_end;
		return rx->memo_rc;
	}
	rc = find(rx, env, s, len, from, whole, start, end);
	if (whole) {
		rx->memo_env = env;
		rx->memo_gen = env->gen;
		rx->memo_rc = rc;
		rx->memo_start = rc == 1 ? *start : 0;
		rx->memo_end = rc == 1 ? *end : 0;
	}
	return rc;
}

int
rx_find(struct rx *rx, struct rx_env *env, const char *s, size_t len,
    size_t from, size_t *start, size_t *end)
{
	if (from > len || !rx_possible(rx, env, s))
		return 0;
	return find_possible(rx, env, s, len, from, start, end);
}

long
rx_spans(struct rx *rx, struct rx_env *env, const char *s, size_t len,
    const struct rx_span **spans)
{
	bool current = s == env->text && len == env->text_len;
	size_t from = 0, a, b;
	long n = 0;
	int rc;

	if (current && rx->spans_env == env && rx->spans_gen == env->gen) {
		*spans = rx->spans;
		return rx->span_count;
	}
	if (rx->spans == NULL) {
		rx->spans = malloc(RX_MAX_SPANS * sizeof(*rx->spans));
		if (rx->spans == NULL)
			return -1;
	}
	while ((rc = rx_find(rx, env, s, len, from, &a, &b)) == 1) {
		if (n == RX_MAX_SPANS) {
			n = -1;
			break;
		}
		rx->spans[n].start = a;
		rx->spans[n].end = b;
		n++;
		from = b > a ? b : a + 1;
	}
	if (rc == -1)
		n = -1;
	rx->span_count = n;
	rx->spans_env = current ? env : NULL;
	rx->spans_gen = env->gen;
	*spans = rx->spans;
	return n;
}

/* Append the compiled regexes of a string or an array of strings. */
static int
compile_list(struct rx ***list, size_t *count, const cJSON *node,
    const char *member, const struct lexicon *lex,
    const struct pattern_origin *o, struct diag *d)
{
	const cJSON *item;
	size_t n, i = 0;
	int errors = 0;

	if (cJSON_IsString(node)) {
		n = 1;
	} else if (cJSON_IsArray(node) && cJSON_GetArraySize(node) > 0) {
		n = (size_t)cJSON_GetArraySize(node);
	} else {
		diag_add(d,
		    "%s: %s%s%s: expected a regex string or a non-empty "
		    "array of them",
		    o->path, o->where, member[0] ? "." : "", member);
		return -1;
	}
	*list = calloc(n, sizeof(**list));
	if (*list == NULL) {
		diag_add(d, "%s: out of memory", o->path);
		return -1;
	}
	*count = n;
	for (item = cJSON_IsString(node) ? node : node->child;
	     item != NULL && i < n; item = item->next, i++) {
		char why[256];
		size_t off;

		if (!cJSON_IsString(item)) {
			diag_add(d, "%s: %s.%s[%zu]: expected a regex string",
			    o->path, o->where, member, i);
			errors++;
			continue;
		}
		(*list)[i] =
		    rx_compile(item->valuestring, lex, why, sizeof(why), &off);
		if ((*list)[i] == NULL) {
			size_t at =
			    jsonfile_offset_of(o->text, item->valuestring);

			/* Point at the offending character when the literal
			 * was found and needs no escapes before it. */
			if (at < strlen(o->text) &&
			    strncmp(o->text + at, item->valuestring, off) == 0)
				at += off;
			diag_add_at(
			    d, o->path, o->text, at, "%s: %s", o->where, why);
			errors++;
		}
		if (cJSON_IsString(node))
			break;
	}
	return errors > 0 ? -1 : 0;
}

int
pattern_from_json(struct pattern *p, const struct cJSON *node,
    double default_weight, const struct lexicon *lex,
    const struct pattern_origin *o, struct diag *d)
{
	const cJSON *all, *none, *weight;
	int rc = 0;

	memset(p, 0, sizeof(*p));
	p->weight = default_weight;
	if (cJSON_IsString(node))
		return compile_list(
		    &p->all, &p->all_count, node, "", lex, o, d);
	if (!cJSON_IsObject(node)) {
		diag_add(d, "%s: %s: expected a regex string or an object",
		    o->path, o->where);
		return -1;
	}
	all = cJSON_GetObjectItemCaseSensitive(node, "all");
	if (all == NULL)
		all = cJSON_GetObjectItemCaseSensitive(node, "re");
	if (all == NULL) {
		diag_add(
		    d, "%s: %s: needs \"re\" or \"all\"", o->path, o->where);
		return -1;
	}
	rc |= compile_list(&p->all, &p->all_count, all, "all", lex, o, d);
	none = cJSON_GetObjectItemCaseSensitive(node, "none");
	if (none != NULL)
		rc |= compile_list(
		    &p->none, &p->none_count, none, "none", lex, o, d);
	weight = cJSON_GetObjectItemCaseSensitive(node, "weight");
	if (weight != NULL) {
		if (!cJSON_IsNumber(weight) || weight->valuedouble < -1 ||
		    weight->valuedouble > 1) {
			diag_add(d,
			    "%s: %s.weight: expected a number in "
			    "[-1, 1]",
			    o->path, o->where);
			rc = -1;
		} else {
			p->weight = weight->valuedouble;
		}
	}
	return rc;
}

int
pattern_add_none(struct pattern *p, const struct cJSON *node,
    const struct lexicon *lex, const struct pattern_origin *o, struct diag *d)
{
	struct rx **more = NULL, **grown;
	size_t n = 0, i;

	if (compile_list(&more, &n, node, "none", lex, o, d) == -1) {
		for (i = 0; more != NULL && i < n; i++)
			rx_free(more[i]);
		free(more);
		return -1;
	}
	grown = realloc(p->none, (p->none_count + n) * sizeof(*grown));
	if (grown == NULL) {
		diag_add(d, "%s: out of memory", o->path);
		for (i = 0; i < n; i++)
			rx_free(more[i]);
		free(more);
		return -1;
	}
	memcpy(grown + p->none_count, more, n * sizeof(*more));
	p->none = grown;
	p->none_count += n;
	free(more);
	return 0;
}

bool
pattern_none_clear(
    const struct pattern *p, struct rx_env *env, const char *s, size_t len)
{
	size_t i, a, b;

	for (i = 0; i < p->none_count; i++) {
		if (rx_find(p->none[i], env, s, len, 0, &a, &b) == 1)
			return false;
	}
	return true;
}

bool
pattern_possible(
    const struct pattern *p, const struct rx_env *env, const char *s)
{
	size_t i;

	for (i = 0; i < p->all_count; i++) {
		if (!rx_possible(p->all[i], env, s))
			return false;
	}
	return true;
}

bool
pattern_matches(
    const struct pattern *p, struct rx_env *env, const char *s, size_t len)
{
	size_t i, a, b;

	/* Bit tests first: any part ruled out saves running the others
	 * (which then need no second test). */
	if (!pattern_possible(p, env, s))
		return false;
	for (i = 0; i < p->all_count; i++) {
		if (find_possible(p->all[i], env, s, len, 0, &a, &b) != 1)
			return false;
	}
	return pattern_none_clear(p, env, s, len);
}

void
pattern_register(struct pattern *p, struct prefilter *pf)
{
	size_t i;

	for (i = 0; i < p->all_count; i++)
		rx_register(p->all[i], pf);
	for (i = 0; i < p->none_count; i++)
		rx_register(p->none[i], pf);
}

size_t
pattern_key(const struct pattern *p, const struct prefilter *pf)
{
	size_t i, key = PREFILTER_NONE, best = 0;

	/* The rarest set any of the regexes needs. */
	for (i = 0; i < p->all_count; i++) {
		size_t score, set;

		if (p->all[i]->pf_id == PREFILTER_NONE)
			continue;
		set = prefilter_key(pf, p->all[i]->pf_id, &score);
		if (set != PREFILTER_NONE &&
		    (key == PREFILTER_NONE || score > best)) {
			key = set;
			best = score;
		}
	}
	return key;
}

const struct prefilter *
rx_env_scanned(const struct rx_env *env, const char *s, size_t len)
{
	return s == env->text && len == env->text_len ? env->pf : NULL;
}

void
pattern_free(struct pattern *p)
{
	size_t i;

	for (i = 0; i < p->all_count; i++)
		rx_free(p->all[i]);
	for (i = 0; i < p->none_count; i++)
		rx_free(p->none[i]);
	free(p->all);
	free(p->none);
	memset(p, 0, sizeof(*p));
}
