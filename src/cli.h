/* cli.h - the command line: options, sub-commands, usage text, and where
 * the knowledge base lives.
 *
 * Kept apart from main.c so main stays a few lines of wiring and the
 * parsing can be tested.
 */
#ifndef BACKBOT_CLI_H
#define BACKBOT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define CLI_PATH_MAX 4096

enum cli_command {
	CLI_CHAT,
	CLI_ASK,
	CLI_DOCTOR,
	CLI_MATRIX,
	CLI_CHECK,
	CLI_HELP,
	CLI_VERSION
};

struct cli_options {
	enum cli_command command;
	bool json;
	const char *kb;     /* --kb DIR as given, or NULL */
	const char *config; /* --config FILE (matrix), or NULL */
	int verbosity;      /* 0 quiet, 1 normal, 2 verbose */
	char **words;       /* arguments after the command */
	int word_count;
	char kb_root[CLI_PATH_MAX]; /* resolved knowledge-base root */
};

/* Parse argv.  'stdin_is_tty' picks the default command (chat on a
 * terminal, ask otherwise).  Returns 0, or -1 with a message in 'err'. */
int cli_parse(int argc, char **argv, bool stdin_is_tty, struct cli_options *o,
    char *err, size_t errsize);

/* Decide the knowledge-base root into o->kb_root: --kb DIR (a root with
 * faq/ and intents/, or the faq/ folder itself), else $BACKBOT_KB, else
 * the executable's own folder when it holds faq/ and intents/ (a build
 * tree), else the installed data directory 'datadir'.  Returns 0, or -1
 * with a message in 'err' when --kb or $BACKBOT_KB is unusable. */
int cli_find_kb(
    struct cli_options *o, const char *datadir, char *err, size_t errsize);

void cli_usage(FILE *out);

/* The words after the command joined by spaces (the question of `ask`).
 * Caller frees; NULL when out of memory. */
char *cli_join_words(const struct cli_options *o);

#endif
