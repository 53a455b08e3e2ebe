/* test_kbcache.c - the compiled knowledge base kept between runs: a
 * saved automaton scans exactly like a freshly built one, damaged or
 * stale caches are never used, and a broken regex is reported whatever
 * the cache holds. */
#define _DEFAULT_SOURCE /* mkdtemp(), realpath() */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "intent.h"
#include "kbcache.h"
#include "lexicon.h"
#include "pattern.h"
#include "prefilter.h"
#include "testutil.h"
#include "text.h"
#include "triage.h"

/* The shipped knowledge base's patterns, registered with a prefilter. */
struct loaded {
	struct lexicon *lex;
	struct intent_set *set;
	struct triage *t;
	struct prefilter *pf;
	struct rx_env *env;
};

static void
load_patterns(struct loaded *l, const void *saved, size_t saved_len)
{
	test_load_patterns(&l->lex, &l->set, &l->t);
	l->pf = prefilter_new();
	l->env = rx_env_new();
	intent_register(l->set, l->pf);
	triage_register(l->t, l->pf);
	if (saved != NULL)
		prefilter_use_saved(l->pf, saved, saved_len);
	assert_int_equal(prefilter_build(l->pf), 0);
	intent_index(l->set, l->pf);
	triage_index(l->t, l->pf);
	rx_env_use_prefilter(l->env, l->pf);
}

static void
free_patterns(struct loaded *l)
{
	rx_env_free(l->env);
	prefilter_free(l->pf);
	triage_free(l->t);
	intent_free(l->set);
	lexicon_free(l->lex);
}

struct two {
	struct loaded *built, *taken;
};

/* One line: the same sets occur, the same regexes are possible, and the
 * same intents and triage come out. */
static void
compare_line(const char *line, void *ctx)
{
	struct two *w = ctx;
	struct test_matcher built = {w->built->set, w->built->t, w->built->env};
	struct test_matcher taken = {w->taken->set, w->taken->t, w->taken->env};
	char norm[TEXT_NORM_SIZE(4096)];
	const size_t *live1, *live2;
	size_t n1, n2, len, i;

	len = text_normalise(
	    line, strlen(line), norm, sizeof(norm), w->built->lex);
	rx_env_begin(w->built->env, norm, len);
	rx_env_begin(w->taken->env, norm, len);
	n1 = prefilter_live(w->built->pf, &live1);
	n2 = prefilter_live(w->taken->pf, &live2);
	assert_int_equal(n1, n2);
	for (i = 0; i < n1; i++)
		assert_int_equal(live1[i], live2[i]);
	for (i = 0; i < prefilter_regex_count(w->built->pf); i++)
		assert_int_equal(prefilter_possible(w->built->pf, i),
		    prefilter_possible(w->taken->pf, i));
	test_assert_same_results(&built, &taken, norm, len);
}

static void
saved_automaton_scans_like_the_built_one(void **state)
{
	struct loaded built, taken;
	struct two w = {&built, &taken};
	struct buf saved;

	(void)state;
	load_patterns(&built, NULL, 0);
	assert_false(prefilter_reused(built.pf));
	buf_init(&saved, (size_t)1 << 30);
	assert_int_equal(prefilter_save(built.pf, &saved), 0);
	load_patterns(&taken, saved.data, saved.len);
	assert_true(prefilter_reused(taken.pf));
	assert_true(test_each_table_line(compare_line, &w) > 100);
	free_patterns(&taken);
	free_patterns(&built);
	buf_free(&saved);
}

/* A small prefilter over 'n' regexes, built or taken from 'saved'. */
static struct prefilter *
small(const char *const *src, size_t n, const struct buf *saved)
{
	struct prefilter *pf = prefilter_new();
	size_t i;

	for (i = 0; i < n; i++)
		assert_int_equal(prefilter_add(pf, src[i]), i);
	if (saved != NULL)
		prefilter_use_saved(pf, saved->data, saved->len);
	assert_int_equal(prefilter_build(pf), 0);
	return pf;
}

static const char *const regexes[] = {"\\bcrack\\w*", "\\b(?:pop|click)s?\\b",
    "\\bwhy (?:\\w+ ){0,3}back", "\\b(?:doctor|gp)\\b", "\\bnumb(?:ness)?\\b",
    "x*", "\\b(?:red \\w+ apple|green \\w+ (?:pear|plum))\\b"};
#define REGEXES (sizeof(regexes) / sizeof(regexes[0]))

static void
saved_automaton_is_refused_for_other_regexes(void **state)
{
	const char *changed[REGEXES], *swapped[REGEXES];
	struct prefilter *pf, *other;
	struct buf saved;
	size_t i;

	(void)state;
	pf = small(regexes, REGEXES, NULL);
	buf_init(&saved, (size_t)1 << 24);
	assert_int_equal(prefilter_save(pf, &saved), 0);
	memcpy(changed, regexes, sizeof(changed));
	changed[1] = "\\b(?:pop|snap)s?\\b";
	memcpy(swapped, regexes, sizeof(swapped));
	swapped[0] = regexes[1];
	swapped[1] = regexes[0];
	/* The same regexes take it... */
	other = small(regexes, REGEXES, &saved);
	assert_true(prefilter_reused(other));
	prefilter_free(other);
	/* ...others, another order or fewer of them do not. */
	other = small(changed, REGEXES, &saved);
	assert_false(prefilter_reused(other));
	prefilter_scan(other, "it snaps", 8);
	assert_true(prefilter_possible(other, 1));
	prefilter_free(other);
	other = small(swapped, REGEXES, &saved);
	assert_false(prefilter_reused(other));
	prefilter_free(other);
	other = small(regexes, REGEXES - 1, &saved);
	assert_false(prefilter_reused(other));
	prefilter_free(other);
	/* Nothing built, nothing to save. */
	other = prefilter_new();
	assert_int_equal(prefilter_save(other, &saved), -1);
	prefilter_free(other);
	for (i = 0; i < REGEXES; i++)
		assert_true(prefilter_regex_hash(pf, i) ==
		    text_hash64(regexes[i], strlen(regexes[i])));
	prefilter_free(pf);
	buf_free(&saved);
}

/* Scan a few texts: under AddressSanitizer, any bad index shows. */
static void
scan_some(struct prefilter *pf)
{
	static const char *const texts[] = {"why does my back crack",
	    "pops and clicks when i see my gp", "numbness", "",
	    "crackcrack crack why back back", "a green old plum , red apple"};
	size_t t, i, pos[8], a, b;

	for (t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
		prefilter_scan(pf, texts[t], strlen(texts[t]));
		for (i = 0; i < REGEXES; i++) {
			(void)prefilter_possible(pf, i);
			(void)prefilter_exact(pf, i, &a, &b);
			(void)prefilter_starts(pf, i, 0, pos, 8);
		}
	}
}

static void
damaged_saved_bytes_are_refused_or_harmless(void **state)
{
	struct prefilter *pf = small(regexes, REGEXES, NULL), *other;
	struct buf saved, bad;
	size_t len, at;
	unsigned bit;

	(void)state;
	buf_init(&saved, (size_t)1 << 24);
	assert_int_equal(prefilter_save(pf, &saved), 0);
	buf_init(&bad, (size_t)1 << 24);
	/* Every truncation is refused. */
	for (len = 0; len < saved.len; len += 1 + len / 16) {
		buf_reset(&bad);
		assert_int_equal(buf_append(&bad, saved.data, len), 0);
		other = small(regexes, REGEXES, &bad);
		assert_false(prefilter_reused(other));
		scan_some(other);
		prefilter_free(other);
	}
	/* A flipped bit anywhere is refused, or stays within bounds. */
	for (at = 0; at < saved.len; at += 3) {
		for (bit = 0; bit < 8; bit += 3) {
			buf_reset(&bad);
			assert_int_equal(
			    buf_append(&bad, saved.data, saved.len), 0);
			bad.data[at] = (char)(bad.data[at] ^ (1 << bit));
			other = small(regexes, REGEXES, &bad);
			scan_some(other);
			prefilter_free(other);
		}
	}
	prefilter_free(pf);
	buf_free(&saved);
	buf_free(&bad);
}

/* A scratch copy of the shipped knowledge base, and a cache directory. */
struct scratch {
	char kb[64], cache[64];
};

static void
run(const char *cmd)
{
	assert_int_equal(system(cmd), 0);
}

static void
scratch_make(struct scratch *s)
{
	char cmd[1024];

	snprintf(s->kb, sizeof(s->kb), "/tmp/backbot-kbc-XXXXXX");
	snprintf(s->cache, sizeof(s->cache), "/tmp/backbot-kbc-XXXXXX");
	assert_non_null(mkdtemp(s->kb));
	assert_non_null(mkdtemp(s->cache));
	snprintf(cmd, sizeof(cmd), "cp -R '%s/faq' '%s/intents' '%s/'",
	    test_root(), test_root(), s->kb);
	run(cmd);
	assert_int_equal(setenv("BACKBOT_CACHE_DIR", s->cache, 1), 0);
}

static void
scratch_remove(struct scratch *s)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", s->kb, s->cache);
	run(cmd);
}

/* The one cache file in 'dir' into 'path'; false when there is none. */
static bool
cache_file(const char *dir, char *path, size_t size)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int found = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "kb-", 3) != 0)
			continue;
		snprintf(path, size, "%s/%s", dir, e->d_name);
		found++;
	}
	closedir(d);
	assert_true(found <= 1);
	return found == 1;
}

static ino_t
inode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

/* Load the scratch knowledge base and check a few answers against
 * 'ref' (when given). */
static struct bot *
load_and_compare(const char *kb, struct bot *ref)
{
	static const char *const questions[] = {"is it safe to crack my back",
	    "my legs went numb and i cant control my bladder",
	    "best stretches for lower back stiffness", "hello"};
	struct bot_reply r1, r2;
	struct buf o1, o2;
	struct diag d;
	struct bot *bot;
	size_t i;

	diag_clear(&d);
	bot = bot_load(kb, &d);
	if (bot == NULL)
		test_diag_dump(&d);
	assert_non_null(bot);
	if (ref == NULL)
		return bot;
	buf_init(&o1, 1 << 20);
	buf_init(&o2, 1 << 20);
	for (i = 0; i < sizeof(questions) / sizeof(questions[0]); i++) {
		const char *q = questions[i];

		assert_int_equal(bot_answer(ref, q, strlen(q), &r1), BOT_OK);
		buf_reset(&o1);
		assert_int_equal(bot_render_json(&r1, &o1), 0);
		assert_int_equal(bot_answer(bot, q, strlen(q), &r2), BOT_OK);
		buf_reset(&o2);
		assert_int_equal(bot_render_json(&r2, &o2), 0);
		assert_string_equal(buf_str(&o1), buf_str(&o2));
	}
	buf_free(&o1);
	buf_free(&o2);
	return bot;
}

/* Overwrite the middle byte of 'path', or cut it to half its length. */
static void
damage(const char *path, bool truncate_it)
{
	struct stat st;
	FILE *f;
	int c;

	assert_int_equal(stat(path, &st), 0);
	if (truncate_it) {
		assert_int_equal(truncate(path, st.st_size / 2), 0);
		return;
	}
	f = fopen(path, "r+b");
	assert_non_null(f);
	assert_int_equal(fseek(f, st.st_size / 2, SEEK_SET), 0);
	c = fgetc(f);
	assert_true(c != EOF);
	assert_int_equal(fseek(f, st.st_size / 2, SEEK_SET), 0);
	assert_true(fputc(c ^ 0x5a, f) != EOF);
	assert_int_equal(fclose(f), 0);
}

static void
cache_is_written_used_and_replaced_when_damaged(void **state)
{
	struct scratch s = {{0}, {0}};
	struct bot *ref;
	char path[512];
	struct kbcache *c;
	ino_t ino;

	(void)state;
	scratch_make(&s);
	assert_false(cache_file(s.cache, path, sizeof(path)));
	ref = load_and_compare(s.kb, NULL);
	assert_true(cache_file(s.cache, path, sizeof(path)));
	ino = inode_of(path);
	c = kbcache_open(s.kb);
	assert_non_null(c);
	assert_false(kbcache_checked(c, "(unbalanced"));
	kbcache_free(c);
	/* Used as it is: not written again. */
	bot_free(load_and_compare(s.kb, ref));
	assert_true(inode_of(path) == ino);
	/* Damaged: not used (same answers), and replaced. */
	damage(path, false);
	assert_null(kbcache_open(s.kb));
	bot_free(load_and_compare(s.kb, ref));
	assert_true(inode_of(path) != ino);
	ino = inode_of(path);
	assert_non_null((c = kbcache_open(s.kb)));
	kbcache_free(c);
	damage(path, true);
	bot_free(load_and_compare(s.kb, ref));
	assert_true(inode_of(path) != ino);
	bot_free(ref);
	scratch_remove(&s);
}

static void
broken_regex_is_reported_whatever_the_cache_holds(void **state)
{
	struct scratch s = {{0}, {0}};
	char cmd[512], path[512];
	struct diag d;

	(void)state;
	scratch_make(&s);
	bot_free(load_and_compare(s.kb, NULL));
	assert_true(cache_file(s.cache, path, sizeof(path)));
	/* Break the first regex of an intent file that the cache knows. */
	snprintf(cmd, sizeof(cmd),
	    "sed -i '0,/\"\\\\\\\\b/s//\"(\\\\\\\\b/' '%s/intents/crack.json'",
	    s.kb);
	run(cmd);
	diag_clear(&d);
	assert_null(bot_load(s.kb, &d));
	assert_true(test_diag_has(&d, "crack.json"));
	assert_true(test_diag_has(&d, "parenthesis"));
	scratch_remove(&s);
}

/* A cache file others could have written is not trusted; saving never
 * writes through a link planted where it makes its temporary file. */
static void
cache_files_others_could_write_are_not_used(void **state)
{
	struct scratch s = {{0}, {0}};
	char path[512], tmp[600], victim[512];
	struct kbcache *c;
	FILE *f;

	(void)state;
	scratch_make(&s);
	bot_free(load_and_compare(s.kb, NULL));
	assert_true(cache_file(s.cache, path, sizeof(path)));
	assert_int_equal(chmod(path, 0666), 0);
	assert_null(kbcache_open(s.kb));
	assert_int_equal(chmod(path, 0600), 0);
	assert_non_null((c = kbcache_open(s.kb)));
	kbcache_free(c);
	/* A link where the next save puts its temporary file. */
	snprintf(victim, sizeof(victim), "%s/victim", s.kb);
	f = fopen(victim, "w");
	assert_non_null(f);
	assert_int_equal(fputs("keep", f) == EOF, 0);
	assert_int_equal(fclose(f), 0);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	assert_int_equal(symlink(victim, tmp), 0);
	assert_int_equal(unlink(path), 0);
	bot_free(load_and_compare(s.kb, NULL));
	assert_non_null((c = kbcache_open(s.kb))); /* saved, as a new file */
	kbcache_free(c);
	f = fopen(victim, "r");
	assert_non_null(f);
	assert_int_equal(fgetc(f), 'k');
	assert_int_equal(fclose(f), 0);
	scratch_remove(&s);
}

/* Write an empty file 'name' in 'dir', last modified 'days' ago. */
static void
old_file(const char *dir, const char *name, int days, char *path, size_t size)
{
	struct timespec when[2];
	FILE *f;

	snprintf(path, size, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fclose(f), 0);
	when[0].tv_sec = when[1].tv_sec = time(NULL) - (time_t)days * 86400;
	when[0].tv_nsec = when[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, path, when, 0), 0);
}

static void
files_of_builds_no_longer_used_are_removed(void **state)
{
	struct scratch s = {{0}, {0}};
	char name[128], path[6][512], other[512], *real;
	unsigned long long root;
	static const int days[6] = {40, 2, 5, 1, 3, 4};
	int i;

	(void)state;
	scratch_make(&s);
	real = realpath(s.kb, NULL);
	assert_non_null(real);
	root = (unsigned long long)text_hash64(real, strlen(real));
	free(real);
	/* Six files of other builds, last used 'days' ago. */
	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "kb-%016llx-%016d.bin", root, i);
		old_file(s.cache, name, days[i], path[i], sizeof(path[i]));
	}
	old_file(s.cache, "kb-0000000000000003-0000000000000001.bin", 40, other,
	    sizeof(other));
	bot_free(load_and_compare(s.kb, NULL));
	/* This build's file and the three used most recently stay. */
	assert_int_equal(access(path[0], F_OK), -1); /* 40 days */
	assert_int_equal(access(path[1], F_OK), 0);  /* 2 */
	assert_int_equal(access(path[2], F_OK), -1); /* 5 */
	assert_int_equal(access(path[3], F_OK), 0);  /* 1 */
	assert_int_equal(access(path[4], F_OK), 0);  /* 3 */
	assert_int_equal(access(path[5], F_OK), -1); /* 4 */
	assert_int_equal(access(other, F_OK), 0);    /* another directory's */
	scratch_remove(&s);
}

static void
cache_can_be_turned_off(void **state)
{
	struct scratch s = {{0}, {0}};
	char path[512];

	(void)state;
	scratch_make(&s);
	assert_int_equal(setenv("BACKBOT_CACHE_DIR", "off", 1), 0);
	bot_free(load_and_compare(s.kb, NULL));
	assert_false(cache_file(s.cache, path, sizeof(path)));
	assert_null(kbcache_open(s.kb));
	scratch_remove(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(saved_automaton_scans_like_the_built_one),
	    cmocka_unit_test(saved_automaton_is_refused_for_other_regexes),
	    cmocka_unit_test(damaged_saved_bytes_are_refused_or_harmless),
	    cmocka_unit_test(cache_is_written_used_and_replaced_when_damaged),
	    cmocka_unit_test(broken_regex_is_reported_whatever_the_cache_holds),
	    cmocka_unit_test(cache_files_others_could_write_are_not_used),
	    cmocka_unit_test(files_of_builds_no_longer_used_are_removed),
	    cmocka_unit_test(cache_can_be_turned_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
