/* bench_backbot.c - how fast backbot answers, and how that scales.
 *
 * Measures, for the knowledge base in the current directory:
 *   start-up   loading the knowledge base (median of runs): with its
 *              compiled form cached (kbcache.h; the summary's figure)
 *              and without, when every regex is compiled to check it
 *              and the prefilter is built; regexes are JIT-compiled
 *              when first needed, which the throughput run includes;
 *   throughput intent + triage over >= 100,000 realistic questions
 *              (the test tables and, when present, the development set,
 *              plus variations: typos, case, extra words, long messages),
 *              single thread, with p50/p99 latency per question;
 *   batch      the real `backbot --json ask` process answering the corpus
 *              from a file (I/O included), and its peak resident set size;
 *   scaling    the same throughput with a knowledge base ten times larger
 *              (synthetic intents whose patterns have the shipped shapes
 *              but other words, their word classes included: intents
 *              about other things, as a bigger knowledge base would add),
 *              timed against the shipped one in alternating slices of
 *              the corpus so that drift in the machine's speed cancels.
 * Ends with one summary line:
 *   startup_ms=... qps=... p99_us=... rss_mb=... qps_x10kb=...
 * With --quick, only start-up and throughput are measured.
 * This is a benchmark, not a test: it prints figures and checks nothing.
 */
#define _DEFAULT_SOURCE /* wait4() */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bot.h"
#include "buf.h"
#include "diag.h"

#define CORPUS_SIZE  100000
#define STARTUP_RUNS 7
#define SCALE        10
#define DEV_SET      "../shared/eval/dev.jsonl"
#define WARM_UP      10000 /* questions answered before timing */
#define SLICE        5000  /* questions per turn in run_alternating() */

struct corpus {
	char **q;
	size_t count, cap;
};

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void
die(const char *what)
{
	fprintf(stderr, "bench: %s\n", what);
	exit(1);
}

static void
corpus_add(struct corpus *c, const char *s)
{
	if (c->count == c->cap) {
		c->cap = c->cap == 0 ? 1024 : c->cap * 2;
		c->q = realloc(c->q, c->cap * sizeof(*c->q));
		if (c->q == NULL)
			die("out of memory");
	}
	c->q[c->count] = strdup(s);
	if (c->q[c->count] == NULL)
		die("out of memory");
	c->count++;
}

/* Add column 'col' (0-based) of a tab-separated file, skipping comments. */
static void
load_tsv(struct corpus *c, const char *path, int col)
{
	FILE *f = fopen(path, "r");
	char line[4096];

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *field = line, *tab = strchr(line, '\t'), *nl;

		if (line[0] == '#' || tab == NULL)
			continue;
		if (col == 1)
			field = tab + 1;
		else
			*tab = '\0';
		nl = strchr(field, '\n');
		if (nl != NULL)
			*nl = '\0';
		corpus_add(c, field);
	}
	fclose(f);
}

static void
load_jsonl_text(struct corpus *c, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[8192];

	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		cJSON *o = cJSON_Parse(line);
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "text");

		if (cJSON_IsString(t))
			corpus_add(c, t->valuestring);
		cJSON_Delete(o);
	}
	fclose(f);
}

static unsigned long rng_state = 88172645463325252UL;

static unsigned long
rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* One variation of 's': a typo, a case change, extra words, or several
 * questions run together into one long message. */
static void
vary(const struct corpus *base, const char *s, struct buf *out)
{
	static const char *const before[] = {"hey so ",
	    "quick question: ", "hi, ", "ok so basically ",
	    "sorry if this is dumb but ", ""};
	static const char *const after[] = {
	    " thanks!!", " lol", " pls help", "??", " cheers", ""};
	size_t len = strlen(s), i;

	buf_reset(out);
	switch (rng() % 4) {
	case 0: /* swap two neighbouring letters */
		buf_append_str(out, s);
		if (len > 3) {
			char t;

			i = 1 + rng() % (len - 2);
			t = out->data[i];
			if (t >= 'a' && t <= 'z' && out->data[i + 1] >= 'a' &&
			    out->data[i + 1] <= 'z') {
				out->data[i] = out->data[i + 1];
				out->data[i + 1] = t;
			}
		}
		break;
	case 1: /* shouting or lower case */
		for (i = 0; i < len; i++) {
			char ch = s[i];

			if (rng() % 2 == 0 && ch >= 'a' && ch <= 'z')
				ch = (char)(ch - 'a' + 'A');
			buf_append_char(out, ch);
		}
		break;
	case 2: /* chatty extra words */
		buf_printf(
		    out, "%s%s%s", before[rng() % 6], s, after[rng() % 6]);
		break;
	default: /* a long message: several questions */
		buf_append_str(out, s);
		for (i = 0; i < 3; i++) {
			buf_append_str(out, ". also ");
			buf_append_str(out, base->q[rng() % base->count]);
		}
	}
}

static int
compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct bot *
load_bot(const char *root)
{
	struct diag d;
	struct bot *bot;

	diag_clear(&d);
	bot = bot_load(root, &d);
	if (bot == NULL) {
		diag_print(&d, "bench", stderr);
		die("cannot load the knowledge base");
	}
	return bot;
}

/* Seconds to answer questions [from, from + n) of the corpus. */
static double
time_slice(struct bot *bot, const struct corpus *c, size_t from, size_t n)
{
	struct bot_reply r;
	double t0 = now_us();
	size_t i;

	for (i = from; i < from + n && i < c->count; i++)
		(void)bot_answer(bot, c->q[i], strlen(c->q[i]), &r);
	return (now_us() - t0) / 1e6;
}

/* Throughput of 'small' and 'big' on the whole corpus, measured in
 * alternating slices so that a machine whose speed drifts during the run
 * (a shared VM does) slows both alike and their ratio holds. */
static void
run_alternating(struct bot *small, struct bot *big, const struct corpus *c,
    double *qps_small, double *qps_big)
{
	double t_small = 0, t_big = 0;
	size_t at;

	for (at = 0; at < c->count; at += SLICE) {
		t_small += time_slice(small, c, at, SLICE);
		t_big += time_slice(big, c, at, SLICE);
	}
	*qps_small = (double)c->count / t_small;
	*qps_big = (double)c->count / t_big;
}

/* Answer the first 'n' questions of the corpus; fills per-question
 * latencies; returns q/s. */
static double
run_corpus(struct bot *bot, const struct corpus *c, size_t n, double *lat)
{
	struct bot_reply r;
	double t0 = now_us(), t;
	size_t i;

	if (n > c->count)
		n = c->count;
	for (i = 0; i < n; i++) {
		t = now_us();
		(void)bot_answer(bot, c->q[i], strlen(c->q[i]), &r);
		if (lat != NULL)
			lat[i] = now_us() - t;
	}
	return (double)n / ((now_us() - t0) / 1e6);
}

/* The batch run is started by a small helper process forked before the
 * benchmark fills its memory: a child forked later would inherit (and be
 * charged for) the benchmark's own pages until it execs. */
struct spawner {
	pid_t pid;
	int to, from; /* pipe ends: requests out, results in */
};

/* The helper: for each corpus path it receives, run 'bin' --json ask on
 * it and send back the wall time (us), peak RSS (KB) and exit status. */
static void
spawner_loop(const char *bin, int in, int out)
{
	char path[256];

	while (read(in, path, sizeof(path)) == (ssize_t)sizeof(path)) {
		double result[3], t0 = now_us();
		struct rusage ru;
		int st = -1;
		pid_t pid = fork();

		if (pid == 0) {
			int fin = open(path, O_RDONLY);
			int fout = open("/dev/null", O_WRONLY);

			if (fin < 0 || fout < 0 || dup2(fin, 0) < 0 ||
			    dup2(fout, 1) < 0 || dup2(fout, 2) < 0)
				_exit(127);
			execl(bin, bin, "--json", "ask", (char *)NULL);
			_exit(127);
		}
		memset(&ru, 0, sizeof(ru));
		if (pid < 0 || wait4(pid, &st, 0, &ru) < 0)
			st = -1;
		result[0] = now_us() - t0;
		result[1] = (double)ru.ru_maxrss;
		result[2] = WIFEXITED(st) ? WEXITSTATUS(st) : 255;
		if (write(out, result, sizeof(result)) !=
		    (ssize_t)sizeof(result))
			break;
	}
	_exit(0);
}

static void
spawner_start(struct spawner *sp, const char *bin)
{
	int req[2], res[2];

	if (pipe(req) < 0 || pipe(res) < 0)
		die("cannot create pipes");
	sp->pid = fork();
	if (sp->pid < 0)
		die("cannot fork");
	if (sp->pid == 0) {
		close(req[1]);
		close(res[0]);
		spawner_loop(bin, req[0], res[1]);
	}
	close(req[0]);
	close(res[1]);
	sp->to = req[1];
	sp->from = res[0];
}

static void
spawner_stop(struct spawner *sp)
{
	close(sp->to);
	close(sp->from);
	waitpid(sp->pid, NULL, 0);
}

/* Run the batch on the first 'n' questions of the corpus; returns
 * questions/s and the child's peak RSS in MB. */
static double
run_batch(struct spawner *sp, const struct corpus *c, size_t n, double *rss_mb)
{
	char path[256] = "/tmp/backbot-bench-XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	double result[3];
	size_t i;

	if (f == NULL)
		die("cannot write the corpus file");
	for (i = 0; i < n; i++)
		fprintf(f, "%s\n", c->q[i]);
	if (fclose(f) != 0)
		die("cannot write the corpus file");
	if (write(sp->to, path, sizeof(path)) != (ssize_t)sizeof(path) ||
	    read(sp->from, result, sizeof(result)) != (ssize_t)sizeof(result) ||
	    result[2] > 1)
		die("the batch run of backbot failed");
	unlink(path);
	*rss_mb = result[1] / 1024.0;
	return (double)n / (result[0] / 1e6);
}

/* ------------------------------------------------ ten-times knowledge base */

/* Shift every run of four or more plain letters (not {class} names) by
 * 'k' places: the pattern keeps its shape but needs other words. */
static void
scramble(char *s, int k)
{
	size_t i = 0;

	while (s[i] != '\0') {
		size_t j = i;

		if (s[i] == '{' || s[i] == '\\') {
			i += s[i] == '\\' && s[i + 1] != '\0' ? 2 : 1;
			if (s[i - 1] == '{')
				while (s[i] != '\0' && s[i] != '}')
					i++;
			continue;
		}
		while (s[j] >= 'a' && s[j] <= 'z')
			j++;
		if (j - i >= 4) {
			size_t m;

			for (m = i; m < j; m++)
				s[m] = (char)('a' + (s[m] - 'a' + k) % 26);
		}
		i = j > i ? j : i + 1;
	}
}

/* 's' with every {class} of 'words' renamed to {xK_class}: copy K
 * of the knowledge base has its own, scrambled, word classes. */
static char *
rename_classes(const char *s, int k, const cJSON *words)
{
	struct buf out;

	buf_init(&out, 1u << 24);
	while (*s != '\0') {
		const char *close = strchr(s, '}');
		char name[128];

		if (*s == '{' && close != NULL &&
		    (size_t)(close - s) < sizeof(name)) {
			memcpy(name, s + 1, (size_t)(close - s - 1));
			name[close - s - 1] = '\0';
			if (cJSON_GetObjectItemCaseSensitive(words, name) !=
			    NULL) {
				buf_printf(&out, "{x%d_%s}", k, name);
				s = close + 1;
				continue;
			}
		}
		buf_append_char(&out, *s++);
	}
	return out.data != NULL ? out.data : strdup("");
}

static void
scramble_node(cJSON *n, int k, const cJSON *words)
{
	cJSON *c;

	if (cJSON_IsString(n)) {
		char *renamed = rename_classes(n->valuestring, k, words);

		scramble(renamed, k);
		cJSON_SetValuestring(n, renamed);
		free(renamed);
		return;
	}
	for (c = n->child; c != NULL; c = c->next)
		scramble_node(c, k, words);
}

static char *
read_all(const char *path)
{
	struct buf b;

	buf_init(&b, 16u << 20);
	if (buf_read_file(&b, path) == -1)
		die("cannot read a knowledge-base file");
	return b.data;
}

static void
write_all(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0)
		die("cannot write the scaled knowledge base");
}

static void
remove_tree(const char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not remove %s\n", dir);
}

/* Build root/faq and root/intents with SCALE copies of every intent. */
static void
build_scaled_kb(const char *root)
{
	char cmd[4096], path[4096];
	cJSON *lexicon, *words, *originals;
	char *text, *out;
	FILE *ls;
	int k;

	snprintf(cmd, sizeof(cmd),
	    "rm -rf '%s' && mkdir -p '%s/faq' "
	    "'%s/intents/triage' && cp faq/*.json '%s/faq/' && "
	    "cp intents/*.json '%s/intents/' && cp intents/triage/*.json "
	    "'%s/intents/triage/'",
	    root, root, root, root, root, root);
	if (system(cmd) != 0)
		die("cannot copy the knowledge base");
	/* Scrambled copies of the word classes, one set per copy. */
	text = read_all("intents/lexicon.json");
	lexicon = cJSON_Parse(text);
	free(text);
	words = cJSON_GetObjectItemCaseSensitive(lexicon, "words");
	if (!cJSON_IsObject(words))
		die("cannot read intents/lexicon.json");
	originals = cJSON_Duplicate(words, 1);
	for (k = 1; k < SCALE; k++) {
		cJSON *w;

		cJSON_ArrayForEach(w, originals)
		{
			char name[160];
			cJSON *copy = cJSON_CreateString(w->valuestring);

			snprintf(name, sizeof(name), "x%d_%s", k, w->string);
			scramble_node(copy, k, originals);
			cJSON_AddItemToObject(words, name, copy);
		}
	}
	out = cJSON_Print(lexicon);
	snprintf(path, sizeof(path), "%s/intents/lexicon.json", root);
	write_all(path, out);
	free(out);
	ls = popen("ls intents/*.json", "r");
	if (ls == NULL)
		die("cannot list intents/");
	while (fgets(path, sizeof(path), ls) != NULL) {
		cJSON *root_json, *list, *it, *answers;
		char *nl = strchr(path, '\n');

		if (nl != NULL)
			*nl = '\0';
		if (strstr(path, "lexicon.json") != NULL)
			continue;
		for (k = 1; k < SCALE; k++) {
			text = read_all(path);
			root_json = cJSON_Parse(text);
			free(text);
			list = cJSON_GetObjectItemCaseSensitive(
			    root_json, "intents");
			answers = cJSON_CreateArray();
			cJSON_ArrayForEach(it, list)
			{
				cJSON *id =
				    cJSON_GetObjectItemCaseSensitive(it, "id");
				char nid[256];
				cJSON *a = cJSON_CreateObject();

				snprintf(nid, sizeof(nid), "x%d.%s", k,
				    id->valuestring);
				cJSON_SetValuestring(id, nid);
				scramble_node(cJSON_GetObjectItemCaseSensitive(
				                  it, "patterns"),
				    k, originals);
				cJSON_DeleteItemFromObjectCaseSensitive(
				    it, "examples");
				cJSON_AddStringToObject(a, "intent", nid);
				cJSON_AddStringToObject(a, "title", nid);
				cJSON_AddStringToObject(a, "source", "bench");
				cJSON_AddStringToObject(a, "answer", "x");
				cJSON_AddItemToArray(answers, a);
			}
			out = cJSON_Print(root_json);
			snprintf(cmd, sizeof(cmd), "%s/intents/x%d-%s", root, k,
			    strrchr(path, '/') + 1);
			write_all(cmd, out);
			free(out);
			cJSON_Delete(root_json);
			root_json = cJSON_CreateObject();
			cJSON_AddItemToObject(root_json, "answers", answers);
			out = cJSON_Print(root_json);
			snprintf(cmd, sizeof(cmd), "%s/faq/x%d-%s", root, k,
			    strrchr(path, '/') + 1);
			write_all(cmd, out);
			free(out);
			cJSON_Delete(root_json);
		}
	}
	pclose(ls);
	cJSON_Delete(originals);
	cJSON_Delete(lexicon);
}

int
main(int argc, char **argv)
{
	const char *bin = "./backbot";
	bool quick = false;
	double qps_batch, rss_batch;
	struct spawner spawner;
	struct corpus base = {0}, corpus = {0};
	double startup[STARTUP_RUNS], cold[STARTUP_RUNS], *lat, qps, qps10;
	double p50, p99, t;
	char cache[] = "/tmp/backbot-bench-cache-XXXXXX";
	struct buf tmp;
	struct rusage ru;
	struct bot *bot, *big;
	double qps1;
	char scaled[256];
	size_t i, patterns_x1, patterns_x10;

	for (i = 1; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = true;
		else if (argv[i][0] != '-' && i == (size_t)argc - 1)
			bin = argv[i];
		else
			break;
	}
	if (i < (size_t)argc) {
		fprintf(stderr,
		    "usage: bench_backbot [--quick] [PATH/TO/backbot]\n");
		return 1;
	}
	/* A cache of compiled knowledge bases of its own (kbcache.h), for
	 * this program and the batch runs. */
	if (mkdtemp(cache) == NULL ||
	    setenv("BACKBOT_CACHE_DIR", cache, 1) != 0)
		die("cannot make a cache directory");
	spawner_start(&spawner, bin);

	/* Start-up: median of several full loads, without the cache (every
	 * regex checked, the automaton built), then with it (the first load
	 * fills it). */
	setenv("BACKBOT_CACHE_DIR", "off", 1);
	for (i = 0; i < STARTUP_RUNS; i++) {
		t = now_us();
		bot = load_bot(".");
		cold[i] = (now_us() - t) / 1000.0;
		bot_free(bot);
	}
	qsort(cold, STARTUP_RUNS, sizeof(double), compare_double);
	setenv("BACKBOT_CACHE_DIR", cache, 1);
	bot_free(load_bot("."));
	for (i = 0; i < STARTUP_RUNS; i++) {
		t = now_us();
		bot = load_bot(".");
		startup[i] = (now_us() - t) / 1000.0;
		bot_free(bot);
	}
	qsort(startup, STARTUP_RUNS, sizeof(double), compare_double);

	/* Corpus. */
	load_tsv(&base, "tests/data/questions.tsv", 0);
	load_tsv(&base, "tests/data/triage.tsv", 1);
	load_jsonl_text(&base, DEV_SET);
	if (base.count == 0)
		die("no questions found (run from the repository root)");
	buf_init(&tmp, 65536);
	for (i = 0; i < base.count; i++)
		corpus_add(&corpus, base.q[i]);
	while (corpus.count < CORPUS_SIZE) {
		vary(&base, base.q[rng() % base.count], &tmp);
		corpus_add(&corpus, buf_str(&tmp));
	}
	buf_free(&tmp);

	bot = load_bot(".");
	patterns_x1 = bot_intent_count(bot);
	lat = malloc(corpus.count * sizeof(*lat));
	if (lat == NULL)
		die("out of memory");
	(void)run_corpus(bot, &corpus, WARM_UP, NULL);
	qps = run_corpus(bot, &corpus, corpus.count, lat);
	qsort(lat, corpus.count, sizeof(*lat), compare_double);
	p50 = lat[corpus.count / 2];
	p99 = lat[corpus.count * 99 / 100];
	bot_free(bot);
	getrusage(RUSAGE_SELF, &ru);
	if (quick) {
		printf("startup_ms=%.2f qps=%.0f p50_us=%.1f p99_us=%.1f "
		       "cold_startup_ms=%.2f\n",
		    startup[STARTUP_RUNS / 2], qps, p50, p99,
		    cold[STARTUP_RUNS / 2]);
		spawner_stop(&spawner);
		goto out;
	}

	/* The first run fills the cache for the backbot executable. */
	(void)run_batch(&spawner, &corpus, 1, &rss_batch);
	qps_batch = run_batch(&spawner, &corpus, corpus.count, &rss_batch);
	spawner_stop(&spawner);

	/* Ten times the knowledge base, against the shipped one. */
	snprintf(
	    scaled, sizeof(scaled), "/tmp/backbot-bench-%ld", (long)getpid());
	build_scaled_kb(scaled);
	bot = load_bot(".");
	big = load_bot(scaled);
	patterns_x10 = bot_intent_count(big);
	(void)run_corpus(bot, &corpus, WARM_UP, NULL);
	(void)run_corpus(big, &corpus, WARM_UP, NULL);
	run_alternating(bot, big, &corpus, &qps1, &qps10);
	bot_free(bot);
	bot_free(big);
	remove_tree(scaled);

	printf("start-up (load, median of %d): %.2f ms with the compiled "
	       "knowledge base cached, %.2f ms without\n",
	    STARTUP_RUNS, startup[STARTUP_RUNS / 2], cold[STARTUP_RUNS / 2]);
	printf("corpus: %zu questions (%zu distinct sources)\n", corpus.count,
	    base.count);
	printf("throughput (intent+triage, 1 thread): %.0f questions/s\n", qps);
	printf("latency per question: p50 %.2f us, p99 %.2f us\n", p50, p99);
	printf("batch `%s --json ask` on the corpus (I/O included): "
	       "%.0f questions/s, peak RSS %.1f MB\n",
	    bin, qps_batch, rss_batch);
	printf("peak RSS of this benchmark (corpus held in memory): %.1f MB\n",
	    (double)ru.ru_maxrss / 1024.0);
	printf("scaling: %zu intents -> %zu intents: %.0f -> %.0f questions/s "
	       "(%.2fx slower; measured in alternating slices of %d)\n",
	    patterns_x1, patterns_x10, qps1, qps10, qps1 / qps10, SLICE);
	printf("startup_ms=%.2f qps=%.0f p99_us=%.1f rss_mb=%.1f "
	       "qps_x10kb=%.0f\n",
	    startup[STARTUP_RUNS / 2], qps, p99, rss_batch, qps10);
out:
	remove_tree(cache);
	for (i = 0; i < corpus.count; i++)
		free(corpus.q[i]);
	for (i = 0; i < base.count; i++)
		free(base.q[i]);
	free(corpus.q);
	free(base.q);
	free(lat);
	return 0;
}
