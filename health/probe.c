/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The I/O of one health probe (probe.h): connect, send the check request,
 * read the status line, close.  Level-triggered: a probe moves so few bytes
 * that one read or write per wake-up is plenty, and it never has to track
 * readiness itself.  Nothing here logs or touches shared memory; results go
 * to done(), which applies them (health.c).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/net.h"
#include "lib/proxyproto.h"
#include "lib/tls.h"
#include "health/probe.h"

#define PROBE_OF_TIMER(t) \
	((struct probe *)((char *)(t) - offsetof(struct probe, deadline)))

/* Request line, its version if the line has none, Host for HTTP/1.1. */
#define REQUEST_FMT \
	"%s%s\r\n%s%s%sConnection: close\r\nUser-Agent: fulcrum-check\r\n\r\n"

char *probe_request(const struct fc_check *check, const char *host, size_t *len)
{
	const char *line = check->request;
	bool http11, versioned;
	char *req;
	int n;

	if (line == NULL)
		return NULL;
	/* The loader accepts "METHOD URI" without a version: send HTTP/1.0. */
	versioned = strstr(line, " HTTP/1.") != NULL;
	http11 = versioned && strstr(line, " HTTP/1.1") != NULL;
	n = snprintf(NULL, 0, REQUEST_FMT, line, versioned ? "" : " HTTP/1.0",
	    http11 ? "Host: " : "", http11 ? host : "", http11 ? "\r\n" : "");
	req = xmalloc((size_t)n + 1);
	snprintf(req, (size_t)n + 1, REQUEST_FMT, line, versioned ? "" : " HTTP/1.0",
	    http11 ? "Host: " : "", http11 ? host : "", http11 ? "\r\n" : "");
	*len = (size_t)n;
	return req;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Does what we have so far still look like the start of "HTTP/1.x NNN"? */
static bool plausible_prefix(const char *buf, size_t len)
{
	static const char proto[] = "HTTP/1.";
	size_t n = len < sizeof(proto) - 1 ? len : sizeof(proto) - 1;

	return memcmp(buf, proto, n) == 0 && (len < 8 || is_digit(buf[7])) &&
	    (len < 9 || buf[8] == ' ');
}

int probe_parse_status(const char *buf, size_t len, int *status)
{
	const char *eol = memchr(buf, '\n', len);
	size_t n;

	if (!plausible_prefix(buf, len))
		return -1;
	if (eol == NULL)
		return -2;
	n = (size_t)(eol - buf);
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	/* "HTTP/1.x NNN", then the end of the line or " reason". */
	if (n < 12 || !is_digit(buf[9]) || !is_digit(buf[10]) ||
	    !is_digit(buf[11]) || (n > 12 && buf[12] != ' ') || buf[9] == '0')
		return -1;
	*status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	return (int)(eol - buf) + 1;
}

static uint32_t elapsed_ms(const struct probe *p)
{
	return (uint32_t)((clock_mono_us() - p->start_us + 500) / 1000);
}

/* Closes the connection and reports r: the one way out of a probe. */
static void finish(struct fc_ev *ev, struct probe *p, struct probe_result *r)
{
	probe_cancel(ev, p);
	p->done(p, r);
}

static void fail(struct fc_ev *ev, struct probe *p, enum fc_check_result result,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void fail(struct fc_ev *ev, struct probe *p, enum fc_check_result result,
    const char *fmt, ...)
{
	struct probe_result r = { .result = result, .code = -1 };
	va_list ap;

	r.duration_ms = elapsed_ms(p);
	va_start(ap, fmt);
	vsnprintf(r.desc, sizeof(r.desc), fmt, ap);
	va_end(ap);
	finish(ev, p, &r);
}

/* A socket error in words; ECONNREFUSED is the common one. */
static void fail_errno(struct fc_ev *ev, struct probe *p, int err)
{
	if (err == ECONNREFUSED)
		fail(ev, p, FC_CHK_CONNECT, "connection refused");
	else if (err == ECONNRESET)
		fail(ev, p, FC_CHK_CONNECT, "connection reset by the server");
	else
		fail(ev, p, FC_CHK_CONNECT, "connection error: %s", strerror(err));
}

static void judge_status(struct fc_ev *ev, struct probe *p, int status)
{
	struct probe_result r = { .code = status };
	int expect = p->check->expect_status;
	bool good;

	r.duration_ms = elapsed_ms(p);
	good = expect != 0 ? status == expect : status >= 200 && status < 400;
	r.result = good ? FC_CHK_HTTP_OK : FC_CHK_BADSTATUS;
	if (!good && expect != 0)
		snprintf(r.desc, sizeof(r.desc), "HTTP %d in %u ms, expected %d",
		    status, r.duration_ms, expect);
	else
		snprintf(r.desc, sizeof(r.desc), "HTTP %d in %u ms", status,
		    r.duration_ms);
	finish(ev, p, &r);
}

/*
 * recv() or SSL_read(): bytes, 0 at the end, -1 with errno (EAGAIN: try
 * again on the next event; EPROTO: TLS failed, in tls_why).
 */
static const char *tls_why;

static ssize_t probe_recv(struct probe *p, void *buf, size_t len)
{
	size_t n;
	int r;

	if (p->ssl == NULL)
		return recv(p->io.fd, buf, len, 0);
	ERR_clear_error();
	errno = 0;
	if ((r = SSL_read_ex(p->ssl, buf, len, &n)) == 1)
		return (ssize_t)n;
	switch (SSL_get_error(p->ssl, r)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		return errno != 0 ? -1 : 0;
	default:
		tls_why = tls_error_text("TLS error");
		errno = EPROTO;
		return -1;
	}
}

static ssize_t probe_send(struct probe *p, const void *buf, size_t len)
{
	size_t n;
	int r;

	if (p->ssl == NULL)
		return send(p->io.fd, buf, len, MSG_NOSIGNAL);
	ERR_clear_error();
	errno = 0;
	if ((r = SSL_write_ex(p->ssl, buf, len, &n)) == 1)
		return (ssize_t)n;
	r = SSL_get_error(p->ssl, r);
	if (r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE) {
		errno = EAGAIN;
		return -1;
	}
	tls_why = tls_error_text("TLS error");
	errno = r == SSL_ERROR_SYSCALL && errno != 0 ? errno : EPROTO;
	return -1;
}

static void fail_io(struct fc_ev *ev, struct probe *p, int err)
{
	if (err == EPROTO)
		fail(ev, p, FC_CHK_CONNECT, "TLS: %s", tls_why);
	else
		fail_errno(ev, p, err);
}

/*
 * Reads what has arrived, until there is no more; done as soon as the
 * status line is complete.  Until then it reads again, not only on the
 * next event: OpenSSL's read-ahead may hold the next record, which no
 * event will announce (a status line split over two records).
 */
static void on_readable(struct fc_ev *ev, struct probe *p)
{
	ssize_t n;
	int status, len;

	for (;;) {
		n = probe_recv(p, p->buf + p->got, sizeof(p->buf) - p->got);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				fail_io(ev, p, errno);
			return;
		}
		if (n == 0) {
			fail(ev, p, FC_CHK_BADRESP, p->got == 0 ?
			    "connection closed without a response" :
			    "connection closed inside the status line");
			return;
		}
		p->got += (size_t)n;
		len = probe_parse_status(p->buf, p->got, &status);
		if (len > 0) {
			judge_status(ev, p, status);
			return;
		}
		if (len == -1 || p->got == sizeof(p->buf)) {
			fail(ev, p, FC_CHK_BADRESP, len == -1 ?
			    "not an HTTP status line" : "status line too long");
			return;
		}
	}
}

static void on_writable(struct fc_ev *ev, struct probe *p)
{
	ssize_t n;

	n = probe_send(p, p->req + p->sent, p->reqlen - p->sent);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			fail_io(ev, p, errno);
		return;
	}
	p->sent += (size_t)n;
	if (p->sent == p->reqlen && ev_io_mod(ev, &p->io, EPOLLIN) < 0)
		fail_errno(ev, p, errno);
}

/* Connected (and through TLS): the request, or a TCP check passed. */
static void on_ready(struct fc_ev *ev, struct probe *p)
{
	struct probe_result r = { .result = FC_CHK_PASSED, .code = -1 };

	if (p->req != NULL) {
		/* A handshake may have left the probe waiting to read. */
		if (p->ssl != NULL && ev_io_mod(ev, &p->io, EPOLLOUT) < 0)
			fail_errno(ev, p, errno);
		else
			on_writable(ev, p);
		return;
	}
	r.duration_ms = elapsed_ms(p);
	snprintf(r.desc, sizeof(r.desc), "%s in %u ms", p->ssl != NULL ?
	    "TLS handshake" : "TCP connect", r.duration_ms);
	finish(ev, p, &r);
}

/* One step of the TLS handshake, waiting for what OpenSSL waits for. */
static void on_handshake(struct fc_ev *ev, struct probe *p)
{
	int r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_do_handshake(p->ssl)) == 1) {
		p->handshaken = true;
		on_ready(ev, p);
		return;
	}
	switch (SSL_get_error(p->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		if (ev_io_mod(ev, &p->io, EPOLLIN) < 0)
			fail_errno(ev, p, errno);
		return;
	case SSL_ERROR_WANT_WRITE:
		if (ev_io_mod(ev, &p->io, EPOLLOUT) < 0)
			fail_errno(ev, p, errno);
		return;
	case SSL_ERROR_SYSCALL:
		if (errno != 0) {
			fail_errno(ev, p, errno);
			return;
		}
		fail(ev, p, FC_CHK_CONNECT, "TLS: connection closed in the handshake");
		return;
	default:
		fail(ev, p, FC_CHK_CONNECT, "TLS: %s", tls_error_text("handshake failed"));
	}
}

/*
 * A server behind send_proxy expects a PROXY header on every connection:
 * a check's names no client (v2 LOCAL, v1 UNKNOWN, as HAProxy's
 * check-send-proxy).  Sent whole at once: the socket has just connected,
 * its buffer is empty.  0, or -1 with errno.
 */
static int send_proxy(struct probe *p)
{
	char hdr[FC_PROXY_WRITE_MAX];
	ssize_t w = -1;
	int n;

	if (p->send_proxy == 0)
		return 0;
	n = proxyproto_write(p->send_proxy, NULL, NULL, hdr, sizeof(hdr));
	if (n > 0 && (w = send(p->io.fd, hdr, (size_t)n, MSG_NOSIGNAL)) == n)
		return 0;
	if (w >= 0 || errno == EAGAIN)
		errno = EIO;		/* not an errno of the socket's */
	return -1;
}

static void on_connected(struct fc_ev *ev, struct probe *p)
{
	int err = net_socket_error(p->io.fd);
	char ip[FC_ADDRSTRLEN];

	if (err != 0) {
		fail_errno(ev, p, err);
		return;
	}
	p->connected = true;
	if (send_proxy(p) < 0) {
		fail_errno(ev, p, errno);
		return;
	}
	if (p->tls == NULL || !p->tls->enabled) {
		on_ready(ev, p);
		return;
	}
	net_host_str((const struct sockaddr *)&p->addr->ss, ip, sizeof(ip));
	if ((p->ssl = SSL_new(p->tls->ctx)) == NULL ||
	    tls_client_setup(p->ssl, p->io.fd, p->tls->sni, ip, p->tls->verify) < 0) {
		fail(ev, p, FC_CHK_CONNECT, "TLS: %s", tls_error_text("cannot start"));
		return;
	}
	on_handshake(ev, p);
}

static void io_cb(struct fc_ev *ev, struct fc_ev_io *io, uint32_t events)
{
	struct probe *p = (struct probe *)io;

	if (!p->connected)
		on_connected(ev, p);
	else if (p->ssl != NULL && !p->handshaken)
		on_handshake(ev, p);
	else if (p->sent < p->reqlen)
		on_writable(ev, p);
	else if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		on_readable(ev, p);
}

static void deadline_cb(struct fc_ev *ev, struct fc_ev_timer *t)
{
	struct probe *p = PROBE_OF_TIMER(t);

	if (!p->connected || p->req == NULL)
		fail(ev, p, FC_CHK_TIMEOUT, "timeout after %d ms", p->check->timeout);
	else
		fail(ev, p, FC_CHK_TIMEOUT, "timeout after %d ms, no status line",
		    p->check->timeout);
}

void probe_start(struct fc_ev *ev, struct probe *p)
{
	p->io.cb = io_cb;
	p->deadline.cb = deadline_cb;
	p->sent = 0;
	p->got = 0;
	p->connected = false;
	p->ssl = NULL;
	p->handshaken = false;
	p->start_us = clock_mono_us();
	ev_timer_arm(ev, &p->deadline, ev_now(ev) + (uint64_t)p->check->timeout);
	if ((p->io.fd = net_connect_nb(p->addr)) < 0) {
		fail_errno(ev, p, errno);
		return;
	}
	/* Writable once connected, or with an error once refused. */
	if (ev_io_add(ev, &p->io, EPOLLOUT) < 0)
		fail_errno(ev, p, errno);
}

void probe_cancel(struct fc_ev *ev, struct probe *p)
{
	ev_timer_stop(ev, &p->deadline);
	if (p->ssl != NULL) {
		SSL_free(p->ssl);	/* no close_notify: the probe is over */
		p->ssl = NULL;
	}
	if (p->io.fd < 0)
		return;
	ev_io_del(ev, &p->io);
	close(p->io.fd);
	p->io.fd = -1;
}
