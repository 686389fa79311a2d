/*
 * Configuration loader: a libconfig file into struct fc_conf (see conf.h).
 *
 * Every group of the file is described by a table of keys (name, kind,
 * offset, range).  One walker does what all groups share -- unknown keys,
 * types, ranges, required keys -- so the rules read as data, and the code
 * below only handles what a table cannot say: addresses, enumerations and
 * checks across settings (duplicates, inheritance from "defaults").
 *
 * Nothing here stops at the first error or logs: every problem becomes a
 * "FILE:LINE: message" entry, and conf_load() refuses the file at the end
 * with all of them, sorted by line.
 */
#include "config.h"

#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "conf/conf.h"
#include "lib/alloc.h"
#include "lib/net.h"

/*
 * Defaults.  contrib/fulcrum.conf documents each of them: keep both in step.
 */
#define DEF_MAXCONN_GLOBAL	4096	/* global.maxconn */
#define DEF_DRAIN_TIMEOUT	30000	/* ms */
#define DEF_LOG_ADDRESS		"/dev/log"
#define DEF_RETRIES		3
#define DEF_MAXCONN		2000	/* defaults.maxconn, per listener */
#define DEF_T_CONNECT		5000	/* ms */
#define DEF_T_CLIENT		50000
#define DEF_T_SERVER		50000
#define DEF_T_HTTP_REQUEST	10000
#define DEF_T_QUEUE		5000
#define DEF_CHECK_INTERVAL	2000	/* ms */
#define DEF_CHECK_TIMEOUT	2000	/* ms */
#define DEF_CHECK_RISE		2
#define DEF_CHECK_FALL		3
#define DEF_WEIGHT		1
#define DEF_PRIORITY		100
#define DEF_ADVERT_MS		1000
#define DEF_GARP_COUNT		5
#define DEF_GARP_REPEAT_MS	1000
#define DEF_STICK_EXPIRE	1800	/* seconds */
#define DEF_STICK_SIZE		100000	/* entries */

#define MAXCONN_MAX		1000000
#define TIMEOUT_MAX		86400000	/* one day, in ms */
#define CHECK_MAX		3600000		/* one hour, in ms */
#define COOKIE_AGE_MAX		31536000	/* one year, in seconds */
#define STICK_SIZE_MAX		10000000	/* 192 bytes each in shared memory */
#define DOMAIN_MAX		253		/* cookie.domain: a DNS name */

#define CTX_MAX			160	/* "listener "NAME" timeout" and such */

struct error {
	char *file;		/* the path as given, or an included file */
	int line;		/* 0: the file as a whole */
	int seq;		/* keeps errors of one line in the order found */
	char *msg;
};

struct bindref {		/* every bind address seen, for duplicates */
	const struct fc_addr *addr;
	const struct fc_listener *listener;
	int line;
};

struct loader {
	const char *path;	/* as given by the caller */
	char *incdir;		/* where @include looks: the file's directory */
	struct error *errs;
	int nerrs;
	struct bindref *binds;
	int nbinds;
};

struct key;
typedef void key_fn(struct loader *, const config_setting_t *, const char *,
    const struct key *, void *);

enum kind {
	K_INT,			/* int at off, in [min, max] */
	K_INT64,		/* long long at off, in [min, max] */
	K_BOOL,			/* bool at off */
	K_STR,			/* char * at off, malloc'd, not empty */
	K_FUNC,			/* fn does it all; off and max are fn's own */
};

#define REQ	0x01		/* the key must be present */

struct key {
	const char *name;
	enum kind kind;
	size_t off;
	long long min, max;
	int flags;
	key_fn *fn;
};

#define KEY(n, k, st, f, lo, hi, fl, fn) \
	{ n, k, offsetof(st, f), lo, hi, fl, fn }
#define INT(n, st, f, lo, hi, fl)	KEY(n, K_INT, st, f, lo, hi, fl, NULL)
#define INT64(n, st, f, lo, hi, fl)	KEY(n, K_INT64, st, f, lo, hi, fl, NULL)
#define BOOL(n, st, f)			KEY(n, K_BOOL, st, f, 0, 1, 0, NULL)
#define STR(n, st, f)			KEY(n, K_STR, st, f, 0, 0, 0, NULL)
/* A char array field: fn gets its size from max. */
#define ARR(n, st, f, fn, fl) \
	KEY(n, K_FUNC, st, f, 1, sizeof(((st *)0)->f) - 1, fl, fn)
/* A key whose function works on the whole object. */
#define FUNC(n, fn, fl)			{ n, K_FUNC, 0, 0, 0, fl, fn }
#define END				{ .name = NULL }

struct choice {
	const char *name;
	int value;
};

/* ------------------------------------------------------------ errors */

static void verr(struct loader *ld, const char *file, int line,
    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));
static void errat(struct loader *ld, const config_setting_t *s,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errfl(struct loader *ld, const char *file, int line,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * libconfig names a setting's file NULL when it is the main one, and an
 * included one as written after @include: make that usable from any
 * directory.  The caller frees the result.
 */
static char *error_file(const struct loader *ld, const char *file)
{
	char *out;
	size_t len;

	if (file == NULL)
		return xstrdup(ld->path);
	if (file[0] == '/' || ld->incdir == NULL)
		return xstrdup(file);
	len = strlen(ld->incdir) + strlen(file) + 2;
	out = xmalloc(len);
	snprintf(out, len, "%s/%s", ld->incdir, file);
	return out;
}

/*
 * A value quoted in a message may hold a newline or other control bytes
 * (libconfig strings can): written as \xNN, one error stays one line that
 * starts with FILE:LINE.  Takes msg, returns the string the caller frees.
 */
static char *escape_controls(char *msg)
{
	size_t n = 0, o = 0;
	char *out;

	for (const char *p = msg; *p != '\0'; p++)
		n += ((unsigned char)*p < 0x20 || *p == 0x7f) ? 4 : 1;
	out = xmalloc(n + 1);
	for (const char *p = msg; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(out + o, n + 1 - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
	free(msg);
	return out;
}

static void verr(struct loader *ld, const char *file, int line,
    const char *fmt, va_list ap)
{
	struct error *e;
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	ld->errs = xrealloc(ld->errs, (size_t)(ld->nerrs + 1) * sizeof(*ld->errs));
	e = &ld->errs[ld->nerrs];
	e->file = error_file(ld, file);
	e->line = line;
	e->seq = ld->nerrs++;
	e->msg = xmalloc((size_t)n + 1);
	vsnprintf(e->msg, (size_t)n + 1, fmt, ap);
	e->msg = escape_controls(e->msg);
}

/* An error about setting s, reported at its file and line. */
static void errat(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(ld, config_setting_source_file(s), (int)config_setting_source_line(s),
	    fmt, ap);
	va_end(ap);
}

static void errfl(struct loader *ld, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(ld, file, line, fmt, ap);
	va_end(ap);
}

static int cmp_error(const void *a, const void *b)
{
	const struct error *x = a, *y = b;
	int c = strcmp(x->file, y->file);

	if (c != 0)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Every error, sorted by file and line, one "FILE:LINE: message" a line.
 * The caller frees the result.
 */
static char *join_errors(struct loader *ld)
{
	size_t len = 1, off = 0;
	char *out;
	int i;

	qsort(ld->errs, (size_t)ld->nerrs, sizeof(*ld->errs), cmp_error);
	for (i = 0; i < ld->nerrs; i++)
		len += strlen(ld->errs[i].file) + strlen(ld->errs[i].msg) + 16;
	out = xmalloc(len);
	out[0] = '\0';
	for (i = 0; i < ld->nerrs; i++) {
		const struct error *e = &ld->errs[i];
		const char *sep = i > 0 ? "\n" : "";

		if (e->line > 0)
			off += (size_t)snprintf(out + off, len - off, "%s%s:%d: %s",
			    sep, e->file, e->line, e->msg);
		else
			off += (size_t)snprintf(out + off, len - off, "%s%s: %s",
			    sep, e->file, e->msg);
	}
	return out;
}

static void loader_free(struct loader *ld)
{
	int i;

	for (i = 0; i < ld->nerrs; i++) {
		free(ld->errs[i].file);
		free(ld->errs[i].msg);
	}
	free(ld->errs);
	free(ld->incdir);
	free(ld->binds);
}

/* ------------------------------------------------- generic key checks */

static bool is_name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* RFC 9110 tchar: what a cookie name or a method may be made of. */
static bool is_token_char(int c)
{
	return is_name_char(c) || (c != '\0' && strchr("!#$%&'*+^`|~", c) != NULL);
}

static bool all_chars(const char *s, bool (*ok)(int))
{
	for (; *s != '\0'; s++)
		if (!ok((unsigned char)*s))
			return false;
	return true;
}

static bool is_integer(const config_setting_t *s)
{
	/* "5000" and "5000L" are both integers to a human. */
	return config_setting_type(s) == CONFIG_TYPE_INT ||
	    config_setting_type(s) == CONFIG_TYPE_INT64;
}

static int get_int(struct loader *ld, const config_setting_t *s, const char *ctx,
    long long min, long long max, long long *v)
{
	if (!is_integer(s)) {
		errat(ld, s, "%s: \"%s\" must be an integer", ctx, config_setting_name(s));
		return -1;
	}
	*v = config_setting_get_int64(s);
	if (*v < min || *v > max) {
		errat(ld, s, "%s: \"%s\" must be between %lld and %lld", ctx,
		    config_setting_name(s), min, max);
		return -1;
	}
	return 0;
}

/* The setting's string, or NULL after an error when it is not a non-empty string. */
static const char *get_str(struct loader *ld, const config_setting_t *s, const char *ctx)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		errat(ld, s, "%s: \"%s\" must be a string", ctx, config_setting_name(s));
		return NULL;
	}
	v = config_setting_get_string(s);
	if (*v == '\0') {
		errat(ld, s, "%s: \"%s\" must not be empty", ctx, config_setting_name(s));
		return NULL;
	}
	return v;
}

/* Appends s to the string in buf, truncating to size. */
static void append(char *buf, size_t size, const char *s)
{
	size_t len = strlen(buf), n = strlen(s);

	if (n > size - len - 1)
		n = size - len - 1;
	memcpy(buf + len, s, n);
	buf[len + n] = '\0';
}

/* Maps a string setting through table; -1 after an error. */
static int get_choice(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct choice *table)
{
	const struct choice *c;
	char names[160] = "";
	const char *v;

	if ((v = get_str(ld, s, ctx)) == NULL)
		return -1;
	for (c = table; c->name != NULL; c++)
		if (strcmp(c->name, v) == 0)
			return c->value;
	for (c = table; c->name != NULL; c++) {
		append(names, sizeof(names), c == table ? "" : ", ");
		append(names, sizeof(names), c->name);
	}
	errat(ld, s, "%s: \"%s\" must be one of: %s", ctx, config_setting_name(s), names);
	return -1;
}

static void apply_key(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	void *field = (char *)obj + k->off;
	const char *str;
	long long v;

	switch (k->kind) {
	case K_INT:
		if (get_int(ld, s, ctx, k->min, k->max, &v) == 0)
			*(int *)field = (int)v;
		break;
	case K_INT64:
		if (get_int(ld, s, ctx, k->min, k->max, &v) == 0)
			*(long long *)field = v;
		break;
	case K_BOOL:
		/* No 0/1 or "yes": libconfig's own true/false only. */
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			errat(ld, s, "%s: \"%s\" must be true or false", ctx, k->name);
		else
			*(bool *)field = config_setting_get_bool(s) != 0;
		break;
	case K_STR:
		if ((str = get_str(ld, s, ctx)) != NULL) {
			free(*(char **)field);
			*(char **)field = xstrdup(str);
		}
		break;
	case K_FUNC:
		k->fn(ld, s, ctx, k, obj);
		break;
	}
}

/*
 * Applies every member of group to obj through keys: an unknown key, a
 * wrong type or a value out of range is an error, and so is a REQ key
 * left out (reported at the group's line).
 */
static void walk(struct loader *ld, const config_setting_t *group, const char *ctx,
    const struct key *keys, void *obj)
{
	unsigned long long seen = 0;
	const struct key *k;
	int i, n = config_setting_length(group);

	for (i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);

		for (k = keys; k->name != NULL && strcmp(k->name, name) != 0; k++)
			;
		if (k->name == NULL) {
			errat(ld, s, "unknown key \"%s\" in %s", name, ctx);
			continue;
		}
		seen |= 1ULL << (k - keys);
		apply_key(ld, s, ctx, k, obj);
	}
	for (k = keys; k->name != NULL; k++)
		if ((k->flags & REQ) && !(seen & (1ULL << (k - keys))))
			errat(ld, group, "%s: missing \"%s\"", ctx, k->name);
}

/* Walks s as a sub-group named after its key: "listener "web" timeout". */
static void walk_sub(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *keys, void *obj)
{
	char sub[CTX_MAX];

	if (!config_setting_is_group(s)) {
		errat(ld, s, "%s: \"%s\" must be a group { ... }", ctx, config_setting_name(s));
		return;
	}
	snprintf(sub, sizeof(sub), "%s %s", ctx, config_setting_name(s));
	walk(ld, s, sub, keys, obj);
}

/* A char array of max+1 bytes holding a name: 1..max of [A-Za-z0-9_.-]. */
static void key_name(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	const char *v = get_str(ld, s, ctx);

	if (v == NULL)
		return;
	if (strlen(v) > (size_t)k->max || !all_chars(v, is_name_char)) {
		errat(ld, s, "%s: \"%s\" must be 1 to %lld characters of [A-Za-z0-9_.-]",
		    ctx, k->name, k->max);
		return;
	}
	memcpy((char *)obj + k->off, v, strlen(v) + 1);
}

/*
 * Checks that s is an array or a list of strings (or, when scalar_ok, a
 * single string) and returns how many; -1 after an error.
 */
static int str_list(struct loader *ld, const config_setting_t *s, const char *ctx,
    bool scalar_ok)
{
	int i, n, type = config_setting_type(s);

	if (scalar_ok && type == CONFIG_TYPE_STRING)
		return 1;
	if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
		goto bad;
	n = config_setting_length(s);
	for (i = 0; i < n; i++)
		if (config_setting_type(config_setting_get_elem(s, (unsigned)i)) !=
		    CONFIG_TYPE_STRING)
			goto bad;
	return n;
bad:
	errat(ld, s, "%s: \"%s\" must be %san array of strings [ \"...\", ... ]", ctx,
	    config_setting_name(s), scalar_ok ? "a string or " : "");
	return -1;
}

static const config_setting_t *str_elem(const config_setting_t *s, int i)
{
	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		return s;
	return config_setting_get_elem(s, (unsigned)i);
}

/* Parses an "IP:PORT" element; the error names what (e.g. "listener "x" bind"). */
static int get_addr(struct loader *ld, const config_setting_t *e, const char *what,
    struct fc_addr *addr)
{
	const char *text = config_setting_get_string(e);
	char err[160];

	if (strlen(text) >= FC_ADDRSTRLEN) {
		errat(ld, e, "%s: invalid address \"%s\" (too long)", what, text);
		return -1;
	}
	if (net_parse_addr(text, addr, err, sizeof(err)) == 0)
		return 0;
	/* net_parse_addr() sometimes names the text itself, sometimes not. */
	if (strncmp(err, "invalid address", 15) == 0)
		errat(ld, e, "%s: %s", what, err);
	else
		errat(ld, e, "%s: invalid address \"%s\": %s", what, text, err);
	return -1;
}

static bool is_any_addr(const struct fc_addr *a)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->ss;

	if (a->ss.ss_family == AF_INET)
		return sin->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
}

/* ------------------------------------------------------------- global */

static const struct choice facilities[] = {
	{ "user", LOG_USER }, { "daemon", LOG_DAEMON },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	{ NULL, 0 },
};

static void key_facility(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_log *log = obj;
	int v = get_choice(ld, s, ctx, facilities);

	(void)k;
	if (v >= 0)
		log->facility = v;
}

static const struct key log_keys[] = {
	FUNC("facility", key_facility, 0),
	STR("address", struct fc_log, address),
	END,
};

static void key_log(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_conf *conf = obj;

	(void)k;
	conf->log.enabled = true;
	walk_sub(ld, s, ctx, log_keys, &conf->log);
}

static const struct key global_keys[] = {
	STR("user", struct fc_conf, user),
	STR("group", struct fc_conf, group),
	INT("workers", struct fc_conf, workers, 0, FC_WORKERS_MAX, 0),
	INT("maxconn", struct fc_conf, maxconn, 1, MAXCONN_MAX, 0),
	STR("pidfile", struct fc_conf, pidfile),
	INT("drain_timeout", struct fc_conf, drain_timeout, 0, 3600000, 0),
	INT("busy_poll_us", struct fc_conf, busy_poll_us, 0, 10000, 0),
	FUNC("log", key_log, 0),
	END,
};

static void global_defaults(struct fc_conf *conf)
{
	conf->workers = 0;
	conf->maxconn = DEF_MAXCONN_GLOBAL;
	conf->drain_timeout = DEF_DRAIN_TIMEOUT;
	conf->busy_poll_us = 0;
	conf->log.enabled = false;
	conf->log.facility = LOG_LOCAL0;
	conf->log.address = xstrdup(DEF_LOG_ADDRESS);
}

/* workers = 0 (or absent) means one per online CPU. */
static int resolve_workers(int workers)
{
	long n;

	if (workers > 0)
		return workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > FC_WORKERS_MAX ? FC_WORKERS_MAX : (int)n;
}

/* ---------------------------------------- defaults and listener scalars */

static const struct key timeout_keys[] = {
	INT("connect", struct fc_timeouts, connect, 1, TIMEOUT_MAX, 0),
	INT("client", struct fc_timeouts, client, 1, TIMEOUT_MAX, 0),
	INT("server", struct fc_timeouts, server, 1, TIMEOUT_MAX, 0),
	INT("http_request", struct fc_timeouts, http_request, 1, TIMEOUT_MAX, 0),
	INT("queue", struct fc_timeouts, queue, 1, TIMEOUT_MAX, 0),
	END,
};

static void key_timeout(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_listener *l = obj;

	(void)k;
	/* Only the keys given change: the rest stay as inherited. */
	walk_sub(ld, s, ctx, timeout_keys, &l->timeout);
}

static const struct key limits_keys[] = {
	INT("request_line", struct fc_limits, request_line, 64, FC_LIMIT_LINE_MAX, 0),
	INT("header_size", struct fc_limits, header_size, 1024, FC_LIMIT_HEAD_MAX, 0),
	INT("headers", struct fc_limits, headers, 1, FC_LIMIT_HEADERS_MAX, 0),
	INT64("body", struct fc_limits, body, 0, INT64_C(1) << 50, 0),
	END,
};

static void key_limits(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_listener *l = obj;

	(void)k;
	walk_sub(ld, s, ctx, limits_keys, &l->limits);
}

static const struct choice balances[] = {
	{ "roundrobin", FC_BALANCE_ROUNDROBIN },
	{ "leastconn", FC_BALANCE_LEASTCONN },
	{ "source", FC_BALANCE_SOURCE },
	{ NULL, 0 },
};

static void key_balance(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_listener *l = obj;
	int v = get_choice(ld, s, ctx, balances);

	(void)k;
	if (v >= 0)
		l->balance = (enum fc_balance)v;
}

/* "defaults" fills a template listener that every listener starts from. */
static const struct key defaults_keys[] = {
	INT("retries", struct fc_listener, retries, 0, 100, 0),
	INT("maxconn", struct fc_listener, maxconn, 1, MAXCONN_MAX, 0),
	FUNC("timeout", key_timeout, 0),
	FUNC("limits", key_limits, 0),
	FUNC("balance", key_balance, 0),
	BOOL("forwardfor", struct fc_listener, forwardfor),
	BOOL("forwardfor_replace", struct fc_listener, forwardfor_replace),
	BOOL("httpclose", struct fc_listener, httpclose),
	END,
};

static void listener_template(struct fc_listener *l)
{
	memset(l, 0, sizeof(*l));
	l->balance = FC_BALANCE_ROUNDROBIN;
	l->retries = DEF_RETRIES;
	l->maxconn = DEF_MAXCONN;
	l->timeout.connect = DEF_T_CONNECT;
	l->timeout.client = DEF_T_CLIENT;
	l->timeout.server = DEF_T_SERVER;
	l->timeout.http_request = DEF_T_HTTP_REQUEST;
	l->timeout.queue = DEF_T_QUEUE;
	l->limits.request_line = FC_LIMIT_LINE_MAX;
	l->limits.header_size = FC_LIMIT_HEAD_MAX;
	l->limits.headers = FC_LIMIT_HEADERS_MAX;
	l->limits.body = 0;
	/* Filled even without a "check" group: servers with check = true
	 * then get TCP checks at these rates. */
	l->check.interval = DEF_CHECK_INTERVAL;
	l->check.timeout = DEF_CHECK_TIMEOUT;
	l->check.rise = DEF_CHECK_RISE;
	l->check.fall = DEF_CHECK_FALL;
	l->cookie.mode = FC_COOKIE_NONE;
}

/* -------------------------------------------------------------- check */

/* "METHOD URI [HTTP/1.x]": the checker sends it as the request line. */
static bool valid_request(const char *v)
{
	char method[32], uri[1024], version[16], extra;
	const char *p;
	int n;

	if (strlen(v) >= sizeof(uri) || strstr(v, "  ") != NULL || v[0] == ' ' ||
	    v[strlen(v) - 1] == ' ')
		return false;
	for (p = v; *p != '\0'; p++)
		if (*p < 0x20 || *p > 0x7e)
			return false;
	n = sscanf(v, "%31s %1023s %15s %c", method, uri, version, &extra);
	if (n < 2 || n > 3 || !all_chars(method, is_token_char))
		return false;
	if (uri[0] != '/' && strcmp(uri, "*") != 0)
		return false;
	return n == 2 || strcmp(version, "HTTP/1.0") == 0 ||
	    strcmp(version, "HTTP/1.1") == 0;
}

static void key_request(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_check *check = obj;
	const char *v = get_str(ld, s, ctx);

	(void)k;
	if (v == NULL)
		return;
	if (!valid_request(v)) {
		errat(ld, s, "%s: \"request\" must be \"METHOD URI [HTTP/1.0|HTTP/1.1]\","
		    " for example \"HEAD /check.txt HTTP/1.0\"", ctx);
		return;
	}
	free(check->request);
	check->request = xstrdup(v);
}

static const struct key check_keys[] = {
	FUNC("request", key_request, 0),
	INT("expect_status", struct fc_check, expect_status, 100, 599, 0),
	INT("interval", struct fc_check, interval, 100, CHECK_MAX, 0),
	INT("timeout", struct fc_check, timeout, 1, CHECK_MAX, 0),
	INT("rise", struct fc_check, rise, 1, 100, 0),
	INT("fall", struct fc_check, fall, 1, 100, 0),
	END,
};

static void key_check(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_listener *l = obj;

	(void)k;
	walk_sub(ld, s, ctx, check_keys, &l->check);
}

/* ------------------------------------------------------------- cookie */

static void key_cookie_name(struct loader *ld, const config_setting_t *s,
    const char *ctx, const struct key *k, void *obj)
{
	struct fc_cookie *c = obj;
	const char *v = get_str(ld, s, ctx);

	(void)k;
	if (v == NULL)
		return;
	if (strlen(v) >= sizeof(c->name) || !all_chars(v, is_token_char)) {
		errat(ld, s, "%s: \"name\" must be 1 to %zu characters of a cookie"
		    " name (letters, digits, !#$%%&'*+-.^_`|~)", ctx, sizeof(c->name) - 1);
		return;
	}
	memcpy(c->name, v, strlen(v) + 1);
}

static const struct choice cookie_modes[] = {
	{ "prefix", FC_COOKIE_PREFIX },
	{ "insert", FC_COOKIE_INSERT },
	{ "rewrite", FC_COOKIE_REWRITE },
	{ NULL, 0 },
};

static void key_cookie_mode(struct loader *ld, const config_setting_t *s,
    const char *ctx, const struct key *k, void *obj)
{
	struct fc_cookie *c = obj;
	int v = get_choice(ld, s, ctx, cookie_modes);

	(void)k;
	if (v >= 0)
		c->mode = (enum fc_cookie_mode)v;
}

static bool is_domain_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '-';
}

/* Copied into every inserted Set-Cookie: a host name, nothing that could
 * end the attribute or the header line. */
static void key_cookie_domain(struct loader *ld, const config_setting_t *s,
    const char *ctx, const struct key *k, void *obj)
{
	struct fc_cookie *c = obj;
	const char *v = get_str(ld, s, ctx);

	(void)k;
	if (v == NULL)
		return;
	if (strlen(v) > DOMAIN_MAX || !all_chars(v, is_domain_char)) {
		errat(ld, s, "%s: \"domain\" must be a host name of 1 to %d characters"
		    " (letters, digits, '.', '-')", ctx, DOMAIN_MAX);
		return;
	}
	free(c->domain);
	c->domain = xstrdup(v);
}

static const struct key cookie_keys[] = {
	FUNC("name", key_cookie_name, REQ),
	FUNC("mode", key_cookie_mode, REQ),
	BOOL("indirect", struct fc_cookie, indirect),
	BOOL("nocache", struct fc_cookie, nocache),
	BOOL("httponly", struct fc_cookie, httponly),
	BOOL("secure", struct fc_cookie, secure),
	FUNC("domain", key_cookie_domain, 0),
	INT("maxidle", struct fc_cookie, maxidle, 0, COOKIE_AGE_MAX, 0),
	INT("maxlife", struct fc_cookie, maxlife, 0, COOKIE_AGE_MAX, 0),
	END,
};

static void key_cookie(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_listener *l = obj;

	(void)k;
	walk_sub(ld, s, ctx, cookie_keys, &l->cookie);
}

/* -------------------------------------------------------------- stick */

/* A char array of max+1 bytes holding a cookie name: 1..max token chars. */
static void key_token(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	const char *v = get_str(ld, s, ctx);

	if (v == NULL)
		return;
	if (strlen(v) > (size_t)k->max || !all_chars(v, is_token_char)) {
		errat(ld, s, "%s: \"%s\" must be 1 to %lld characters of a cookie"
		    " name (letters, digits, !#$%%&'*+-.^_`|~)", ctx, k->name, k->max);
		return;
	}
	memcpy((char *)obj + k->off, v, strlen(v) + 1);
}

static const struct key stick_keys[] = {
	ARR("cookie", struct fc_stick, cookie, key_token, REQ),
	INT("expire", struct fc_stick, expire, 1, COOKIE_AGE_MAX, 0),
	INT("size", struct fc_stick, size, 1, STICK_SIZE_MAX, 0),
	END,
};

/* The group's presence turns learning on: its defaults start here. */
static void key_stick(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_listener *l = obj;

	(void)k;
	l->stick.expire = DEF_STICK_EXPIRE;
	l->stick.size = DEF_STICK_SIZE;
	walk_sub(ld, s, ctx, stick_keys, &l->stick);
}

/* -------------------------------------------------------------- stats */

static void key_uri(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_stats *st = obj;
	const char *v = get_str(ld, s, ctx), *p;

	(void)k;
	if (v == NULL)
		return;
	for (p = v; *p > 0x20 && *p < 0x7f; p++)
		;
	if (v[0] != '/' || *p != '\0') {
		errat(ld, s, "%s: \"uri\" must start with '/' and hold no spaces", ctx);
		return;
	}
	free(st->uri);
	st->uri = xstrdup(v);
}

static void key_auth(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_stats *st = obj;
	int i, n = str_list(ld, s, ctx, false);

	(void)k;
	if (n < 0)
		return;
	st->auth = xcalloc((size_t)n, sizeof(*st->auth));
	st->nauth = n;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = str_elem(s, i);
		const char *v = config_setting_get_string(e);
		const char *colon = strchr(v, ':');

		if (colon == NULL || colon == v) {
			errat(ld, e, "%s: \"auth\" entries must be \"user:password\"", ctx);
			continue;
		}
		st->auth[i] = xstrdup(v);
	}
}

static const struct key stats_keys[] = {
	FUNC("uri", key_uri, REQ),
	FUNC("auth", key_auth, 0),
	INT("refresh", struct fc_stats, refresh, 0, 86400, 0),
	END,
};

static void key_stats(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_listener *l = obj;

	(void)k;
	walk_sub(ld, s, ctx, stats_keys, &l->stats);
}

/* ------------------------------------------------------------ servers */

static void key_server_addr(struct loader *ld, const config_setting_t *s,
    const char *ctx, const struct key *k, void *obj)
{
	struct fc_server *sv = obj;
	const char *v = get_str(ld, s, ctx);

	(void)k;
	if (v == NULL || get_addr(ld, s, ctx, &sv->addr) < 0)
		return;
	if (is_any_addr(&sv->addr)) {
		errat(ld, s, "%s: invalid address \"%s\" (a server needs a specific"
		    " address, not a wildcard)", ctx, v);
		return;
	}
	snprintf(sv->addr_text, sizeof(sv->addr_text), "%s", v);
}

static const struct key server_keys[] = {
	ARR("name", struct fc_server, name, key_name, REQ),
	FUNC("address", key_server_addr, REQ),
	INT("weight", struct fc_server, weight, 0, 256, 0),
	INT("maxconn", struct fc_server, maxconn, 0, MAXCONN_MAX, 0),
	BOOL("check", struct fc_server, check),
	/* Same charset as names: the value travels in a cookie, and a
	 * prefix cookie must be split again on its delimiter. */
	ARR("cookie", struct fc_server, cookie, key_name, 0),
	END,
};

/* "server "webA"", or "server #2" while it has no usable name. */
static void object_ctx(char *ctx, size_t len, const char *kind,
    const config_setting_t *group, int index)
{
	const config_setting_t *name = config_setting_get_member(group, "name");

	if (name != NULL && config_setting_type(name) == CONFIG_TYPE_STRING &&
	    *config_setting_get_string(name) != '\0')
		snprintf(ctx, len, "%s \"%.80s\"", kind, config_setting_get_string(name));
	else
		snprintf(ctx, len, "%s #%d", kind, index + 1);
}

static void check_server_dups(struct loader *ld, const config_setting_t *e,
    const char *lctx, const struct fc_listener *l, int i)
{
	const struct fc_server *sv = &l->servers[i];
	int j;

	for (j = 0; j < i; j++) {
		const struct fc_server *o = &l->servers[j];

		if (sv->name[0] != '\0' && strcmp(o->name, sv->name) == 0)
			errat(ld, e, "%s: duplicate server name \"%s\" (first at line %d)",
			    lctx, sv->name, o->line);
		else if (sv->cookie[0] != '\0' && strcmp(o->cookie, sv->cookie) == 0)
			errat(ld, e, "%s: server \"%s\" has the same cookie \"%s\" as"
			    " server \"%s\" (line %d)", lctx, sv->name, sv->cookie,
			    o->name, o->line);
	}
}

static void parse_server(struct loader *ld, const config_setting_t *e,
    const char *lctx, struct fc_listener *l, int i)
{
	struct fc_server *sv = &l->servers[i];
	char ctx[CTX_MAX];

	sv->weight = DEF_WEIGHT;
	sv->line = (int)config_setting_source_line(e);
	if (!config_setting_is_group(e)) {
		errat(ld, e, "%s: server #%d must be a group { ... }", lctx, i + 1);
		return;
	}
	object_ctx(ctx, sizeof(ctx), "server", e, i);
	walk(ld, e, ctx, server_keys, sv);
	if (sv->cookie[0] == '\0')
		memcpy(sv->cookie, sv->name, sizeof(sv->cookie));
	check_server_dups(ld, e, lctx, l, i);
}

static void key_servers(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_listener *l = obj;
	int i, n = config_setting_length(s);

	(void)k;
	/* "[ ]" is how libconfig types an empty list. */
	if (!config_setting_is_list(s) && !(config_setting_is_array(s) && n == 0)) {
		errat(ld, s, "%s: \"servers\" must be a list of groups ( { ... }, ... )", ctx);
		return;
	}
	if (n == 0) {
		errat(ld, s, "%s: \"servers\" must hold at least one server", ctx);
		return;
	}
	l->servers = xcalloc((size_t)n, sizeof(*l->servers));
	l->nservers = n;
	for (i = 0; i < n; i++)
		parse_server(ld, config_setting_get_elem(s, (unsigned)i), ctx, l, i);
}

/* ----------------------------------------------------------- listener */

/* Remembers a bind address; the same address twice is an error. */
static void register_bind(struct loader *ld, const config_setting_t *e,
    const char *ctx, const struct fc_listener *l, const struct fc_addr *addr)
{
	const char *text = config_setting_get_string(e);
	int i;

	for (i = 0; i < ld->nbinds; i++) {
		const struct bindref *b = &ld->binds[i];

		if (!net_addr_equal(b->addr, addr))
			continue;
		if (b->listener == l)
			errat(ld, e, "%s: duplicate bind address \"%s\" (line %d)",
			    ctx, text, b->line);
		else
			errat(ld, e, "%s: bind address \"%s\" already used by listener"
			    " \"%s\" (line %d)", ctx, text, b->listener->name, b->line);
		return;
	}
	ld->binds = xrealloc(ld->binds, (size_t)(ld->nbinds + 1) * sizeof(*ld->binds));
	ld->binds[ld->nbinds].addr = addr;
	ld->binds[ld->nbinds].listener = l;
	ld->binds[ld->nbinds].line = (int)config_setting_source_line(e);
	ld->nbinds++;
}

static void key_bind(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_listener *l = obj;
	char what[CTX_MAX];
	int i, n = str_list(ld, s, ctx, true);

	(void)k;
	if (n < 0)
		return;
	if (n == 0) {
		errat(ld, s, "%s: \"bind\" must hold at least one address", ctx);
		return;
	}
	l->binds = xcalloc((size_t)n, sizeof(*l->binds));
	l->bind_text = xcalloc((size_t)n, sizeof(*l->bind_text));
	l->nbinds = n;
	snprintf(what, sizeof(what), "%s bind", ctx);
	for (i = 0; i < n; i++) {
		const config_setting_t *e = str_elem(s, i);

		if (get_addr(ld, e, what, &l->binds[i]) < 0)
			continue;
		snprintf(l->bind_text[i], sizeof(l->bind_text[i]), "%s",
		    config_setting_get_string(e));
		register_bind(ld, e, ctx, l, &l->binds[i]);
	}
}

static const struct key listener_keys[] = {
	ARR("name", struct fc_listener, name, key_name, REQ),
	FUNC("bind", key_bind, REQ),
	FUNC("balance", key_balance, 0),
	BOOL("forwardfor", struct fc_listener, forwardfor),
	BOOL("forwardfor_replace", struct fc_listener, forwardfor_replace),
	BOOL("httpclose", struct fc_listener, httpclose),
	INT("retries", struct fc_listener, retries, 0, 100, 0),
	INT("maxconn", struct fc_listener, maxconn, 1, MAXCONN_MAX, 0),
	FUNC("timeout", key_timeout, 0),
	FUNC("limits", key_limits, 0),
	FUNC("check", key_check, 0),
	FUNC("cookie", key_cookie, 0),
	FUNC("stick", key_stick, 0),
	FUNC("stats", key_stats, 0),
	FUNC("servers", key_servers, REQ),
	END,
};

static void parse_listener(struct loader *ld, const config_setting_t *e,
    struct fc_conf *conf, const struct fc_listener *template, int i)
{
	struct fc_listener *l = &conf->listeners[i];
	char ctx[CTX_MAX];
	int j;

	/* The template holds no pointers: a plain copy is safe. */
	*l = *template;
	l->line = (int)config_setting_source_line(e);
	if (!config_setting_is_group(e)) {
		errat(ld, e, "listener #%d must be a group { ... }", i + 1);
		return;
	}
	object_ctx(ctx, sizeof(ctx), "listener", e, i);
	walk(ld, e, ctx, listener_keys, l);
	/* One cookie cannot be both rewritten by fulcrum and learned as is. */
	if (l->cookie.mode != FC_COOKIE_NONE && strcmp(l->cookie.name, l->stick.cookie) == 0)
		errat(ld, e, "%s: \"stick.cookie\" and \"cookie.name\" must differ (both are"
		    " \"%s\")", ctx, l->stick.cookie);
	if (l->forwardfor_replace && !l->forwardfor)
		errat(ld, e, "%s: \"forwardfor_replace\" needs \"forwardfor = true\"", ctx);
	for (j = 0; j < i && l->name[0] != '\0'; j++)
		if (strcmp(conf->listeners[j].name, l->name) == 0)
			errat(ld, e, "duplicate listener name \"%s\" (first at line %d)",
			    l->name, conf->listeners[j].line);
}

static void parse_listeners(struct loader *ld, const config_setting_t *s,
    struct fc_conf *conf, const struct fc_listener *template)
{
	int i, n = config_setting_length(s);

	if (!config_setting_is_list(s) && !(config_setting_is_array(s) && n == 0)) {
		errat(ld, s, "\"listeners\" must be a list of groups ( { ... }, ... )");
		return;
	}
	if (n == 0) {
		errat(ld, s, "\"listeners\" must hold at least one listener");
		return;
	}
	conf->listeners = xcalloc((size_t)n, sizeof(*conf->listeners));
	conf->nlisteners = n;
	for (i = 0; i < n; i++)
		parse_listener(ld, config_setting_get_elem(s, (unsigned)i), conf,
		    template, i);
}

/* ----------------------------------------------------------------- ha */

/* Linux accepts any interface name but "", ".", "..", or one with '/', ':' or spaces. */
static void key_ifname(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	const char *v = get_str(ld, s, ctx);

	if (v == NULL)
		return;
	if (strlen(v) > (size_t)k->max || strcmp(v, ".") == 0 || strcmp(v, "..") == 0 ||
	    strpbrk(v, "/: \t\n") != NULL) {
		errat(ld, s, "%s: \"%s\" must be a network interface name of 1 to %lld"
		    " characters", ctx, k->name, k->max);
		return;
	}
	memcpy((char *)obj + k->off, v, strlen(v) + 1);
}

static void key_advert(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_ha *ha = obj;
	long long v;

	(void)k;
	if (get_int(ld, s, ctx, 10, 40950, &v) < 0)
		return;
	if (v % 10 != 0) {
		errat(ld, s, "%s: \"advert_ms\" must be a multiple of 10 (VRRP counts"
		    " in centiseconds)", ctx);
		return;
	}
	ha->advert_ms = (int)v;
}

static void key_vips(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_ha *ha = obj;
	char err[160];
	int i, j, n = str_list(ld, s, ctx, false);

	(void)k;
	if (n < 0)
		return;
	if (n == 0) {
		errat(ld, s, "%s: \"vips\" must hold at least one address", ctx);
		return;
	}
	if (n > FC_VIPS_MAX) {
		errat(ld, s, "%s: \"vips\" holds at most %d addresses (one VRRP advert)",
		    ctx, FC_VIPS_MAX);
		return;
	}
	ha->vips = xcalloc((size_t)n, sizeof(*ha->vips));
	ha->nvips = n;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = str_elem(s, i);
		struct fc_vip *vip = &ha->vips[i];

		if (net_parse_prefix(config_setting_get_string(e), &vip->addr,
		    &vip->prefixlen, err, sizeof(err)) < 0) {
			errat(ld, e, "%s vips: %s", ctx, err);
			continue;
		}
		for (j = 0; j < i; j++)
			if (net_addr_equal(&ha->vips[j].addr, &vip->addr))
				errat(ld, e, "%s vips: duplicate address \"%s\"", ctx,
				    config_setting_get_string(e));
	}
}

static void key_peers(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_ha *ha = obj;
	char err[160];
	int i, plen, n = str_list(ld, s, ctx, false);

	(void)k;
	if (n < 0)
		return;
	ha->peers = xcalloc((size_t)n, sizeof(*ha->peers));
	ha->npeers = n;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = str_elem(s, i);
		const char *v = config_setting_get_string(e);

		if (net_parse_prefix(v, &ha->peers[i], &plen, err, sizeof(err)) < 0) {
			errat(ld, e, "%s peers: %s", ctx, err);
			continue;
		}
		/* "/32" is a host; anything shorter is a network, not a peer. */
		if (plen != (ha->peers[i].ss.ss_family == AF_INET ? 32 : 128))
			errat(ld, e, "%s peers: \"%s\" must be a host address"
			    " (no prefix, no port)", ctx, v);
	}
}

/* A host address, no prefix. */
static void key_unicast_src(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_ha *ha = obj;
	const char *v = get_str(ld, s, ctx);
	char err[160];
	int plen;

	(void)k;
	if (v == NULL)
		return;
	if (net_parse_prefix(v, &ha->unicast_src, &plen, err, sizeof(err)) < 0) {
		errat(ld, s, "%s unicast_src: %s", ctx, err);
		return;
	}
	if (ha->unicast_src.ss.ss_family != AF_INET || plen != 32) {
		errat(ld, s, "%s: \"unicast_src\" must be an IPv4 host address", ctx);
		return;
	}
	ha->has_unicast_src = true;
}

/* Checked at load time: a typo would otherwise surface at the first failover. */
static void key_notify(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_ha *ha = obj;
	const char *v = get_str(ld, s, ctx);

	(void)k;
	if (v == NULL)
		return;
	if (v[0] != '/') {
		errat(ld, s, "%s: \"notify\" must be an absolute path", ctx);
		return;
	}
	if (access(v, X_OK) < 0) {
		errat(ld, s, "%s: \"notify\": %s is not an executable file (%s)", ctx, v,
		    strerror(errno));
		return;
	}
	free(ha->notify);
	ha->notify = xstrdup(v);
}

static void key_auth_key(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_ha *ha = obj;
	const char *v = get_str(ld, s, ctx);

	(void)k;
	if (v == NULL)
		return;
	if (strlen(v) < FC_AUTH_KEY_MIN || strlen(v) > FC_AUTH_KEY_MAX) {
		errat(ld, s, "%s: \"auth_key\" must be %d to %d characters long", ctx,
		    FC_AUTH_KEY_MIN, FC_AUTH_KEY_MAX);
		return;
	}
	free(ha->auth_key);
	ha->auth_key = xstrdup(v);
}

static const struct key ha_keys[] = {
	ARR("interface", struct fc_ha, interface, key_ifname, REQ),
	INT("vrid", struct fc_ha, vrid, 1, 255, REQ),
	INT("priority", struct fc_ha, priority, 1, 254, 0),
	FUNC("advert_ms", key_advert, 0),
	BOOL("preempt", struct fc_ha, preempt),
	BOOL("track_proxy", struct fc_ha, track_proxy),
	FUNC("vips", key_vips, REQ),
	FUNC("peers", key_peers, 0),
	FUNC("unicast_src", key_unicast_src, 0),
	INT("garp_count", struct fc_ha, garp_count, 0, 100, 0),
	INT("garp_repeat_ms", struct fc_ha, garp_repeat_ms, 10, 600000, 0),
	FUNC("notify", key_notify, 0),
	FUNC("auth_key", key_auth_key, 0),
	END,
};

/* One VRRP instance speaks IPv4 or IPv6 (RFC 5798 5.2.9), never both. */
static void check_ha_families(struct loader *ld, const config_setting_t *s,
    const struct fc_ha *ha)
{
	int i, family;

	if (ha->nvips == 0)
		return;
	family = ha->vips[0].addr.ss.ss_family;
	for (i = 1; i < ha->nvips; i++)
		if (ha->vips[i].addr.ss.ss_family != family) {
			errat(ld, config_setting_get_member(s, "vips"),
			    "ha: \"vips\" must be all IPv4 or all IPv6");
			return;
		}
	for (i = 0; i < ha->npeers; i++)
		if (ha->peers[i].ss.ss_family != family) {
			errat(ld, config_setting_get_member(s, "peers"),
			    "ha: \"peers\" must be of the same family (IPv4 or IPv6)"
			    " as \"vips\"");
			return;
		}
	if (family == AF_INET6)
		errat(ld, config_setting_get_member(s, "vips"),
		    "ha: IPv6 \"vips\" are not supported yet (VRRPv3 over IPv4 only)");
}

static void parse_ha(struct loader *ld, const config_setting_t *s, struct fc_ha *ha)
{
	ha->enabled = true;
	ha->priority = DEF_PRIORITY;
	ha->advert_ms = DEF_ADVERT_MS;
	ha->preempt = true;
	ha->track_proxy = true;
	ha->garp_count = DEF_GARP_COUNT;
	ha->garp_repeat_ms = DEF_GARP_REPEAT_MS;
	walk(ld, s, "ha", ha_keys, ha);
	check_ha_families(ld, s, ha);
}

/* --------------------------------------------------------------- file */

static const char *const sections[] = { "global", "defaults", "listeners", "ha", NULL };

/* The sections, in the order that inheritance needs. */
static void parse_root(struct loader *ld, const config_setting_t *root,
    struct fc_conf *conf)
{
	struct fc_listener template;
	const config_setting_t *s;
	int i, j, n = config_setting_length(root);

	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(root, (unsigned)i);
		for (j = 0; sections[j] != NULL; j++)
			if (strcmp(sections[j], config_setting_name(s)) == 0)
				break;
		if (sections[j] == NULL)
			errat(ld, s, "unknown section \"%s\" (global, defaults,"
			    " listeners, ha)", config_setting_name(s));
		else if (strcmp(sections[j], "listeners") != 0 &&
		    !config_setting_is_group(s))
			errat(ld, s, "\"%s\" must be a group { ... }", sections[j]);
	}
	if ((s = config_setting_get_member(root, "global")) != NULL &&
	    config_setting_is_group(s))
		walk(ld, s, "global", global_keys, conf);
	conf->workers = resolve_workers(conf->workers);
	listener_template(&template);
	if ((s = config_setting_get_member(root, "defaults")) != NULL &&
	    config_setting_is_group(s))
		walk(ld, s, "defaults", defaults_keys, &template);
	if ((s = config_setting_get_member(root, "listeners")) != NULL)
		parse_listeners(ld, s, conf, &template);
	else
		errfl(ld, NULL, 0, "no \"listeners\" defined");
	if ((s = config_setting_get_member(root, "ha")) != NULL &&
	    config_setting_is_group(s))
		parse_ha(ld, s, &conf->ha);
}

/*
 * Resolves and opens path, reporting why not.  Returns the open stream
 * and sets *real (malloc'd, caller frees), or NULL after an error.
 */
static FILE *open_conf(struct loader *ld, const char *path, char **real)
{
	struct stat st;
	FILE *fp;

	if ((*real = realpath(path, NULL)) == NULL) {
		errfl(ld, NULL, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		errfl(ld, NULL, 0, "cannot open: %s", strerror(errno));
	} else if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		errfl(ld, NULL, 0, "cannot open: %s", strerror(EISDIR));
		fclose(fp);
		fp = NULL;
	}
	if (fp == NULL) {
		free(*real);
		*real = NULL;
	}
	return fp;
}

/* @include "x.conf" is relative to the including file's directory. */
static void set_include_dir(struct loader *ld, config_t *cfg, const char *real)
{
	char *slash;

	ld->incdir = xstrdup(real);
	if ((slash = strrchr(ld->incdir, '/')) != NULL)
		slash[slash == ld->incdir ? 1 : 0] = '\0';
	config_set_include_dir(cfg, ld->incdir);	/* copies it */
}

static void parse_error(struct loader *ld, const config_t *cfg)
{
	const char *text = config_error_text(cfg);

	if (text == NULL)
		text = "unknown error";
	/* libconfig's text is often just "syntax error": don't say it twice. */
	if (strcmp(text, "syntax error") == 0)
		errfl(ld, config_error_file(cfg), config_error_line(cfg), "syntax error");
	else
		errfl(ld, config_error_file(cfg), config_error_line(cfg),
		    "syntax error: %s", text);
}

/* Parses the open file into conf, which holds the defaults already. */
static void read_conf(struct loader *ld, FILE *fp, struct fc_conf *conf)
{
	config_t cfg;

	config_init(&cfg);
	set_include_dir(ld, &cfg, conf->path);
	if (config_read(&cfg, fp) == CONFIG_FALSE)
		parse_error(ld, &cfg);
	else
		parse_root(ld, config_root_setting(&cfg), conf);
	config_destroy(&cfg);
}

struct fc_conf *conf_load(const char *path, char **errors)
{
	struct loader ld = { .path = path };
	struct fc_conf *conf = NULL;
	char *real;
	FILE *fp;

	*errors = NULL;
	if ((fp = open_conf(&ld, path, &real)) != NULL) {
		conf = xcalloc(1, sizeof(*conf));
		conf->path = real;
		global_defaults(conf);
		read_conf(&ld, fp, conf);
		fclose(fp);
	}
	if (ld.nerrs > 0) {
		conf_free(conf);
		conf = NULL;
		*errors = join_errors(&ld);
	}
	loader_free(&ld);
	return conf;
}

static void listener_free(struct fc_listener *l)
{
	int i;

	free(l->binds);
	free(l->bind_text);
	free(l->check.request);
	free(l->cookie.domain);
	free(l->stats.uri);
	for (i = 0; i < l->stats.nauth; i++)
		free(l->stats.auth[i]);
	free(l->stats.auth);
	free(l->servers);
}

void conf_free(struct fc_conf *conf)
{
	int i;

	if (conf == NULL)
		return;
	free(conf->path);
	free(conf->user);
	free(conf->group);
	free(conf->pidfile);
	free(conf->log.address);
	for (i = 0; i < conf->nlisteners; i++)
		listener_free(&conf->listeners[i]);
	free(conf->listeners);
	free(conf->ha.vips);
	free(conf->ha.peers);
	free(conf->ha.notify);
	free(conf->ha.auth_key);
	free(conf);
}

static bool addr_equal(const struct fc_addr *a, const struct fc_addr *b)
{
	return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

static bool str_equal(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

bool conf_ha_equal(const struct fc_ha *a, const struct fc_ha *b)
{
	if (a->enabled != b->enabled || strcmp(a->interface, b->interface) != 0 ||
	    a->vrid != b->vrid || a->priority != b->priority ||
	    a->advert_ms != b->advert_ms || a->preempt != b->preempt ||
	    a->track_proxy != b->track_proxy || a->nvips != b->nvips ||
	    a->npeers != b->npeers || a->has_unicast_src != b->has_unicast_src ||
	    a->garp_count != b->garp_count || a->garp_repeat_ms != b->garp_repeat_ms ||
	    !str_equal(a->notify, b->notify) || !str_equal(a->auth_key, b->auth_key))
		return false;
	if (a->has_unicast_src && !addr_equal(&a->unicast_src, &b->unicast_src))
		return false;
	for (int i = 0; i < a->nvips; i++)
		if (a->vips[i].prefixlen != b->vips[i].prefixlen ||
		    !addr_equal(&a->vips[i].addr, &b->vips[i].addr))
			return false;
	for (int i = 0; i < a->npeers; i++)
		if (!addr_equal(&a->peers[i], &b->peers[i]))
			return false;
	return true;
}
