/* buf.c - bounded growable byte buffer.
 *
 * Capacity doubles as needed but never beyond 'max' (+1 for the NUL), so
 * a hostile line or HTTP body fails cleanly instead of eating memory.
 */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void
buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void
buf_free_secret(struct buf *b)
{
	if (b->data != NULL) {
		/* volatile: the compiler must not drop stores to memory that
		 * is about to be freed. */
		volatile char *p = b->data;
		size_t i;

		for (i = 0; i < b->cap; i++)
			p[i] = 0;
	}
	buf_free(b);
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/* Make room for 'extra' more bytes plus the NUL. */
static int
reserve(struct buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra > b->max - b->len)
		return -1;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap == 0 ? 64 : b->cap;
	while (cap < need)
		cap = cap > (SIZE_MAX / 2) ? need : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	p = realloc(b->data, cap);
	if (p == NULL)
		return -1;
	b->data = p;
	b->cap = cap;
	return 0;
}

int
buf_append(struct buf *b, const void *data, size_t len)
{
	if (reserve(b, len) == -1)
		return -1;
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_append_char(struct buf *b, char c)
{
	return buf_append(b, &c, 1);
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(b, (size_t)n) == -1)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int
buf_append_json_string(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	size_t start = b->len;

	if (buf_append_char(b, '"') == -1)
		return -1;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		int rc;

		switch (*p) {
		case '"':
			rc = buf_append(b, "\\\"", 2);
			break;
		case '\\':
			rc = buf_append(b, "\\\\", 2);
			break;
		case '\n':
			rc = buf_append(b, "\\n", 2);
			break;
		case '\r':
			rc = buf_append(b, "\\r", 2);
			break;
		case '\t':
			rc = buf_append(b, "\\t", 2);
			break;
		default:
			if (*p < 0x20) {
				char esc[6] = {'\\', 'u', '0', '0',
				    hex[*p >> 4], hex[*p & 15]};
				rc = buf_append(b, esc, sizeof(esc));
			} else {
				rc = buf_append_char(b, (char)*p);
			}
		}
		if (rc == -1)
			goto fail;
	}
	if (buf_append_char(b, '"') == 0)
		return 0;
fail:
	b->len = start;
	b->data[start] = '\0';
	return -1;
}

int
buf_append_html(struct buf *b, const char *s)
{
	size_t start = b->len;

	for (; *s != '\0'; s++) {
		int rc;

		switch (*s) {
		case '&':
			rc = buf_append_str(b, "&amp;");
			break;
		case '<':
			rc = buf_append_str(b, "&lt;");
			break;
		case '>':
			rc = buf_append_str(b, "&gt;");
			break;
		case '"':
			rc = buf_append_str(b, "&quot;");
			break;
		case '\'':
			rc = buf_append_str(b, "&#39;");
			break;
		default:
			rc = buf_append_char(b, *s);
		}
		if (rc == -1) {
			b->len = start;
			if (b->data != NULL)
				b->data[start] = '\0';
			return -1;
		}
	}
	return 0;
}

const char *
buf_str(const struct buf *b)
{
	return b->data != NULL ? b->data : "";
}

int
buf_getline(struct buf *b, FILE *in, int *truncated)
{
	int c, got = 0;

	buf_reset(b);
	*truncated = 0;
	while ((c = getc(in)) != EOF) {
		got = 1;
		if (c == '\n')
			break;
		if (*truncated)
			continue;
		if (buf_append_char(b, (char)c) == -1)
			*truncated = 1;
	}
	if (c == EOF && ferror(in))
		return -1;
	if (b->len > 0 && b->data[b->len - 1] == '\r')
		b->data[--b->len] = '\0';
	if (b->data == NULL && got)
		(void)buf_append(b, "", 0);
	return got;
}

int
buf_read_file(struct buf *b, const char *path)
{
	FILE *f;
	char chunk[8192];
	size_t n;
	int rc = 0;

	buf_reset(b);
	f = fopen(path, "rb");
	if (f == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_append(b, chunk, n) == -1) {
			errno = EFBIG;
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(f)) {
		errno = EIO;
		rc = -1;
	}
	fclose(f);
	if (rc == 0 && b->data == NULL)
		rc = buf_append(b, "", 0);
	return rc;
}
