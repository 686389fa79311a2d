/* SPDX-License-Identifier: BSD-2-Clause */
#include "config.h"

/*
 * fc-testbackend: the HTTP/1.1 origin server the integration tests put behind
 * fulcrum.  One thread per connection, keep-alive by default, every response
 * tells which backend answered and on which of its TCP connections:
 *
 *   X-Backend: NAME      the -n argument
 *   X-Conn-Id: K         this backend's connection counter (1-based)
 *   X-Conn-Seq: N        ordinal of this request on its connection (1-based)
 *
 * Paths (the query string is parsed, unknown paths behave like "/"):
 *
 *   /                      200 "NAME\n"
 *   /echo                  200, body = the raw request head exactly as received
 *   /check.txt             200 "OK\n"
 *   /delay?ms=N            sleep N ms, then 200 "NAME\n"
 *   /bytes?n=N             N pattern bytes with Content-Length
 *   /chunked?n=N           the same bytes, Transfer-Encoding: chunked, chunk
 *                          sizes cycling 1, 100, 4096, 65536, 7
 *   /upload                hashes the request body as it streams in, replies
 *                          "len=N sha256=HEX\n"
 *   /setcookie?name=X&value=Y[&n=N][&cc=Z]   adds "Set-Cookie: X=Y; Path=/"
 *                          (N times, 1..100) and "Cache-Control: Z"
 *   /session?name=X        like an application server: a request carrying
 *                          cookie X=NAME-K (one of ours) is answered with
 *                          "X-Session: NAME-K"; any other gets a new
 *                          session, "Set-Cookie: X=NAME-K; Path=/" and
 *                          "X-Session: NAME-K"
 *   /status?code=N         that status; body "NAME\n" except for 204 and 304
 *   /close                 "Connection: close", closes after the response
 *   /bad                   a malformed status line, then closes
 *   /bad?kind=K            the canned response K of bad_kinds[] below (most
 *                          of them malformed), byte for byte, whatever the
 *                          method; then keeps the connection open unless K
 *                          is delimited by the close
 *   /hang                  reads the request and never answers
 *
 * /bytes and /chunked also send "X-Body-Sha256: HEX" (SHA-256 of the body).
 *
 * The pattern: byte i of the body is (i * 31 + (i >> 8)) & 0xff, i counted
 * from 0 (t/integ/fctest.py has pattern() computing the same bytes).
 *
 * Request bodies (Content-Length or chunked) are read and hashed on every
 * path, so pipelined requests and keep-alive work after a POST anywhere.
 *
 * With -r DIR, every accepted connection's received bytes are appended to
 * DIR/conn-K.raw (K = X-Conn-Id) as they arrive, unbuffered, before they are
 * parsed; DIR/conn-K.eof is created once the connection is closed.  Tests
 * read them to see exactly what a proxy forwarded.
 *
 * SIGTERM and SIGINT exit at once.  Nothing is printed on stdout but one
 * "listening on ADDR" line at start; errors go to stderr.
 */

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <openssl/evp.h>

#define TB_HEAD_MAX   (64 * 1024)      /* largest request head accepted */
#define TB_BUF_SIZE   (128 * 1024)     /* per-connection read buffer */
#define TB_LINE_MAX   4096             /* chunk-size and trailer lines */
#define TB_GEN_MAX    (1ULL << 32)     /* largest /bytes and /chunked body */
#define TB_DELAY_MAX  600000           /* longest /delay, ms */

static const char *tb_name = "backend";
static const char *tb_record_dir;      /* -r: where conn-K.raw files go */
static atomic_uint_fast64_t tb_conn_counter;

/* ---------------------------------------------------------------- pattern */

static inline unsigned char
pattern_byte(uint64_t i)
{
	return (unsigned char)((i * 31 + (i >> 8)) & 0xff);
}

static void
pattern_fill(unsigned char *dst, uint64_t off, size_t len)
{
	for (size_t k = 0; k < len; k++)
		dst[k] = pattern_byte(off + k);
}

/* ---------------------------------------------------------------- sha-256 */

struct sha {
	EVP_MD_CTX *ctx;
	uint64_t    len;
};

static int
sha_init(struct sha *s)
{
	s->len = 0;
	s->ctx = EVP_MD_CTX_new();
	if (s->ctx == NULL)
		return -1;
	if (EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(s->ctx);
		s->ctx = NULL;
		return -1;
	}
	return 0;
}

static void
sha_update(struct sha *s, const void *p, size_t n)
{
	if (n == 0)
		return;
	EVP_DigestUpdate(s->ctx, p, n);
	s->len += n;
}

/* Writes 64 hex digits and a NUL into hex[65], frees the context. */
static void
sha_final_hex(struct sha *s, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	EVP_DigestFinal_ex(s->ctx, md, &mdlen);
	EVP_MD_CTX_free(s->ctx);
	s->ctx = NULL;
	for (unsigned int i = 0; i < mdlen && i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[64] = '\0';
}

static void
sha_abort(struct sha *s)
{
	if (s->ctx != NULL)
		EVP_MD_CTX_free(s->ctx);
	s->ctx = NULL;
}

/* ---------------------------------------------------------------- I/O */

struct conn {
	struct conn   *next;       /* waiting for a pool thread */
	int            fd;
	int            rec_fd;     /* -r: DIR/conn-K.raw, or -1 */
	uint64_t       id;         /* X-Conn-Id */
	uint64_t       seq;        /* X-Conn-Seq of the current request */
	size_t         start;      /* unread data: buf[start..end) */
	size_t         end;
	unsigned char  buf[TB_BUF_SIZE];
};

/* Reads more into the buffer.  Returns bytes read, 0 on EOF, -1 on error. */
static ssize_t
conn_fill(struct conn *c)
{
	ssize_t n;

	if (c->start > 0 && c->start == c->end)
		c->start = c->end = 0;
	if (c->end == sizeof(c->buf)) {
		if (c->start == 0)
			return -1;      /* full: caller's limits prevent this */
		memmove(c->buf, c->buf + c->start, c->end - c->start);
		c->end -= c->start;
		c->start = 0;
	}
	do
		n = read(c->fd, c->buf + c->end, sizeof(c->buf) - c->end);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		if (c->rec_fd >= 0 &&
		    write(c->rec_fd, c->buf + c->end, (size_t)n) != n)
			fprintf(stderr, "fc-testbackend: recording: %s\n",
			    strerror(errno));
		c->end += (size_t)n;
	}
	return n;
}

static int
write_all(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Returns a pointer to a NUL-terminated line (CRLF or LF stripped) consumed
 * from the buffer, NULL on EOF/error or when the line exceeds TB_LINE_MAX.
 * The pointer is valid until the next read on the connection.
 */
static char *
conn_line(struct conn *c)
{
	for (;;) {
		unsigned char *lf = memchr(c->buf + c->start, '\n', c->end - c->start);
		if (lf != NULL) {
			char *line = (char *)c->buf + c->start;
			size_t len = (size_t)(lf - (c->buf + c->start));
			c->start += len + 1;
			if (len > 0 && line[len - 1] == '\r')
				len--;
			line[len] = '\0';
			return line;
		}
		if (c->end - c->start > TB_LINE_MAX)
			return NULL;
		if (c->start > 0) {
			memmove(c->buf, c->buf + c->start, c->end - c->start);
			c->end -= c->start;
			c->start = 0;
		}
		if (conn_fill(c) <= 0)
			return NULL;
	}
}

/* Consumes n body bytes into the hash.  Returns 0, or -1 on EOF/error. */
static int
conn_body(struct conn *c, uint64_t n, struct sha *sha)
{
	while (n > 0) {
		if (c->start == c->end && conn_fill(c) <= 0)
			return -1;
		size_t avail = c->end - c->start;
		size_t take = avail < n ? avail : (size_t)n;
		sha_update(sha, c->buf + c->start, take);
		c->start += take;
		n -= take;
	}
	return 0;
}

/* ---------------------------------------------------------------- request */

struct request {
	char     method[16];
	char     path[16384];
	char     query[16384];
	int      http10;
	int      keepalive;
	int      chunked;
	int      has_cl;
	uint64_t content_length;
	int      expect_continue;
	char    *head;                 /* raw head as received (malloc'd) */
	size_t   head_len;
};

static int
ieq(const char *a, size_t alen, const char *b)
{
	return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

/* Does the comma-separated header value contain the token tok? */
static int
has_token(const char *v, size_t vlen, const char *tok)
{
	size_t i = 0;

	while (i < vlen) {
		while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		size_t s = i;
		while (i < vlen && v[i] != ',')
			i++;
		size_t e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e > s && ieq(v + s, e - s, tok))
			return 1;
	}
	return 0;
}

static int
parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 19)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/*
 * Waits for a whole request head in the buffer and parses it.
 * Returns 1 on success, 0 on a clean EOF before any byte, -1 on a malformed
 * or oversized head (the caller answers 400 and closes), -2 on EOF/error
 * in the middle of a head.
 */
static int
request_read(struct conn *c, struct request *r)
{
	size_t hlen = 0;

	memset(r, 0, sizeof(*r));
	for (;;) {
		/* Skip empty lines before a request line (RFC 9112 2.2). */
		while (c->start < c->end &&
		    (c->buf[c->start] == '\r' || c->buf[c->start] == '\n'))
			c->start++;
		const unsigned char *p = c->buf + c->start;
		size_t avail = c->end - c->start;
		for (size_t i = 0; i + 1 < avail; i++) {
			if (p[i] == '\n' && p[i + 1] == '\n') {
				hlen = i + 2;
				break;
			}
			if (i + 3 < avail && p[i] == '\r' && p[i + 1] == '\n' &&
			    p[i + 2] == '\r' && p[i + 3] == '\n') {
				hlen = i + 4;
				break;
			}
		}
		if (hlen > TB_HEAD_MAX)
			return -1;
		if (hlen > 0)
			break;
		if (avail > TB_HEAD_MAX)
			return -1;
		ssize_t n = conn_fill(c);
		if (n <= 0)
			return avail == 0 ? 0 : -2;
	}

	r->head = malloc(hlen + 1);
	if (r->head == NULL)
		return -1;
	memcpy(r->head, c->buf + c->start, hlen);
	r->head[hlen] = '\0';
	r->head_len = hlen;
	c->start += hlen;
	if (memchr(r->head, '\0', hlen) != NULL)
		return -1;

	/* Request line: METHOD SP TARGET SP VERSION */
	char *line = r->head;
	char *eol = strchr(line, '\n');
	size_t llen = (size_t)(eol - line);
	if (llen > 0 && line[llen - 1] == '\r')
		llen--;
	char *sp1 = memchr(line, ' ', llen);
	if (sp1 == NULL || sp1 == line || (size_t)(sp1 - line) >= sizeof(r->method))
		return -1;
	memcpy(r->method, line, (size_t)(sp1 - line));
	char *tgt = sp1 + 1;
	char *sp2 = memchr(tgt, ' ', llen - (size_t)(tgt - line));
	if (sp2 == NULL || sp2 == tgt)
		return -1;
	char *ver = sp2 + 1;
	size_t vlen = llen - (size_t)(ver - line);
	if (ieq(ver, vlen, "HTTP/1.1"))
		r->http10 = 0;
	else if (ieq(ver, vlen, "HTTP/1.0"))
		r->http10 = 1;
	else
		return -1;
	r->keepalive = !r->http10;

	/* Absolute form: keep the path only. */
	size_t tlen = (size_t)(sp2 - tgt);
	if (tlen > 7 && (strncasecmp(tgt, "http://", 7) == 0 ||
	    strncasecmp(tgt, "https://", 8) == 0)) {
		char *slash = memchr(tgt + 8, '/', tlen - 8);
		if (slash == NULL) {
			tgt = (char *)"/";
			tlen = 1;
		} else {
			tlen -= (size_t)(slash - tgt);
			tgt = slash;
		}
	}
	char *q = memchr(tgt, '?', tlen);
	size_t plen = q ? (size_t)(q - tgt) : tlen;
	if (plen >= sizeof(r->path))
		return -1;
	memcpy(r->path, tgt, plen);
	if (q != NULL) {
		size_t qlen = tlen - plen - 1;
		if (qlen >= sizeof(r->query))
			return -1;
		memcpy(r->query, q + 1, qlen);
	}

	/* Header fields. */
	int conn_close = 0, conn_ka = 0, te_seen = 0;
	char *h = eol + 1;
	for (;;) {
		char *e = strchr(h, '\n');
		if (e == NULL)
			break;
		size_t len = (size_t)(e - h);
		if (len > 0 && h[len - 1] == '\r')
			len--;
		if (len == 0)
			break;
		char *colon = memchr(h, ':', len);
		if (colon == NULL || colon == h)
			return -1;
		size_t nlen = (size_t)(colon - h);
		const char *v = colon + 1;
		size_t vl = len - nlen - 1;
		while (vl > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			vl--;
		}
		while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			vl--;

		if (ieq(h, nlen, "content-length")) {
			uint64_t cl;
			if (parse_u64(v, vl, &cl) < 0)
				return -1;
			if (r->has_cl && cl != r->content_length)
				return -1;
			r->has_cl = 1;
			r->content_length = cl;
		} else if (ieq(h, nlen, "transfer-encoding")) {
			te_seen = 1;
			/* chunked must be the last coding */
			size_t s = vl;
			while (s > 0 && v[s - 1] != ',')
				s--;
			const char *last = v + s;
			size_t lastlen = vl - s;
			while (lastlen > 0 && (*last == ' ' || *last == '\t')) {
				last++;
				lastlen--;
			}
			r->chunked = ieq(last, lastlen, "chunked");
		} else if (ieq(h, nlen, "connection")) {
			if (has_token(v, vl, "close"))
				conn_close = 1;
			if (has_token(v, vl, "keep-alive"))
				conn_ka = 1;
		} else if (ieq(h, nlen, "expect")) {
			if (ieq(v, vl, "100-continue"))
				r->expect_continue = 1;
		}
		h = e + 1;
	}
	if (te_seen && (!r->chunked || r->has_cl))
		return -1;
	if (conn_close)
		r->keepalive = 0;
	else if (r->http10 && conn_ka)
		r->keepalive = 1;
	return 1;
}

/*
 * Consumes the request body into sha.  Returns 0, or -1 when the body is
 * malformed or the connection fails.
 */
static int
request_body(struct conn *c, const struct request *r, struct sha *sha)
{
	if (r->expect_continue && (r->chunked || r->content_length > 0)) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		if (write_all(c->fd, cont, sizeof(cont) - 1) < 0)
			return -1;
	}
	if (!r->chunked)
		return conn_body(c, r->content_length, sha);

	for (;;) {
		char *line = conn_line(c);
		if (line == NULL)
			return -1;
		uint64_t size = 0;
		int digits = 0;
		for (char *p = line; *p != '\0' && *p != ';' && *p != ' ' &&
		    *p != '\t'; p++) {
			int d;
			if (*p >= '0' && *p <= '9')
				d = *p - '0';
			else if (*p >= 'a' && *p <= 'f')
				d = *p - 'a' + 10;
			else if (*p >= 'A' && *p <= 'F')
				d = *p - 'A' + 10;
			else
				return -1;
			if (++digits > 16)
				return -1;
			size = size * 16 + (uint64_t)d;
		}
		if (digits == 0)
			return -1;
		if (size == 0)
			break;
		if (conn_body(c, size, sha) < 0)
			return -1;
		line = conn_line(c);
		if (line == NULL || line[0] != '\0')
			return -1;
	}
	/* Trailer section, up to the empty line. */
	for (int n = 0;; n++) {
		char *line = conn_line(c);
		if (line == NULL || n > 100)
			return -1;
		if (line[0] == '\0')
			return 0;
	}
}

/* ---------------------------------------------------------------- query */

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/*
 * Finds key in an a=b&c=d query, percent-decodes its value into out.
 * Returns 1 when found, 0 when absent, -1 when the value does not fit.
 */
static int
query_get(const char *query, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key);
	const char *p = query;

	while (*p != '\0') {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
			size_t o = 0;
			for (size_t i = klen + 1; i < len; i++) {
				int ch = (unsigned char)p[i];
				if (ch == '+')
					ch = ' ';
				else if (ch == '%' && i + 2 < len &&
				    hexval(p[i + 1]) >= 0 && hexval(p[i + 2]) >= 0) {
					ch = hexval(p[i + 1]) * 16 + hexval(p[i + 2]);
					i += 2;
				}
				if (o + 1 >= outlen)
					return -1;
				out[o++] = (char)ch;
			}
			out[o] = '\0';
			return 1;
		} else if (len == klen && strncmp(p, key, klen) == 0) {
			if (outlen > 0)
				out[0] = '\0';
			return 1;
		}
		if (amp == NULL)
			break;
		p = amp + 1;
	}
	return 0;
}

static int
query_u64(const char *query, const char *key, uint64_t *out)
{
	char v[32];

	if (query_get(query, key, v, sizeof(v)) != 1)
		return -1;
	return parse_u64(v, strlen(v), out);
}

/* A cookie name or value we are willing to put in a header. */
static int
cookie_safe(const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch <= 0x20 || ch >= 0x7f || ch == ';' || ch == ',' || ch == '"')
			return 0;
	}
	return 1;
}

/*
 * The value of the first cookie called name in the request's Cookie
 * headers, into out.  Returns 1 when found, 0 when not, -1 when too long.
 */
static int
request_cookie(const struct request *r, const char *name, char *out, size_t outlen)
{
	const char *p = r->head, *end = r->head + r->head_len;
	size_t nlen = strlen(name);

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *le = eol ? eol : end;

		if (le - p > 7 && strncasecmp(p, "cookie:", 7) == 0) {
			const char *q = p + 7;
			while (q < le) {
				while (q < le && (*q == ' ' || *q == '\t' || *q == ';'))
					q++;
				const char *semi = memchr(q, ';', (size_t)(le - q));
				const char *pe = semi ? semi : le;
				while (pe > q && (pe[-1] == '\r' || pe[-1] == ' '))
					pe--;
				if ((size_t)(pe - q) > nlen && strncmp(q, name, nlen) == 0 &&
				    q[nlen] == '=') {
					size_t vlen = (size_t)(pe - q) - nlen - 1;
					if (vlen + 1 > outlen)
						return -1;
					memcpy(out, q + nlen + 1, vlen);
					out[vlen] = '\0';
					return 1;
				}
				q = semi ? semi + 1 : le;
			}
		}
		p = le + 1;
	}
	return 0;
}

/* ---------------------------------------------------------------- response */

static const char *
reason(int code)
{
	switch (code) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default:  return "Status";
	}
}

struct head {
	char   buf[32768];
	size_t len;
	int    overflow;
};

static void head_add(struct head *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
head_add(struct head *h, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (h->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(h->buf + h->len, sizeof(h->buf) - h->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(h->buf) - h->len)
		h->overflow = 1;
	else
		h->len += (size_t)n;
}

/* Status line and the headers every response carries. */
static void
head_start(struct head *h, const struct conn *c, const struct request *r,
    int code)
{
	h->len = 0;
	h->overflow = 0;
	head_add(h, "HTTP/1.1 %d %s\r\n", code, reason(code));
	head_add(h, "X-Backend: %s\r\n", tb_name);
	head_add(h, "X-Conn-Id: %llu\r\n", (unsigned long long)c->id);
	head_add(h, "X-Conn-Seq: %llu\r\n", (unsigned long long)c->seq);
	if (!r->keepalive)
		head_add(h, "Connection: close\r\n");
	else if (r->http10)
		head_add(h, "Connection: keep-alive\r\n");
}

/* Ends the head and sends it with an optional in-memory body. */
static int
send_simple(const struct conn *c, const struct request *r, struct head *h,
    const void *body, size_t blen, int with_length)
{
	if (with_length)
		head_add(h, "Content-Length: %zu\r\n", blen);
	head_add(h, "\r\n");
	if (h->overflow)
		return -1;
	if (write_all(c->fd, h->buf, h->len) < 0)
		return -1;
	if (strcmp(r->method, "HEAD") == 0 || body == NULL || blen == 0)
		return 0;
	return write_all(c->fd, body, blen);
}

static void
sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void
pattern_hash(uint64_t n, char hex[65], unsigned char *scratch, size_t slen)
{
	struct sha s;

	if (sha_init(&s) < 0) {
		memset(hex, '0', 64);
		hex[64] = '\0';
		return;
	}
	for (uint64_t off = 0; off < n;) {
		size_t len = n - off < slen ? (size_t)(n - off) : slen;
		pattern_fill(scratch, off, len);
		sha_update(&s, scratch, len);
		off += len;
	}
	sha_final_hex(&s, hex);
}

static int
send_bytes(const struct conn *c, const struct request *r, struct head *h,
    uint64_t n, int chunked)
{
	static const size_t cycle[] = { 1, 100, 4096, 65536, 7 };
	enum { SCRATCH = 65536 + 32 };
	unsigned char *scratch = malloc(SCRATCH);
	char hex[65];
	int rc = -1;

	if (scratch == NULL)
		return -1;
	pattern_hash(n, hex, scratch, 65536);
	head_add(h, "Content-Type: application/octet-stream\r\n");
	head_add(h, "X-Body-Sha256: %s\r\n", hex);
	if (chunked)
		head_add(h, "Transfer-Encoding: chunked\r\n");
	else
		head_add(h, "Content-Length: %llu\r\n", (unsigned long long)n);
	head_add(h, "\r\n");
	if (h->overflow || write_all(c->fd, h->buf, h->len) < 0)
		goto out;
	if (strcmp(r->method, "HEAD") == 0) {
		rc = 0;
		goto out;
	}

	uint64_t off = 0;
	size_t k = 0;
	while (off < n) {
		size_t len = chunked ? cycle[k++ % 5] : 65536;
		if (len > n - off)
			len = (size_t)(n - off);
		if (chunked) {
			char sz[32];
			int sl = snprintf(sz, sizeof(sz), "%zx\r\n", len);
			if (write_all(c->fd, sz, (size_t)sl) < 0)
				goto out;
		}
		pattern_fill(scratch, off, len);
		size_t wl = len;
		if (chunked) {
			scratch[wl++] = '\r';
			scratch[wl++] = '\n';
		}
		if (write_all(c->fd, scratch, wl) < 0)
			goto out;
		off += len;
	}
	if (chunked && write_all(c->fd, "0\r\n\r\n", 5) < 0)
		goto out;
	rc = 0;
out:
	free(scratch);
	return rc;
}

static void
send_error(const struct conn *c, int code)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf),
	    "HTTP/1.1 %d %s\r\nX-Backend: %s\r\nX-Conn-Id: %llu\r\n"
	    "X-Conn-Seq: %llu\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
	    code, reason(code), tb_name, (unsigned long long)c->id,
	    (unsigned long long)c->seq);
	if (n > 0 && (size_t)n < sizeof(buf))
		(void)write_all(c->fd, buf, (size_t)n);
}

static atomic_uint_fast64_t tb_session_counter;

/* /session: keeps a session of ours, or opens a new one. */
static int
send_session(const struct conn *c, const struct request *r, struct head *h,
    const char *body, size_t blen)
{
	char cn[256], cv[1024], mine[300];
	int have;

	if (query_get(r->query, "name", cn, sizeof(cn)) != 1 || cn[0] == '\0' ||
	    !cookie_safe(cn)) {
		send_error(c, 400);
		return -1;
	}
	have = request_cookie(r, cn, cv, sizeof(cv));
	snprintf(mine, sizeof(mine), "%s-", tb_name);
	head_start(h, c, r, 200);
	if (have == 1 && strncmp(cv, mine, strlen(mine)) == 0 && cookie_safe(cv)) {
		head_add(h, "X-Session: %s\r\n", cv);
	} else {
		unsigned long long k = atomic_fetch_add(&tb_session_counter, 1) + 1;
		head_add(h, "Set-Cookie: %s=%s%llu; Path=/\r\n", cn, mine, k);
		head_add(h, "X-Session: %s%llu\r\n", mine, k);
	}
	return send_simple(c, r, h, body, blen, 1);
}

/*
 * /bad?kind=K: canned responses, sent as they are.  Most break RFC 9112 in
 * one way; a few are valid but easy to get wrong (1xx, repeated identical
 * Content-Length).  close: the response is delimited by the close (or is
 * not HTTP at all), so the backend closes after it; the others leave the
 * connection open, so that a proxy which reused it would be caught.
 */
#define OK_HEAD "HTTP/1.1 200 OK\r\n"
static const struct bad_kind {
	const char *kind;
	const char *bytes;
	size_t      len;
	int         close;
} bad_kinds[] = {
#define BK(k, s, c) { k, s, sizeof(s) - 1, c }
	BK("cl-te", OK_HEAD "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n0\r\n\r\n", 0),
	BK("te-cl", OK_HEAD "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"
	    "5\r\nhello\r\n0\r\n\r\n", 0),
	BK("two-cl", OK_HEAD "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 0),
	BK("cl-list", OK_HEAD "Content-Length: 5, 6\r\n\r\nhello!", 0),
	BK("same-cl", OK_HEAD "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 0),
	BK("same-cl-list", OK_HEAD "Content-Length: 005, 5\r\n\r\nhello", 0),
	BK("cl-sign", OK_HEAD "Content-Length: +5\r\n\r\nhello", 0),
	BK("cl-hex", OK_HEAD "Content-Length: 0x5\r\n\r\nhello", 0),
	BK("bad-chunk", OK_HEAD "Transfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n", 0),
	BK("chunk-overrun", OK_HEAD "Transfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhelloEXTRA\r\n0\r\n\r\n", 0),
	BK("chunk-bare-lf", OK_HEAD "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 0),
	BK("chunk-ext", OK_HEAD "Transfer-Encoding: chunked\r\n\r\n"
	    "5;name=\"v;x\"\r\nhello\r\n0\r\n\r\n", 0),
	BK("trailer", OK_HEAD "Transfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n0\r\nX-Checksum: 1234\r\n\r\n", 0),
	BK("trailer-cl", OK_HEAD "Transfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n", 0),
	BK("bare-lf", "HTTP/1.1 200 OK\nContent-Length: 5\n\nhello", 0),
	BK("bare-cr", OK_HEAD "X-A: a\rb\r\nContent-Length: 5\r\n\r\nhello", 0),
	BK("obs-fold", OK_HEAD "X-Folded: a\r\n b\r\nContent-Length: 5\r\n\r\nhello", 0),
	BK("space-before-colon", OK_HEAD "Content-Length : 5\r\n\r\nhello", 0),
	BK("nul", OK_HEAD "X-A: a\0b\r\nContent-Length: 5\r\n\r\nhello", 0),
	BK("ctl", OK_HEAD "X-A: a\x01" "b\r\nContent-Length: 5\r\n\r\nhello", 0),
	BK("del", OK_HEAD "X-A: a\x7f\r\nContent-Length: 5\r\n\r\nhello", 0),
	BK("bad-status", "HTTP/1.1 2x0 Broken\r\nContent-Length: 5\r\n\r\nhello", 0),
	BK("bad-version", "HTTP/1.2 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0),
	BK("http2-version", "HTTP/2 200 OK\r\nContent-Length: 5\r\n\r\nhello", 0),
	BK("http09", "hello, no status line\n", 1),
	BK("te-not-chunked", OK_HEAD "Transfer-Encoding: gzip\r\n\r\nuntil the close", 1),
	BK("te-chunked-gzip", OK_HEAD "Transfer-Encoding: chunked, gzip\r\n\r\n"
	    "5\r\nhello\r\n0\r\n\r\n", 0),
	BK("te-http10", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n0\r\n\r\n", 0),
	BK("no-length", OK_HEAD "\r\nuntil the close", 1),
	BK("cl-short", OK_HEAD "Content-Length: 10\r\n\r\nhello", 1),
	BK("cl-extra", OK_HEAD "Content-Length: 5\r\n\r\nhello"
	    "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nforged!", 0),
	BK("body-for-head", OK_HEAD "Content-Length: 5\r\n\r\nhello", 0),
	BK("204-body", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello", 0),
	BK("100-200", "HTTP/1.1 100 Continue\r\n\r\n" OK_HEAD "Content-Length: 5\r\n\r\nhello", 0),
	BK("103-200", "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
	    OK_HEAD "Content-Length: 5\r\n\r\nhello", 0),
	BK("100-cl", "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n"
	    OK_HEAD "Content-Length: 5\r\n\r\nhello", 0),
	BK("101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n"
	    "Connection: Upgrade\r\n\r\n", 0),
	BK("101-websocket", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\n\r\n", 0),
	BK("hop-by-hop", OK_HEAD "Connection: X-Secret, keep-alive\r\nX-Secret: s\r\n"
	    "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c\r\n"
	    "Content-Length: 5\r\n\r\nhello", 0),
#undef BK
};

static const struct bad_kind *
bad_kind(const char *kind)
{
	for (size_t i = 0; i < sizeof(bad_kinds) / sizeof(bad_kinds[0]); i++)
		if (strcmp(bad_kinds[i].kind, kind) == 0)
			return &bad_kinds[i];
	return NULL;
}

/*
 * Answers one parsed request whose body has been consumed.  Returns 0 to
 * keep the connection, -1 to close it.
 */
static int
respond(struct conn *c, struct request *r, struct sha *body)
{
	struct head h;
	char name_body[512];
	size_t nblen;
	uint64_t v;

	snprintf(name_body, sizeof(name_body), "%s\n", tb_name);
	nblen = strlen(name_body);

	if (strcmp(r->path, "/echo") == 0) {
		head_start(&h, c, r, 200);
		head_add(&h, "Content-Type: text/plain\r\n");
		if (send_simple(c, r, &h, r->head, r->head_len, 1) < 0)
			return -1;
	} else if (strcmp(r->path, "/check.txt") == 0) {
		head_start(&h, c, r, 200);
		head_add(&h, "Content-Type: text/plain\r\n");
		if (send_simple(c, r, &h, "OK\n", 3, 1) < 0)
			return -1;
	} else if (strcmp(r->path, "/delay") == 0) {
		if (query_u64(r->query, "ms", &v) < 0)
			v = 0;
		sleep_ms(v > TB_DELAY_MAX ? TB_DELAY_MAX : v);
		head_start(&h, c, r, 200);
		if (send_simple(c, r, &h, name_body, nblen, 1) < 0)
			return -1;
	} else if (strcmp(r->path, "/bytes") == 0 ||
	    strcmp(r->path, "/chunked") == 0) {
		if (query_u64(r->query, "n", &v) < 0 || v > TB_GEN_MAX) {
			send_error(c, 400);
			return -1;
		}
		head_start(&h, c, r, 200);
		if (send_bytes(c, r, &h, v, r->path[1] == 'c') < 0)
			return -1;
	} else if (strcmp(r->path, "/upload") == 0) {
		char hex[65], msg[128];
		uint64_t len = body->len;
		sha_final_hex(body, hex);
		snprintf(msg, sizeof(msg), "len=%llu sha256=%s\n",
		    (unsigned long long)len, hex);
		head_start(&h, c, r, 200);
		head_add(&h, "Content-Type: text/plain\r\n");
		if (send_simple(c, r, &h, msg, strlen(msg), 1) < 0)
			return -1;
	} else if (strcmp(r->path, "/setcookie") == 0) {
		char cn[256], cv[1024], cc[256];
		uint64_t n = 1;
		if (query_get(r->query, "name", cn, sizeof(cn)) != 1 ||
		    query_get(r->query, "value", cv, sizeof(cv)) != 1 ||
		    cn[0] == '\0' || !cookie_safe(cn) || !cookie_safe(cv) ||
		    (query_get(r->query, "n", cc, sizeof(cc)) == 1 &&
		     (query_u64(r->query, "n", &n) < 0 || n < 1 || n > 100))) {
			send_error(c, 400);
			return -1;
		}
		if (query_get(r->query, "cc", cc, sizeof(cc)) != 1)
			cc[0] = '\0';
		else if (!cookie_safe(cc)) {
			send_error(c, 400);
			return -1;
		}
		head_start(&h, c, r, 200);
		for (uint64_t k = 0; k < n; k++)
			head_add(&h, "Set-Cookie: %s=%s; Path=/\r\n", cn, cv);
		if (cc[0] != '\0')
			head_add(&h, "Cache-Control: %s\r\n", cc);
		if (send_simple(c, r, &h, name_body, nblen, 1) < 0)
			return -1;
	} else if (strcmp(r->path, "/session") == 0) {
		if (send_session(c, r, &h, name_body, nblen) < 0)
			return -1;
	} else if (strcmp(r->path, "/status") == 0) {
		if (query_u64(r->query, "code", &v) < 0 || v < 200 || v > 599) {
			send_error(c, 400);
			return -1;
		}
		head_start(&h, c, r, (int)v);
		if (v == 204 || v == 304) {
			if (send_simple(c, r, &h, NULL, 0, 0) < 0)
				return -1;
		} else if (send_simple(c, r, &h, name_body, nblen, 1) < 0) {
			return -1;
		}
	} else if (strcmp(r->path, "/close") == 0) {
		r->keepalive = 0;
		head_start(&h, c, r, 200);
		(void)send_simple(c, r, &h, name_body, nblen, 1);
		return -1;
	} else if (strcmp(r->path, "/bad") == 0) {
		static const char bad[] = "HTTP/1.1 2x0 Broken\r\nX: y\r\n\r\n";
		const struct bad_kind *k;
		char kind[64];

		if (query_get(r->query, "kind", kind, sizeof(kind)) != 1) {
			(void)write_all(c->fd, bad, sizeof(bad) - 1);
			return -1;
		}
		if ((k = bad_kind(kind)) == NULL) {
			send_error(c, 400);
			return -1;
		}
		if (write_all(c->fd, k->bytes, k->len) < 0 || k->close)
			return -1;
		return 0;
	} else if (strcmp(r->path, "/hang") == 0) {
		/* Never answer; return once the client goes away. */
		for (;;) {
			c->start = c->end = 0;
			if (conn_fill(c) <= 0)
				return -1;
		}
	} else {
		head_start(&h, c, r, 200);
		head_add(&h, "Content-Type: text/plain\r\n");
		if (send_simple(c, r, &h, name_body, nblen, 1) < 0)
			return -1;
	}
	return r->keepalive ? 0 : -1;
}

static void *
conn_main(void *arg)
{
	struct conn *c = arg;
	struct request r;
	struct sha body;

	for (;;) {
		int rc = request_read(c, &r);
		if (rc <= 0) {
			if (rc == -1) {
				c->seq++;
				send_error(c, 400);
			}
			free(r.head);
			break;
		}
		c->seq++;
		if (sha_init(&body) < 0) {
			send_error(c, 500);
			free(r.head);
			break;
		}
		if (request_body(c, &r, &body) < 0) {
			sha_abort(&body);
			send_error(c, 400);
			free(r.head);
			break;
		}
		rc = respond(c, &r, &body);
		sha_abort(&body);
		free(r.head);
		if (rc < 0)
			break;
	}
	close(c->fd);
	if (c->rec_fd >= 0) {
		char path[4096];
		int fd;

		close(c->rec_fd);
		snprintf(path, sizeof(path), "%s/conn-%llu.eof", tb_record_dir,
		    (unsigned long long)c->id);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) >= 0)
			close(fd);
	}
	free(c);
	return NULL;
}

/* -r DIR: DIR/conn-K.raw, created empty; -1 without -r. */
static int
record_open(uint64_t id)
{
	char path[4096];
	int fd;

	if (tb_record_dir == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/conn-%llu.raw", tb_record_dir,
	    (unsigned long long)id);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		fprintf(stderr, "fc-testbackend: %s: %s\n", path, strerror(errno));
	return fd;
}

/* ---------------------------------------------------------------- main */

static void
on_signal(int sig)
{
	(void)sig;
	_exit(0);
}

static void
usage(void)
{
	fprintf(stderr, "usage: fc-testbackend -l ADDR:PORT [-n NAME] [-r DIR]\n");
	exit(2);
}

static int
listen_on(const char *spec, char *shown, size_t shownlen)
{
	char host[256];
	const char *port;
	const char *colon = strrchr(spec, ':');
	struct addrinfo hints, *res, *ai;
	int fd = -1, one = 1, err;

	if (colon == NULL) {
		snprintf(host, sizeof(host), "127.0.0.1");
		port = spec;
	} else {
		size_t hl = (size_t)(colon - spec);
		if (hl >= sizeof(host))
			return -1;
		memcpy(host, spec, hl);
		host[hl] = '\0';
		if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
			memmove(host, host + 1, hl - 2);
			host[hl - 2] = '\0';
		}
		port = colon + 1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	err = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (err != 0) {
		fprintf(stderr, "fc-testbackend: %s: %s\n", spec, gai_strerror(err));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, 1024) == 0)
			break;
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		fprintf(stderr, "fc-testbackend: cannot listen on %s: %s\n",
		    spec, strerror(errno));
	snprintf(shown, shownlen, "%s:%s", host, port);
	freeaddrinfo(res);
	return fd;
}

/*
 * Connection threads are kept for the next connection: a thread created
 * and torn down per connection capped this backend near 2600 new
 * connections/s, below what the httpclose load tests need.  A new
 * connection goes to an idle thread, or to a new one when none is idle,
 * so slow requests never wait for each other.
 */
#define POOL_IDLE_MAX	64

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static struct conn *pool_head, *pool_tail;
static int pool_idle, pool_queued;

static void *
pool_main(void *arg)
{
	struct conn *c = arg;

	for (;;) {
		conn_main(c);
		pthread_mutex_lock(&pool_mu);
		if (pool_idle >= POOL_IDLE_MAX) {
			pthread_mutex_unlock(&pool_mu);
			return NULL;
		}
		pool_idle++;
		while (pool_head == NULL)
			pthread_cond_wait(&pool_cv, &pool_mu);
		pool_idle--;
		pool_queued--;
		c = pool_head;
		pool_head = c->next;
		if (pool_head == NULL)
			pool_tail = NULL;
		pthread_mutex_unlock(&pool_mu);
	}
}

/* 0, or -1 when no thread could take the connection. */
static int
pool_dispatch(struct conn *c, const pthread_attr_t *attr)
{
	pthread_t th;

	pthread_mutex_lock(&pool_mu);
	if (pool_idle > pool_queued) {
		c->next = NULL;
		if (pool_tail != NULL)
			pool_tail->next = c;
		else
			pool_head = c;
		pool_tail = c;
		pool_queued++;
		pthread_cond_signal(&pool_cv);
		pthread_mutex_unlock(&pool_mu);
		return 0;
	}
	pthread_mutex_unlock(&pool_mu);
	return pthread_create(&th, attr, pool_main, c) == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	const char *laddr = NULL;
	char shown[300];
	struct sigaction sa;
	pthread_attr_t attr;
	int opt, lfd;

	while ((opt = getopt(argc, argv, "l:n:r:h")) != -1) {
		switch (opt) {
		case 'l': laddr = optarg; break;
		case 'n': tb_name = optarg; break;
		case 'r': tb_record_dir = optarg; break;
		default: usage();
		}
	}
	if (laddr == NULL || optind != argc)
		usage();
	if (strlen(tb_name) > 200 || strpbrk(tb_name, "\r\n") != NULL) {
		fprintf(stderr, "fc-testbackend: bad name\n");
		return 2;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	lfd = listen_on(laddr, shown, sizeof(shown));
	if (lfd < 0)
		return 1;
	printf("listening on %s\n", shown);
	fflush(stdout);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM) {
				sleep_ms(10);
				continue;
			}
			fprintf(stderr, "fc-testbackend: accept: %s\n",
			    strerror(errno));
			return 1;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

		struct conn *c = malloc(sizeof(*c));
		if (c == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->id = atomic_fetch_add(&tb_conn_counter, 1) + 1;
		c->seq = 0;
		c->start = c->end = 0;
		c->rec_fd = record_open(c->id);

		if (pool_dispatch(c, &attr) < 0) {
			close(fd);
			if (c->rec_fd >= 0)
				close(c->rec_fd);
			free(c);
		}
	}
}
