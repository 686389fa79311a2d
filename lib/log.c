/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Logging (see log.h).  Events are rare and go out at once, through libc's
 * syslog() or to stderr.  Access-log lines are frequent: they are collected
 * in a buffer and written once per event-loop pass, to stderr in one write()
 * or to the syslog socket (local, or UDP to a remote syslog) in one
 * sendmmsg() of datagrams.  A full syslog
 * socket drops lines rather than blocking the worker, as HAProxy does.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"

#define ACC_BUF		65536
#define ACC_LINES	128

static char ident[32] = "fulcrum";
static time_t hdr_time = -1;		/* second of the cached syslog header */
static enum fc_log_target ev_target = FC_LOG_STDERR;

static struct {
	bool on;
	enum fc_log_target target;
	int facility;
	int fd;			/* syslog datagram socket */
	struct sockaddr_storage to;	/* the syslog socket: a path, or UDP */
	socklen_t tolen;
	char buf[ACC_BUF];
	size_t len;
	size_t starts[ACC_LINES];	/* offsets of buffered lines */
	size_t nlines;
} acc = { .fd = -1 };

void log_init(const char *name, enum fc_log_target target, int facility)
{
	log_set_ident(name);
	ev_target = target;
	if (target == FC_LOG_SYSLOG)
		openlog("fulcrum", LOG_PID | LOG_NDELAY, facility);
}

void log_set_ident(const char *name)
{
	snprintf(ident, sizeof(ident), "%s", name);
	hdr_time = -1;			/* a new process: a new pid in the header */
}

static void vlog(int prio, const char *fmt, va_list ap, int errnum)
{
	char msg[1024];
	int n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n >= 0 && errnum != 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(errnum));
	if (ev_target == FC_LOG_SYSLOG) {
		syslog(prio, "%s: %s", ident, msg);
		return;
	}
	if (prio == LOG_DEBUG && getenv("FULCRUM_DEBUG") == NULL)
		return;
	{
		char line[1200];
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		n = snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld [%s %d] %s\n",
		    tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, ident,
		    (int)getpid(), msg);
		if (n > 0)
			(void)!write(STDERR_FILENO, line,
			    (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	}
}

#define LOG_FN(fn, prio, err)						\
	void fn(const char *fmt, ...)					\
	{								\
		va_list ap;						\
		int saved = errno;					\
									\
		va_start(ap, fmt);					\
		vlog(prio, fmt, ap, err ? saved : 0);			\
		va_end(ap);						\
		errno = saved;						\
	}

LOG_FN(log_info, LOG_INFO, 0)
LOG_FN(log_notice, LOG_NOTICE, 0)
LOG_FN(log_warn, LOG_WARNING, 1)
LOG_FN(log_warnx, LOG_WARNING, 0)
LOG_FN(log_debug, LOG_DEBUG, 0)

void fatal(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, saved);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_CRIT, fmt, ap, 0);
	va_end(ap);
	exit(1);
}

int log_facility(const char *name)
{
	static const struct { const char *name; int fac; } map[] = {
		{ "user", LOG_USER }, { "daemon", LOG_DAEMON },
		{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
		{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
		{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
		{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].name, name) == 0)
			return map[i].fac;
	return -1;
}

void log_access_open(enum fc_log_target target, int facility, const char *path)
{
	struct sockaddr_un *sun = (struct sockaddr_un *)&acc.to;

	acc.on = true;
	acc.target = target;
	acc.facility = facility;
	hdr_time = -1;
	if (target != FC_LOG_SYSLOG)
		return;
	memset(&acc.to, 0, sizeof(acc.to));
	sun->sun_family = AF_UNIX;
	snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", path);
	acc.tolen = sizeof(*sun);
	acc.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

void log_access_open_udp(int facility, const struct sockaddr *sa, socklen_t len)
{
	acc.on = true;
	acc.target = FC_LOG_SYSLOG;
	acc.facility = facility;
	hdr_time = -1;
	memset(&acc.to, 0, sizeof(acc.to));
	memcpy(&acc.to, sa, len < sizeof(acc.to) ? len : sizeof(acc.to));
	acc.tolen = len;
	acc.fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

void log_access_pin(const char *root)
{
	const struct sockaddr_un *sun = (const struct sockaddr_un *)&acc.to;
	char path[PATH_MAX];

	if (acc.fd < 0 || acc.to.ss_family != AF_UNIX)
		return;
	snprintf(path, sizeof(path), "%s%s", root, sun->sun_path);
	if (access(path, W_OK) == 0)
		return;			/* the chroot has its own: keep the path */
	if (connect(acc.fd, (const struct sockaddr *)&acc.to, acc.tolen) == 0)
		acc.tolen = 0;		/* sent to the connected peer */
}

void log_access_close(void)
{
	log_flush();
	if (acc.fd >= 0)
		close(acc.fd);
	acc.fd = -1;
	acc.on = false;
}

bool log_access_enabled(void)
{
	return acc.on;
}

/*
 * Syslog lines carry an RFC 3164 header; stderr lines are bare.  The header
 * changes once a second: it is made then (localtime_r, and getpid, which is
 * a system call) and copied for every line of that second.
 */
static size_t syslog_header(char *p, size_t room)
{
	static const char *mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	static char hdr[64];
	static size_t hdr_len;
	time_t t = time(NULL);

	if (t != hdr_time) {
		struct tm tm;
		int n;

		localtime_r(&t, &tm);
		n = snprintf(hdr, sizeof(hdr), "<%d>%s %2d %02d:%02d:%02d fulcrum[%d]: ",
		    acc.facility | LOG_INFO, mon[tm.tm_mon], tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, (int)getpid());
		hdr_len = n > 0 && (size_t)n < sizeof(hdr) ? (size_t)n : 0;
		hdr_time = t;
	}
	if (hdr_len >= room)
		return 0;
	memcpy(p, hdr, hdr_len);
	return hdr_len;
}

void log_access(const char *line, size_t len)
{
	size_t need = len + 64;

	if (!acc.on)
		return;
	if (acc.len + need > sizeof(acc.buf) || acc.nlines == ACC_LINES)
		log_flush();
	if (need > sizeof(acc.buf))
		return;
	acc.starts[acc.nlines++] = acc.len;
	if (acc.target == FC_LOG_SYSLOG)
		acc.len += syslog_header(acc.buf + acc.len, sizeof(acc.buf) - acc.len);
	memcpy(acc.buf + acc.len, line, len);
	acc.len += len;
	acc.buf[acc.len++] = '\n';
}

static void flush_syslog(void)
{
	struct mmsghdr msgs[ACC_LINES];
	struct iovec iov[ACC_LINES];

	memset(msgs, 0, sizeof(msgs));
	for (size_t i = 0; i < acc.nlines; i++) {
		size_t end = i + 1 < acc.nlines ? acc.starts[i + 1] : acc.len;

		iov[i].iov_base = acc.buf + acc.starts[i];
		iov[i].iov_len = end - acc.starts[i] - 1;	/* no newline */
		msgs[i].msg_hdr.msg_name = acc.tolen != 0 ? &acc.to : NULL;
		msgs[i].msg_hdr.msg_namelen = acc.tolen;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	if (acc.fd >= 0)
		(void)sendmmsg(acc.fd, msgs, (unsigned int)acc.nlines, MSG_DONTWAIT);
}

void log_flush(void)
{
	if (acc.nlines == 0)
		return;
	if (acc.target == FC_LOG_SYSLOG)
		flush_syslog();
	else
		(void)!write(STDERR_FILENO, acc.buf, acc.len);
	acc.len = 0;
	acc.nlines = 0;
}
