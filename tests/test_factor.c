/* test_factor.c - the prefix-tree rewrite of alternations: what it
 * writes, what it leaves alone, and that every regex of the shipped
 * knowledge base finds exactly the same matches after it. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <dirent.h>
#include <pcre2.h>

#include "buf.h"
#include "factor.h"
#include "lexicon.h"
#include "testutil.h"
#include "text.h"

/* The rewrite of 'src', or NULL when it is left alone. */
static const char *
factored(const char *src)
{
	static struct buf out = {NULL, 0, 0, 1 << 16};

	buf_free(&out); /* the last answer; this one stays until exit */
	buf_init(&out, 1 << 16);
	if (regex_factor(src, &out) == -1) {
		buf_free(&out);
		return NULL;
	}
	return buf_str(&out);
}

static void
common_starts_are_pulled_out(void **state)
{
	(void)state;
	assert_string_equal(factored("\\b(?:mom|mother|mum|dad)\\b"),
	    "\\b(?:m(?:o(?:m|ther)|um)|dad)\\b");
	assert_string_equal(factored("pop|pops|popping"), "pop(?:|s|ping)");
	assert_string_equal(factored("\\.a|\\.b"), "\\.(?:a|b)");
	assert_string_equal(factored("plain"), "plain");
}

static void
order_of_tries_is_kept(void **state)
{
	(void)state;
	/* Anything that could start like "ab" stays between them. */
	assert_string_equal(factored("ab|\\w+|ac"), "ab|\\w+|ac");
	assert_string_equal(factored("ab|a?c|ad"), "ab|a?c|ad");
	assert_string_equal(factored("ab|(?:a|x)y|ac"), "ab|(?:a|x)y|ac");
	assert_string_equal(factored("ab|[a-c]y|ac"), "ab|[a-c]y|ac");
	/* What can only start with other characters is no obstacle. */
	assert_string_equal(factored("ab|(?:x|y)z|ac"), "a(?:b|c)|(?:x|y)z");
	assert_string_equal(
	    factored("ab|[xy]z|\\dw|ac"), "a(?:b|c)|[xy]z|\\dw");
	/* ...unless it may match nothing and let the next part start. */
	assert_string_equal(factored("ab|(?:x)?a|ac"), "ab|(?:x)?a|ac");
	/* Different first characters can never compete. */
	assert_string_equal(factored("ab|xy|ac"), "a(?:b|c)|xy");
}

static void
lookbehinds_and_unknown_syntax_are_left_alone(void **state)
{
	(void)state;
	assert_string_equal(
	    factored("(?<=ab|ac)x|(?<!bc|bd)y"), "(?<=ab|ac)x|(?<!bc|bd)y");
	assert_null(factored("(?i)ab|ac"));
	assert_null(factored("(a)\\1"));
	assert_null(factored("\\x41|\\x42"));
	assert_null(factored("(?:ab"));
	assert_null(factored("ab)"));
}

/* ------------------------------------------------ the whole knowledge base */

struct corpus {
	char **line;
	size_t n;
};

static pcre2_code *
compile(const char *src)
{
	int err;
	PCRE2_SIZE off;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED,
	    PCRE2_NO_AUTO_CAPTURE, &err, &off, NULL);

	if (code != NULL)
		(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	return code;
}

/* Every match of both regexes in every line, compared. */
static size_t
compare_on(const char *src, const char *alt, const struct corpus *c,
    pcre2_match_data *m1, pcre2_match_data *m2)
{
	pcre2_code *a = compile(src), *b = compile(alt);
	size_t i, matches = 0;

	assert_non_null(a);
	assert_non_null(b);
	for (i = 0; i < c->n; i++) {
		size_t len = strlen(c->line[i]), from = 0;

		for (;;) {
			int r1 = pcre2_match(
			    a, (PCRE2_SPTR)c->line[i], len, from, 0, m1, NULL);
			int r2 = pcre2_match(
			    b, (PCRE2_SPTR)c->line[i], len, from, 0, m2, NULL);
			PCRE2_SIZE *o1, *o2;

			if (r1 != r2)
				fail_msg("%s\non \"%s\"", src, c->line[i]);
			if (r1 < 0)
				break;
			o1 = pcre2_get_ovector_pointer(m1);
			o2 = pcre2_get_ovector_pointer(m2);
			if (o1[0] != o2[0] || o1[1] != o2[1])
				fail_msg("%s\non \"%s\"", src, c->line[i]);
			matches++;
			from = o1[1] > o1[0] ? o1[1] : o1[0] + 1;
			if (from > len)
				break;
		}
	}
	pcre2_code_free(a);
	pcre2_code_free(b);
	return matches;
}

static bool
is_regex_key(const char *key)
{
	static const char *const keys[] = {"re", "all", "none", "stop",
	    "unless", "scope_end", "scope_end_serious", "clause_break"};
	size_t i;

	for (i = 0; key != NULL && i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(key, keys[i]) == 0)
			return true;
	}
	return false;
}

struct walk {
	const struct lexicon *lex;
	const struct corpus *corpus;
	pcre2_match_data *m1, *m2;
	size_t regexes, rewritten, matches;
};

static void
walk_json(const cJSON *node, const char *key, struct walk *w)
{
	const cJSON *child;

	if (cJSON_IsString(node) && is_regex_key(key)) {
		struct buf expanded, out;
		char why[256];
		size_t off;

		buf_init(&expanded, 1 << 20);
		buf_init(&out, 1 << 21);
		assert_int_equal(lexicon_expand(w->lex, node->valuestring,
		                     &expanded, why, sizeof(why), &off),
		    0);
		w->regexes++;
		if (regex_factor(buf_str(&expanded), &out) == 0) {
			w->rewritten++;
			w->matches += compare_on(buf_str(&expanded),
			    buf_str(&out), w->corpus, w->m1, w->m2);
		}
		buf_free(&expanded);
		buf_free(&out);
		return;
	}
	for (child = node->child; child != NULL; child = child->next)
		walk_json(child,
		    child->string != NULL ? child->string
		                          : (cJSON_IsArray(node) ? key : NULL),
		    w);
}

static void
walk_dir(const char *dir, struct walk *w)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		char path[1024];
		struct buf text;
		cJSON *root;
		size_t n = strlen(e->d_name);

		if (n < 5 || strcmp(e->d_name + n - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		buf_init(&text, 1 << 24);
		assert_int_equal(buf_read_file(&text, path), 0);
		root = cJSON_Parse(buf_str(&text));
		assert_non_null(root);
		walk_json(root, NULL, w);
		cJSON_Delete(root);
		buf_free(&text);
	}
	closedir(d);
}

struct corpus_loader {
	struct corpus *c;
	const struct lexicon *lex;
	size_t seen;
};

/* Keep one line in three, normalised. */
static void
add_line(const char *line, void *ctx)
{
	struct corpus_loader *l = ctx;
	struct corpus *c = l->c;
	char norm[TEXT_NORM_SIZE(4096)];
	size_t len;

	if (l->seen++ % 3 != 0)
		return;
	len = text_normalise(line, strlen(line), norm, sizeof(norm), l->lex);
	c->line = realloc(c->line, (c->n + 1) * sizeof(char *));
	assert_non_null(c->line);
	c->line[c->n] = malloc(len + 1);
	assert_non_null(c->line[c->n]);
	memcpy(c->line[c->n], norm, len);
	c->line[c->n][len] = '\0';
	c->n++;
}

/* Normalised questions from the test tables, one line in three. */
static void
load_corpus(struct corpus *c, const struct lexicon *lex)
{
	struct corpus_loader l = {c, lex, 0};

	(void)test_each_table_line(add_line, &l);
}

static void
shipped_regexes_match_exactly_as_before(void **state)
{
	char path[512];
	struct diag d;
	struct lexicon *lex;
	struct corpus c = {NULL, 0};
	struct walk w = {0};
	size_t i;

	(void)state;
	diag_clear(&d);
	lex = lexicon_load(
	    test_path(path, sizeof(path), "intents/lexicon.json"), &d);
	assert_non_null(lex);
	assert_int_equal(
	    lexicon_add_file(lex,
	        test_path(path, sizeof(path), "intents/triage/lexicon.json"),
	        &d),
	    0);
	load_corpus(&c, lex);
	w.lex = lex;
	w.corpus = &c;
	w.m1 = pcre2_match_data_create(1, NULL);
	w.m2 = pcre2_match_data_create(1, NULL);
	walk_dir(test_path(path, sizeof(path), "intents"), &w);
	walk_dir(test_path(path, sizeof(path), "intents/triage"), &w);
	/* Most regexes are rewritten, and they do match things. */
	assert_true(w.regexes > 500);
	assert_true(w.rewritten * 10 > w.regexes * 9);
	assert_true(w.matches > 10000);
	pcre2_match_data_free(w.m1);
	pcre2_match_data_free(w.m2);
	for (i = 0; i < c.n; i++)
		free(c.line[i]);
	free(c.line);
	lexicon_free(lex);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(common_starts_are_pulled_out),
	    cmocka_unit_test(order_of_tries_is_kept),
	    cmocka_unit_test(lookbehinds_and_unknown_syntax_are_left_alone),
	    cmocka_unit_test(shipped_regexes_match_exactly_as_before),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
