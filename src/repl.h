/* repl.h - the terminal front end: chat, ask and the doctor check.
 *
 * Every function takes its input and output streams so tests can drive
 * it with files and pipes.  Line editing (libedit) is used only when the
 * input is a terminal; colour only when the output is a terminal and
 * NO_COLOR is unset; wrapping to the terminal width only on a terminal.
 * The return value is the process exit status (SPEC: 0 ok, 1 bad input).
 */
#ifndef BACKBOT_REPL_H
#define BACKBOT_REPL_H

#include <stdbool.h>
#include <stdio.h>

struct bot;

struct repl_options {
	bool json;     /* JSON Lines instead of text */
	bool color;    /* ANSI colour in text output */
	int width;     /* wrap text at this many columns; 0 = no wrapping */
	bool editline; /* use libedit for input (chat and doctor) */
};

/* Fill 'o' from the environment: colour and width when 'out' is a
 * terminal and NO_COLOR is unset, editline when 'in' is a terminal. */
void repl_options_detect(struct repl_options *o, FILE *in, FILE *out);

/* Answer one question given on the command line. */
int repl_ask(struct bot *bot, const char *question, FILE *out,
    const struct repl_options *o);

/* Answer every line of 'in', one answer per line, in order.  Bad lines
 * get a message on 'err' and a refusal in their place; the status is 1
 * if any line was bad. */
int repl_ask_lines(struct bot *bot, FILE *in, FILE *out, FILE *err,
    const struct repl_options *o);

/* The interactive chat, until end of input or "quit". */
int repl_chat(
    struct bot *bot, FILE *in, FILE *out, const struct repl_options *o);

/* The guided "should I see a doctor?" check. */
int repl_doctor(
    struct bot *bot, FILE *in, FILE *out, const struct repl_options *o);

#endif
