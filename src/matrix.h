/* matrix.h - backbot as a Matrix bot (Client-Server API v3).
 *
 * matrix_run() logs in with an access token (or a password, once),
 * long-polls /sync, joins rooms it is invited to and answers questions as
 * m.notice rich replies, with the same triage and answers as the
 * terminal.  It never answers history, its own messages, notices or
 * edits; it persists its sync position so a restart neither repeats nor
 * misses answers.  End-to-end encrypted rooms are not supported: it says
 * so once per room.
 */
#ifndef BACKBOT_MATRIX_H
#define BACKBOT_MATRIX_H

struct bot;
struct diag;

struct matrix_options {
	const char *config_path; /* NULL: $XDG_CONFIG_HOME/backbot/matrix.json
	                            (or ~/.config/...) */
	int verbosity;           /* 0 quiet, 1 normal, 2 verbose */
};

/* Run the bot until SIGINT/SIGTERM.  Returns the process exit status (0,
 * 2 config, 3 network/Matrix) with 'd' describing any failure.  Installs
 * its own SIGINT/SIGTERM handlers; call http_global_init() first.  Logs
 * go to stderr, one line per handled event; the access token and the
 * password never appear in them. */
int matrix_run(
    struct bot *bot, const struct matrix_options *opts, struct diag *d);

#endif
