/* lineedit.h - line editing and history for the terminal chat, with
 * libedit loaded when first needed.
 *
 * Only the interactive chat and doctor check edit lines: `ask`, `check`
 * and the Matrix bot never do.  So libedit, and the terminal libraries it
 * brings, is opened with dlopen() on first use instead of being linked,
 * and those runs do not map it at all (about 0.4 MB less memory).
 * Without libedit the caller reads plain lines instead.
 */
#ifndef BACKBOT_LINEEDIT_H
#define BACKBOT_LINEEDIT_H

#include <stdbool.h>

/* Is line editing available?  Loads libedit on the first call. */
bool lineedit_available(void);

/* Read one line with editing, showing 'prompt'.  Returns a malloc'd
 * string without the newline (added to the history unless empty), or
 * NULL at end of input or when lineedit_available() is false. */
char *lineedit_read(const char *prompt);

#endif
