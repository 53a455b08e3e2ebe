/* http.h - one HTTP request at a time, behind a replaceable interface.
 *
 * The Matrix front end talks to the homeserver only through a struct http,
 * a table of function pointers, so tests can substitute canned responses.
 * http_curl_new() is the real implementation and the only libcurl user in
 * the program.  It keeps certificate verification on, caps every response
 * body, sends the access token only in an "Authorization: Bearer" header
 * (never in a URL, never in a log line) and reports the Retry-After header.
 */
#ifndef BACKBOT_HTTP_H
#define BACKBOT_HTTP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"

struct diag;
struct http;

#define HTTP_MAX_BODY_BYTES (32u * 1024u * 1024u) /* default response cap */
#define HTTP_ERROR_SIZE     256

struct http_request {
	const char *method;    /* "GET", "POST", "PUT" */
	const char *url;       /* absolute; secrets never go here */
	const char *bearer;    /* access token, or NULL for none */
	const char *body;      /* JSON request body, or NULL for none */
	size_t body_len;       /* bytes in 'body' */
	long timeout_ms;       /* whole-transfer limit; 0 for the default */
	bool follow_redirects; /* only ever honoured without a bearer token */
};

struct http_response {
	long status;         /* HTTP status; 0 when no response arrived */
	struct buf body;     /* response body, NUL-terminated, capped */
	long retry_after_ms; /* from a Retry-After header; -1 when absent */
	bool aborted;        /* the abort flag stopped the transfer */
	bool too_large;      /* the body passed its cap */
	char error[HTTP_ERROR_SIZE]; /* transport error text when status 0 */
};

struct http_ops {
	/* Perform one request.  Returns 0 when a response arrived (any
	 * status), -1 on a transport failure (resp->error says why; status
	 * is 0).  Never prints. */
	int (*perform)(struct http *h, const struct http_request *req,
	    struct http_response *resp);
	void (*free)(struct http *h);
};

/* The interface.  Implementations embed it as their first member. */
struct http {
	const struct http_ops *ops;
};

struct http_curl_options {
	bool allow_http;        /* allow http:// as well as https:// */
	size_t max_body;        /* response cap; 0 for HTTP_MAX_BODY_BYTES */
	const char *user_agent; /* NULL for "backbot" */
	/* When non-NULL and non-zero, the transfer in progress is abandoned
	 * (within about a second) and perform() fails with resp->aborted. */
	const volatile sig_atomic_t *abort_flag;
};

/* Call once from main before any other http_ function: loads libcurl
 * (dlopen) and initialises it.  0, or -1 when libcurl cannot be loaded
 * or initialised. */
int http_global_init(void);

/* Matching cleanup, at exit. */
void http_global_cleanup(void);

/* A libcurl-backed client.  NULL with 'd' filled on error.  Free with
 * http_free(). */
struct http *http_curl_new(
    const struct http_curl_options *opts, struct diag *d);

/* Dispatch helpers. */
int http_perform(
    struct http *h, const struct http_request *req, struct http_response *resp);
void http_free(struct http *h); /* NULL is a no-op */

/* Prepare 'resp' for use with a body cap of 'max' bytes, and release it. */
void http_response_init(struct http_response *resp, size_t max);
void http_response_reset(struct http_response *resp);
void http_response_free(struct http_response *resp);

/* Append 's' percent-encoded as one URL path segment or query value:
 * everything except RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~)
 * is escaped, so '/', '#', '?', '$', '+', ':' and '!' never split a path.
 * Returns 0 or -1 (buffer full). */
int http_append_escaped(struct buf *b, const char *s);

/* Parse a Retry-After header value: delay-seconds or an HTTP-date
 * (compared with 'now').  Returns milliseconds (0 for a date in the past),
 * or -1 when the value is neither. */
long http_parse_retry_after(const char *value, time_t now);

/* True for an http:// or https:// URL whose host is a loopback address
 * (localhost, 127.0.0.0/8, [::1]). */
bool http_url_is_loopback(const char *url);

#endif
