/* cli.c - command-line parsing and knowledge-base discovery. */
#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
	const char *name;
	enum cli_command command;
} commands[] = {
    {"chat", CLI_CHAT},
    {"ask", CLI_ASK},
    {"doctor", CLI_DOCTOR},
    {"matrix", CLI_MATRIX},
    {"check", CLI_CHECK},
    {"help", CLI_HELP},
    {"version", CLI_VERSION},
};

void
cli_usage(FILE *out)
{
	fputs(
	    "usage: backbot [--kb DIR] [--json] [command] [args]\n"
	    "\n"
	    "Answers questions about safely cracking and stretching the lower\n"
	    "back, and says plainly when to see a doctor instead. It is an\n"
	    "information program, not a doctor.\n"
	    "\n"
	    "commands:\n"
	    "  chat                 interactive chat (default on a terminal)\n"
	    "  ask QUESTION...      answer one question and exit\n"
	    "  ask                  answer each line of standard input\n"
	    "  doctor               guided \"should I see a doctor?\" check\n"
	    "  matrix [--config FILE] [--verbose|--quiet]\n"
	    "                       run as a Matrix bot\n"
	    "  check                validate the knowledge base\n"
	    "\n"
	    "options:\n"
	    "  -k, --kb DIR         knowledge base root (holding faq/ and\n"
	    "                       intents/); also $BACKBOT_KB\n"
	    "  -j, --json           one JSON object per answer (JSON Lines)\n"
	    "  -c, --config FILE    Matrix configuration file\n"
	    "  -v, --verbose        more log output (matrix)\n"
	    "  -q, --quiet          less log output (matrix)\n"
	    "  -h, --help           show this help\n"
	    "  -V, --version        show the version\n"
	    "\n"
	    "The compiled knowledge base is cached in $BACKBOT_CACHE_DIR, "
	    "else\n"
	    "$XDG_CACHE_HOME/backbot or ~/.cache/backbot (off: no cache).\n"
	    "\n"
	    "exit status: 0 ok, 1 bad input or usage, 2 knowledge base or\n"
	    "configuration error, 3 network or Matrix failure.\n",
	    out);
}

int
cli_parse(int argc, char **argv, bool stdin_is_tty, struct cli_options *o,
    char *err, size_t errsize)
{
	static const struct option longopts[] = {
	    {"kb", required_argument, NULL, 'k'},
	    {"json", no_argument, NULL, 'j'},
	    {"config", required_argument, NULL, 'c'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	bool help = false, version = false;
	size_t i;
	int c;

	memset(o, 0, sizeof(*o));
	o->verbosity = 1;
	opterr = 0;
	optind = 1;
	while (
	    (c = getopt_long(argc, argv, "k:jc:vqhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'k':
			o->kb = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'c':
			o->config = optarg;
			break;
		case 'v':
			o->verbosity = 2;
			break;
		case 'q':
			o->verbosity = 0;
			break;
		case 'h':
			help = true;
			break;
		case 'V':
			version = true;
			break;
		default:
			if (optopt != 0 && optopt != '?')
				snprintf(err, errsize,
				    "option -%c needs a value"
				    " or is unknown",
				    optopt);
			else
				snprintf(err, errsize, "unknown option %s",
				    argv[optind - 1]);
			return -1;
		}
	}
	o->command = stdin_is_tty ? CLI_CHAT : CLI_ASK;
	o->words = argv + optind;
	o->word_count = argc - optind;
	if (o->word_count > 0) {
		for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
			if (strcmp(o->words[0], commands[i].name) == 0)
				break;
		}
		if (i == sizeof(commands) / sizeof(commands[0])) {
			snprintf(err, errsize,
			    "unknown command '%s' (try "
			    "'backbot ask %s...' or 'backbot --help')",
			    o->words[0], o->words[0]);
			return -1;
		}
		o->command = commands[i].command;
		o->words++;
		o->word_count--;
	}
	if (help)
		o->command = CLI_HELP;
	else if (version)
		o->command = CLI_VERSION;
	if (o->word_count > 0 && o->command != CLI_ASK &&
	    o->command != CLI_HELP) {
		snprintf(err, errsize, "'%s' takes no arguments", o->words[-1]);
		return -1;
	}
	if (o->config != NULL && o->command != CLI_MATRIX) {
		snprintf(err, errsize, "--config is only for 'matrix'");
		return -1;
	}
	return 0;
}

static bool
is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* True when 'root' holds faq/ and intents/. */
static bool
is_root(const char *root)
{
	char p[CLI_PATH_MAX + 16];

	snprintf(p, sizeof(p), "%s/faq", root);
	if (!is_dir(p))
		return false;
	snprintf(p, sizeof(p), "%s/intents", root);
	return is_dir(p);
}

static int
use_dir(struct cli_options *o, const char *dir, const char *what, char *err,
    size_t errsize)
{
	char parent[CLI_PATH_MAX];

	if (!is_dir(dir)) {
		snprintf(err, errsize, "%s %s: no such folder", what, dir);
		return -1;
	}
	if (is_root(dir)) {
		snprintf(o->kb_root, sizeof(o->kb_root), "%s", dir);
		return 0;
	}
	/* Accept the faq/ folder itself: its parent is the root. */
	snprintf(parent, sizeof(parent), "%s/..", dir);
	if (is_root(parent)) {
		snprintf(o->kb_root, sizeof(o->kb_root), "%s", parent);
		return 0;
	}
	snprintf(err, errsize,
	    "%s %s: not a knowledge base (expected faq/ "
	    "and intents/ inside it)",
	    what, dir);
	return -1;
}

int
cli_find_kb(
    struct cli_options *o, const char *datadir, char *err, size_t errsize)
{
	const char *env = getenv("BACKBOT_KB");
	char exe[CLI_PATH_MAX];
	ssize_t n;

	if (o->kb != NULL)
		return use_dir(o, o->kb, "--kb", err, errsize);
	if (env != NULL && env[0] != '\0')
		return use_dir(o, env, "BACKBOT_KB", err, errsize);
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash != NULL) {
			*slash = '\0';
			if (is_root(exe)) {
				char cwd[CLI_PATH_MAX];

				/* Short paths in messages when run from there.
				 */
				if (getcwd(cwd, sizeof(cwd)) != NULL &&
				    strcmp(cwd, exe) == 0)
					snprintf(exe, sizeof(exe), ".");
				snprintf(
				    o->kb_root, sizeof(o->kb_root), "%s", exe);
				return 0;
			}
		}
	}
	snprintf(o->kb_root, sizeof(o->kb_root), "%s", datadir);
	return 0;
}

char *
cli_join_words(const struct cli_options *o)
{
	size_t len = 1, i;
	char *s;

	for (i = 0; i < (size_t)o->word_count; i++)
		len += strlen(o->words[i]) + 1;
	s = malloc(len);
	if (s == NULL)
		return NULL;
	len = 0;
	for (i = 0; i < (size_t)o->word_count; i++) {
		size_t n = strlen(o->words[i]);

		if (i > 0)
			s[len++] = ' ';
		memcpy(s + len, o->words[i], n);
		len += n;
	}
	s[len] = '\0';
	return s;
}
