/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Logging for every fulcrum process: events and errors, and the access log.
 *
 * Events go to stderr in the foreground (-d) and to syslog otherwise.  The
 * access log goes where `global.log` says (syslog datagrams, or stderr in the
 * foreground) and is buffered: log_access() only appends to a per-process
 * buffer which log_flush() writes, once per event-loop pass.
 */
#ifndef FC_LIB_LOG_H
#define FC_LIB_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <stddef.h>

enum fc_log_target { FC_LOG_STDERR, FC_LOG_SYSLOG };

/* Sets the process name shown in messages ("master", "worker 2", ...). */
void log_init(const char *ident, enum fc_log_target target, int facility);
void log_set_ident(const char *ident);
/* Access log: target, syslog facility and the datagram socket's path ("/dev/log"). */
void log_access_open(enum fc_log_target target, int facility, const char *path);
/* Access log to a remote syslog over UDP ("udp://HOST:PORT"), foreground or not. */
struct sockaddr;
void log_access_open_udp(int facility, const struct sockaddr *sa, socklen_t len);
/*
 * Before a chroot to root: a syslog socket the chroot does not hold at the
 * same path is connected now, so the lines still reach it (until the
 * syslog daemon restarts: a socket inside the chroot, as Debian's haproxy
 * package has rsyslog make, lives through that).
 */
void log_access_pin(const char *root);
/* Stops the access log (the master, before opening it anew on reload). */
void log_access_close(void);
bool log_access_enabled(void);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_warn appends strerror(errno); log_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Start-up failures and broken invariants only: logs and exits 1. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Appends one access-log line (no trailing newline needed). */
void log_access(const char *line, size_t len);
void log_flush(void);

/* Maps "local0".."local7", "daemon", "user" to a syslog facility; -1 if unknown. */
int log_facility(const char *name);

#endif
