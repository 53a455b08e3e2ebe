/* kbcache.c - the compiled knowledge base, kept between runs.
 *
 * One file per knowledge-base directory and program, named after the
 * hash of the directory's real path and the program's identity.  Layout: a
 * header; the sorted hashes of the regexes known to compile; the bytes of
 * prefilter_save().  The header ties the file to the program that wrote it (its
 * executable file's identity and time stamps, since the automaton's layout and
 * the analysis behind it belong to one build), to the PCRE2 version that
 * checked the regexes, and to the directory; a checksum covers the rest.  Any
 * mismatch means "no cache".
 */
/* realpath() is an X/Open extension. */
#define _XOPEN_SOURCE 700 /* NOLINT(bugprone-reserved-identifier) */
#include "kbcache.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "diag.h"
#include "files.h"
#include "pattern.h"
#include "prefilter.h"
#include "text.h"

#define CACHE_MAX_BYTES ((size_t)256 << 20)

static const char cache_magic[8] = {'b', 'b', 'k', 'b', 'c', 0, 0, 1};

struct cache_header {
	char magic[8];
	uint64_t program;       /* hash of the executable that wrote it */
	uint64_t engine;        /* hash of the regex engine that checked */
	uint64_t root;          /* hash of the knowledge base's real path */
	uint64_t checked_count; /* sorted regex hashes that follow */
	uint64_t automaton_len; /* prefilter_save() bytes after those */
	uint64_t checksum;      /* text_hash64() of everything after this */
};

struct kbcache {
	unsigned char *data; /* the whole file */
	size_t len;
	const uint64_t *checked; /* sorted */
	size_t checked_count;
	const unsigned char *automaton;
	size_t automaton_len;
};

/* Read a whole file of at most 'max' bytes into new memory: only a
 * regular file of this user's that no one else can write, since what it
 * says decides which regexes run (a cache in a shared directory must not
 * let another user switch triage rules off). */
static unsigned char *
read_all(const char *path, size_t max, size_t *len)
{
	unsigned char *data = NULL;
	struct stat st;
	size_t off = 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
	    st.st_size <= 0 || (uint64_t)st.st_size > max)
		goto fail;
	*len = (size_t)st.st_size;
	data = malloc(*len);
	if (data == NULL)
		goto fail;
	while (off < *len) {
		ssize_t n = read(fd, data + off, *len - off);

		if (n <= 0)
			goto fail; /* error, or the file shrank */
		off += (size_t)n;
	}
	close(fd);
	return data;
fail:
	free(data);
	close(fd);
	return NULL;
}

/* What identifies the running program: its executable file (device,
 * inode, size, modification and change times: any rebuild or copy
 * changes one).  0 when that cannot be known (then nothing is cached). */
static uint64_t
program_hash(void)
{
	struct stat st;
	uint64_t id[7];
	uint64_t h;

	if (stat("/proc/self/exe", &st) != 0)
		return 0;
	id[0] = (uint64_t)st.st_dev;
	id[1] = (uint64_t)st.st_ino;
	id[2] = (uint64_t)st.st_size;
	id[3] = (uint64_t)st.st_mtim.tv_sec;
	id[4] = (uint64_t)st.st_mtim.tv_nsec;
	id[5] = (uint64_t)st.st_ctim.tv_sec; /* no one can set this */
	id[6] = (uint64_t)st.st_ctim.tv_nsec;
	h = text_hash64((const char *)id, sizeof(id));
	return h == 0 ? 1 : h;
}

static uint64_t
engine_hash(void)
{
	return text_hash64(rx_engine(), strlen(rx_engine()));
}

/* The cache directory into 'dir'; -1 when caching is off or there is
 * no directory to use. */
static int
cache_dir(char *dir, size_t size)
{
	const char *env = getenv("BACKBOT_CACHE_DIR");
	int n;

	if (env != NULL) {
		if (env[0] == '\0' || strcmp(env, "off") == 0)
			return -1;
		n = snprintf(dir, size, "%s", env);
	} else if ((env = getenv("XDG_CACHE_HOME")) != NULL && env[0] == '/') {
		n = snprintf(dir, size, "%s/backbot", env);
	} else if ((env = getenv("HOME")) != NULL && env[0] == '/') {
		n = snprintf(dir, size, "%s/.cache/backbot", env);
	} else {
		return -1;
	}
	return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Where the cache of 'root' for this program lives, with the hash of the
 * root's real path and the program's identity.  Each program has its
 * own file, so two builds using one knowledge base do not keep replacing
 * each other's. */
static int
cache_path(const char *root, char *path, size_t size, uint64_t *root_hash,
    uint64_t *program)
{
	char dir[FILE_MAX_PATH], *real;
	int n;

	*program = program_hash();
	if (*program == 0 || cache_dir(dir, sizeof(dir)) == -1)
		return -1;
	real = realpath(root, NULL);
	if (real == NULL)
		return -1;
	*root_hash = text_hash64(real, strlen(real));
	free(real);
	n = snprintf(path, size, "%s/kb-%016llx-%016llx.bin", dir,
	    (unsigned long long)*root_hash, (unsigned long long)*program);
	return n > 0 && (size_t)n < size ? 0 : -1;
}

/* A file in use is touched once an hour, so that saving can tell the
 * files of programs no longer run (earlier builds) and remove them: a
 * knowledge base keeps the files of its KEEP_FILES most recently used
 * programs, none unused for REMOVE_AFTER. */
#define TOUCH_AFTER  3600
#define REMOVE_AFTER (30 * 24 * 3600)
#define KEEP_FILES   4

static void
mark_used(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && st.st_mtime + TOUCH_AFTER < time(NULL))
		(void)utimensat(AT_FDCWD, path, NULL, 0);
}

struct cache_file {
	char name[64];
	time_t used;
};

static int
most_recent_first(const void *a, const void *b)
{
	time_t x = ((const struct cache_file *)a)->used;
	time_t y = ((const struct cache_file *)b)->used;

	return x > y ? -1 : x < y;
}

/* Remove the files of the knowledge base 'root_hash' other than 'keep'
 * (a name in 'dir') beyond the KEEP_FILES - 1 most recently used, and
 * any unused for REMOVE_AFTER. */
static void
remove_stale(const char *dir, uint64_t root_hash, const char *keep)
{
	char prefix[64], path[FILE_MAX_PATH + 64];
	struct cache_file *files = NULL, *nf;
	size_t count = 0, cap = 0, i;
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;

	if (d == NULL)
		return;
	snprintf(prefix, sizeof(prefix), "kb-%016llx-",
	    (unsigned long long)root_hash);
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, prefix, strlen(prefix)) != 0 ||
		    strlen(e->d_name) >= sizeof(files->name) ||
		    strcmp(e->d_name, keep) == 0 ||
		    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >=
		        (int)sizeof(path) ||
		    stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (count == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			nf = realloc(files, cap * sizeof(*files));
			if (nf == NULL)
				break;
			files = nf;
		}
		/* Shorter than 'name': checked above. */
		memcpy(files[count].name, e->d_name, strlen(e->d_name) + 1);
		files[count++].used = st.st_mtime;
	}
	closedir(d);
	if (files == NULL)
		return;
	qsort(files, count, sizeof(*files), most_recent_first);
	for (i = 0; i < count; i++) {
		if (i + 1 < KEEP_FILES &&
		    files[i].used + REMOVE_AFTER >= time(NULL))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, files[i].name) <
		    (int)sizeof(path))
			(void)unlink(path);
	}
	free(files);
}

struct kbcache *
kbcache_open(const char *root)
{
	char path[FILE_MAX_PATH + 64];
	struct cache_header h;
	struct kbcache *c;
	uint64_t root_hash, program;
	size_t body;

	if (cache_path(root, path, sizeof(path), &root_hash, &program) == -1)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->data = read_all(path, CACHE_MAX_BYTES, &c->len);
	if (c->data == NULL || c->len < sizeof(h))
		goto none;
	memcpy(&h, c->data, sizeof(h));
	body = c->len - sizeof(h);
	if (memcmp(h.magic, cache_magic, sizeof(h.magic)) != 0 ||
	    h.root != root_hash || h.engine != engine_hash() ||
	    h.checked_count > body / sizeof(uint64_t) ||
	    h.automaton_len != body - h.checked_count * sizeof(uint64_t))
		goto none;
	if (h.program != program ||
	    text_hash64((const char *)c->data + sizeof(h), body) != h.checksum)
		goto none;
	mark_used(path);
	/* malloc() memory, and the header is a multiple of 8 bytes. */
	c->checked = (const uint64_t *)(const void *)(c->data + sizeof(h));
	c->checked_count = h.checked_count;
	c->automaton = c->data + sizeof(h) + h.checked_count * sizeof(uint64_t);
	c->automaton_len = h.automaton_len;
	return c;
none:
	kbcache_free(c);
	return NULL;
}

void
kbcache_free(struct kbcache *c)
{
	if (c == NULL)
		return;
	free(c->data);
	free(c);
}

bool
kbcache_checked(const struct kbcache *c, const char *src)
{
	uint64_t h;
	size_t lo = 0, hi;

	if (c == NULL)
		return false;
	h = text_hash64(src, strlen(src));
	hi = c->checked_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->checked[mid] < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < c->checked_count && c->checked[lo] == h;
}

const void *
kbcache_automaton(const struct kbcache *c, size_t *len)
{
	*len = c != NULL ? c->automaton_len : 0;
	return c != NULL ? c->automaton : NULL;
}

static int
compare_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int
kbcache_save(const char *root, const struct prefilter *pf)
{
	char path[FILE_MAX_PATH + 64], dir[FILE_MAX_PATH];
	size_t i, n = prefilter_regex_count(pf), start;
	struct cache_header h;
	uint64_t *hashes;
	struct diag d;
	struct buf out;
	int rc = -1;

	memset(&h, 0, sizeof(h));
	if (cache_path(root, path, sizeof(path), &h.root, &h.program) == -1)
		return -1;
	/* The directory part of 'path' (a name follows its last slash). */
	snprintf(
	    dir, sizeof(dir), "%.*s", (int)(strrchr(path, '/') - path), path);
	memcpy(h.magic, cache_magic, sizeof(h.magic));
	h.engine = engine_hash();
	hashes = malloc((n + 1) * sizeof(*hashes));
	if (hashes == NULL)
		return -1;
	for (i = 0; i < n; i++)
		hashes[i] = prefilter_regex_hash(pf, i);
	qsort(hashes, n, sizeof(*hashes), compare_u64);
	h.checked_count = n;
	buf_init(&out, CACHE_MAX_BYTES);
	if (buf_append(&out, &h, sizeof(h)) == -1 ||
	    buf_append(&out, hashes, n * sizeof(*hashes)) == -1)
		goto out;
	start = out.len;
	if (prefilter_save(pf, &out) == -1)
		goto out;
	h.automaton_len = out.len - start;
	h.checksum = text_hash64(out.data + sizeof(h), out.len - sizeof(h));
	memcpy(out.data, &h, sizeof(h));
	diag_clear(&d);
	if (file_mkdirs(dir, &d) == -1 ||
	    file_write_atomic(path, out.data, out.len, 0600, &d) == -1)
		goto out;
	remove_stale(dir, h.root, strrchr(path, '/') + 1);
	rc = 0;
out:
	buf_free(&out);
	free(hashes);
	return rc;
}
