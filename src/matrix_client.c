/* matrix_client.c - Matrix requests that survive a real homeserver.
 *
 * matrix_call() wraps one API request in the fault handling a bot that
 * runs for months needs: 429 waits for Retry-After (else retry_after_ms,
 * else a capped backoff), 5xx, network errors and malformed JSON back off
 * exponentially with jitter, M_UNKNOWN_TOKEN is fatal, and every wait
 * ends early on SIGINT/SIGTERM.  Retries resend the very same request, so
 * a send keeps its transaction id and cannot post twice.  Also the log:
 * timestamped lines with the secrets redacted.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "http.h"
#include "matrix_impl.h"

#define LOG_LINE           2048
#define RETRY_AFTER_MAX_MS (15L * 60L * 1000L)

int64_t
matrix_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
matrix_sleep_ms(long ms, const volatile sig_atomic_t *stop)
{
	struct timespec ts;
	long step;

	while (ms > 0) {
		if (stop != NULL && *stop)
			return -1;
		step = ms < 100 ? ms : 100;
		ts.tv_sec = 0;
		ts.tv_nsec = step * 1000000L;
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			if (stop != NULL && *stop)
				return -1;
		ms -= step;
	}
	return stop != NULL && *stop ? -1 : 0;
}

void
matrix_logf(const struct matrix_log *log, int level, const char *fmt, ...)
{
	char line[LOG_LINE], safe[LOG_LINE], stamp[32];
	struct tm tm;
	time_t now;
	va_list ap;

	if (log == NULL || log->out == NULL || level > log->verbosity)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	matrix_redact(line, log->secrets, 2, safe, sizeof(safe));
	now = time(NULL);
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		stamp[0] = '\0';
	fprintf(
	    log->out, "%s %s%s\n", stamp, level == 0 ? "error: " : "", safe);
	fflush(log->out);
}

int
matrix_path(struct buf *b, ...)
{
	va_list ap;
	const char *seg;
	int ret = 0;

	if (buf_append_str(b, "/_matrix/client/v3") != 0)
		return -1;
	va_start(ap, b);
	for (;;) {
		seg = va_arg(ap, const char *);
		if (seg == NULL)
			break;
		if (buf_append_char(b, '/') != 0 ||
		    http_append_escaped(b, seg) != 0) {
			ret = -1;
			break;
		}
	}
	va_end(ap);
	return ret;
}

/* Copy errcode/error out of an error reply (printable ASCII only, so a
 * hostile server cannot inject lines into the log). */
static void
read_error(const cJSON *json, struct matrix_call *call)
{
	const char *s;
	size_t i, o;

	call->errcode[0] = '\0';
	call->error[0] = '\0';
	s = matrix_json_str(json, "errcode");
	if (s != NULL) {
		for (i = o = 0; s[i] != '\0' && o + 1 < sizeof(call->errcode);
		     i++)
			if (s[i] > ' ' && s[i] < 0x7f)
				call->errcode[o++] = s[i];
		call->errcode[o] = '\0';
	}
	s = matrix_json_str(json, "error");
	if (s != NULL) {
		for (i = o = 0; s[i] != '\0' && o + 1 < sizeof(call->error);
		     i++)
			call->error[o++] =
			    s[i] >= ' ' && s[i] < 0x7f ? s[i] : '?';
		call->error[o] = '\0';
	}
}

enum matrix_call_status
matrix_call(struct matrix_client *c, struct matrix_call *call)
{
	struct http_request req;
	struct http_response resp;
	struct buf url;
	cJSON *json = NULL;
	const char *end = NULL;
	unsigned attempt = 0;
	long delay;
	int level;
	char problem[HTTP_ERROR_SIZE + 64];
	enum matrix_call_status ret = MATRIX_CALL_GAVE_UP;

	call->status = 0;
	call->errcode[0] = '\0';
	call->error[0] = '\0';
	call->json = NULL;
	buf_init(&url, MATRIX_MAX_URL + 16384);
	http_response_init(
	    &resp, c->max_body > 0 ? c->max_body : HTTP_MAX_BODY_BYTES);
	if ((!call->absolute && buf_append_str(&url, c->base) != 0) ||
	    buf_append_str(&url, call->path) != 0) {
		snprintf(call->error, sizeof(call->error), "URL too long");
		ret = MATRIX_CALL_ERROR;
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.method = call->method;
	req.url = buf_str(&url);
	req.bearer = call->auth ? c->token : NULL;
	req.body = call->body;
	req.body_len = call->body != NULL ? strlen(call->body) : 0;
	req.timeout_ms = call->timeout_ms;
	req.follow_redirects = call->absolute && !call->auth;

	for (;;) {
		if (c->stop != NULL && *c->stop) {
			ret = MATRIX_CALL_STOPPED;
			goto out;
		}
		delay = matrix_backoff_ms(attempt < 20 ? attempt : 20,
		    c->backoff_initial_ms, c->backoff_max_ms, &c->rng);
		attempt++;
		level = 1;
		cJSON_Delete(json);
		json = NULL;
		if (http_perform(c->http, &req, &resp) != 0) {
			if (resp.aborted) {
				ret = MATRIX_CALL_STOPPED;
				goto out;
			}
			call->status = 0;
			snprintf(
			    call->error, sizeof(call->error), "%s", resp.error);
			snprintf(problem, sizeof(problem), "network error: %s",
			    resp.error);
		} else {
			call->status = resp.status;
			json =
			    cJSON_ParseWithOpts(buf_str(&resp.body), &end, 1);
			if (resp.status >= 200 && resp.status < 300 &&
			    cJSON_IsObject(json)) {
				call->json = json;
				json = NULL;
				ret = MATRIX_CALL_OK;
				goto out;
			}
			read_error(json, call);
			if (resp.status == 429) {
				delay =
				    matrix_rate_limit_ms(resp.retry_after_ms,
				        json, delay, RETRY_AFTER_MAX_MS);
				snprintf(problem, sizeof(problem),
				    "rate limited (429)");
			} else if (resp.status >= 500) {
				snprintf(problem, sizeof(problem),
				    "server error %ld%s%s", resp.status,
				    call->errcode[0] != '\0' ? " " : "",
				    call->errcode);
			} else if (resp.status >= 200 && resp.status < 300) {
				/* Logged and survived: the same request is
				 * safe to repeat (sends keep their txn id). */
				level = 0;
				snprintf(problem, sizeof(problem),
				    "malformed JSON from the server (status "
				    "%ld, %zu bytes)",
				    resp.status, resp.body.len);
			} else if (resp.status == 401 &&
			    (strcmp(call->errcode, "M_UNKNOWN_TOKEN") == 0 ||
			        strcmp(call->errcode, "M_MISSING_TOKEN") ==
			            0)) {
				ret = MATRIX_CALL_FATAL;
				goto out;
			} else {
				ret = MATRIX_CALL_ERROR;
				goto out;
			}
		}
		/* A passing fault: wait and send the very same request again,
		 * unless the attempts are used up (best-effort requests such
		 * as typing notices get one, and never wait). */
		if (call->max_attempts > 0 && attempt >= call->max_attempts) {
			matrix_logf(c->log, level,
			    "%s: %s; giving up after %u "
			    "attempt%s",
			    call->what, problem, attempt,
			    attempt == 1 ? "" : "s");
			ret = MATRIX_CALL_GAVE_UP;
			goto out;
		}
		matrix_logf(c->log, level, "%s: %s; retrying in %ld ms",
		    call->what, problem, delay);
		if (matrix_sleep_ms(delay, c->stop) != 0) {
			ret = MATRIX_CALL_STOPPED;
			goto out;
		}
	}
out:
	cJSON_Delete(json);
	http_response_free(&resp);
	buf_free(&url);
	return ret;
}
