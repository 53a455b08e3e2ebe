/* matrix_state.c - what the Matrix bot keeps between runs.
 *
 * The state file holds the sync position (next_batch), what is known
 * about each room (member count, encryption, whether the bot has said it
 * cannot read it) and the events handled in a batch that was interrupted.
 * It is saved only after a batch has been handled, and always atomically
 * (temp file, fsync, rename, fsync of the directory), so a crash leaves
 * either the old file or the new one.  A password login's token is kept
 * in a separate session file, mode 0600.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "diag.h"
#include "matrix_impl.h"
#include "text.h"

int
matrix_ring_init(struct matrix_ring *r, size_t cap)
{
	memset(r, 0, sizeof(*r));
	r->ids = calloc(cap, sizeof(*r->ids));
	r->hashes = calloc(cap, sizeof(*r->hashes));
	if (r->ids == NULL || r->hashes == NULL) {
		matrix_ring_free(r);
		return -1;
	}
	r->cap = cap;
	return 0;
}

void
matrix_ring_free(struct matrix_ring *r)
{
	free(r->ids);
	free(r->hashes);
	memset(r, 0, sizeof(*r));
}

bool
matrix_ring_has(const struct matrix_ring *r, const char *id)
{
	uint64_t h = text_hash(id, strlen(id));

	for (size_t i = 0; i < r->count; i++)
		if (r->hashes[i] == h && strcmp(r->ids[i], id) == 0)
			return true;
	return false;
}

void
matrix_ring_add(struct matrix_ring *r, const char *id)
{
	size_t slot;

	if (r->cap == 0 || strlen(id) >= MATRIX_MAX_ID)
		return;
	if (r->count < r->cap) {
		slot = r->count++;
	} else {
		slot = r->head;
		r->head = (r->head + 1) % r->cap;
	}
	snprintf(r->ids[slot], MATRIX_MAX_ID, "%s", id);
	r->hashes[slot] = text_hash(id, strlen(id));
}

int
matrix_state_init(struct matrix_state *s)
{
	memset(s, 0, sizeof(*s));
	return matrix_ring_init(&s->partial, 4096);
}

void
matrix_state_free(struct matrix_state *s)
{
	free(s->rooms);
	matrix_ring_free(&s->partial);
	memset(s, 0, sizeof(*s));
}

struct matrix_room *
matrix_state_room(struct matrix_state *s, const char *id, bool create)
{
	struct matrix_room *r;
	size_t ncap;

	for (size_t i = 0; i < s->room_count; i++)
		if (strcmp(s->rooms[i].id, id) == 0)
			return &s->rooms[i];
	if (!create || strlen(id) >= MATRIX_MAX_ID ||
	    s->room_count == MATRIX_MAX_ROOMS)
		return NULL;
	if (s->room_count == s->room_cap) {
		ncap = s->room_cap == 0 ? 16 : s->room_cap * 2;
		r = realloc(s->rooms, ncap * sizeof(*r));
		if (r == NULL)
			return NULL;
		s->rooms = r;
		s->room_cap = ncap;
	}
	r = &s->rooms[s->room_count++];
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", id);
	r->joined = -1;
	return r;
}

void
matrix_state_forget_room(struct matrix_state *s, const char *id)
{
	for (size_t i = 0; i < s->room_count; i++) {
		if (strcmp(s->rooms[i].id, id) != 0)
			continue;
		s->rooms[i] = s->rooms[s->room_count - 1];
		s->room_count--;
		return;
	}
}

static int
read_json(const char *path, size_t max, cJSON **out, struct diag *d)
{
	struct buf text;
	const char *end = NULL;
	int ret = -1;

	*out = NULL;
	buf_init(&text, max);
	if (buf_read_file(&text, path) != 0) {
		if (errno == ENOENT) {
			ret = 1;
			goto out;
		}
		diag_add(d, "%s: cannot read: %s", path, strerror(errno));
		goto out;
	}
	*out = cJSON_ParseWithOpts(buf_str(&text), &end, 1);
	if (*out == NULL || !cJSON_IsObject(*out)) {
		diag_add_at(d, path, buf_str(&text),
		    end != NULL ? (size_t)(end - buf_str(&text)) : 0,
		    "invalid state file");
		cJSON_Delete(*out);
		*out = NULL;
		goto out;
	}
	ret = 0;
out:
	buf_free_secret(&text);
	return ret;
}

static int
copy_str(char *dst, size_t size, const cJSON *obj, const char *key)
{
	const char *v = matrix_json_str(obj, key);

	if (v == NULL || strlen(v) >= size)
		return -1;
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

int
matrix_state_load(struct matrix_state *s, const char *path, struct diag *d)
{
	cJSON *root = NULL;
	const cJSON *rooms, *r, *ids, *id;
	struct matrix_room *room;
	const cJSON *v;
	int ret;

	ret = read_json(path, MATRIX_STATE_MAX_BYTES, &root, d);
	if (ret != 0)
		goto out;
	ret = -1;
	if (copy_str(s->user_id, sizeof(s->user_id), root, "user_id") != 0 ||
	    copy_str(s->next_batch, sizeof(s->next_batch), root,
	        "next_batch") != 0) {
		diag_add(
		    d, "%s: user_id, next_batch: missing or too long", path);
		goto out;
	}
	rooms = cJSON_GetObjectItemCaseSensitive(root, "rooms");
	cJSON_ArrayForEach(r, rooms)
	{
		if (r->string == NULL || !cJSON_IsObject(r))
			continue;
		room = matrix_state_room(s, r->string, true);
		if (room == NULL)
			break;
		v = cJSON_GetObjectItemCaseSensitive(r, "joined");
		if (cJSON_IsNumber(v))
			room->joined = (long)v->valuedouble;
		room->encrypted = cJSON_IsTrue(
		    cJSON_GetObjectItemCaseSensitive(r, "encrypted"));
		room->notified = cJSON_IsTrue(
		    cJSON_GetObjectItemCaseSensitive(r, "notified"));
	}
	ids = cJSON_GetObjectItemCaseSensitive(root, "handled");
	cJSON_ArrayForEach(id, ids)
	{
		if (cJSON_IsString(id))
			matrix_ring_add(&s->partial, id->valuestring);
	}
	ret = 0;
out:
	cJSON_Delete(root);
	return ret;
}

int
matrix_state_save(
    const struct matrix_state *s, const char *path, struct diag *d)
{
	cJSON *root = NULL, *rooms, *r, *ids;
	char *text = NULL;
	int ret = -1;

	root = cJSON_CreateObject();
	if (root == NULL ||
	    cJSON_AddStringToObject(root, "user_id", s->user_id) == NULL ||
	    cJSON_AddStringToObject(root, "next_batch", s->next_batch) == NULL)
		goto nomem;
	rooms = cJSON_AddObjectToObject(root, "rooms");
	if (rooms == NULL)
		goto nomem;
	for (size_t i = 0; i < s->room_count; i++) {
		r = cJSON_AddObjectToObject(rooms, s->rooms[i].id);
		if (r == NULL ||
		    cJSON_AddNumberToObject(
		        r, "joined", (double)s->rooms[i].joined) == NULL ||
		    cJSON_AddBoolToObject(
		        r, "encrypted", s->rooms[i].encrypted) == NULL ||
		    cJSON_AddBoolToObject(
		        r, "notified", s->rooms[i].notified) == NULL)
			goto nomem;
	}
	ids = cJSON_AddArrayToObject(root, "handled");
	if (ids == NULL)
		goto nomem;
	for (size_t i = 0; i < s->partial.count; i++) {
		cJSON *str = cJSON_CreateString(s->partial.ids[i]);

		if (str == NULL || !cJSON_AddItemToArray(ids, str)) {
			cJSON_Delete(str);
			goto nomem;
		}
	}
	text = cJSON_PrintUnformatted(root);
	if (text == NULL)
		goto nomem;
	ret = file_write_atomic(path, text, strlen(text), 0600, d);
	goto out;
nomem:
	diag_add(d, "%s: out of memory", path);
out:
	cJSON_free(text);
	cJSON_Delete(root);
	return ret;
}

int
matrix_session_load(struct matrix_session *ss, const char *path, struct diag *d)
{
	cJSON *root = NULL;
	int ret;

	memset(ss, 0, sizeof(*ss));
	ret = read_json(path, MATRIX_CONFIG_MAX_BYTES, &root, d);
	if (ret != 0)
		goto out;
	if (copy_str(ss->homeserver, sizeof(ss->homeserver), root,
	        "homeserver") != 0 ||
	    copy_str(ss->user_id, sizeof(ss->user_id), root, "user_id") != 0 ||
	    copy_str(ss->access_token, sizeof(ss->access_token), root,
	        "access_token") != 0) {
		diag_add(d, "%s: damaged session file", path);
		ret = -1;
		goto out;
	}
	(void)copy_str(ss->device_id, sizeof(ss->device_id), root, "device_id");
out:
	if (root != NULL) {
		/* Wipe the token held in the tree before freeing it. */
		cJSON *t =
		    cJSON_GetObjectItemCaseSensitive(root, "access_token");

		if (cJSON_IsString(t))
			memset(t->valuestring, 0, strlen(t->valuestring));
	}
	cJSON_Delete(root);
	return ret;
}

int
matrix_session_save(
    const struct matrix_session *ss, const char *path, struct diag *d)
{
	cJSON *root = NULL;
	char *text = NULL;
	int ret = -1;

	root = cJSON_CreateObject();
	if (root == NULL ||
	    cJSON_AddStringToObject(root, "homeserver", ss->homeserver) ==
	        NULL ||
	    cJSON_AddStringToObject(root, "user_id", ss->user_id) == NULL ||
	    cJSON_AddStringToObject(root, "device_id", ss->device_id) == NULL ||
	    cJSON_AddStringToObject(root, "access_token", ss->access_token) ==
	        NULL) {
		diag_add(d, "%s: out of memory", path);
		goto out;
	}
	text = cJSON_PrintUnformatted(root);
	if (text == NULL) {
		diag_add(d, "%s: out of memory", path);
		goto out;
	}
	ret = file_write_atomic(path, text, strlen(text), 0600, d);
out:
	if (text != NULL) {
		memset(text, 0, strlen(text));
		cJSON_free(text);
	}
	cJSON_Delete(root);
	return ret;
}
