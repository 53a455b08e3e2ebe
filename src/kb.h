/* kb.h - the FAQ knowledge base: answers keyed by intent id, from faq/.
 *
 * Each faq/ *.json file has an "answers" array of
 * {intent, title, source, self_care, answer}.  The text is plain (lines
 * separated by '\n'); front ends wrap or format it.
 */
#ifndef BACKBOT_KB_H
#define BACKBOT_KB_H

#include <stdbool.h>
#include <stddef.h>

struct diag;
struct kb;

struct kb_answer {
	char *intent;   /* owned by the kb; callers see const answers */
	char *title;    /* short topic name */
	char *source;   /* what part of the source it rests on */
	char *text;     /* the answer */
	char *file;     /* the faq/ file it came from */
	bool self_care; /* tells the person to do something to their back */
};

/* Load every *.json in 'dir'.  NULL with every problem in 'd' on error.
 * Caller frees with kb_free(). */
struct kb *kb_load_dir(const char *dir, struct diag *d);

/* The answer for 'intent', falling back to the nearest parent id
 * ("a.b.c" -> "a.b" -> "a"); NULL when there is none.  Borrowed, valid
 * until kb_free(). */
const struct kb_answer *kb_find(const struct kb *kb, const char *intent);

size_t kb_count(const struct kb *kb);
const struct kb_answer *kb_at(const struct kb *kb, size_t index);

void kb_free(struct kb *kb); /* NULL is a no-op */

#endif
