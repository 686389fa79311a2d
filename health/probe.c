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

#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/net.h"
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

/* Reads what has arrived; done as soon as the status line is complete. */
static void on_readable(struct fc_ev *ev, struct probe *p)
{
	ssize_t n;
	int status, len;

	n = recv(p->io.fd, p->buf + p->got, sizeof(p->buf) - p->got, 0);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			fail_errno(ev, p, errno);
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
	if (len > 0)
		judge_status(ev, p, status);
	else if (len == -1)
		fail(ev, p, FC_CHK_BADRESP, "not an HTTP status line");
	else if (p->got == sizeof(p->buf))
		fail(ev, p, FC_CHK_BADRESP, "status line too long");
}

static void on_writable(struct fc_ev *ev, struct probe *p)
{
	ssize_t n;

	n = send(p->io.fd, p->req + p->sent, p->reqlen - p->sent, MSG_NOSIGNAL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			fail_errno(ev, p, errno);
		return;
	}
	p->sent += (size_t)n;
	if (p->sent == p->reqlen && ev_io_mod(ev, &p->io, EPOLLIN) < 0)
		fail_errno(ev, p, errno);
}

static void on_connected(struct fc_ev *ev, struct probe *p)
{
	struct probe_result r = { .result = FC_CHK_PASSED, .code = -1 };
	int err = net_socket_error(p->io.fd);

	if (err != 0) {
		fail_errno(ev, p, err);
		return;
	}
	p->connected = true;
	if (p->req != NULL) {
		on_writable(ev, p);
		return;
	}
	r.duration_ms = elapsed_ms(p);
	snprintf(r.desc, sizeof(r.desc), "TCP connect in %u ms", r.duration_ms);
	finish(ev, p, &r);
}

static void io_cb(struct fc_ev *ev, struct fc_ev_io *io, uint32_t events)
{
	struct probe *p = (struct probe *)io;

	if (!p->connected)
		on_connected(ev, p);
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
	if (p->io.fd < 0)
		return;
	ev_io_del(ev, &p->io);
	close(p->io.fd);
	p->io.fd = -1;
}
