/* jsonfile.h - reading the knowledge base's JSON files.
 *
 * Shared by the loaders (kb, intent, triage, doctor, lexicon): read a file
 * with a size cap, parse it with cJSON, and report syntax errors with the
 * line and column where parsing stopped.  This is the one internal header
 * that exposes cJSON; front ends never see it.
 */
#ifndef BACKBOT_JSONFILE_H
#define BACKBOT_JSONFILE_H

#include <cjson/cJSON.h>
#include <stddef.h>

struct buf;
struct diag;

#define JSONFILE_MAX_BYTES (4u << 20) /* knowledge-base files are small */

/* Read and parse 'path'; 'text' receives the file's bytes (the caller
 * keeps them to locate later errors).  NULL with 'd' filled on error
 * ("path:line:col: invalid JSON").  Caller frees with cJSON_Delete(). */
cJSON *jsonfile_parse(const char *path, struct buf *text, struct diag *d);

/* Called by jsonfile_each() for element 'index' of the array; 'text' is
 * the file's bytes (for positions in messages).  Returns the number of
 * problems it reported, or -1 to stop (out of memory). */
typedef int (*jsonfile_item_fn)(void *ctx, const cJSON *item, size_t index,
    const char *path, const char *text, struct diag *d);

/* Parse 'path' and call 'fn' on each element of its top-level array
 * 'member' ("answers", "intents").  Returns the number of problems found
 * (an unreadable file, invalid JSON or a missing array count as one). */
int jsonfile_each(const char *path, const char *member, jsonfile_item_fn fn,
    void *ctx, struct diag *d);

/* The sorted paths of the *.json files directly inside 'dir'.  Returns the
 * count (0 is fine), or -1 with 'd' filled when 'dir' cannot be read.
 * Free with jsonfile_list_free(). */
long jsonfile_list(const char *dir, char ***paths, struct diag *d);
void jsonfile_list_free(char **paths, long count);

/* The string member 'key' of 'obj', or NULL when absent or not a string. */
const char *jsonfile_string(const cJSON *obj, const char *key);

/* Byte offset in 'text' of the JSON string literal for 's' (as cJSON would
 * print it), so an error about that value can carry a line number; when
 * it cannot be found, the offset of the end of the text. */
size_t jsonfile_offset_of(const char *text, const char *s);

#endif
