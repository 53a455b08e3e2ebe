/* repl.c - terminal front end: chat, ask (one question or a stream) and
 * the guided doctor check.
 *
 * All rendering of a reply goes through bot_render_text/json; this file
 * only decides layout (wrapping, colour) and the conversation around it.
 */
#include "repl.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "bot.h"
#include "buf.h"
#include "doctor.h"
#include "lineedit.h"
#include "text.h"

#define REPLY_MAX     (256 * 1024) /* bytes of one rendered reply */
#define DEFAULT_WIDTH 80
#define MAX_WIDTH     120 /* long lines are hard to read */

#define ANSI_RESET  "\033[0m"
#define ANSI_BOLD   "\033[1m"
#define ANSI_RED    "\033[1;31m"
#define ANSI_YELLOW "\033[1;33m"
#define ANSI_DIM    "\033[2m"

void
repl_options_detect(struct repl_options *o, FILE *in, FILE *out)
{
	const char *no_color = getenv("NO_COLOR");
	struct winsize ws;
	bool tty_out = isatty(fileno(out));

	o->json = false;
	o->color = tty_out && (no_color == NULL || no_color[0] == '\0');
	o->width = 0;
	if (tty_out) {
		o->width = DEFAULT_WIDTH;
		if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
			o->width = ws.ws_col;
		if (o->width > MAX_WIDTH)
			o->width = MAX_WIDTH;
	}
	o->editline = isatty(fileno(in)) && tty_out && lineedit_available();
}

/* Write one line of text wrapped at o->width, continuing numbered and
 * bulleted lines under their text rather than under the number. */
static void
write_wrapped_line(FILE *out, const char *line, size_t len, int width)
{
	size_t indent = 0, col = 0, i = 0;

	if (width <= 0 || len <= (size_t)width) {
		fwrite(line, 1, len, out);
		fputc('\n', out);
		return;
	}
	/* Hanging indent after "1. " or "- ". */
	while (indent < len && line[indent] >= '0' && line[indent] <= '9')
		indent++;
	if (indent > 0 && indent + 1 < len && line[indent] == '.' &&
	    line[indent + 1] == ' ')
		indent += 2;
	else if (len > 2 && line[0] == '-' && line[1] == ' ')
		indent = 2;
	else
		indent = 0;
	if (indent * 2 > (size_t)width)
		indent = 0;
	while (i < len) {
		size_t start = i, end;

		while (i < len && line[i] != ' ')
			i++;
		end = i;
		if (col > 0 && col + 1 + (end - start) > (size_t)width) {
			fprintf(out, "\n%*s", (int)indent, "");
			col = indent;
		} else if (col > 0) {
			fputc(' ', out);
			col++;
		}
		fwrite(line + start, 1, end - start, out);
		col += end - start;
		while (i < len && line[i] == ' ')
			i++;
	}
	fputc('\n', out);
}

static void
write_wrapped(FILE *out, const char *text, int width)
{
	while (*text != '\0') {
		const char *nl = strchr(text, '\n');
		size_t len = nl != NULL ? (size_t)(nl - text) : strlen(text);

		write_wrapped_line(out, text, len, width);
		text += len;
		if (*text == '\n')
			text++;
	}
}

static const char *
level_color(enum triage_level level)
{
	return level >= TRIAGE_URGENT ? ANSI_RED : ANSI_YELLOW;
}

/* Text layout of one reply: the guidance set apart (and coloured), then
 * the rest. */
static int
print_reply_text(
    const struct bot_reply *r, FILE *out, const struct repl_options *o)
{
	struct buf text;
	const char *body;
	int rc = 0;

	buf_init(&text, REPLY_MAX);
	if (bot_render_text(r, &text) == -1) {
		rc = -1;
		goto out;
	}
	body = buf_str(&text);
	if (r->guidance != NULL &&
	    strncmp(body, r->guidance, strlen(r->guidance)) == 0) {
		if (o->color)
			fputs(level_color(r->triage.level), out);
		write_wrapped(out, r->guidance, o->width);
		if (o->color)
			fputs(ANSI_RESET, out);
		body += strlen(r->guidance);
		while (*body == '\n')
			body++;
		if (*body != '\0')
			fputc('\n', out);
	}
	write_wrapped(out, body, o->width);
out:
	buf_free(&text);
	return rc;
}

static void
print_refusal(enum bot_status st, FILE *out, const struct repl_options *o)
{
	if (o->json) {
		struct buf line;

		buf_init(&line, 1024);
		buf_append_str(&line, "{\"error\":");
		buf_append_json_string(&line, bot_status_message(st));
		buf_append_str(&line,
		    ",\"intent\":\"none\",\"confidence\":0,"
		    "\"triage\":\"none\",\"answer\":\"\",\"alternatives\":[]}");
		fprintf(out, "%s\n", buf_str(&line));
		buf_free(&line);
	} else {
		fprintf(out, "(%s)\n", bot_status_message(st));
	}
}

/* Answer one question; returns the bot status. */
static enum bot_status
answer_one(struct bot *bot, const char *q, size_t len, FILE *out,
    const struct repl_options *o, struct bot_reply *r)
{
	enum bot_status st = bot_answer(bot, q, len, r);

	if (st != BOT_OK)
		return st;
	if (o->json) {
		struct buf line;

		buf_init(&line, REPLY_MAX);
		if (bot_render_json(r, &line) == 0)
			fprintf(out, "%s\n", buf_str(&line));
		buf_free(&line);
	} else {
		print_reply_text(r, out, o);
	}
	return BOT_OK;
}

int
repl_ask(struct bot *bot, const char *question, FILE *out,
    const struct repl_options *o)
{
	struct bot_reply r;
	enum bot_status st;

	st = answer_one(bot, question, strlen(question), out, o, &r);
	if (st != BOT_OK) {
		fprintf(stderr, "backbot: %s\n", bot_status_message(st));
		return 1;
	}
	return 0;
}

int
repl_ask_lines(struct bot *bot, FILE *in, FILE *out, FILE *err,
    const struct repl_options *o)
{
	struct buf line;
	struct bot_reply r;
	unsigned long lineno = 0, bad = 0;
	int truncated, got, status = 0;

	buf_init(&line, BOT_MAX_QUESTION_BYTES);
	while ((got = buf_getline(&line, in, &truncated)) == 1) {
		enum bot_status st;

		lineno++;
		st = truncated
		    ? BOT_TOO_LONG
		    : answer_one(bot, buf_str(&line), line.len, out, o, &r);
		if (st != BOT_OK) {
			bad++;
			fprintf(err, "backbot: line %lu: %s\n", lineno,
			    bot_status_message(st));
			print_refusal(st, out, o);
		} else if (!o->json) {
			fputc('\n', out);
		}
	}
	if (got == -1) {
		fprintf(err, "backbot: reading input: error\n");
		status = 1;
	}
	if (bad > 0)
		status = 1;
	buf_free(&line);
	return status;
}

/* ------------------------------------------------------------ line input */

/* Read one line: through libedit on a terminal (lineedit.h), else from
 * 'in'.  Returns a malloc'd string without the newline, or NULL at end
 * of input.  A line longer than a question may be is cut one byte past
 * the limit, so the bot refuses it as too long (and the rest of it is
 * skipped). */
static char *
read_line(FILE *in, const char *prompt, const struct repl_options *o)
{
	struct buf line;
	int truncated;
	char *s = NULL;

	if (o->editline)
		return lineedit_read(prompt);
	if (isatty(fileno(in))) {
		/* A terminal without libedit: plain lines, still prompted. */
		fputs(prompt, stdout);
		fflush(stdout);
	}
	buf_init(&line, BOT_MAX_QUESTION_BYTES + 1);
	if (buf_getline(&line, in, &truncated) == 1)
		s = strdup(buf_str(&line));
	buf_free(&line);
	return s;
}

/* Lower-cased copy of the first word-ish command, for "quit", "help". */
static bool
is_command(const char *line, const char *word)
{
	size_t n = strlen(word);

	while (*line == ' ' || *line == '\t')
		line++;
	if (strncasecmp(line, word, n) != 0)
		return false;
	line += n;
	while (*line == ' ' || *line == '\t' || *line == '!' || *line == '.')
		line++;
	return *line == '\0';
}

static void
say(FILE *out, const char *text, const struct repl_options *o)
{
	write_wrapped(out, text, o->width);
}

/* ----------------------------------------------------------------- doctor */

static const char *doctor_intro =
    "Let's check whether you should see someone about your back. I'll ask "
    "a few questions, one at a time: answer yes, no or not sure. I'm not a "
    "doctor, and this check can't examine you: if you feel very unwell, "
    "don't wait for the questions, get help now.";

/* Run the check on 'in'.  Returns 0 when it finished, 1 when the input
 * ended first. */
static int
run_doctor(struct bot *bot, FILE *in, FILE *out, const struct repl_options *o)
{
	const struct doctor *doc = bot_doctor(bot);
	struct doctor_session s;
	struct buf result;
	const char *q;
	int status = 0;

	doctor_begin(&s);
	if (!o->json) {
		say(out, doctor_intro, o);
		fputc('\n', out);
	}
	while ((q = doctor_question(doc, &s)) != NULL) {
		char *line;

		if (!o->json) {
			if (o->color)
				fputs(ANSI_BOLD, out);
			say(out, q, o);
			if (o->color)
				fputs(ANSI_RESET, out);
		}
		fflush(out);
		line = read_line(in, "(yes / no / not sure) > ", o);
		if (line == NULL) {
			fprintf(stderr,
			    "backbot: the check ended before all "
			    "questions were answered\n");
			return 1;
		}
		if (is_command(line, "quit") || is_command(line, "stop")) {
			free(line);
			if (!o->json)
				say(out, "Check stopped.", o);
			return 0;
		}
		if (doctor_reply(doc, &s, line) == -1 && !o->json)
			say(out, "Please answer yes, no or not sure.", o);
		free(line);
	}
	buf_init(&result, REPLY_MAX);
	if (o->json)
		status = doctor_render_json(doc, &s, bot_triage(bot), &result);
	else
		status =
		    doctor_render_result(doc, &s, bot_triage(bot), &result);
	if (o->json) {
		fprintf(out, "%s\n", buf_str(&result));
	} else {
		fputc('\n', out);
		if (o->color && s.level > TRIAGE_NONE)
			fputs(level_color(s.level), out);
		write_wrapped(out, buf_str(&result), o->width);
		if (o->color)
			fputs(ANSI_RESET, out);
	}
	buf_free(&result);
	return status == 0 ? 0 : 1;
}

int
repl_doctor(struct bot *bot, FILE *in, FILE *out, const struct repl_options *o)
{
	return run_doctor(bot, in, out, o);
}

/* ------------------------------------------------------------------- chat */

static const char *welcome =
    "Hi, I'm backbot. Ask me about cracking and stretching your lower back "
    "safely: techniques, when not to, keeping your back healthy, and when "
    "to see a doctor. I'm an information program, not a doctor, and I "
    "can't examine you.\n"
    "Type 'help' for what I can answer, 'topics' for a list, 'doctor' for "
    "a step-by-step \"should I see a doctor?\" check, 'quit' to leave.";

int
repl_chat(struct bot *bot, FILE *in, FILE *out, const struct repl_options *o)
{
	bool offered_doctor = false;
	struct bot_reply r;
	char *line;

	if (o->color)
		fputs(ANSI_BOLD, out);
	say(out, welcome, o);
	if (o->color)
		fputs(ANSI_RESET, out);
	fputc('\n', out);
	for (;;) {
		enum bot_status st;

		fflush(out);
		line = read_line(in, "you> ", o);
		if (line == NULL)
			break;
		if (is_command(line, "quit") || is_command(line, "exit")) {
			free(line);
			break;
		}
		if (is_command(line, "doctor") || is_command(line, "check") ||
		    is_command(line, "doctor check") ||
		    (offered_doctor &&
		        (is_command(line, "yes") || is_command(line, "y") ||
		            is_command(line, "ok")))) {
			free(line);
			offered_doctor = false;
			run_doctor(bot, in, out, o);
			fputc('\n', out);
			continue;
		}
		offered_doctor = false;
		if (is_command(line, "help") || is_command(line, "topics")) {
			struct buf text;
			const char *help = bot_answer_for(bot, "chat.help");

			buf_init(&text, REPLY_MAX);
			if (is_command(line, "help") && help != NULL)
				buf_printf(&text, "%s\n\n", help);
			bot_render_topics(bot, &text);
			say(out, buf_str(&text), o);
			buf_free(&text);
			free(line);
			fputc('\n', out);
			continue;
		}
		if (text_is_blank(line, strlen(line))) {
			free(line);
			continue;
		}
		st = answer_one(bot, line, strlen(line), out, o, &r);
		free(line);
		if (st != BOT_OK) {
			say(out,
			    st == BOT_TOO_LONG
			        ? "That message is too long for me; please ask "
			          "in a "
			          "few sentences."
			        : "I can only read plain UTF-8 "
			          "text; please type your question again.",
			    o);
			fputc('\n', out);
			continue;
		}
		if (strcmp(r.intent, "doctor.when") == 0 &&
		    r.triage.level < TRIAGE_EMERGENCY) {
			say(out,
			    "\nWould you like a quick step-by-step check? "
			    "Type 'yes' or 'doctor'.",
			    o);
			offered_doctor = true;
		}
		fputc('\n', out);
		if (strcmp(r.intent, "chat.goodbye") == 0)
			break;
	}
	return 0;
}
