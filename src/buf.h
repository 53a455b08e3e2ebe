/* buf.h - a growable byte buffer with a hard maximum size.
 *
 * Everything filled from outside (files, lines, HTTP bodies, replies) goes
 * through a struct buf so no input can make memory grow without limit.
 * The contents are always NUL-terminated.  Appends that would pass the
 * maximum fail with -1 and leave the buffer as it was.
 */
#ifndef BACKBOT_BUF_H
#define BACKBOT_BUF_H

#include <stddef.h>
#include <stdio.h>

struct buf {
	char *data; /* NUL-terminated; NULL until the first append */
	size_t len; /* bytes used, not counting the NUL */
	size_t cap; /* bytes allocated */
	size_t max; /* largest allowed 'len' */
};

/* Start empty with a maximum length of 'max' bytes. */
void buf_init(struct buf *b, size_t max);

/* Release the memory; the buffer can be reused after buf_init(). */
void buf_free(struct buf *b);

/* Overwrite the contents with zeros, then buf_free(): for buffers that
 * held a secret such as an access token. */
void buf_free_secret(struct buf *b);

/* Forget the contents, keep the memory. */
void buf_reset(struct buf *b);

int buf_append(struct buf *b, const void *data, size_t len);
int buf_append_str(struct buf *b, const char *s);
int buf_append_char(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append 's' as a JSON string literal, quotes included. */
int buf_append_json_string(struct buf *b, const char *s);

/* Append 's' with &, <, >, " and ' escaped for HTML. */
int buf_append_html(struct buf *b, const char *s);

/* The contents, "" when empty.  Borrowed. */
const char *buf_str(const struct buf *b);

/* Read one line from 'in' into 'b' (after buf_reset), without its '\n'
 * (and '\r').  Reads at most b->max bytes; the rest of an over-long line is
 * read and thrown away, and *truncated is set.  Returns 1 for a line, 0 at
 * end of input, -1 on a read error (errno set). */
int buf_getline(struct buf *b, FILE *in, int *truncated);

/* Read a whole file of at most 'max' bytes.  Returns 0, or -1 with errno set
 * (EFBIG when the file is larger than 'max'). */
int buf_read_file(struct buf *b, const char *path);

#endif
