/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fulcrum-import: a classic haproxy.cfg (and heartbeat's ha.cf and
 * haresources, or keepalived.conf) read into a small model of what
 * fulcrum.conf can say, then written out as one.
 *
 * The contract is "never dropped silently".  Every directive of every
 * source file becomes an entry of imp_doc.dirs, which ends CARRIED (a key
 * of the output was written from it) or REPORTED (a note says why not).
 * The readers report what they reject at once; imp_finish() reports what
 * no writer used, so a directive a reader stored but nothing wrote (a
 * backend's timeout no listener takes, a defaults section nobody inherits)
 * cannot vanish either.
 *
 *	fulcrum-import.c	command line, and the output (the writer)
 *	import_haproxy.c	haproxy.cfg
 *	import_ha.c		ha.cf + haresources, keepalived.conf
 *	import_util.c		tokenizer, time units, directives and notes
 */
#ifndef FC_TOOLS_IMPORT_H
#define FC_TOOLS_IMPORT_H

#include <stdbool.h>
#include <stdio.h>

#define IMP_WORDS_MAX	64	/* words of one line; more is reported */
#define IMP_NAME_MAX	64	/* fulcrum names: 1..63 of [A-Za-z0-9_.-] */
#define IMP_FILES_MAX	4

enum imp_state {
	IMP_PENDING,		/* read, not written yet */
	IMP_CARRIED,		/* a key of the output comes from it */
	IMP_REPORTED,		/* a note says why it is not carried over */
};

/* One directive (a line, or a keepalived block's head) of a source file. */
struct imp_dir {
	int file;		/* index in imp_doc.files */
	int line;
	char *text;		/* its words, joined and cut */
	enum imp_state state;
	int owner;		/* index in imp_doc.proxies, -1: none */
};

/* "FILE:LINE: directive: not carried over: why" */
struct imp_note {
	int file, line;
	char *directive;
	char *why;
};

/* A value the source gives, and the directive it comes from. */
struct imp_set {
	bool set;
	long long num;
	char *str;		/* owned; NULL for numbers and flags */
	int dir;		/* index in imp_doc.dirs */
};

struct imp_list {
	struct imp_set *v;
	int n;
};

enum imp_kind { IMP_DEFAULTS, IMP_LISTEN, IMP_FRONTEND, IMP_BACKEND };

/* Timeouts fulcrum has (listener-level), plus the checks' own. */
enum imp_timeout {
	IMP_T_CONNECT, IMP_T_CLIENT, IMP_T_SERVER, IMP_T_HTTP_REQUEST,
	IMP_T_QUEUE, IMP_T_TUNNEL, IMP_T_CHECK, IMP_T_MAX
};

struct imp_server {
	int dir;
	char name[IMP_NAME_MAX];
	char addr[80];
	/* numbers and flags only: default-server copies them (no strings) */
	struct imp_set weight, maxconn, slowstart, send_proxy, check, backup;
	struct imp_set tls, tls_noverify;
	struct imp_set inter, rise, fall;	/* the backend's check */
	struct imp_set cookie, tls_ca;		/* strings: "server" only */
};

struct imp_route {
	char *host, *path;	/* NULL: any */
	char *backend;
	int dir;
};

struct imp_hdr {
	bool response;
	char *name, *value;	/* value NULL: del */
	int dir;
};

enum imp_acl_kind { IMP_ACL_HOST, IMP_ACL_HOST_END, IMP_ACL_HOST_DOM, IMP_ACL_PATH_BEG };

struct imp_acl {
	char *name;
	enum imp_acl_kind kind;
	char **values;
	int nvalues;
	int dir;
	bool used;		/* a carried route comes from it */
};

struct imp_proxy {
	enum imp_kind kind;
	char name[IMP_NAME_MAX];
	int dir;		/* its header line */
	int defaults;		/* index of the defaults before it, -1: none */
	const char *dropped;	/* why it is left out; NULL: carried */
	struct imp_list binds;
	struct imp_set mode, accept_proxy, forwardfor, httpclose, retries, maxconn;
	struct imp_set balance;
	struct imp_set timeout[IMP_T_MAX];
	struct imp_set httpchk, chk_send, expect_status;
	struct imp_set cookie, cookie_mode, indirect, nocache, httponly, secure;
	struct imp_set domain, maxidle, maxlife;
	struct imp_set stats_uri, stats_refresh;
	struct imp_list stats_auth;
	struct imp_set default_backend;
	struct imp_server defsrv;	/* default-server */
	struct imp_route *routes;
	int nroutes;
	struct imp_hdr *hdrs;
	int nhdrs;
	struct imp_acl *acls;
	int nacls;
	struct imp_server *servers;
	int nservers;
};

struct imp_global {
	struct imp_set user, group, maxconn, pidfile, workers, drain, daemon;
	struct imp_set chroot;	/* written commented out: its directory may not exist here */
	struct imp_set log_facility, log_address;
};

enum imp_ha_source { IMP_HA_NONE, IMP_HA_HEARTBEAT, IMP_HA_KEEPALIVED };

struct imp_ha {
	enum imp_ha_source source;
	struct imp_set interface, vrid, priority, advert_ms, preempt, track_proxy;
	struct imp_set unicast_src, auth_key;
	struct imp_list vips, peers;
	char *node, *other;	/* heartbeat: this node and the other one */
};

struct imp_doc {
	const char *files[IMP_FILES_MAX];	/* as given on the command line */
	int nfiles;
	struct imp_dir *dirs;
	int ndirs;
	struct imp_note *notes;
	int nnotes;
	struct imp_global global;
	struct imp_proxy *proxies;
	int nproxies;
	struct imp_ha ha;
};

/* ------------------------------------------------------ import_util.c */

/*
 * Cuts line into words in place, HAProxy's way: blanks separate words,
 * '#' starts a comment, "..." and '...' quote, a backslash escapes the
 * next character (\r, \n, \t and \xNN are those bytes).  Returns the number
 * of words (at most max), -1 when there are more, -2 on an unterminated
 * quote or a bad \x escape.
 */
int imp_split(char *line, char **words, int max);

/*
 * A time with HAProxy's units (us, ms, s, m, h, d; none: unit_ms) in ms,
 * rounded up to a whole ms.  0, or -1 on anything else or above a day
 * times a thousand.
 */
int imp_parse_time(const char *s, long long unit_ms, long long *ms);
/* A non-negative decimal integer no larger than max.  0, or -1. */
int imp_parse_int(const char *s, long long max, long long *v);

int imp_add_file(struct imp_doc *d, const char *path);
/* A new directive made of words w; returns its index. */
int imp_add_dir(struct imp_doc *d, int file, int line, char **w, int n, int owner);
/* The whole directive is not carried over: why. */
void imp_report(struct imp_doc *d, int dir, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Part of a directive (what: "minconn 50") is not carried over: why. */
void imp_note(struct imp_doc *d, int dir, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void imp_carry(struct imp_doc *d, int dir);

void imp_set_num(struct imp_set *s, long long v, int dir);
void imp_set_str(struct imp_set *s, const char *v, int dir);
void imp_list_add(struct imp_list *l, const char *v, int dir);
/* A name fulcrum takes: [A-Za-z0-9_.-], 1..63; false if it had to change. */
bool imp_name(char *out, const char *in);

/* Reports every directive still pending (why: the owner's reason or a generic one). */
void imp_finish(struct imp_doc *d);
/* Notes in file and line order, to fp as "FILE:LINE: ..." with prefix before each. */
void imp_print_notes(const struct imp_doc *d, FILE *fp, const char *prefix);
void imp_doc_free(struct imp_doc *d);

/* --------------------------------------------------- import_haproxy.c */

/* Reads haproxy.cfg into d.  0, or -1 when it cannot be read (errno). */
int imp_read_haproxy(struct imp_doc *d, const char *path);

/* -------------------------------------------------------- import_ha.c */

/* ha.cf and haresources (either may be NULL); keepalived.conf. 0 or -1 (errno). */
int imp_read_heartbeat(struct imp_doc *d, const char *hacf, const char *haresources);
int imp_read_keepalived(struct imp_doc *d, const char *path);

#endif
