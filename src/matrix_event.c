/* matrix_event.c - the Matrix bot's decisions, free of I/O.
 *
 * Which timeline events may be answered (never the bot's own, notices,
 * edits or non-text), whether a message is addressed to the bot, which
 * command it holds, the JSON of a reply, transaction ids, flood limits,
 * backoff and Retry-After, and log redaction.  Everything here is a pure
 * function of its arguments so the unit tests can pin it down.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "matrix_impl.h"

/* ASCII-only case folding: names and commands are compared bytewise. */
static int
strncasecmp_ascii(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int ca = tolower((unsigned char)a[i]);
		int cb = tolower((unsigned char)b[i]);

		if (ca != cb)
			return ca - cb;
		if (ca == 0)
			return 0;
	}
	return 0;
}

const char *
matrix_json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

void
matrix_msg_parse(const cJSON *ev, const char *me, struct matrix_msg *m)
{
	const cJSON *content, *rel, *reply, *mentions, *ids, *id, *body;

	memset(m, 0, sizeof(*m));
	m->event_id = matrix_json_str(ev, "event_id");
	m->sender = matrix_json_str(ev, "sender");
	m->type = matrix_json_str(ev, "type");
	m->is_state = cJSON_GetObjectItemCaseSensitive(ev, "state_key") != NULL;
	content = cJSON_GetObjectItemCaseSensitive(ev, "content");
	if (!cJSON_IsObject(content))
		return;
	m->msgtype = matrix_json_str(content, "msgtype");
	body = cJSON_GetObjectItemCaseSensitive(content, "body");
	if (cJSON_IsString(body)) {
		m->body = body->valuestring;
		m->body_len = strlen(body->valuestring);
	}
	if (cJSON_GetObjectItemCaseSensitive(content, "m.new_content") != NULL)
		m->is_edit = true;
	rel = cJSON_GetObjectItemCaseSensitive(content, "m.relates_to");
	if (cJSON_IsObject(rel)) {
		const char *rel_type = matrix_json_str(rel, "rel_type");

		if (rel_type != NULL && strcmp(rel_type, "m.replace") == 0)
			m->is_edit = true;
		if (rel_type != NULL && strcmp(rel_type, "m.thread") == 0)
			m->thread_root = matrix_json_str(rel, "event_id");
		reply = cJSON_GetObjectItemCaseSensitive(rel, "m.in_reply_to");
		if (cJSON_IsObject(reply))
			m->reply_to = matrix_json_str(reply, "event_id");
	}
	mentions = cJSON_GetObjectItemCaseSensitive(content, "m.mentions");
	if (cJSON_IsObject(mentions)) {
		m->has_mentions = true;
		ids = cJSON_GetObjectItemCaseSensitive(mentions, "user_ids");
		cJSON_ArrayForEach(id, ids)
		{
			if (cJSON_IsString(id) && me != NULL &&
			    strcmp(id->valuestring, me) == 0)
				m->mentions_me = true;
		}
	}
}

enum matrix_skip
matrix_msg_filter(const struct matrix_msg *m, const char *me)
{
	if (m->event_id == NULL || m->sender == NULL || m->type == NULL ||
	    strlen(m->event_id) >= MATRIX_MAX_ID ||
	    strlen(m->sender) >= MATRIX_MAX_ID ||
	    (m->thread_root != NULL && strlen(m->thread_root) >= MATRIX_MAX_ID))
		return MATRIX_SKIP_INVALID;
	if (strcmp(m->sender, me) == 0)
		return MATRIX_SKIP_OWN;
	if (m->is_state)
		return MATRIX_SKIP_STATE;
	if (strcmp(m->type, "m.room.message") != 0)
		return MATRIX_SKIP_TYPE;
	if (m->msgtype != NULL && strcmp(m->msgtype, "m.notice") == 0)
		return MATRIX_SKIP_NOTICE;
	if (m->is_edit)
		return MATRIX_SKIP_EDIT;
	if (m->msgtype == NULL || strcmp(m->msgtype, "m.text") != 0)
		return m->msgtype == NULL ? MATRIX_SKIP_NO_BODY
		                          : MATRIX_SKIP_NOT_TEXT;
	if (m->body == NULL)
		return MATRIX_SKIP_NO_BODY;
	return MATRIX_ANSWERABLE;
}

const char *
matrix_skip_name(enum matrix_skip s)
{
	switch (s) {
	case MATRIX_ANSWERABLE:
		return "answerable";
	case MATRIX_SKIP_INVALID:
		return "invalid";
	case MATRIX_SKIP_OWN:
		return "own";
	case MATRIX_SKIP_STATE:
		return "state";
	case MATRIX_SKIP_TYPE:
		return "not-a-message";
	case MATRIX_SKIP_NOTICE:
		return "notice";
	case MATRIX_SKIP_EDIT:
		return "edit";
	case MATRIX_SKIP_NOT_TEXT:
		return "not-text";
	case MATRIX_SKIP_NO_BODY:
		return "no-body";
	}
	return "?";
}

size_t
matrix_strip_fallback(const char *body, size_t len)
{
	size_t i = 0, eol;

	if (len < 2 || body[0] != '>')
		return 0;
	while (i < len && body[i] == '>') {
		eol = i;
		while (eol < len && body[eol] != '\n')
			eol++;
		if (eol == len)
			return 0; /* all quote: not a fallback */
		i = eol + 1;
	}
	/* A fallback ends with an empty line. */
	if (i < len && body[i] == '\n')
		return i + 1;
	return 0;
}

static bool
is_word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.' ||
	    (unsigned char)c >= 0x80;
}

/* Case-insensitive search for 'needle' as a whole word in 'hay'.  Returns
 * the offset or -1. */
static long
find_word(const char *hay, size_t hlen, const char *needle)
{
	size_t n = strlen(needle);

	if (n == 0 || n > hlen)
		return -1;
	for (size_t i = 0; i + n <= hlen; i++) {
		size_t j;

		for (j = 0; j < n; j++)
			if (tolower((unsigned char)hay[i + j]) !=
			    tolower((unsigned char)needle[j]))
				break;
		if (j < n)
			continue;
		if (i > 0 && is_word_char(hay[i - 1]) && hay[i - 1] != '.')
			continue;
		if (i + n < hlen && is_word_char(hay[i + n]) &&
		    hay[i + n] != '.' && hay[i + n] != '-')
			continue;
		return (long)i;
	}
	return -1;
}

/* Skip blanks and the punctuation people put after a name ("bot: ..."). */
static size_t
skip_after_name(const char *s, size_t len, size_t i)
{
	while (i < len &&
	    (s[i] == ':' || s[i] == ',' || s[i] == ' ' || s[i] == '\t' ||
	        s[i] == '\n'))
		i++;
	return i;
}

static size_t
skip_blank(const char *s, size_t len, size_t i)
{
	while (i < len &&
	    (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
		i++;
	return i;
}

/* If 'text' starts with one of the bot's names, the offset after it (and
 * its ':' or ','); else 0. */
static size_t
strip_leading_name(const struct matrix_identity *id, const char *localpart,
    size_t lp_len, const char *text, size_t len)
{
	const char *names[3];
	size_t lens[3];
	size_t i, n;

	names[0] = id->user_id;
	lens[0] = strlen(id->user_id);
	names[1] = id->display_name != NULL ? id->display_name : "";
	lens[1] = strlen(names[1]);
	names[2] = localpart;
	lens[2] = lp_len;
	for (i = 0; i < 3; i++) {
		n = lens[i];
		if (n == 0 || n > len)
			continue;
		if (strncasecmp_ascii(text, names[i], n) != 0)
			continue;
		if (n < len && is_word_char(text[n]) && text[n] != '.')
			continue;
		return skip_after_name(text, len, n);
	}
	/* "@localpart" as typed without a client's pill. */
	if (len > lp_len + 1 && text[0] == '@' && lp_len > 0 &&
	    strncasecmp_ascii(text + 1, localpart, lp_len) == 0 &&
	    !is_word_char(text[lp_len + 1]))
		return skip_after_name(text, len, lp_len + 1);
	return 0;
}

enum matrix_address
matrix_addressed(const struct matrix_identity *id, const struct matrix_msg *m,
    bool direct, const char **text, size_t *text_len)
{
	const char *body = m->body != NULL ? m->body : "";
	size_t len = m->body != NULL ? m->body_len : 0;
	size_t off, plen = strlen(id->prefix);
	const char *colon = strchr(id->user_id, ':');
	char localpart[MATRIX_MAX_ID];
	size_t lp_len = 0;
	enum matrix_address a = MATRIX_NOT_ADDRESSED;

	if (id->user_id[0] == '@' && colon != NULL &&
	    (size_t)(colon - id->user_id - 1) < sizeof(localpart)) {
		lp_len = (size_t)(colon - id->user_id - 1);
		memcpy(localpart, id->user_id + 1, lp_len);
	}
	localpart[lp_len] = '\0';

	off = matrix_strip_fallback(body, len);
	body += off;
	len -= off;
	off = skip_blank(body, len, 0);
	body += off;
	len -= off;

	/* 1. m.mentions, the structured signal, first. */
	if (m->mentions_me)
		a = MATRIX_ADDRESSED_MENTION;
	/* 2. The command prefix, as a word of its own. */
	if (plen > 0 && len >= plen &&
	    strncasecmp_ascii(body, id->prefix, plen) == 0 &&
	    (len == plen || !is_word_char(body[plen]))) {
		off = skip_after_name(body, len, plen);
		*text = body + off;
		*text_len = len - off;
		return MATRIX_ADDRESSED_PREFIX;
	}
	/* 3. Its name in the text: user id, display name or localpart. */
	if (a == MATRIX_NOT_ADDRESSED &&
	    (find_word(body, len, id->user_id) >= 0 ||
	        (id->display_name != NULL && id->display_name[0] != '\0' &&
	            find_word(body, len, id->display_name) >= 0) ||
	        (lp_len > 0 && find_word(body, len, localpart) >= 0)))
		a = MATRIX_ADDRESSED_MENTION;
	if (a == MATRIX_NOT_ADDRESSED && direct)
		a = MATRIX_ADDRESSED_DIRECT;
	off = strip_leading_name(id, localpart, lp_len, body, len);
	/* A pill's text may follow the name: "backbot: !back doctor". */
	if (off > 0 && len - off >= plen &&
	    strncasecmp_ascii(body + off, id->prefix, plen) == 0 &&
	    (len - off == plen || !is_word_char(body[off + plen]))) {
		off = skip_after_name(body, len, off + plen);
		*text = body + off;
		*text_len = len - off;
		return a == MATRIX_NOT_ADDRESSED ? MATRIX_ADDRESSED_PREFIX : a;
	}
	*text = body + off;
	*text_len = len - off;
	return a;
}

enum matrix_command
matrix_command(const char *text, size_t len, bool prefixed)
{
	static const struct {
		const char *word;
		enum matrix_command cmd;
	} words[] = {
	    {"help", MATRIX_CMD_HELP},
	    {"topics", MATRIX_CMD_TOPICS},
	    {"doctor stop", MATRIX_CMD_DOCTOR_STOP},
	    {"doctor cancel", MATRIX_CMD_DOCTOR_STOP},
	    {"stop", MATRIX_CMD_DOCTOR_STOP},
	    {"doctor", MATRIX_CMD_DOCTOR},
	    {"doctor check", MATRIX_CMD_DOCTOR},
	    {"check", MATRIX_CMD_DOCTOR},
	};
	size_t i, n;

	i = skip_blank(text, len, 0);
	text += i;
	len -= i;
	while (len > 0 &&
	    (text[len - 1] == ' ' || text[len - 1] == '\t' ||
	        text[len - 1] == '\n' || text[len - 1] == '\r' ||
	        text[len - 1] == '!' || text[len - 1] == '.'))
		len--;
	if (len == 0)
		return prefixed ? MATRIX_CMD_HELP : MATRIX_CMD_NONE;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		n = strlen(words[i].word);
		if (len == n && strncasecmp_ascii(text, words[i].word, n) == 0)
			return words[i].cmd;
	}
	return MATRIX_CMD_NONE;
}

/* Plain text to HTML: blank lines separate paragraphs, single newlines
 * become <br/>, everything escaped. */
static int
text_to_html(struct buf *out, const char *text, bool strong_lead)
{
	const char *p = text, *end;
	bool first = true;
	struct buf line;
	int ret = -1;

	buf_init(&line, out->max);
	while (*p != '\0') {
		const char *para_end = strstr(p, "\n\n");
		size_t plen =
		    para_end != NULL ? (size_t)(para_end - p) : strlen(p);
		bool strong = first && strong_lead;

		if (buf_append_str(out, strong ? "<p><strong>" : "<p>") != 0)
			goto out;
		end = p + plen;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n =
			    nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);

			buf_reset(&line);
			if (buf_append(&line, p, n) != 0 ||
			    buf_append_html(out, buf_str(&line)) != 0)
				goto out;
			p += n;
			if (nl != NULL) {
				if (buf_append_str(out, "<br/>") != 0)
					goto out;
				p++;
			}
		}
		if (buf_append_str(out, strong ? "</strong></p>" : "</p>") != 0)
			goto out;
		first = false;
		p = end;
		while (*p == '\n')
			p++;
	}
	ret = 0;
out:
	buf_free(&line);
	return ret;
}

static int
emit(struct buf *out, cJSON *root)
{
	char *s = cJSON_PrintUnformatted(root);
	int ret;

	if (s == NULL)
		return -1;
	ret = buf_append_str(out, s);
	cJSON_free(s);
	return ret;
}

int
matrix_reply_content(struct buf *out, const struct matrix_reply_to *to,
    const char *text, bool strong_lead)
{
	cJSON *root = NULL, *rel, *irt, *mentions, *ids;
	struct buf plain, html;
	int ret = -1;

	buf_init(&plain, out->max);
	buf_init(&html, out->max);
	if (to->name_asker) {
		/* A pill: clients show the asker's name, and highlight it. */
		if (buf_append_str(&plain, to->asker) != 0 ||
		    buf_append_str(&plain, ": ") != 0 ||
		    buf_append_str(&html, "<a href=\"https://matrix.to/#/") !=
		        0 ||
		    buf_append_html(&html, to->asker) != 0 ||
		    buf_append_str(&html, "\">") != 0 ||
		    buf_append_html(&html, to->asker) != 0 ||
		    buf_append_str(&html, "</a>: ") != 0)
			goto out;
	}
	if (buf_append_str(&plain, text) != 0 ||
	    text_to_html(&html, text, strong_lead) != 0)
		goto out;

	root = cJSON_CreateObject();
	if (root == NULL ||
	    cJSON_AddStringToObject(root, "msgtype", "m.notice") == NULL ||
	    cJSON_AddStringToObject(root, "body", buf_str(&plain)) == NULL ||
	    cJSON_AddStringToObject(root, "format", "org.matrix.custom.html") ==
	        NULL ||
	    cJSON_AddStringToObject(root, "formatted_body", buf_str(&html)) ==
	        NULL)
		goto out;
	rel = cJSON_AddObjectToObject(root, "m.relates_to");
	if (rel == NULL)
		goto out;
	if (to->thread_root != NULL) {
		/* Stay in the asker's thread; this is a real reply, so no
		 * falling back. */
		if (cJSON_AddStringToObject(rel, "rel_type", "m.thread") ==
		        NULL ||
		    cJSON_AddStringToObject(rel, "event_id", to->thread_root) ==
		        NULL ||
		    cJSON_AddBoolToObject(rel, "is_falling_back", 0) == NULL)
			goto out;
	}
	irt = cJSON_AddObjectToObject(rel, "m.in_reply_to");
	if (irt == NULL ||
	    cJSON_AddStringToObject(irt, "event_id", to->event_id) == NULL)
		goto out;
	mentions = cJSON_AddObjectToObject(root, "m.mentions");
	if (mentions == NULL)
		goto out;
	ids = cJSON_AddArrayToObject(mentions, "user_ids");
	if (ids == NULL)
		goto out;
	if (to->asker != NULL) {
		cJSON *s = cJSON_CreateString(to->asker);

		if (s == NULL || !cJSON_AddItemToArray(ids, s)) {
			cJSON_Delete(s);
			goto out;
		}
	}
	ret = emit(out, root);
out:
	cJSON_Delete(root);
	buf_free(&plain);
	buf_free(&html);
	return ret;
}

int
matrix_notice_content(struct buf *out, const char *text)
{
	cJSON *root = NULL;
	struct buf html;
	int ret = -1;

	buf_init(&html, out->max);
	if (text_to_html(&html, text, false) != 0)
		goto out;
	root = cJSON_CreateObject();
	if (root == NULL ||
	    cJSON_AddStringToObject(root, "msgtype", "m.notice") == NULL ||
	    cJSON_AddStringToObject(root, "body", text) == NULL ||
	    cJSON_AddStringToObject(root, "format", "org.matrix.custom.html") ==
	        NULL ||
	    cJSON_AddStringToObject(root, "formatted_body", buf_str(&html)) ==
	        NULL ||
	    cJSON_AddObjectToObject(root, "m.mentions") == NULL)
		goto out;
	ret = emit(out, root);
out:
	cJSON_Delete(root);
	buf_free(&html);
	return ret;
}

void
matrix_txn_id(char out[MATRIX_TXN_SIZE], const char *key, const char *kind)
{
	uint64_t h = 1469598103934665603ULL, h2 = 0x9e3779b97f4a7c15ULL;
	const char *p;

	for (p = key; *p != '\0'; p++) {
		h ^= (unsigned char)*p;
		h *= 1099511628211ULL;
		h2 = (h2 ^ (unsigned char)*p) * 0x100000001b3ULL + 0x7f4a7c15;
	}
	/* Only unreserved characters: the id is a path segment. */
	snprintf(out, MATRIX_TXN_SIZE, "bb.%.8s.%016llx%08llx", kind,
	    (unsigned long long)h, (unsigned long long)(h2 & 0xffffffffULL));
}

int
matrix_flood_init(struct matrix_flood *f, size_t cap)
{
	f->b = calloc(cap, sizeof(*f->b));
	f->count = 0;
	f->cap = f->b != NULL ? cap : 0;
	return f->b != NULL ? 0 : -1;
}

void
matrix_flood_free(struct matrix_flood *f)
{
	free(f->b);
	f->b = NULL;
	f->count = f->cap = 0;
}

bool
matrix_flood_take(struct matrix_flood *f, const char *key, double per_minute,
    double burst, double now)
{
	struct matrix_bucket *b = NULL;
	size_t i, oldest = 0;

	for (i = 0; i < f->count; i++) {
		if (strcmp(f->b[i].key, key) == 0) {
			b = &f->b[i];
			break;
		}
		if (f->b[i].last < f->b[oldest].last)
			oldest = i;
	}
	if (b == NULL) {
		if (f->cap == 0)
			return true;
		/* When full, reuse the least recently used bucket: it has
		 * had the longest time to refill anyway. */
		b = f->count < f->cap ? &f->b[f->count++] : &f->b[oldest];
		snprintf(b->key, sizeof(b->key), "%s", key);
		b->tokens = burst;
		b->last = now;
	}
	b->tokens += (now - b->last) * per_minute / 60.0;
	if (b->tokens > burst)
		b->tokens = burst;
	b->last = now;
	if (b->tokens < 1.0)
		return false;
	b->tokens -= 1.0;
	return true;
}

long
matrix_backoff_ms(unsigned attempt, long initial, long max, uint32_t *rng)
{
	long d = initial;
	uint32_t x;

	while (attempt-- > 0 && d < max)
		d *= 2;
	if (d > max)
		d = max;
	/* xorshift32: jitter only, no need for a better generator. */
	x = *rng != 0 ? *rng : 2463534242u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*rng = x;
	return d / 2 + (long)(x % (uint32_t)(d / 2 + 1));
}

long
matrix_rate_limit_ms(
    long header_ms, const cJSON *body, long fallback_ms, long max_ms)
{
	const cJSON *v =
	    cJSON_GetObjectItemCaseSensitive(body, "retry_after_ms");
	long ms;

	if (header_ms >= 0)
		ms = header_ms;
	else if (cJSON_IsNumber(v) && v->valuedouble >= 0)
		ms = v->valuedouble > (double)max_ms ? max_ms
		                                     : (long)v->valuedouble;
	else
		ms = fallback_ms;
	if (ms > max_ms)
		ms = max_ms;
	return ms < 0 ? 0 : ms;
}

void
matrix_redact(const char *in, const char *const *secrets, size_t n, char *out,
    size_t size)
{
	static const char mask[] = "<redacted>";
	size_t o = 0, i;

	if (size == 0)
		return;
	while (*in != '\0' && o + 1 < size) {
		for (i = 0; i < n; i++) {
			size_t sl = secrets[i] != NULL ? strlen(secrets[i]) : 0;

			if (sl > 0 && strncmp(in, secrets[i], sl) == 0)
				break;
		}
		if (i < n) {
			size_t ml = sizeof(mask) - 1;

			if (o + ml >= size)
				break;
			memcpy(out + o, mask, ml);
			o += ml;
			in += strlen(secrets[i]);
			continue;
		}
		out[o++] = *in++;
	}
	out[o] = '\0';
}

bool
matrix_invite_allowed(const struct matrix_config *c, const char *user)
{
	const char *server = strchr(user, ':');

	if (c->allow_count == 0)
		return true;
	for (size_t i = 0; i < c->allow_count; i++) {
		const char *a = c->allow[i];

		if (a[0] == '@') {
			if (strcmp(a, user) == 0)
				return true;
		} else if (server != NULL) {
			/* "example.org" or ":example.org": the whole server
			 * name, never a suffix ("evilexample.org"). */
			if (a[0] == ':')
				a++;
			if (strcmp(server + 1, a) == 0)
				return true;
		}
	}
	return false;
}
