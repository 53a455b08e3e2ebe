/* main.c - backbot: answers questions about safely cracking and
 * stretching the lower back, and says when to see a doctor instead.
 *
 * Parses the command line, loads the knowledge base, runs one front end
 * (terminal chat, ask, doctor check, Matrix bot or the knowledge-base
 * check) and maps the outcome to the exit status of SPEC §3.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bot.h"
#include "cli.h"
#include "datadir.h"
#include "diag.h"
#include "http.h"
#include "matrix.h"
#include "repl.h"

#define BACKBOT_VERSION "1.0.0"

enum {
	EXIT_OK = 0,
	EXIT_USAGE = 1,
	EXIT_KB = 2,
	EXIT_NETWORK = 3
};

static int
run(struct bot *bot, const struct cli_options *o, struct diag *d)
{
	struct repl_options ro;
	struct matrix_options mo = {o->config, o->verbosity};
	char *question;
	int status;

	repl_options_detect(&ro, stdin, stdout);
	ro.json = o->json;
	switch (o->command) {
	case CLI_ASK:
		if (o->word_count == 0 && isatty(STDIN_FILENO)) {
			fprintf(stderr,
			    "backbot: ask needs a question (or "
			    "questions on standard input, one per line)\n");
			return EXIT_USAGE;
		}
		if (o->word_count == 0)
			return repl_ask_lines(bot, stdin, stdout, stderr, &ro);
		question = cli_join_words(o);
		if (question == NULL)
			return EXIT_USAGE;
		status = repl_ask(bot, question, stdout, &ro);
		free(question);
		return status;
	case CLI_DOCTOR:
		return repl_doctor(bot, stdin, stdout, &ro);
	case CLI_MATRIX:
		if (http_global_init() != 0) {
			fprintf(stderr,
			    "backbot: cannot load libcurl "
			    "(libcurl.so.4; Debian package libcurl4)\n");
			return EXIT_NETWORK;
		}
		status = matrix_run(bot, &mo, d);
		http_global_cleanup();
		return status;
	default:
		return repl_chat(bot, stdin, stdout, &ro);
	}
}

int
main(int argc, char **argv)
{
	struct cli_options o;
	struct diag d;
	struct bot *bot = NULL;
	char err[512];
	int status;

	diag_clear(&d);
	if (cli_parse(argc, argv, isatty(STDIN_FILENO), &o, err, sizeof(err)) ==
	    -1) {
		fprintf(stderr, "backbot: %s\n", err);
		return EXIT_USAGE;
	}
	if (o.command == CLI_HELP || o.command == CLI_VERSION) {
		if (o.command == CLI_HELP)
			cli_usage(stdout);
		else
			printf("backbot %s\n", BACKBOT_VERSION);
		return fflush(stdout) == 0 ? EXIT_OK : EXIT_USAGE;
	}
	if (cli_find_kb(&o, BACKBOT_DATADIR, err, sizeof(err)) == -1) {
		fprintf(stderr, "backbot: %s\n", err);
		return EXIT_KB;
	}
	if (o.command == CLI_CHECK) {
		status = bot_check(o.kb_root, &d) == 0 ? EXIT_OK : EXIT_KB;
		diag_print(&d, NULL, stderr);
		if (status == EXIT_OK)
			printf("%s: knowledge base OK\n", o.kb_root);
		return status;
	}
	bot = bot_load(o.kb_root, &d);
	if (bot == NULL) {
		diag_print(&d, "backbot", stderr);
		return EXIT_KB;
	}
	status = run(bot, &o, &d);
	diag_print(&d, "backbot", stderr);
	bot_free(bot);
	if ((ferror(stdout) || fclose(stdout) != 0) && status == EXIT_OK)
		status = EXIT_USAGE;
	return status;
}
