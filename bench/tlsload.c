/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tlsload: bench.sh's own load generator, for what wrk cannot do: the TLS
 * handshake rows (tls_close, tls_resume) and the 1 MiB rows with a client
 * that is not the limit (own_ka, own_up).  One thread, one epoll loop, CONNS
 * connections at a time.  With -m new|resume each connection does a TCP
 * connect, a TLS handshake, one "GET PATH HTTP/1.1" with "Connection: close",
 * reads the whole response, closes, and its slot starts the next one at once.
 *
 *   tlsload -c CONNS -d SECONDS -m new|resume|ka [-2] [-u FILE] HOST PORT PATH
 *
 *   -m new     a fresh SSL object and no session: every connection is a full
 *              handshake (wrk cannot do that: it keeps its SSL object and
 *              with it the last session, so its reconnections resume)
 *   -m resume  one connection first; its session (TLS 1.3: once the
 *              server's ticket came) is saved and given to every later
 *              connection (SSL_set_session): abbreviated handshakes, all
 *              but that first one
 *   -m ka      plain HTTP, keep-alive: each connection sends its next
 *              request as soon as the last response ended.  Reads take up to
 *              256 KiB and the body is counted, not parsed: wrk reads 8 KiB
 *              at a time and runs its parser over every byte, so on a 1 MiB
 *              response it is the slowest process of the run and its
 *              reading order, not the proxy, sets the tail
 *   -u FILE    every request a POST of FILE's bytes to PATH
 *   -2         TLS 1.2 only (default: TLS 1.3 only, what modern clients do)
 *
 * It prints wrk's lines that bench.sh reads ("N requests in", "Requests/sec",
 * the latency percentiles, "Socket errors", "Non-2xx"), plus how many
 * handshakes resumed.  Latency runs from connect() to the end of the response
 * (the handshake is what those rows measure), with -m ka from the request's
 * first byte written, as wrk measures it.  Certificates are not
 * verified (the signature of the handshake is).  127.0.0.1 only in bench.sh.
 *
 * Built by bench.sh: cc -O2 -o tlsload tlsload.c -lssl -lcrypto
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum state { S_CONNECT, S_HANDSHAKE, S_WRITE, S_READ };

struct slot {
	int fd;
	SSL *ssl;
	enum state st;
	uint64_t t0;		/* connect(), in µs */
	size_t wrote;		/* of the request */
	char head[4096];	/* the response head, until its blank line */
	size_t hlen;
	long body_left;		/* -1: head not complete yet */
	int status;
	long served;		/* -m ka: responses on this connection */
};

static struct {
	SSL_CTX *ctx;
	SSL_SESSION *saved;	/* -m resume */
	struct sockaddr_in addr;
	char *req;		/* the request, head and body */
	size_t reqlen;
	int resume, ka, ep;
	uint64_t *lat;		/* µs, one per completed request */
	size_t nlat, caplat;
	long conn_err, read_err, write_err, non2xx, resumed, full;
} g;

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void slot_close(struct slot *s, int ok)
{
	if (s->ssl != NULL) {
		/*
		 * No close_notify: the server closes first (Connection: close).
		 * But without the flag SSL_free() takes the session for a bad
		 * one and marks it not resumable: the saved one, with -m resume.
		 */
		if (ok)
			SSL_set_shutdown(s->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
		SSL_free(s->ssl);
		s->ssl = NULL;
	}
	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
}

/* A request's clock and state, from its connect() (or, -m ka, its first byte). */
static void exchange_start(struct slot *s, enum state st)
{
	s->t0 = now_us();
	s->st = st;
	s->wrote = 0;
	s->hlen = 0;
	s->body_left = -1;
	s->status = 0;
}

static int slot_open(struct slot *s)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = s };
	int one = 1;

	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -1;
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	exchange_start(s, S_CONNECT);
	s->served = 0;
	if (connect(s->fd, (struct sockaddr *)&g.addr, sizeof(g.addr)) < 0 &&
	    errno != EINPROGRESS) {
		close(s->fd);
		s->fd = -1;
		return -1;
	}
	epoll_ctl(g.ep, EPOLL_CTL_ADD, s->fd, &ev);
	if (g.ka)	/* plain: the first write says whether connect() worked */
		return 0;
	s->ssl = SSL_new(g.ctx);
	SSL_set_fd(s->ssl, s->fd);
	SSL_set_tlsext_host_name(s->ssl, "bench.test");
	if (g.resume && g.saved != NULL)
		SSL_set_session(s->ssl, g.saved);
	SSL_set_connect_state(s->ssl);
	return 0;
}

static void lat_add(uint64_t us)
{
	if (g.nlat == g.caplat) {
		g.caplat = g.caplat ? 2 * g.caplat : 65536;
		g.lat = realloc(g.lat, g.caplat * sizeof(*g.lat));
		if (g.lat == NULL) {
			perror("tlsload: realloc");
			exit(1);
		}
	}
	g.lat[g.nlat++] = us;
}

/* The head is complete: its status and Content-Length. 0, or -1 if bad. */
static int head_parse(struct slot *s)
{
	char *p, *e = strstr(s->head, "\r\n\r\n");
	size_t used = (size_t)(e + 4 - s->head);

	if (sscanf(s->head, "HTTP/1.%*d %d", &s->status) != 1)
		return -1;
	s->body_left = -2;	/* no length: until the server closes */
	for (p = strstr(s->head, "\r\n"); p != NULL && p < e; p = strstr(p + 2, "\r\n"))
		if (strncasecmp(p + 2, "content-length:", 15) == 0)
			s->body_left = strtol(p + 17, NULL, 10);
	if (s->body_left >= 0)
		s->body_left -= (long)(s->hlen - used);
	return 0;
}

/* A response ended: its latency, and whether it was a 2xx or 3xx. */
static void exchange_count(const struct slot *s)
{
	lat_add(now_us() - s->t0);
	if (s->status < 200 || s->status > 399)
		g.non2xx++;
}

static void done(struct slot *s, int ok)
{
	if (ok) {
		exchange_count(s);
		if (g.resume && g.saved == NULL) {
			SSL_SESSION *ss = SSL_get1_session(s->ssl);

			if (ss != NULL && SSL_SESSION_is_resumable(ss))
				g.saved = ss;
			else
				SSL_SESSION_free(ss);
		}
	}
	slot_close(s, ok);
}

/*
 * One read or write, plain or over TLS: bytes moved (> 0), 0 when it would
 * block, -1 when the connection failed or was closed.
 */
static long io(struct slot *s, int wr, void *buf, size_t n)
{
	long r;
	int err;

	if (s->ssl == NULL) {
		r = wr ? send(s->fd, buf, n, MSG_NOSIGNAL) : recv(s->fd, buf, n, 0);
		if (r > 0)
			return r;
		return r < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
	}
	r = wr ? SSL_write(s->ssl, buf, (int)n) : SSL_read(s->ssl, buf, (int)n);
	if (r > 0)
		return r;
	err = SSL_get_error(s->ssl, (int)r);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
		return 0;
	ERR_clear_error();
	return -1;
}

/* -m ka: a response ended; the next request on the same connection. */
static void again(struct slot *s)
{
	exchange_count(s);
	exchange_start(s, S_WRITE);
	s->served++;
}

/* Moves a connection on as far as it goes; 1 when it is finished. */
static int step(struct slot *s, uint64_t end)
{
	static char buf[256 * 1024];	/* TLS reads stop at a record, 16 KiB */
	long r;
	int err;

	for (;;) {
		switch (s->st) {
		case S_CONNECT:
		case S_HANDSHAKE:
			if (s->ssl == NULL) {
				s->st = S_WRITE;
				break;
			}
			s->st = S_HANDSHAKE;
			r = SSL_connect(s->ssl);
			if (r == 1) {
				if (SSL_session_reused(s->ssl))
					g.resumed++;
				else
					g.full++;
				s->st = S_WRITE;
				break;
			}
			err = SSL_get_error(s->ssl, (int)r);
			if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
				return 0;
			g.conn_err++;
			ERR_clear_error();
			done(s, 0);
			return 1;
		case S_WRITE:
			r = io(s, 1, g.req + s->wrote, g.reqlen - s->wrote);
			if (r > 0) {
				s->wrote += (size_t)r;
				if (s->wrote == g.reqlen)
					s->st = S_READ;
				break;
			}
			if (r == 0)
				return 0;
			/* plain: a refused connect() shows at the first write */
			if (s->ssl == NULL && s->served == 0 && s->wrote == 0)
				g.conn_err++;
			else
				g.write_err++;
			done(s, 0);
			return 1;
		case S_READ:
			r = io(s, 0, buf, sizeof(buf));
			if (r == 0)
				return 0;
			if (r < 0) {
				/* the end of a response without a length is the close */
				if (s->body_left == -2) {
					done(s, 1);
					return 1;
				}
				g.read_err++;
				done(s, 0);
				return 1;
			}
			if (s->body_left == -1) {
				size_t n = (size_t)r, room = sizeof(s->head) - 1 - s->hlen;

				if (n > room)
					n = room;
				memcpy(s->head + s->hlen, buf, n);
				s->hlen += n;
				s->head[s->hlen] = '\0';
				if (strstr(s->head, "\r\n\r\n") == NULL) {
					if (s->hlen == sizeof(s->head) - 1) {
						g.read_err++;
						done(s, 0);
						return 1;
					}
					break;
				}
				if (head_parse(s) < 0) {
					g.read_err++;
					done(s, 0);
					return 1;
				}
				/* what came after the head's copy (a head > 4 KiB is refused) */
				if (s->body_left >= 0)
					s->body_left -= (long)((size_t)r - n);
			} else if (s->body_left >= 0) {
				s->body_left -= r;
			}
			if (s->body_left == 0) {
				if (g.ka && now_us() < end) {
					again(s);
					break;
				}
				done(s, 1);
				return 1;
			}
			break;
		}
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void report(double secs)
{
	static const double pct[] = { 50, 75, 90, 99 };
	double mean = 0;
	size_t i;

	qsort(g.lat, g.nlat, sizeof(*g.lat), cmp_u64);
	for (i = 0; i < g.nlat; i++)
		mean += (double)g.lat[i];
	mean = g.nlat ? mean / (double)g.nlat / 1000 : 0;
	printf("  Latency (connect to end of response) mean %.2fms\n", mean);
	printf("  Latency Distribution\n");
	for (i = 0; i < sizeof(pct) / sizeof(pct[0]); i++) {
		size_t k = g.nlat ? (size_t)(pct[i] / 100 * (double)(g.nlat - 1) + 0.5) : 0;

		printf("  %3.0f%% %8.2fms\n", pct[i], g.nlat ? (double)g.lat[k] / 1000 : 0);
	}
	printf("  %zu requests in %.2fs\n", g.nlat, secs);
	if (!g.ka)
		printf("  handshakes: %ld full, %ld resumed\n", g.full, g.resumed);
	if (g.conn_err || g.read_err || g.write_err)
		printf("  Socket errors: connect %ld, read %ld, write %ld, timeout 0\n",
		    g.conn_err, g.read_err, g.write_err);
	if (g.non2xx)
		printf("  Non-2xx or 3xx responses: %ld\n", g.non2xx);
	printf("Requests/sec: %9.2f\n", secs > 0 ? (double)g.nlat / secs : 0);
}

/* g.req: a GET of PATH, or with BODY a POST of its bytes. */
static int request_make(const char *path, const char *body)
{
	char head[512], clen[96] = "";
	long blen = 0;
	size_t hlen;
	FILE *f = NULL;

	if (body != NULL && ((f = fopen(body, "rb")) == NULL ||
	    fseek(f, 0, SEEK_END) != 0 || (blen = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)) {
		perror(body);
		return -1;
	}
	if (body != NULL)
		snprintf(clen, sizeof(clen),
		    "Content-Type: application/octet-stream\r\nContent-Length: %ld\r\n", blen);
	hlen = (size_t)snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: bench.test\r\n%s%s\r\n",
	    body != NULL ? "POST" : "GET", path, clen, g.ka ? "" : "Connection: close\r\n");
	g.reqlen = hlen + (size_t)blen;
	if (hlen >= sizeof(head) || (g.req = malloc(g.reqlen)) == NULL ||
	    (f != NULL && fread(g.req + hlen, 1, (size_t)blen, f) != (size_t)blen)) {
		fprintf(stderr, "tlsload: cannot make the request\n");
		return -1;
	}
	memcpy(g.req, head, hlen);
	if (f != NULL)
		fclose(f);
	return 0;
}

static SSL_CTX *ctx_make(int tls12)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_min_proto_version(ctx, tls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
	SSL_CTX_set_max_proto_version(ctx, tls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
	/* no client cache: the saved session is handed over explicitly */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

static void usage(void)
{
	fprintf(stderr, "usage: tlsload -c CONNS -d SECONDS -m new|resume|ka [-2] [-u FILE] HOST PORT PATH\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct epoll_event evs[256];
	struct slot *slots;
	int conns = 50, opt, i, n, tls12 = 0;
	const char *body = NULL;
	double dur = 5;
	uint64_t start, end;

	while ((opt = getopt(argc, argv, "c:d:m:u:2")) != -1) {
		switch (opt) {
		case 'c': conns = atoi(optarg); break;
		case 'd': dur = atof(optarg); break;
		case 'm':
			if (strcmp(optarg, "resume") == 0)
				g.resume = 1;
			else if (strcmp(optarg, "ka") == 0)
				g.ka = 1;
			else if (strcmp(optarg, "new") != 0)
				usage();
			break;
		case 'u': body = optarg; break;
		case '2': tls12 = 1; break;
		default: usage();
		}
	}
	if (argc - optind != 3 || conns < 1 || dur <= 0)
		usage();
	g.addr.sin_family = AF_INET;
	g.addr.sin_port = htons((uint16_t)atoi(argv[optind + 1]));
	if (inet_pton(AF_INET, argv[optind], &g.addr.sin_addr) != 1)
		usage();
	if (request_make(argv[optind + 2], body) < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	if (!g.ka)
		g.ctx = ctx_make(tls12);
	g.ep = epoll_create1(EPOLL_CLOEXEC);
	slots = calloc((size_t)conns, sizeof(*slots));
	if ((!g.ka && g.ctx == NULL) || g.ep < 0 || slots == NULL) {
		fprintf(stderr, "tlsload: cannot start\n");
		return 1;
	}

	start = now_us();
	end = start + (uint64_t)(dur * 1e6);
	for (i = 0; i < conns; i++)
		slots[i].fd = -1;
	/* -m resume: one connection first, the others once its session is saved */
	if (slot_open(&slots[0]) < 0)
		g.conn_err++;
	while (now_us() < end) {
		n = epoll_wait(g.ep, evs, 256, 10);
		for (i = 0; i < n; i++) {
			struct slot *s = evs[i].data.ptr;

			if (s->fd < 0)
				continue;
			if (step(s, end) && now_us() < end && slot_open(s) < 0)
				g.conn_err++;
		}
		/* slots not started yet, or whose connect failed */
		for (i = 0; i < conns && (!g.resume || g.saved != NULL || i == 0); i++)
			if (slots[i].fd < 0 && now_us() < end && slot_open(&slots[i]) < 0)
				g.conn_err++;
	}
	report((double)(now_us() - start) / 1e6);
	return 0;
}
