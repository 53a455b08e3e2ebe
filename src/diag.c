/* diag.c - error records: bounded list of "where: what" messages.
 *
 * Formatting happens here so every module reports positions the same way
 * (1-based line and column, counted in bytes).
 */
#include "diag.h"

#include <stdarg.h>
#include <string.h>

void
diag_clear(struct diag *d)
{
	d->count = 0;
	d->dropped = 0;
}

static char *
next_slot(struct diag *d)
{
	if (d == NULL)
		return NULL;
	if (d->count >= DIAG_MAX_MESSAGES) {
		d->dropped++;
		return NULL;
	}
	return d->messages[d->count++];
}

void
diag_add(struct diag *d, const char *fmt, ...)
{
	char *slot = next_slot(d);
	va_list ap;

	if (slot == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(slot, DIAG_MESSAGE_SIZE, fmt, ap);
	va_end(ap);
}

void
diag_add_at(struct diag *d, const char *path, const char *text, size_t offset,
    const char *fmt, ...)
{
	char *slot = next_slot(d);
	size_t line = 1, col = 1, i;
	int n;
	va_list ap;

	if (slot == NULL)
		return;
	for (i = 0; i < offset && text[i] != '\0'; i++) {
		if (text[i] == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	n = snprintf(slot, DIAG_MESSAGE_SIZE, "%s:%zu:%zu: ", path, line, col);
	if (n < 0 || (size_t)n >= DIAG_MESSAGE_SIZE)
		return;
	va_start(ap, fmt);
	vsnprintf(slot + n, DIAG_MESSAGE_SIZE - (size_t)n, fmt, ap);
	va_end(ap);
}

void
diag_print(const struct diag *d, const char *program, FILE *out)
{
	size_t i;

	for (i = 0; i < d->count; i++) {
		if (program != NULL)
			fprintf(out, "%s: ", program);
		fprintf(out, "%s\n", d->messages[i]);
	}
	if (d->dropped > 0) {
		if (program != NULL)
			fprintf(out, "%s: ", program);
		fprintf(out, "... and %zu more problem%s\n", d->dropped,
		    d->dropped == 1 ? "" : "s");
	}
}

int
diag_has_error(const struct diag *d)
{
	return d->count > 0 || d->dropped > 0;
}
