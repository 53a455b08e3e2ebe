/* matrix_impl.h - the Matrix front end's pieces, shared by its files and
 * its unit tests (not by the rest of the program).
 *
 * matrix_config.c  settings from the JSON file and the environment
 * matrix_state.c   the state file (sync position), the stored session,
 *                  the id ring (atomic writes are files.c's)
 * matrix_event.c   pure decisions: which events to answer, addressing,
 *                  commands, reply JSON, transaction ids, flood limits,
 *                  backoff and Retry-After, log redaction
 * matrix_client.c  requests with retries (429, 5xx, network) over http.h
 * matrix_login.c   discovery, /versions, whoami, password login
 * matrix_reply.c   answering a message: commands, doctor checks, sends
 * matrix.c         the sync loop and matrix_run()
 * Everything here is bounded: ids, tokens and paths have maximum sizes and
 * overlong values from the server are refused rather than truncated.
 */
#ifndef BACKBOT_MATRIX_IMPL_H
#define BACKBOT_MATRIX_IMPL_H

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "doctor.h"
#include "files.h"

struct diag;
struct http;

#define MATRIX_MAX_ID           256  /* user, room, event ids (255 max) */
#define MATRIX_MAX_SECRET       2048 /* access token or password */
#define MATRIX_MAX_URL          1024
#define MATRIX_MAX_PATH         4096
#define MATRIX_MAX_PREFIX       32
#define MATRIX_MAX_ALLOW        64
#define MATRIX_MAX_BATCH        1024 /* a since token */
#define MATRIX_TXN_SIZE         48
#define MATRIX_CONFIG_MAX_BYTES (64u * 1024u)
#define MATRIX_STATE_MAX_BYTES  (4u * 1024u * 1024u)
#define MATRIX_DEFAULT_PREFIX   "!back"

/* ---- configuration (matrix_config.c) ---------------------------------- */

struct matrix_config {
	char homeserver[MATRIX_MAX_URL]; /* base URL or server name */
	char user_id[MATRIX_MAX_ID];     /* "" when only the token says */
	char access_token[MATRIX_MAX_SECRET];
	char device_id[MATRIX_MAX_ID];
	char password[MATRIX_MAX_SECRET];
	char display_name[MATRIX_MAX_ID]; /* extra name it answers to */
	char prefix[MATRIX_MAX_PREFIX];   /* command prefix, "!back" */
	char state_dir[MATRIX_MAX_PATH];
	size_t allow_count; /* 0: accept every invite */
	char allow[MATRIX_MAX_ALLOW][MATRIX_MAX_ID]; /* "@user:srv" or "srv" */
	bool allow_http;      /* permit http:// to a non-loopback host */
	bool typing;          /* send typing notices */
	bool receipts;        /* send read receipts */
	long sync_timeout_ms; /* long-poll timeout */
	long backoff_initial_ms;
	long backoff_max_ms;
	long doctor_timeout_s;  /* a guided check is forgotten after this */
	double room_per_minute; /* flood limits: replies per minute ... */
	double room_burst;      /* ... and how many may come at once */
	double user_per_minute;
	double user_burst;
};

/* Reads an environment variable; getenv in production. */
typedef const char *(*matrix_getenv_fn)(const char *name);

/* Fill 'c' with the defaults. */
void matrix_config_defaults(struct matrix_config *c);

/* Apply the JSON object in 'text' ('len' bytes; 'path' names it in
 * messages).  Unknown keys and wrong types are errors.  0 or -1 with 'd'
 * filled ("path: key: expected ..."). */
int matrix_config_parse(struct matrix_config *c, const char *text, size_t len,
    const char *path, struct diag *d);

/* Apply BACKBOT_HOMESERVER, BACKBOT_USER_ID, BACKBOT_ACCESS_TOKEN,
 * BACKBOT_PASSWORD and BACKBOT_STATE_DIR; they win over the file. */
int matrix_config_env(
    struct matrix_config *c, matrix_getenv_fn get, struct diag *d);

/* Check that the settings are complete and sane, and fill in derived
 * defaults (state_dir).  0 or -1 naming the missing or bad setting. */
int matrix_config_check(
    struct matrix_config *c, matrix_getenv_fn get, struct diag *d);

/* The whole sequence: defaults, the file ('path', or the default path when
 * NULL; a missing default file is fine), the environment, the check. */
int matrix_config_load(struct matrix_config *c, const char *path,
    matrix_getenv_fn get, struct diag *d);

/* The default config file path into 'out'. 0 or -1. */
int matrix_default_path(char *out, size_t size, matrix_getenv_fn get,
    const char *xdg_var, const char *home_rel, const char *file);

/* ---- id ring and state (matrix_state.c) -------------------------------- */

/* A fixed-size ring of recent ids (event ids handled), for de-duplication.
 * Adding to a full ring forgets the oldest. */
struct matrix_ring {
	char (*ids)[MATRIX_MAX_ID];
	uint64_t *hashes;
	size_t cap, count, head;
};

int matrix_ring_init(struct matrix_ring *r, size_t cap);
void matrix_ring_free(struct matrix_ring *r);
bool matrix_ring_has(const struct matrix_ring *r, const char *id);
void matrix_ring_add(struct matrix_ring *r, const char *id);

/* What the bot remembers about a room. */
struct matrix_room {
	char id[MATRIX_MAX_ID];
	long joined; /* joined members incl. the bot; -1 unknown */
	bool encrypted;
	bool notified; /* it has said it cannot read encrypted messages */
};

#define MATRIX_MAX_ROOMS 10000

struct matrix_state {
	char user_id[MATRIX_MAX_ID];
	char next_batch[MATRIX_MAX_BATCH]; /* "" before the first sync */
	struct matrix_room *rooms;
	size_t room_count, room_cap;
	/* Event ids handled in a batch that was interrupted, so a restart
	 * that gets the same batch again does not answer them twice. */
	struct matrix_ring partial;
};

int matrix_state_init(struct matrix_state *s);
void matrix_state_free(struct matrix_state *s);

/* The room record for 'id', created when 'create' (NULL when absent or
 * when the table is full). */
struct matrix_room *matrix_state_room(
    struct matrix_state *s, const char *id, bool create);
void matrix_state_forget_room(struct matrix_state *s, const char *id);

/* Load 'path' into 's' (which must be freshly initialised).  A missing
 * file is not an error (returns 1); a damaged one is (-1). 0 when read. */
int matrix_state_load(struct matrix_state *s, const char *path, struct diag *d);

/* Serialise and write atomically (temp file, fsync, rename, fsync dir). */
int matrix_state_save(
    const struct matrix_state *s, const char *path, struct diag *d);

/* The stored session of a password login. */
struct matrix_session {
	char homeserver[MATRIX_MAX_URL];
	char user_id[MATRIX_MAX_ID];
	char device_id[MATRIX_MAX_ID];
	char access_token[MATRIX_MAX_SECRET];
};

int matrix_session_load(struct matrix_session *ss, const char *path,
    struct diag *d); /* 0 read, 1 missing, -1 damaged */
int matrix_session_save(
    const struct matrix_session *ss, const char *path, struct diag *d);

/* ---- decisions (matrix_event.c) ---------------------------------------- */

/* The parts of one timeline event the bot looks at; strings are borrowed
 * from the cJSON tree. */
struct matrix_msg {
	const char *event_id;
	const char *sender;
	const char *type;
	const char *msgtype; /* NULL for non-messages */
	const char *body;    /* NULL when absent */
	size_t body_len;
	const char *thread_root; /* set when the event is in a thread */
	const char *reply_to;    /* m.in_reply_to event id, if any */
	bool mentions_me;        /* m.mentions.user_ids holds the bot */
	bool has_mentions;       /* m.mentions present at all */
	bool is_edit;            /* m.replace relation or m.new_content */
	bool is_state;           /* has a state_key */
};

enum matrix_skip {
	MATRIX_ANSWERABLE = 0,
	MATRIX_SKIP_INVALID,  /* no event id or sender, or ids too long */
	MATRIX_SKIP_OWN,      /* sent by the bot */
	MATRIX_SKIP_STATE,    /* a state event */
	MATRIX_SKIP_TYPE,     /* not m.room.message */
	MATRIX_SKIP_NOTICE,   /* m.notice: never answered (loops) */
	MATRIX_SKIP_EDIT,     /* an edit of an earlier message */
	MATRIX_SKIP_NOT_TEXT, /* image, file, emote, ... */
	MATRIX_SKIP_NO_BODY   /* redacted, or body not a string */
};

/* Extract 'm' from event 'ev'; 'me' is the bot's user id. */
void matrix_msg_parse(const cJSON *ev, const char *me, struct matrix_msg *m);

/* Whether the event may be answered at all (before addressing). */
enum matrix_skip matrix_msg_filter(const struct matrix_msg *m, const char *me);
const char *matrix_skip_name(enum matrix_skip s);

/* The names the bot answers to. */
struct matrix_identity {
	const char *user_id;      /* "@backbot:example.org" */
	const char *display_name; /* may be NULL or "" */
	const char *prefix;       /* "!back" */
};

enum matrix_address {
	MATRIX_NOT_ADDRESSED = 0,
	MATRIX_ADDRESSED_DIRECT,  /* a direct chat: everything is for it */
	MATRIX_ADDRESSED_MENTION, /* m.mentions, or its name in the text */
	MATRIX_ADDRESSED_PREFIX   /* starts with the command prefix */
};

/* Decide whether 'body' ('len' bytes) is for the bot, checking
 * m.mentions first, then the prefix, then the bot's user id, localpart
 * or display name as a word.  '*text'/'*text_len' receive the question
 * with a leading prefix or name (and reply fallback) removed. */
enum matrix_address matrix_addressed(const struct matrix_identity *id,
    const struct matrix_msg *m, bool direct, const char **text,
    size_t *text_len);

enum matrix_command {
	MATRIX_CMD_NONE = 0, /* a question */
	MATRIX_CMD_HELP,
	MATRIX_CMD_TOPICS,
	MATRIX_CMD_DOCTOR,
	MATRIX_CMD_DOCTOR_STOP
};

/* Recognise "help", "topics", "doctor" and "doctor stop" (any case,
 * surrounding blanks ignored).  An empty text after the prefix is help. */
enum matrix_command matrix_command(const char *text, size_t len, bool prefixed);

/* Strip a v1.12-style reply fallback ("> " quoted lines then a blank
 * line) from the start of a body.  Returns the offset of the real text. */
size_t matrix_strip_fallback(const char *body, size_t len);

/* What a reply needs to know about the question. */
struct matrix_reply_to {
	const char *event_id;    /* the question */
	const char *thread_root; /* NULL outside threads */
	const char *asker;       /* user id for m.mentions */
	bool name_asker;         /* start the text with a pill (group rooms) */
};

/* The m.notice content of a reply: plain 'text' as body, the same as
 * escaped HTML in formatted_body (paragraphs, line breaks; the first
 * paragraph bold when 'strong_lead'), a rich reply relation with no
 * fallback (threaded when the question was) and m.mentions naming the
 * asker.  Appends JSON to 'out'. 0 or -1. */
int matrix_reply_content(struct buf *out, const struct matrix_reply_to *to,
    const char *text, bool strong_lead);

/* A plain notice not tied to a question (no mentions). */
int matrix_notice_content(struct buf *out, const char *text);

/* A transaction id derived from the event answered (or room) and a kind,
 * so a retry, and a repeat after a crash, reuse the same id. */
void matrix_txn_id(
    char out[MATRIX_TXN_SIZE], const char *key, const char *kind);

/* Token-bucket flood limits per room and per user. */
struct matrix_bucket {
	char key[MATRIX_MAX_ID];
	double tokens;
	double last; /* seconds */
};

struct matrix_flood {
	struct matrix_bucket *b;
	size_t count, cap;
};

int matrix_flood_init(struct matrix_flood *f, size_t cap);
void matrix_flood_free(struct matrix_flood *f);

/* Take one token from 'key' (rate per minute, burst) at time 'now'
 * (seconds).  True when allowed. */
bool matrix_flood_take(struct matrix_flood *f, const char *key,
    double per_minute, double burst, double now);

/* Exponential backoff with jitter: about initial * 2^attempt, between
 * half and all of it, never more than 'max'. */
long matrix_backoff_ms(unsigned attempt, long initial, long max, uint32_t *rng);

/* The wait a 429 asks for: the Retry-After header ('header_ms', -1 when
 * absent), else the body's retry_after_ms, else 'fallback_ms'; capped at
 * 'max_ms' (but at least 0). */
long matrix_rate_limit_ms(
    long header_ms, const cJSON *body, long fallback_ms, long max_ms);

/* Copy 'in' to 'out' (size 'size') with every occurrence of each
 * non-empty secret replaced by "<redacted>".  Always NUL-terminates. */
void matrix_redact(const char *in, const char *const *secrets, size_t n,
    char *out, size_t size);

/* True when 'user' (a user id) is accepted by the allow-list. */
bool matrix_invite_allowed(const struct matrix_config *c, const char *user);

/* Copy a string member of 'obj' into 'out' only if it fits; NULL
 * otherwise.  Helpers for reading server JSON safely. */
const char *matrix_json_str(const cJSON *obj, const char *key);

/* ---- log (matrix_client.c) --------------------------------------------- */

struct matrix_log {
	FILE *out;
	int verbosity;          /* 0 errors only, 1 normal, 2 verbose */
	const char *secrets[2]; /* never printed */
};

/* Print one line at 'level' (0 error, 1 info, 2 debug), timestamped,
 * with secrets redacted. */
void matrix_logf(const struct matrix_log *log, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- requests (matrix_client.c) ---------------------------------------- */

struct matrix_client {
	struct http *http;
	char base[MATRIX_MAX_URL]; /* homeserver base URL, no trailing '/' */
	const char *token;         /* borrowed; NULL before login */
	const struct matrix_log *log;
	const volatile sig_atomic_t *stop;
	long backoff_initial_ms;
	long backoff_max_ms;
	uint32_t rng;
	size_t max_body;
};

enum matrix_call_status {
	MATRIX_CALL_OK = 0,
	MATRIX_CALL_ERROR = -1,   /* a definite error reply (4xx) */
	MATRIX_CALL_FATAL = -2,   /* the token is unknown or missing */
	MATRIX_CALL_STOPPED = -3, /* the stop flag was raised */
	MATRIX_CALL_GAVE_UP = -4  /* retries exhausted */
};

struct matrix_call {
	const char *method;
	const char *path;      /* from the base, query included */
	const char *body;      /* JSON, or NULL */
	bool auth;             /* send the token */
	bool absolute;         /* 'path' is a full URL (discovery) */
	long timeout_ms;       /* per attempt */
	unsigned max_attempts; /* 0: retry until stopped */
	const char *what;      /* short name for logs: "sync", "send" */
	/* results */
	long status;
	char errcode[64];
	char error[256];
	cJSON *json; /* parsed reply on success; caller deletes */
};

/* Perform 'call' with the fault handling of the issue: 429 waits for
 * Retry-After / retry_after_ms / backoff, 5xx, network errors and
 * malformed JSON back off with jitter and try again, M_UNKNOWN_TOKEN is
 * fatal, other 4xx are returned.  Waits end early when *stop is set. */
enum matrix_call_status matrix_call(
    struct matrix_client *c, struct matrix_call *call);

/* Sleep 'ms' milliseconds in small steps, returning early (-1) when
 * 'stop' is raised. */
int matrix_sleep_ms(long ms, const volatile sig_atomic_t *stop);

/* Microseconds from a monotonic clock. */
int64_t matrix_now_us(void);

/* Append "/_matrix/client/v3" + the pieces, each path segment escaped:
 * matrix_path(b, "rooms", room_id, "send", "m.room.message", txn, NULL). */
int matrix_path(struct buf *b, ...);

/* ---- the running bot (matrix.c, matrix_login.c, matrix_reply.c) -------- */

#define MATRIX_EXIT_CONFIG      2
#define MATRIX_EXIT_NETWORK     3
#define MATRIX_DOCTOR_SESSIONS  256           /* guided checks kept at once */
#define MATRIX_REPLY_MAX_BYTES  (48u * 1024u) /* events are capped at 64 KiB */
#define MATRIX_DOCTOR_REPLY_MAX 1024

struct bot;

/* One person's guided doctor check in one room. */
struct matrix_doctor_slot {
	bool used;
	char room[MATRIX_MAX_ID];
	char user[MATRIX_MAX_ID];
	double last; /* monotonic seconds */
	struct doctor_session s;
};

/* Everything the running bot holds; one per matrix_run(). */
struct matrix_bot {
	struct bot *bot;
	struct matrix_config cfg;
	struct matrix_log log;
	struct matrix_client client;
	struct matrix_state st;
	struct matrix_ring seen; /* event ids already handled */
	struct matrix_flood flood;
	struct matrix_doctor_slot *doctors; /* MATRIX_DOCTOR_SESSIONS */
	struct http *http;
	bool http_allows_http;
	char token[MATRIX_MAX_SECRET];
	char me[MATRIX_MAX_ID];
	char device[MATRIX_MAX_ID];
	char display_name[MATRIX_MAX_ID];
	char state_path[MATRIX_MAX_PATH];
	char session_path[MATRIX_MAX_PATH];
	struct buf text;    /* reply text */
	struct buf content; /* reply JSON */
	struct buf path;    /* request path */
	struct buf scratch;
	int status; /* exit status once something fatal happened */
};

/* An authenticated request with the bot's client (matrix_login.c). */
enum matrix_call_status matrix_bot_call(struct matrix_bot *c,
    struct matrix_call *mc, const char *method, const char *path,
    const char *body, const char *what, unsigned attempts, long timeout_ms);

/* Describe a rejected token in 'd' and set the exit status. */
void matrix_token_rejected(
    struct matrix_bot *c, const struct matrix_call *mc, struct diag *d);

/* Discovery, /versions, whoami or a password login.  0, or -1 with 'd'
 * filled and c->status set (0 when stopped, else 2 or 3). */
int matrix_sign_in(struct matrix_bot *c, struct diag *d);

/* Copy 'src' into 'dst' when it fits.  0 or -1. */
int matrix_copy_id(char *dst, size_t size, const char *src);

/* Monotonic seconds. */
double matrix_now_s(void);

/* Answer one timeline message if it is for the bot (matrix_reply.c).
 * -1 when stopped or fatal: the batch is abandoned. */
int matrix_handle_message(
    struct matrix_bot *c, struct matrix_room *room, const cJSON *ev);

/* Say once that an encrypted room cannot be read.  -1 when stopped. */
int matrix_notify_encrypted(struct matrix_bot *c, struct matrix_room *room);

/* Drop the guided checks of a room the bot left. */
void matrix_doctor_forget_room(struct matrix_bot *c, const char *room);

#endif
