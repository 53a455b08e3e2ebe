/* jsonfile.c - capped, position-reporting JSON file reader. */
#include "jsonfile.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "diag.h"

cJSON *
jsonfile_parse(const char *path, struct buf *text, struct diag *d)
{
	cJSON *root;
	const char *end = NULL;

	buf_free(text);
	buf_init(text, JSONFILE_MAX_BYTES);
	if (buf_read_file(text, path) == -1) {
		if (errno == EFBIG)
			diag_add(d, "%s: file larger than %u bytes", path,
			    JSONFILE_MAX_BYTES);
		else
			diag_add(d, "%s: %s", path, strerror(errno));
		return NULL;
	}
	root = cJSON_ParseWithOpts(buf_str(text), &end, 1);
	if (root == NULL) {
		size_t off = text->len;

		if (end != NULL && end >= buf_str(text) &&
		    end <= buf_str(text) + text->len)
			off = (size_t)(end - buf_str(text));
		diag_add_at(d, path, buf_str(text), off, "invalid JSON");
		return NULL;
	}
	if (!cJSON_IsObject(root)) {
		diag_add(
		    d, "%s: expected a JSON object at the top level", path);
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

int
jsonfile_each(const char *path, const char *member, jsonfile_item_fn fn,
    void *ctx, struct diag *d)
{
	struct buf text;
	cJSON *root;
	const cJSON *list, *node;
	size_t index = 0;
	int errors = 0;

	buf_init(&text, JSONFILE_MAX_BYTES);
	root = jsonfile_parse(path, &text, d);
	if (root == NULL) {
		buf_free(&text);
		return 1;
	}
	list = cJSON_GetObjectItemCaseSensitive(root, member);
	if (!cJSON_IsArray(list)) {
		diag_add(d, "%s: expected an \"%s\" array", path, member);
		errors++;
		goto out;
	}
	cJSON_ArrayForEach(node, list)
	{
		int rc = fn(ctx, node, index++, path, buf_str(&text), d);

		if (rc < 0) {
			errors++;
			break;
		}
		errors += rc;
	}
out:
	cJSON_Delete(root);
	buf_free(&text);
	return errors;
}

static int
compare_paths(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
is_json_name(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".json") == 0;
}

long
jsonfile_list(const char *dir, char ***paths, struct diag *d)
{
	DIR *dp;
	struct dirent *e;
	char **list = NULL;
	long count = 0, cap = 0;

	*paths = NULL;
	dp = opendir(dir);
	if (dp == NULL) {
		diag_add(d, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(dp)) != NULL) {
		size_t need;
		char *p;

		if (!is_json_name(e->d_name))
			continue;
		if (count == cap) {
			long ncap = cap == 0 ? 16 : cap * 2;
			char **nl = realloc(list, (size_t)ncap * sizeof(*nl));

			if (nl == NULL)
				goto nomem;
			list = nl;
			cap = ncap;
		}
		need = strlen(dir) + strlen(e->d_name) + 2;
		p = malloc(need);
		if (p == NULL)
			goto nomem;
		snprintf(p, need, "%s/%s", dir, e->d_name);
		list[count++] = p;
	}
	closedir(dp);
	if (count > 0)
		qsort(list, (size_t)count, sizeof(*list), compare_paths);
	*paths = list;
	return count;
nomem:
	closedir(dp);
	jsonfile_list_free(list, count);
	diag_add(d, "%s: out of memory", dir);
	return -1;
}

void
jsonfile_list_free(char **paths, long count)
{
	long i;

	for (i = 0; i < count; i++)
		free(paths[i]);
	free(paths);
}

const char *
jsonfile_string(const cJSON *obj, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

size_t
jsonfile_offset_of(const char *text, const char *s)
{
	cJSON *tmp = cJSON_CreateString(s);
	char *lit = tmp != NULL ? cJSON_PrintUnformatted(tmp) : NULL;
	const char *hit = lit != NULL ? strstr(text, lit) : NULL;
	size_t off = hit != NULL ? (size_t)(hit - text) + 1 : strlen(text);

	cJSON_free(lit);
	cJSON_Delete(tmp);
	return off;
}
