/* diag.h - error records: what went wrong and where, for main to print.
 *
 * Modules never print or exit; they append messages to a caller-supplied
 * struct diag and return -1 or NULL.  Messages read "file:line:col: text"
 * (or "file: json.path: text" where no position is known) so editors can
 * jump to them.  The record holds a bounded number of messages and counts
 * the ones it had to drop.
 */
#ifndef BACKBOT_DIAG_H
#define BACKBOT_DIAG_H

#include <stddef.h>
#include <stdio.h>

#define DIAG_MAX_MESSAGES 128 /* kept messages [1..]; the rest are counted */
#define DIAG_MESSAGE_SIZE 512 /* bytes per message, including the NUL */

struct diag {
	size_t count;   /* messages kept in 'messages' */
	size_t dropped; /* messages that did not fit */
	char messages[DIAG_MAX_MESSAGES][DIAG_MESSAGE_SIZE];
};

/* Empty 'd' so it can be reused. */
void diag_clear(struct diag *d);

/* Append one printf-style message.  'd' may be NULL (the message is lost). */
void diag_add(struct diag *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Append "path:line:col: message", computing line and column of byte
 * 'offset' in 'text' (1-based).  An offset past the text clamps to its end. */
void diag_add_at(struct diag *d, const char *path, const char *text,
    size_t offset, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Write every message, one per line, prefixed with 'program: ' when it is
 * not NULL. */
void diag_print(const struct diag *d, const char *program, FILE *out);

/* Non-zero when at least one message was recorded. */
int diag_has_error(const struct diag *d);

#endif
