/* http.c - the HTTP client: libcurl behind the struct http interface.
 *
 * One easy handle is kept for the life of the client so connections are
 * reused between the long-poll sync and the sends.  Every transfer has a
 * time limit, a body cap enforced in the write callback, certificate
 * checks left on, and only the protocols the caller allows (https, plus
 * http when asked: the loopback test homeserver speaks plain http).  The
 * access token travels in a header that is built per request and wiped
 * afterwards; CURLOPT_VERBOSE is never set, so it cannot reach a log.
 *
 * libcurl is loaded with dlopen() by http_global_init(), only when the
 * Matrix front end starts: linking it (with TLS and the rest of its
 * dependencies) would cost every terminal run several megabytes and
 * milliseconds for a library it never uses.  The table of entry points
 * is the one process-wide state here, like libcurl's own global init.
 */
#include "http.h"

#include <ctype.h>
#define CURL_DISABLE_TYPECHECK /* setopt goes through a function pointer */
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "dynlib.h"

#define LIBCURL_SONAME "libcurl.so.4"

/* The libcurl functions this file uses, resolved at run time. */
static struct {
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_reset)(CURL *);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	void *handle; /* from dlopen(), NULL until loaded */
} libcurl;

/* curl.h may define some of these names as macros itself. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init    (*libcurl.global_init)
#define curl_global_cleanup (*libcurl.global_cleanup)
#define curl_easy_init      (*libcurl.easy_init)
#define curl_easy_setopt    (*libcurl.easy_setopt)
#define curl_easy_perform   (*libcurl.easy_perform)
#define curl_easy_getinfo   (*libcurl.easy_getinfo)
#define curl_easy_reset     (*libcurl.easy_reset)
#define curl_easy_cleanup   (*libcurl.easy_cleanup)
#define curl_easy_strerror  (*libcurl.easy_strerror)
#define curl_slist_append   (*libcurl.slist_append)
#define curl_slist_free_all (*libcurl.slist_free_all)

#define RESOLVE(field, name)                                                   \
	dynlib_resolve(                                                        \
	    libcurl.handle, &libcurl.field, sizeof(libcurl.field), name)

static int
load_libcurl(void)
{
	int rc = 0;

	if (libcurl.handle != NULL)
		return 0;
	libcurl.handle = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (libcurl.handle == NULL)
		return -1;
	rc |= RESOLVE(global_init, "curl_global_init");
	rc |= RESOLVE(global_cleanup, "curl_global_cleanup");
	rc |= RESOLVE(easy_init, "curl_easy_init");
	rc |= RESOLVE(easy_setopt, "curl_easy_setopt");
	rc |= RESOLVE(easy_perform, "curl_easy_perform");
	rc |= RESOLVE(easy_getinfo, "curl_easy_getinfo");
	rc |= RESOLVE(easy_reset, "curl_easy_reset");
	rc |= RESOLVE(easy_cleanup, "curl_easy_cleanup");
	rc |= RESOLVE(easy_strerror, "curl_easy_strerror");
	rc |= RESOLVE(slist_append, "curl_slist_append");
	rc |= RESOLVE(slist_free_all, "curl_slist_free_all");
	if (rc != 0) {
		dlclose(libcurl.handle);
		libcurl.handle = NULL;
		return -1;
	}
	return 0;
}

#include "buf.h"
#include "diag.h"

#define DEFAULT_TIMEOUT_MS 60000L
#define CONNECT_TIMEOUT_MS 10000L
#define MAX_HEADER_BYTES   8192

struct http_curl {
	struct http base; /* first: a struct http * points here */
	CURL *curl;
	size_t max_body;
	bool allow_http;
	char user_agent[128];
	const volatile sig_atomic_t *abort_flag;
};

/* Per-transfer context seen by the callbacks. */
struct transfer {
	struct http_response *resp;
	size_t max_body;
	const volatile sig_atomic_t *abort_flag;
};

int
http_global_init(void)
{
	if (load_libcurl() == -1)
		return -1;
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void
http_global_cleanup(void)
{
	if (libcurl.handle == NULL)
		return;
	curl_global_cleanup();
	dlclose(libcurl.handle);
	libcurl.handle = NULL;
}

int
http_perform(
    struct http *h, const struct http_request *req, struct http_response *resp)
{
	return h->ops->perform(h, req, resp);
}

void
http_free(struct http *h)
{
	if (h != NULL)
		h->ops->free(h);
}

void
http_response_init(struct http_response *resp, size_t max)
{
	memset(resp, 0, sizeof(*resp));
	buf_init(&resp->body, max);
	resp->retry_after_ms = -1;
}

void
http_response_reset(struct http_response *resp)
{
	buf_reset(&resp->body);
	resp->status = 0;
	resp->retry_after_ms = -1;
	resp->aborted = false;
	resp->too_large = false;
	resp->error[0] = '\0';
}

void
http_response_free(struct http_response *resp)
{
	buf_free(&resp->body);
}

int
http_append_escaped(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;
	char enc[3];

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' ||
		    *p == '~') {
			if (buf_append_char(b, (char)*p) != 0)
				return -1;
			continue;
		}
		enc[0] = '%';
		enc[1] = hex[*p >> 4];
		enc[2] = hex[*p & 0x0f];
		if (buf_append(b, enc, sizeof(enc)) != 0)
			return -1;
	}
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil), so HTTP-dates need neither timegm() nor TZ. */
static long
days_from_civil(long y, long m, long d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

long
http_parse_retry_after(const char *value, time_t now)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	const char *p = value;
	char *end = NULL;
	char mon[4] = "";
	int day = 0, year = 0, hh = 0, mm = 0, ss = 0, n = 0;
	const char *hit;
	long secs;
	long long when;

	while (*p == ' ' || *p == '\t')
		p++;
	if (isdigit((unsigned char)*p)) {
		secs = strtol(p, &end, 10);
		while (
		    *end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (*end != '\0' || secs < 0)
			return -1;
		if (secs > 86400L * 7)
			secs = 86400L * 7; /* a week is plenty */
		return secs * 1000L;
	}
	/* IMF-fixdate: "Wed, 21 Oct 2015 07:28:00 GMT". */
	if (sscanf(p, "%*3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", &day,
	        mon, &year, &hh, &mm, &ss, &n) != 6 ||
	    n == 0)
		return -1;
	if (strlen(mon) != 3)
		return -1;
	hit = strstr(months, mon);
	if (hit == NULL || (hit - months) % 3 != 0 || day < 1 || day > 31 ||
	    hh > 23 || mm > 59 || ss > 60)
		return -1;
	when = (long long)days_from_civil(year, (hit - months) / 3 + 1, day) *
	        86400LL +
	    hh * 3600LL + mm * 60LL + ss;
	if (when <= (long long)now)
		return 0;
	if (when - (long long)now > 86400LL * 7)
		return 86400L * 7 * 1000L;
	return (long)(when - (long long)now) * 1000L;
}

/* Host part of an http(s) URL into 'host' (lower case, brackets kept). */
static int
url_host(const char *url, char *host, size_t size)
{
	const char *p, *end;
	size_t n;

	if (strncmp(url, "https://", 8) == 0)
		p = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		p = url + 7;
	else
		return -1;
	if (*p == '[') {
		end = strchr(p, ']');
		if (end == NULL)
			return -1;
		end++;
	} else {
		end = p + strcspn(p, ":/?#");
	}
	n = (size_t)(end - p);
	if (n == 0 || n >= size)
		return -1;
	for (size_t i = 0; i < n; i++)
		host[i] = (char)tolower((unsigned char)p[i]);
	host[n] = '\0';
	return 0;
}

bool
http_url_is_loopback(const char *url)
{
	char host[256];

	if (url_host(url, host, sizeof(host)) != 0)
		return false;
	if (strcmp(host, "localhost") == 0 || strcmp(host, "[::1]") == 0)
		return true;
	if (strncmp(host, "127.", 4) != 0)
		return false;
	/* Only digits and dots: "127.example.org" is not loopback. */
	return strspn(host, "0123456789.") == strlen(host);
}

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct transfer *t = userp;
	size_t n = size * nmemb;

	if (t->resp->body.len + n > t->max_body) {
		t->resp->too_large = true;
		return 0; /* makes curl fail with CURLE_WRITE_ERROR */
	}
	if (buf_append(&t->resp->body, data, n) != 0) {
		t->resp->too_large = true;
		return 0;
	}
	return n;
}

/* Picks up Retry-After; every other header is ignored. */
static size_t
header_cb(char *data, size_t size, size_t nitems, void *userp)
{
	struct transfer *t = userp;
	size_t n = size * nitems;
	static const char name[] = "retry-after:";
	char value[128];
	size_t vlen;

	if (n > sizeof(name) - 1 && n < MAX_HEADER_BYTES) {
		size_t i;

		for (i = 0; i < sizeof(name) - 1; i++)
			if (tolower((unsigned char)data[i]) != name[i])
				break;
		if (i == sizeof(name) - 1) {
			vlen = n - i;
			if (vlen >= sizeof(value))
				vlen = sizeof(value) - 1;
			memcpy(value, data + i, vlen);
			value[vlen] = '\0';
			t->resp->retry_after_ms =
			    http_parse_retry_after(value, time(NULL));
		}
	}
	return n;
}

static int
progress_cb(void *userp, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct transfer *t = userp;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	if (t->abort_flag != NULL && *t->abort_flag) {
		t->resp->aborted = true;
		return 1; /* abort the transfer */
	}
	return 0;
}

static int
curl_perform(
    struct http *h, const struct http_request *req, struct http_response *resp)
{
	struct http_curl *hc = (struct http_curl *)h;
	CURL *c = hc->curl;
	struct curl_slist *headers = NULL, *tmp;
	struct buf auth;
	struct transfer t;
	CURLcode rc;
	char errbuf[CURL_ERROR_SIZE];
	long status = 0;
	int ret = -1;

	buf_init(&auth, 8192);
	http_response_reset(resp);
	t.resp = resp;
	t.max_body =
	    resp->body.max < hc->max_body ? resp->body.max : hc->max_body;
	t.abort_flag = hc->abort_flag;
	errbuf[0] = '\0';

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, req->url);
	curl_easy_setopt(
	    c, CURLOPT_PROTOCOLS_STR, hc->allow_http ? "http,https" : "https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR,
	    hc->allow_http ? "http,https" : "https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, hc->user_agent);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
	    req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t.max_body);
	/* Redirects only for unauthenticated requests (.well-known), so the
	 * token can never follow one to another host. */
	if (req->follow_redirects && req->bearer == NULL) {
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
	}

	tmp = curl_slist_append(headers, "Accept: application/json");
	if (tmp == NULL)
		goto nomem;
	headers = tmp;
	if (req->bearer != NULL) {
		if (buf_append_str(&auth, "Authorization: Bearer ") != 0 ||
		    buf_append_str(&auth, req->bearer) != 0)
			goto nomem;
		tmp = curl_slist_append(headers, buf_str(&auth));
		if (tmp == NULL)
			goto nomem;
		headers = tmp;
	}
	if (req->body != NULL) {
		tmp = curl_slist_append(
		    headers, "Content-Type: application/json");
		if (tmp == NULL)
			goto nomem;
		headers = tmp;
		/* No "Expect: 100-continue": bodies are small, and the
		 * extra round trip only slows every send down. */
		tmp = curl_slist_append(headers, "Expect:");
		if (tmp == NULL)
			goto nomem;
		headers = tmp;
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(
		    c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	}
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
	if (strcmp(req->method, "GET") == 0)
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK) {
		/* The error buffer names the URL's host at most; URLs never
		 * carry the token. */
		snprintf(resp->error, sizeof(resp->error), "%s",
		    resp->aborted           ? "interrupted"
		        : resp->too_large   ? "response body too large"
		        : errbuf[0] != '\0' ? errbuf
		                            : curl_easy_strerror(rc));
		resp->status = 0;
		goto out;
	}
	resp->status = status;
	ret = 0;
	goto out;
nomem:
	snprintf(resp->error, sizeof(resp->error), "out of memory");
out:
	/* Drop every reference to the header list and the token before
	 * freeing them. */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
	curl_slist_free_all(headers);
	buf_free_secret(&auth);
	return ret;
}

static void
curl_free_client(struct http *h)
{
	struct http_curl *hc = (struct http_curl *)h;

	curl_easy_cleanup(hc->curl);
	free(hc);
}

static const struct http_ops curl_ops = {
    curl_perform,
    curl_free_client,
};

struct http *
http_curl_new(const struct http_curl_options *opts, struct diag *d)
{
	struct http_curl *hc;

	if (libcurl.handle == NULL) {
		diag_add(d, "http: libcurl is not loaded (http_global_init)");
		return NULL;
	}
	hc = calloc(1, sizeof(*hc));
	if (hc == NULL) {
		diag_add(d, "http: out of memory");
		return NULL;
	}
	hc->base.ops = &curl_ops;
	hc->curl = curl_easy_init();
	if (hc->curl == NULL) {
		diag_add(d, "http: cannot initialise libcurl");
		free(hc);
		return NULL;
	}
	hc->allow_http = opts->allow_http;
	hc->max_body =
	    opts->max_body > 0 ? opts->max_body : HTTP_MAX_BODY_BYTES;
	hc->abort_flag = opts->abort_flag;
	snprintf(hc->user_agent, sizeof(hc->user_agent), "%s",
	    opts->user_agent != NULL ? opts->user_agent : "backbot");
	return &hc->base;
}
