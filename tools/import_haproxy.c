/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * haproxy.cfg into fulcrum-import's model (import.h): the sections of the
 * classic setup (global, defaults, listen, frontend, backend) and the
 * directives fulcrum has a key for.  Everything else is reported with its
 * line and why, here or by imp_finish(); nothing is guessed.  The values
 * are checked against fulcrum's ranges as they are read, so that what is
 * stored can be written as it is and pass "fulcrum -c".
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/alloc.h"
#include "tools/import.h"

#define MAXCONN_MAX	1000000
#define TIMEOUT_MAX	86400000	/* fulcrum's timeouts: 1 ms .. a day */

struct reader {
	struct imp_doc *d;
	int file;
	int cur;		/* the proxy being read; -1: global or none */
	bool global;		/* in "global" */
	const char *other;	/* in a section fulcrum has not, its keyword */
	int last_defaults;	/* -1: none yet */
	int dir;		/* the directive being read */
	int nlogs;		/* global log lines seen */
};

/* Words of a directive, as handlers get them. */
struct args {
	char **w;
	int n;
};

static struct imp_proxy *cur(struct reader *rd)
{
	return &rd->d->proxies[rd->cur];
}

/* A value set twice: the first is reported, the last one wins as in HAProxy. */
static void supersede(struct reader *rd, struct imp_set *s)
{
	if (s->set && s->dir != rd->dir)
		imp_report(rd->d, s->dir, "given again at line %d, which wins",
		    rd->d->dirs[rd->dir].line);
}

static void put_num(struct reader *rd, struct imp_set *s, long long v)
{
	supersede(rd, s);
	imp_set_num(s, v, rd->dir);
}

static void put_str(struct reader *rd, struct imp_set *s, const char *v)
{
	supersede(rd, s);
	imp_set_str(s, v, rd->dir);
}

static void report(struct reader *rd, const char *why)
{
	imp_report(rd->d, rd->dir, "%s", why);
}

/* A time into s, within fulcrum's [min, max] ms; reported otherwise. */
static void put_time(struct reader *rd, struct imp_set *s, const char *v, long long unit,
    long long min, long long max)
{
	long long ms;

	if (imp_parse_time(v, unit, &ms) < 0)
		imp_report(rd->d, rd->dir, "\"%s\" is no time (a number, with us, ms,"
		    " s, m, h or d)", v);
	else if (ms < min || ms > max)
		imp_report(rd->d, rd->dir, "%s is %lld ms; fulcrum takes %lld to %lld"
		    "%s", v, ms, min, max, ms == 0 ? " (0: HAProxy's \"none\")" : "");
	else
		put_num(rd, s, ms);
}

static void put_int(struct reader *rd, struct imp_set *s, const char *v, long long min,
    long long max)
{
	long long x;

	if (imp_parse_int(v, max, &x) < 0 || x < min)
		imp_report(rd->d, rd->dir, "fulcrum takes a number from %lld to %lld",
		    min, max);
	else
		put_num(rd, s, x);
}

/* -------------------------------------------------------------- reasons */

/* Why a directive fulcrum has no key for is not carried over. */
static const struct { const char *kw, *why; } reasons[] = {
	{ "chroot", "written commented out: global.chroot must name a directory"
	    " that exists on this node (fulcrum -c checks it)" },
	{ "stats socket", "fulcrum has no command socket: fulcrum-stat and fulcrumctl"
	    " work on its shared memory" },
	{ "stats timeout", "fulcrum has no command socket" },
	{ "stats maxconn", "fulcrum has no command socket" },
	{ "uid", "fulcrum takes a user name: write global.user" },
	{ "gid", "fulcrum takes a group name: write global.group" },
	{ "ulimit-n", "fulcrum has no such setting: raise LimitNOFILE in its systemd unit" },
	{ "errorfile", "fulcrum answers errors with its own pages" },
	{ "errorloc", "fulcrum answers errors with its own pages" },
	{ "compression", "fulcrum does not compress" },
	{ "monitor-uri", "fulcrum has no monitor URI (its stats page answers 200)" },
	{ "ssl-", "TLS defaults: fulcrum's tls groups have their own (Mozilla intermediate)" },
	{ "tune.", "HAProxy's tuning has no fulcrum equivalent" },
	{ "ca-base", "fulcrum's certificate paths are absolute" },
	{ "crt-base", "fulcrum's certificate paths are absolute" },
	{ "cache", "fulcrum does not cache" },
	{ "http-request cache-use", "fulcrum does not cache" },
	{ "http-response cache-store", "fulcrum does not cache" },
	{ "fullconn", "fulcrum's server maxconn is static" },
	{ "source", "fulcrum connects from the host's own address" },
	{ "capture", "fulcrum's log line has no captures" },
	{ "description", "fulcrum keeps no description" },
	{ "id", "fulcrum numbers nothing by hand" },
	{ "option dontlognull", "fulcrum's access log has no filter" },
	{ "option http-server-close", "fulcrum keeps both sides alive unless"
	    " httpclose (then it closes both)" },
	{ "option tcplog", "fulcrum logs HTTP requests (httplog)" },
	{ "option abortonclose", "fulcrum has no such option" },
	{ "option prefer-last-server", "fulcrum has no such option" },
	{ "hard-stop-after", "fulcrum takes 0 to 3600000 ms (global.drain_timeout)" },
	{ "daemon", "" },
	{ NULL, NULL },
};

static const char *why_not(const char *text)
{
	for (int i = 0; reasons[i].kw != NULL; i++)
		if (strncmp(text, reasons[i].kw, strlen(reasons[i].kw)) == 0 &&
		    reasons[i].why[0] != '\0')
			return reasons[i].why;
	return "fulcrum has no such setting";
}

static void unsupported(struct reader *rd)
{
	report(rd, why_not(rd->d->dirs[rd->dir].text));
}

/* ----------------------------------------------------------------- global */

static const char *const facilities[] = {
	"user", "daemon", "local0", "local1", "local2", "local3", "local4", "local5",
	"local6", "local7", NULL,
};

static bool known_facility(const char *f)
{
	for (int i = 0; facilities[i] != NULL; i++)
		if (strcmp(facilities[i], f) == 0)
			return true;
	return false;
}

/* HAProxy's log target as fulcrum's log.address; NULL: none to write. */
static const char *log_address(const char *a, char *out, size_t len, const char **why)
{
	struct in_addr in;
	char host[64];
	const char *colon;

	*why = NULL;
	if (strncmp(a, "unix@", 5) == 0)
		a += 5;
	if (a[0] == '/')
		return a;
	if (strcmp(a, "stderr") == 0 || strcmp(a, "stdout") == 0) {
		*why = "fulcrum logs to stderr when run in the foreground (-d, as its"
		    " systemd unit does) and to syslog otherwise";
		return NULL;
	}
	if (strncmp(a, "udp@", 4) == 0 || strncmp(a, "ipv4@", 5) == 0 ||
	    strncmp(a, "udp4@", 5) == 0)
		a = strchr(a, '@') + 1;
	colon = strchr(a, ':');
	snprintf(host, sizeof(host), "%.*s", colon != NULL ? (int)(colon - a) : 63, a);
	if (inet_pton(AF_INET, host, &in) != 1 || (colon != NULL &&
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))) {
		*why = "fulcrum logs to a syslog socket path or an IPv4 address";
		return NULL;
	}
	snprintf(out, len, "udp://%s", a);
	return out;
}

/* "log ADDR [len N] [format F] [sample S] FACILITY [LEVEL [MINLEVEL]]" */
static void g_log(struct reader *rd, struct args *a)
{
	struct imp_global *g = &rd->d->global;
	const char *addr, *why;
	char buf[96];
	int i = 2;

	if (rd->nlogs++ > 0 || g->log_facility.set) {
		report(rd, "fulcrum has one access log (global.log): the first log line"
		    " is carried over");
		return;
	}
	while (i + 1 < a->n && (strcmp(a->w[i], "len") == 0 ||
	    strcmp(a->w[i], "format") == 0 || strcmp(a->w[i], "sample") == 0))
		i += 2;
	if (a->n < 3 || i >= a->n || !known_facility(a->w[i])) {
		report(rd, "fulcrum's facilities are user, daemon and local0 to local7");
		return;
	}
	if (i > 2)
		imp_note(rd->d, rd->dir, "log: len, format, sample", "fulcrum's log line"
		    " is HAProxy's httplog, unsampled");
	if (i + 1 < a->n)
		imp_note(rd->d, rd->dir, a->w[i + 1], "the access log has no level");
	addr = log_address(a->w[1], buf, sizeof(buf), &why);
	if (why != NULL)
		imp_note(rd->d, rd->dir, a->w[1], "%s", why);
	put_str(rd, &g->log_facility, a->w[i]);
	if (addr != NULL)
		put_str(rd, &g->log_address, addr);
}

static void g_directive(struct reader *rd, struct args *a)
{
	struct imp_global *g = &rd->d->global;
	const char *k = a->w[0];

	if (strcmp(k, "log") == 0 && a->n >= 2)
		g_log(rd, a);
	else if ((strcmp(k, "user") == 0 || strcmp(k, "group") == 0) && a->n == 2)
		put_str(rd, k[0] == 'u' ? &g->user : &g->group, a->w[1]);
	else if (strcmp(k, "maxconn") == 0 && a->n == 2)
		put_int(rd, &g->maxconn, a->w[1], 1, MAXCONN_MAX);
	else if (strcmp(k, "pidfile") == 0 && a->n == 2)
		put_str(rd, &g->pidfile, a->w[1]);
	else if ((strcmp(k, "nbproc") == 0 || strcmp(k, "nbthread") == 0) && a->n == 2)
		put_int(rd, &g->workers, a->w[1], 1, 64);
	else if (strcmp(k, "daemon") == 0 && a->n == 1)
		put_num(rd, &g->daemon, 1);
	else if (strcmp(k, "chroot") == 0 && a->n == 2) {
		/* Kept for a commented-out line in the output. */
		imp_set_str(&g->chroot, a->w[1], rd->dir);
		unsupported(rd);
	} else if (strcmp(k, "hard-stop-after") == 0 && a->n == 2)
		put_time(rd, &g->drain, a->w[1], 1, 0, 3600000);
	else
		unsupported(rd);
}

/* ---------------------------------------------------------------- binds */

static bool is_port(const char *s)
{
	long long v;

	return imp_parse_int(s, 65535, &v) == 0 && v > 0;
}

/* HAProxy's bind address as fulcrum's "IP:PORT"; NULL and *why if it cannot be. */
static const char *bind_addr(const char *in, char *out, size_t len, const char **why)
{
	struct in6_addr a6;
	char host[64];
	const char *colon;

	if (strchr(in, '@') != NULL && strncmp(in, "ipv4@", 5) != 0 &&
	    strncmp(in, "ipv6@", 5) != 0 && strncmp(in, "tcp@", 4) != 0 &&
	    strncmp(in, "tcp4@", 5) != 0 && strncmp(in, "tcp6@", 5) != 0) {
		*why = "fulcrum binds TCP addresses only (no UNIX socket, no fd@)";
		return NULL;
	}
	if (strchr(in, '@') != NULL)
		in = strchr(in, '@') + 1;
	colon = strrchr(in, ':');
	if (in[0] == '/' || colon == NULL) {
		*why = in[0] == '/' ? "fulcrum binds TCP addresses only" : "no port";
		return NULL;
	}
	if (!is_port(colon + 1)) {
		*why = strchr(colon + 1, '-') != NULL ? "a port range: fulcrum binds"
		    " one port per address" : "not a port";
		return NULL;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - in), in);
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	if (host[0] == '\0' || strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0)
		snprintf(out, len, "*:%s", colon + 1);
	else if (inet_pton(AF_INET, host, &a6) == 1)
		snprintf(out, len, "%s:%s", host, colon + 1);
	else if (inet_pton(AF_INET6, host, &a6) == 1)
		snprintf(out, len, "[%s]:%s", host, colon + 1);
	else {
		*why = "a host name: fulcrum binds numeric addresses";
		return NULL;
	}
	return out;
}

/* Options of bind and server lines that take a value, to skip it. */
static const char *const with_arg[] = {
	"name", "interface", "process", "backlog", "maxconn", "mss", "nice", "id", "level",
	"mode", "user", "group", "uid", "gid", "namespace", "alpn", "npn", "tcp-ut",
	"thread", "proto", "crt", "crt-list", "ca-file", "crl-file", "ciphers",
	"ciphersuites", "ssl-min-ver", "ssl-max-ver", "curves", "ecdhe", "verify",
	"fastinter", "downinter", "minconn", "maxqueue", "port", "addr", "sni", "socks4",
	"on-error", "on-marked-down", "on-marked-up", "error-limit", "observe",
	"resolvers", "resolve-prefer", "resolve-net", "init-addr", "agent-port",
	"agent-inter", "agent-send", "agent-addr", "check-alpn", "check-proto",
	"check-sni", "pool-max-conn", "pool-purge-delay", "pool-low-conn", "redir",
	"track", "source", "usesrc", "max-reuse", "set-proxy-v2-tlv-fmt", "ws",
	"tcp-ut", "guid", "hash-key", "shard", "log-proto", NULL,
};

static int arg_count(const char *kw)
{
	for (int i = 0; with_arg[i] != NULL; i++)
		if (strcmp(with_arg[i], kw) == 0)
			return 1;
	return 0;
}

/* Notes an option (and its value) of the current line that fulcrum has not. */
static int skip_option(struct reader *rd, struct args *a, int i, const char *why)
{
	char what[160];
	int k = arg_count(a->w[i]);

	if (i + k >= a->n)
		k = 0;
	snprintf(what, sizeof(what), "%s %s: %s%s%s", a->w[0], i > 1 ? a->w[1] : "",
	    a->w[i], k ? " " : "", k ? a->w[i + 1] : "");
	imp_note(rd->d, rd->dir, what, "%s", why);
	return k;
}

static void p_bind(struct reader *rd, struct args *a, int first)
{
	struct imp_proxy *p = cur(rd);
	char *list, *save = NULL, out[80];
	const char *why = NULL;
	int before = p->binds.n;

	for (int i = first + 1; i < a->n; i++)
		if (strcmp(a->w[i], "ssl") == 0) {
			report(rd, "TLS: fulcrum's listener tls group needs its certificates;"
			    " add one by hand");
			return;
		}
	list = xstrdup(a->w[first]);
	for (char *t = strtok_r(list, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		if (bind_addr(t, out, sizeof(out), &why) != NULL)
			imp_list_add(&p->binds, out, rd->dir);
		else
			imp_note(rd->d, rd->dir, t, "%s", why);
	}
	free(list);
	if (p->binds.n == before) {
		imp_report(rd->d, rd->dir, "no address fulcrum can bind");
		return;
	}
	for (int i = first + 1; i < a->n; i++) {
		if (strcmp(a->w[i], "accept-proxy") == 0)
			put_num(rd, &p->accept_proxy, 1);
		else
			i += skip_option(rd, a, i, "fulcrum has no such bind option");
	}
}

/* ---------------------------------------------------------------- servers */

/* The server's address as "IP:PORT"; false (reported) if fulcrum cannot take it. */
static bool server_addr(struct reader *rd, const char *in, char *out, size_t len)
{
	const char *why = NULL;
	char buf[96];

	if (strchr(in, '@') == NULL && strrchr(in, ':') == NULL) {
		snprintf(buf, sizeof(buf), "%s:0", in);
		in = buf;
	}
	if (bind_addr(in, out, len, &why) != NULL && out[0] != '*')
		return true;
	if (why == NULL)
		why = "a server needs a specific address, not a wildcard";
	else if (strcmp(why, "not a port") == 0)
		why = "no port: HAProxy then uses the port the client connected to;"
		    " fulcrum needs the server's port";
	else if (strstr(why, "host name") != NULL)
		why = "a host name: fulcrum needs a numeric address (resolve it and"
		    " write the address)";
	report(rd, why);
	return false;
}

static void srv_time(struct reader *rd, struct imp_set *s, const char *v, long long min)
{
	long long ms;

	if (imp_parse_time(v, 1, &ms) < 0 || ms < min || ms > 3600000)
		imp_note(rd->d, rd->dir, v, "fulcrum takes %lld to 3600000 ms", min);
	else
		imp_set_num(s, ms, rd->dir);
}

static void srv_int(struct reader *rd, struct imp_set *s, const char *v, long long min,
    long long max)
{
	long long x;

	if (imp_parse_int(v, max, &x) < 0 || x < min)
		imp_note(rd->d, rd->dir, v, "fulcrum takes %lld to %lld", min, max);
	else
		imp_set_num(s, x, rd->dir);
}

static bool cookie_value_ok(const char *v)
{
	char name[IMP_NAME_MAX];

	return imp_name(name, v) && strlen(v) < IMP_NAME_MAX;
}

/* One option at a->w[i] of server/default-server; returns the values it took. */
static int srv_option(struct reader *rd, struct args *a, int i, struct imp_server *s,
    bool is_default)
{
	const char *o = a->w[i], *v = i + 1 < a->n ? a->w[i + 1] : NULL;

	if (strcmp(o, "check") == 0)
		imp_set_num(&s->check, 1, rd->dir);
	else if (strcmp(o, "backup") == 0)
		imp_set_num(&s->backup, 1, rd->dir);
	else if (strcmp(o, "send-proxy") == 0 || strcmp(o, "send-proxy-v2") == 0)
		imp_set_num(&s->send_proxy, o[10] == '\0' ? 1 : 2, rd->dir);
	else if (strcmp(o, "ssl") == 0)
		imp_set_num(&s->tls, 1, rd->dir);
	else if (strcmp(o, "verify") == 0 && v != NULL && strcmp(v, "none") == 0)
		return imp_set_num(&s->tls_noverify, 1, rd->dir), 1;
	else if (strcmp(o, "verify") == 0 && v != NULL && strcmp(v, "required") == 0)
		return 1;
	else if (strcmp(o, "ca-file") == 0 && v != NULL && !is_default && v[0] == '/')
		return imp_set_str(&s->tls_ca, v, rd->dir), 1;
	else if (strcmp(o, "cookie") == 0 && v != NULL && !is_default) {
		if (cookie_value_ok(v))
			imp_set_str(&s->cookie, v, rd->dir);
		else
			imp_note(rd->d, rd->dir, v, "a cookie value is 1 to 63 of"
			    " [A-Za-z0-9_.-] in fulcrum");
		return 1;
	} else if (v == NULL)
		return skip_option(rd, a, i, "fulcrum has no such server option");
	else if (strcmp(o, "inter") == 0)
		return srv_time(rd, &s->inter, v, 100), 1;
	else if (strcmp(o, "rise") == 0)
		return srv_int(rd, &s->rise, v, 1, 100), 1;
	else if (strcmp(o, "fall") == 0)
		return srv_int(rd, &s->fall, v, 1, 100), 1;
	else if (strcmp(o, "weight") == 0)
		return srv_int(rd, &s->weight, v, 0, 256), 1;
	else if (strcmp(o, "maxconn") == 0)
		return srv_int(rd, &s->maxconn, v, 0, MAXCONN_MAX), 1;
	else if (strcmp(o, "slowstart") == 0)
		return srv_time(rd, &s->slowstart, v, 0), 1;
	else
		return skip_option(rd, a, i, "fulcrum has no such server option");
	return 0;
}

/* What a default-server ds sets, into s: numbers and flags only. */
static void copy_defaults(struct reader *rd, struct imp_server *s, const struct imp_server *ds)
{
	const struct imp_set *from[] = { &ds->weight, &ds->maxconn, &ds->slowstart,
	    &ds->send_proxy, &ds->check, &ds->backup, &ds->tls, &ds->tls_noverify,
	    &ds->inter, &ds->rise, &ds->fall };
	struct imp_set *to[] = { &s->weight, &s->maxconn, &s->slowstart,
	    &s->send_proxy, &s->check, &s->backup, &s->tls, &s->tls_noverify,
	    &s->inter, &s->rise, &s->fall };

	for (size_t i = 0; i < sizeof(to) / sizeof(to[0]); i++)
		if (from[i]->set) {
			*to[i] = *from[i];
			imp_carry(rd->d, from[i]->dir);
		}
}

/* Its defaults' default-server, then its own. */
static void server_defaults(struct reader *rd, struct imp_server *s)
{
	const struct imp_proxy *p = cur(rd);

	if (p->defaults >= 0)
		copy_defaults(rd, s, &rd->d->proxies[p->defaults].defsrv);
	copy_defaults(rd, s, &p->defsrv);
}

static void p_server(struct reader *rd, struct args *a)
{
	struct imp_proxy *p = cur(rd);
	struct imp_server s;

	memset(&s, 0, sizeof(s));
	if (p->kind == IMP_FRONTEND || p->kind == IMP_DEFAULTS || a->n < 3) {
		report(rd, "a server belongs to a listen or backend section");
		return;
	}
	s.dir = rd->dir;
	if (!imp_name(s.name, a->w[1]))
		imp_note(rd->d, rd->dir, a->w[1], "renamed \"%s\": fulcrum names are 1 to"
		    " 63 of [A-Za-z0-9_.-]", s.name);
	for (int i = 0; i < p->nservers; i++)
		if (strcmp(p->servers[i].name, s.name) == 0) {
			report(rd, "a server of that name is already there");
			return;
		}
	if (!server_addr(rd, a->w[2], s.addr, sizeof(s.addr)))
		return;
	server_defaults(rd, &s);
	for (int i = 3; i < a->n; i++)
		i += srv_option(rd, a, i, &s, false);
	for (int i = 0; s.cookie.set && i < p->nservers; i++)
		if (p->servers[i].cookie.set && strcmp(p->servers[i].cookie.str, s.cookie.str) == 0) {
			imp_note(rd->d, rd->dir, s.cookie.str, "server \"%s\" has that"
			    " cookie already; fulcrum's cookies are unique", p->servers[i].name);
			free(s.cookie.str);
			memset(&s.cookie, 0, sizeof(s.cookie));
		}
	p->servers = xrealloc(p->servers, (size_t)(p->nservers + 1) * sizeof(*p->servers));
	p->servers[p->nservers++] = s;
}

static void p_default_server(struct reader *rd, struct args *a)
{
	struct imp_proxy *p = cur(rd);

	for (int i = 1; i < a->n; i++)
		i += srv_option(rd, a, i, &p->defsrv, true);
}

/* ----------------------------------------------------------------- cookie */

/* "cookie NAME insert|prefix|rewrite [indirect] [nocache] ..." */
static void p_cookie(struct reader *rd, struct args *a)
{
	struct imp_proxy *p = cur(rd);
	const char *mode = NULL;
	int i;

	for (i = 2; i < a->n; i++)
		if (strcmp(a->w[i], "insert") == 0 || strcmp(a->w[i], "prefix") == 0 ||
		    strcmp(a->w[i], "rewrite") == 0)
			mode = a->w[i];
	if (a->n < 2 || strcspn(a->w[1], "()<>@,;:\\\"/[]?={} \t") != strlen(a->w[1])) {
		report(rd, "not a cookie name");
		return;
	}
	if (mode == NULL) {
		report(rd, "no insert, prefix or rewrite: HAProxy's passive cookie,"
		    " which fulcrum has not");
		return;
	}
	put_str(rd, &p->cookie, a->w[1]);
	imp_set_str(&p->cookie_mode, mode, rd->dir);
	for (i = 2; i < a->n; i++) {
		const char *o = a->w[i], *v = i + 1 < a->n ? a->w[i + 1] : NULL;

		if (o == mode)
			continue;
		if (strcmp(o, "indirect") == 0)
			imp_set_num(&p->indirect, 1, rd->dir);
		else if (strcmp(o, "nocache") == 0)
			imp_set_num(&p->nocache, 1, rd->dir);
		else if (strcmp(o, "httponly") == 0)
			imp_set_num(&p->httponly, 1, rd->dir);
		else if (strcmp(o, "secure") == 0)
			imp_set_num(&p->secure, 1, rd->dir);
		else if (strcmp(o, "domain") == 0 && v != NULL && !p->domain.set &&
		    strspn(v, ".-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") ==
		    strlen(v))
			imp_set_str(&p->domain, v[0] == '.' ? v + 1 : v, rd->dir), i++;
		else if ((strcmp(o, "maxidle") == 0 || strcmp(o, "maxlife") == 0) && v != NULL) {
			long long ms;

			/* Seconds by default, as HAProxy reads them. */
			if (imp_parse_time(v, 1000, &ms) == 0 && ms / 1000 <= 31536000)
				imp_set_num(o[3] == 'i' ? &p->maxidle : &p->maxlife,
				    (ms + 999) / 1000, rd->dir);
			else
				imp_note(rd->d, rd->dir, o, "fulcrum takes 0 to a year");
			i++;
		} else {
			char what[128];
			bool arg = strcmp(o, "domain") == 0 || strcmp(o, "attr") == 0;

			snprintf(what, sizeof(what), "cookie %s%s%s", o, arg && v ? " " : "",
			    arg && v ? v : "");
			imp_note(rd->d, rd->dir, what, "%s", strcmp(o, "domain") == 0 ?
			    "fulcrum sets one domain" : "fulcrum's cookie has no such option");
			i += arg && v != NULL;
		}
	}
}

/* ------------------------------------------------------------------ options */

/* "option httpchk [[METHOD] URI [VERSION]]" as a check request line. */
static void p_httpchk(struct reader *rd, struct args *a, int first)
{
	const char *method = "OPTIONS", *uri = "/", *version = "HTTP/1.0";
	char line[1200], ver[32];
	int n = a->n - first;

	if (n == 1)
		uri = a->w[first];
	else if (n >= 2) {
		method = a->w[first];
		uri = a->w[first + 1];
		if (n >= 3)
			version = a->w[first + 2];
	}
	snprintf(ver, sizeof(ver), "%.*s", (int)strcspn(version, "\r\n"), version);
	if (strlen(ver) != strlen(version))
		imp_note(rd->d, rd->dir, "option httpchk: headers after the version",
		    "fulcrum's check sends the request line only");
	if (strcmp(ver, "HTTP/1.0") != 0 && strcmp(ver, "HTTP/1.1") != 0) {
		imp_note(rd->d, rd->dir, ver, "fulcrum's check speaks HTTP/1.0 or HTTP/1.1:"
		    " HTTP/1.0 written");
		strcpy(ver, "HTTP/1.0");
	}
	if ((uri[0] != '/' && strcmp(uri, "*") != 0) || strpbrk(uri, " \t\r\n") != NULL ||
	    strlen(uri) > 1000 || strspn(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(method) ||
	    strlen(method) > 20 || n > 3) {
		report(rd, "fulcrum's check request is \"METHOD URI [HTTP/1.x]\"");
		return;
	}
	snprintf(line, sizeof(line), "%s %s %s", method, uri, ver);
	put_str(rd, &cur(rd)->httpchk, line);
}

static void p_option(struct reader *rd, struct args *a, bool no)
{
	struct imp_proxy *p = cur(rd);
	int o = no ? 2 : 1;
	const char *opt = a->n > o ? a->w[o] : "";

	if (strcmp(opt, "httpchk") == 0 && !no)
		p_httpchk(rd, a, o + 1);
	else if (strcmp(opt, "forwardfor") == 0) {
		put_num(rd, &p->forwardfor, !no);
		for (int i = o + 1; i < a->n; i++)
			if (strcmp(a->w[i], "if-none") == 0)
				imp_note(rd->d, rd->dir, "option forwardfor if-none",
				    "fulcrum appends the client to any X-Forwarded-For");
			else
				i += skip_option(rd, a, i, "fulcrum's forwardfor has no such"
				    " option") + (i + 1 < a->n);
	} else if (strcmp(opt, "httpclose") == 0 || strcmp(opt, "forceclose") == 0)
		put_num(rd, &p->httpclose, !no);
	else if (strcmp(opt, "http-keep-alive") == 0 && !no)
		put_num(rd, &p->httpclose, 0);
	else if ((strcmp(opt, "redispatch") == 0 || strcmp(opt, "httplog") == 0) && !no)
		imp_carry(rd->d, rd->dir);	/* what fulcrum always does */
	else if (strcmp(opt, "redispatch") == 0)
		report(rd, "fulcrum always redispatches when a server fails");
	else
		unsupported(rd);
}

/* ---------------------------------------------------------------- timeouts */

static void p_timeout(struct reader *rd, const char *kind, const char *v)
{
	static const char *const kinds[IMP_T_MAX] = {
		"connect", "client", "server", "http-request", "queue", "tunnel", "check",
	};

	for (int t = 0; t < IMP_T_MAX; t++)
		if (strcmp(kind, kinds[t]) == 0) {
			put_time(rd, &cur(rd)->timeout[t], v, 1, 1,
			    t == IMP_T_CHECK ? 3600000 : TIMEOUT_MAX);
			return;
		}
	report(rd, "fulcrum has no such timeout (connect, client, server,"
	    " http-request, queue, tunnel, check)");
}

/* ------------------------------------------------------------------- stats */

static void p_stats(struct reader *rd, struct args *a)
{
	struct imp_proxy *p = cur(rd);
	const char *k = a->n > 1 ? a->w[1] : "";

	if (strcmp(k, "enable") == 0 && a->n == 2) {
		if (!p->stats_uri.set)
			imp_set_str(&p->stats_uri, "/haproxy?stats", rd->dir);
		else
			imp_carry(rd->d, rd->dir);
	} else if (strcmp(k, "uri") == 0 && a->n == 3 && a->w[2][0] == '/' &&
	    strpbrk(a->w[2], " \t") == NULL) {
		/* "stats enable" then "stats uri": the uri says where. */
		if (p->stats_uri.set && strcmp(rd->d->dirs[p->stats_uri.dir].text,
		    "stats enable") == 0) {
			imp_carry(rd->d, p->stats_uri.dir);
			p->stats_uri.set = false;
		}
		put_str(rd, &p->stats_uri, a->w[2]);
	} else if (strcmp(k, "auth") == 0 && a->n == 3 && strchr(a->w[2], ':') != NULL &&
	    a->w[2][0] != ':') {
		imp_list_add(&p->stats_auth, a->w[2], rd->dir);
	} else if (strcmp(k, "refresh") == 0 && a->n == 3) {
		long long ms;

		if (imp_parse_time(a->w[2], 1000, &ms) == 0 && ms / 1000 <= 86400)
			put_num(rd, &p->stats_refresh, (ms + 999) / 1000);
		else
			report(rd, "fulcrum takes 0 to 86400 seconds");
	} else if (strcmp(k, "socket") == 0 || strcmp(k, "timeout") == 0) {
		unsupported(rd);
	} else {
		report(rd, "fulcrum's stats page has uri, auth and refresh only");
	}
}

/* ------------------------------------------------------------ acl, routes */

static bool acl_kind(const char *crit, enum imp_acl_kind *k)
{
	static const struct { const char *crit; enum imp_acl_kind kind; } t[] = {
		{ "hdr(host)", IMP_ACL_HOST }, { "req.hdr(host)", IMP_ACL_HOST },
		{ "hdr_end(host)", IMP_ACL_HOST_END }, { "hdr_dom(host)", IMP_ACL_HOST_DOM },
		{ "path_beg", IMP_ACL_PATH_BEG },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcasecmp(crit, t[i].crit) == 0) {
			*k = t[i].kind;
			return true;
		}
	return false;
}

/* Values of an ACL fulcrum's routes can say; false if they cannot. */
static bool acl_values_ok(enum imp_acl_kind k, char **v, int n)
{
	for (int i = 0; i < n; i++) {
		if (k == IMP_ACL_PATH_BEG && (v[i][0] != '/' || strpbrk(v[i], " \t") != NULL))
			return false;
		if (k != IMP_ACL_PATH_BEG && (strspn(v[i],
		    ".-abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") !=
		    strlen(v[i]) || strlen(v[i]) > 250 || v[i][0] == '\0'))
			return false;
		if (k == IMP_ACL_HOST_END && v[i][0] != '.')
			return false;
	}
	return n > 0;
}

/* Parses "CRITERION [-i] VALUES..." from w[i]; false if routes cannot say it. */
static bool parse_acl(struct imp_acl *acl, char **w, int n)
{
	int i = 1;

	if (n < 1 || !acl_kind(w[0], &acl->kind))
		return false;
	while (i < n && w[i][0] == '-') {
		/* -i is how fulcrum compares hosts anyway; not paths. */
		if (strcmp(w[i], "-i") != 0 || acl->kind == IMP_ACL_PATH_BEG)
			return false;
		i++;
	}
	if (!acl_values_ok(acl->kind, w + i, n - i))
		return false;
	acl->values = xcalloc((size_t)(n - i), sizeof(*acl->values));
	for (int j = i; j < n; j++)
		acl->values[acl->nvalues++] = xstrdup(w[j]);
	return true;
}

static void p_acl(struct reader *rd, struct args *a)
{
	struct imp_proxy *p = cur(rd);
	struct imp_acl acl;

	memset(&acl, 0, sizeof(acl));
	if (a->n < 3 || !parse_acl(&acl, a->w + 2, a->n - 2)) {
		report(rd, "fulcrum's routes match hdr(host), hdr_end(host), hdr_dom(host)"
		    " and path_beg only");
		return;
	}
	acl.name = xstrdup(a->w[1]);
	acl.dir = rd->dir;
	p->acls = xrealloc(p->acls, (size_t)(p->nacls + 1) * sizeof(*p->acls));
	p->acls[p->nacls++] = acl;
}

static struct imp_acl *find_acl(struct imp_proxy *p, const char *name, int skip)
{
	for (int i = 0; i < p->nacls; i++)
		if (strcmp(p->acls[i].name, name) == 0 && skip-- == 0)
			return &p->acls[i];
	return NULL;
}

static void add_route(struct imp_proxy *p, const char *host, const char *path,
    const char *backend, int dir)
{
	struct imp_route *r;

	p->routes = xrealloc(p->routes, (size_t)(p->nroutes + 1) * sizeof(*p->routes));
	r = &p->routes[p->nroutes++];
	r->host = host != NULL ? xstrdup(host) : NULL;
	r->path = path != NULL ? xstrdup(path) : NULL;
	r->backend = xstrdup(backend);
	r->dir = dir;
}

/* One host pattern of an ACL value, as fulcrum's route host(s). */
static int host_patterns(const struct imp_acl *acl, int v, char out[2][260])
{
	const char *val = acl->values[v];

	if (acl->kind == IMP_ACL_HOST) {
		snprintf(out[0], 260, "%s", val);
		return 1;
	}
	if (acl->kind == IMP_ACL_HOST_END) {
		snprintf(out[0], 260, "*%s", val);
		return 1;
	}
	snprintf(out[0], 260, "%s", val);
	snprintf(out[1], 260, "*.%s", val);
	return 2;
}

/* The routes of one use_backend: every host pattern with every path prefix. */
static void emit_routes(struct imp_proxy *p, const char *backend, int dir,
    struct imp_acl **terms, int nterms)
{
	struct imp_acl *host = NULL, *path = NULL;
	char hosts[2][260];

	for (int i = 0; i < nterms; i++)
		*(terms[i]->kind == IMP_ACL_PATH_BEG ? &path : &host) = terms[i];
	for (int h = 0; h < (host != NULL ? host->nvalues : 1); h++) {
		int nh = host != NULL ? host_patterns(host, h, hosts) : 1;

		for (int k = 0; k < nh; k++)
			for (int q = 0; q < (path != NULL ? path->nvalues : 1); q++)
				add_route(p, host != NULL ? hosts[k] : NULL,
				    path != NULL ? path->values[q] : NULL, backend, dir);
	}
}

/*
 * "use_backend NAME [if COND]": COND a conjunction of at most one host test
 * and one path test, named ACLs defined once or anonymous "{ ... }" ones.
 */
static void p_use_backend(struct reader *rd, struct args *a)
{
	struct imp_proxy *p = cur(rd);
	struct imp_acl *terms[2], anon[2];
	int nterms = 0, i = 3;
	bool ok = a->n == 2 || (a->n > 3 && strcmp(a->w[2], "if") == 0);

	memset(anon, 0, sizeof(anon));
	while (ok && i < a->n) {
		struct imp_acl *t = NULL;

		if (nterms == 2)
			ok = false;
		else if (strcmp(a->w[i], "{") == 0) {
			int j = i + 1;

			while (j < a->n && strcmp(a->w[j], "}") != 0)
				j++;
			if (j < a->n && parse_acl(&anon[nterms], a->w + i + 1, j - i - 1))
				t = &anon[nterms];
			i = j + 1;
		} else if ((t = find_acl(p, a->w[i], 0)) != NULL && find_acl(p, a->w[i], 1) != NULL)
			t = NULL;	/* an ACL on several lines: an "or" routes cannot say */
		else
			i++;
		if (t == NULL || (nterms == 1 && (terms[0]->kind == IMP_ACL_PATH_BEG) ==
		    (t->kind == IMP_ACL_PATH_BEG)))
			ok = false;
		else
			terms[nterms++] = t;
	}
	if (ok && a->n > 3 && nterms == 0)
		ok = false;
	if (ok) {
		char name[IMP_NAME_MAX];

		imp_name(name, a->w[1]);
		emit_routes(p, name, rd->dir, terms, nterms);
		for (int k = 0; k < nterms; k++)
			terms[k]->used = true;
	} else {
		report(rd, "fulcrum's routes test one host and one path prefix (and them"
		    " both); no !, ||, unless or other fetches");
	}
	for (int k = 0; k < 2; k++) {
		for (int j = 0; j < anon[k].nvalues; j++)
			free(anon[k].values[j]);
		free(anon[k].values);
	}
}

/* ---------------------------------------------------------- header rules */

static bool header_name_ok(const char *n)
{
	static const char *const fulcrums[] = {
		"content-length", "transfer-encoding", "connection", "host", "keep-alive",
		"te", "trailer", "upgrade", "proxy-connection", NULL,
	};

	if (n[0] == '\0' || strlen(n) >= IMP_NAME_MAX ||
	    strcspn(n, "()<>@,;:\\\"/[]?={} \t") != strlen(n))
		return false;
	for (int i = 0; fulcrums[i] != NULL; i++)
		if (strcasecmp(fulcrums[i], n) == 0)
			return false;
	return true;
}

static void add_hdr(struct reader *rd, bool response, const char *name, const char *value)
{
	struct imp_proxy *p = cur(rd);
	struct imp_hdr *h;

	p->hdrs = xrealloc(p->hdrs, (size_t)(p->nhdrs + 1) * sizeof(*p->hdrs));
	h = &p->hdrs[p->nhdrs++];
	h->response = response;
	h->name = xstrdup(name);
	h->value = value != NULL ? xstrdup(value) : NULL;
	h->dir = rd->dir;
}

/* "http-request set-header|del-header NAME [VALUE]", unconditional. */
static void p_http_rule(struct reader *rd, struct args *a)
{
	bool response = strcmp(a->w[0], "http-request") != 0;
	bool set = a->n == 4 && strcmp(a->w[1], "set-header") == 0;
	bool del = a->n == 3 && strcmp(a->w[1], "del-header") == 0;

	if (!set && !del) {
		unsupported(rd);
		return;
	}
	if (!header_name_ok(a->w[2]) || (set && (strstr(a->w[3], "%[") != NULL ||
	    strpbrk(a->w[3], "\r\n") != NULL || strlen(a->w[3]) > 1024))) {
		report(rd, "fulcrum sets fixed values of headers it does not own itself");
		return;
	}
	add_hdr(rd, response, a->w[2], set ? a->w[3] : NULL);
}

/* HAProxy 1.x "reqadd Name:\ value" / "rspadd": a header added. */
static void p_hdr_add(struct reader *rd, struct args *a)
{
	char name[IMP_NAME_MAX];
	const char *colon = a->n == 2 ? strchr(a->w[1], ':') : NULL;
	const char *value = colon != NULL ? colon + 1 + strspn(colon + 1, " \t") : NULL;

	if (colon == NULL || (size_t)(colon - a->w[1]) >= sizeof(name)) {
		report(rd, "fulcrum sets fixed headers only, without a condition");
		return;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(colon - a->w[1]), a->w[1]);
	if (!header_name_ok(name) || *value == '\0' || strlen(value) > 1024) {
		report(rd, "fulcrum sets fixed values of headers it does not own itself");
		return;
	}
	imp_note(rd->d, rd->dir, a->w[0], "an added field becomes fulcrum's \"set\","
	    " which replaces any field of that name");
	add_hdr(rd, a->w[0][0] == 'r' && a->w[0][1] == 's', name, value);
}

/* "http-check send meth M uri U ver V", "http-check expect status N" */
static void p_http_check(struct reader *rd, struct args *a)
{
	struct imp_proxy *p = cur(rd);
	const char *m = "OPTIONS", *u = "/", *v = "HTTP/1.0";
	char line[1200];
	long long st;

	if (a->n == 4 && strcmp(a->w[1], "expect") == 0 && strcmp(a->w[2], "status") == 0 &&
	    imp_parse_int(a->w[3], 599, &st) == 0 && st >= 100) {
		put_num(rd, &p->expect_status, st);
		return;
	}
	if (a->n < 2 || strcmp(a->w[1], "send") != 0) {
		report(rd, "fulcrum's check has a request line and an expected status only");
		return;
	}
	for (int i = 2; i + 1 < a->n; i += 2) {
		if (strcmp(a->w[i], "meth") == 0)
			m = a->w[i + 1];
		else if (strcmp(a->w[i], "uri") == 0)
			u = a->w[i + 1];
		else if (strcmp(a->w[i], "ver") == 0)
			v = a->w[i + 1];
		else {
			char what[160];

			snprintf(what, sizeof(what), "http-check send %s %s", a->w[i], a->w[i + 1]);
			imp_note(rd->d, rd->dir, what, "fulcrum's check sends the request"
			    " line only");
		}
	}
	if (u[0] != '/' || strpbrk(u, " \t") != NULL || strlen(u) > 1000 || strlen(m) > 20 ||
	    strspn(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(m) ||
	    (strcmp(v, "HTTP/1.0") != 0 && strcmp(v, "HTTP/1.1") != 0)) {
		report(rd, "fulcrum's check request is \"METHOD URI [HTTP/1.x]\"");
		return;
	}
	snprintf(line, sizeof(line), "%s %s %s", m, u, v);
	put_str(rd, &p->chk_send, line);
}

/* ----------------------------------------------------------------- proxies */

static void p_log(struct reader *rd, struct args *a)
{
	if (a->n == 2 && strcmp(a->w[1], "global") == 0)
		imp_carry(rd->d, rd->dir);	/* fulcrum has only the global log */
	else if (rd->d->global.log_facility.set || a->n < 3)
		report(rd, "fulcrum has one access log, global.log");
	else
		g_log(rd, a);
}

static void p_directive(struct reader *rd, struct args *a)
{
	struct imp_proxy *p = cur(rd);
	const char *k = a->w[0];
	bool front = p->kind != IMP_BACKEND;

	if (strcmp(k, "bind") == 0 && a->n >= 2 && front && p->kind != IMP_DEFAULTS)
		p_bind(rd, a, 1);
	else if (strcmp(k, "mode") == 0 && a->n == 2)
		put_str(rd, &p->mode, a->w[1]);
	else if (strcmp(k, "balance") == 0 && a->n >= 2) {
		if (strcmp(a->w[1], "roundrobin") == 0 || strcmp(a->w[1], "leastconn") == 0 ||
		    strcmp(a->w[1], "source") == 0 || strcmp(a->w[1], "static-rr") == 0)
			put_str(rd, &p->balance, a->w[1][0] == 's' && a->w[1][1] == 't' ?
			    "roundrobin" : a->w[1]);
		else
			report(rd, "fulcrum balances by roundrobin, leastconn or source");
	} else if (strcmp(k, "maxconn") == 0 && a->n == 2 && front)
		put_int(rd, &p->maxconn, a->w[1], 1, MAXCONN_MAX);
	else if (strcmp(k, "retries") == 0 && a->n == 2)
		put_int(rd, &p->retries, a->w[1], 0, 100);
	else if (strcmp(k, "timeout") == 0 && a->n == 3)
		p_timeout(rd, a->w[1], a->w[2]);
	else if (strcmp(k, "contimeout") == 0 && a->n == 2)
		p_timeout(rd, "connect", a->w[1]);
	else if (strcmp(k, "clitimeout") == 0 && a->n == 2)
		p_timeout(rd, "client", a->w[1]);
	else if (strcmp(k, "srvtimeout") == 0 && a->n == 2)
		p_timeout(rd, "server", a->w[1]);
	else if (strcmp(k, "option") == 0 && a->n >= 2)
		p_option(rd, a, false);
	else if (strcmp(k, "no") == 0 && a->n >= 3 && strcmp(a->w[1], "option") == 0)
		p_option(rd, a, true);
	else if (strcmp(k, "cookie") == 0)
		p_cookie(rd, a);
	else if (strcmp(k, "server") == 0)
		p_server(rd, a);
	else if (strcmp(k, "default-server") == 0)
		p_default_server(rd, a);
	else if (strcmp(k, "stats") == 0)
		p_stats(rd, a);
	else if (strcmp(k, "default_backend") == 0 && a->n == 2 && front) {
		char name[IMP_NAME_MAX];

		imp_name(name, a->w[1]);
		put_str(rd, &p->default_backend, name);
	} else if (strcmp(k, "use_backend") == 0 && a->n >= 2 && front &&
	    p->kind != IMP_DEFAULTS)
		p_use_backend(rd, a);
	else if (strcmp(k, "acl") == 0)
		p_acl(rd, a);
	else if (strcmp(k, "http-request") == 0 || strcmp(k, "http-response") == 0 ||
	    strcmp(k, "http-after-response") == 0)
		p_http_rule(rd, a);
	else if (strcmp(k, "reqadd") == 0 || strcmp(k, "rspadd") == 0)
		p_hdr_add(rd, a);
	else if (strcmp(k, "http-check") == 0)
		p_http_check(rd, a);
	else if (strcmp(k, "log") == 0 && a->n >= 2)
		p_log(rd, a);
	else
		unsupported(rd);
}

/* ---------------------------------------------------------------- sections */

static int find_proxy(const struct imp_doc *d, enum imp_kind kind, const char *name)
{
	for (int i = 0; i < d->nproxies; i++)
		if (d->proxies[i].kind == kind && strcmp(d->proxies[i].name, name) == 0)
			return i;
	return -1;
}

static void new_proxy(struct reader *rd, enum imp_kind kind, struct args *a)
{
	struct imp_doc *d = rd->d;
	struct imp_proxy *p;
	int from = -1;

	for (int i = 2; i + 1 < a->n; i++)
		if (strcmp(a->w[i], "from") == 0)
			from = find_proxy(d, IMP_DEFAULTS, a->w[i + 1]);
	d->proxies = xrealloc(d->proxies, (size_t)(d->nproxies + 1) * sizeof(*d->proxies));
	p = &d->proxies[d->nproxies];
	memset(p, 0, sizeof(*p));
	p->kind = kind;
	p->dir = rd->dir;
	p->defaults = from >= 0 ? from : rd->last_defaults;
	if (a->n >= 2)
		imp_name(p->name, a->w[1]);
	else
		strcpy(p->name, "defaults");
	d->dirs[rd->dir].owner = rd->cur = d->nproxies++;
	if (kind == IMP_DEFAULTS)
		rd->last_defaults = rd->cur;
	else if (a->n < 2)
		report(rd, "a proxy needs a name");
	/* "listen NAME ADDR:PORT", HAProxy 1.x's bind on the header line */
	if ((kind == IMP_LISTEN || kind == IMP_FRONTEND) && a->n >= 3 &&
	    strcmp(a->w[2], "from") != 0)
		p_bind(rd, a, 2);
}

static bool section(struct reader *rd, struct args *a)
{
	static const char *const others[] = {
		"userlist", "peers", "resolvers", "cache", "program", "http-errors", "ring",
		"mailers", "namespace_list", "crt-store", "traces", "log-forward", "fcgi-app",
		NULL,
	};
	const char *k = a->w[0];

	if (strcmp(k, "global") == 0) {
		rd->other = NULL;
		rd->global = true;
		rd->cur = -1;
		imp_carry(rd->d, rd->dir);
		return true;
	}
	if (strcmp(k, "defaults") == 0 || strcmp(k, "listen") == 0 ||
	    strcmp(k, "frontend") == 0 || strcmp(k, "backend") == 0) {
		rd->other = NULL;
		rd->global = false;
		new_proxy(rd, k[0] == 'd' ? IMP_DEFAULTS : k[0] == 'l' ? IMP_LISTEN :
		    k[0] == 'f' ? IMP_FRONTEND : IMP_BACKEND, a);
		return true;
	}
	for (int i = 0; others[i] != NULL; i++)
		if (strcmp(k, others[i]) == 0) {
			rd->other = others[i];
			rd->global = false;
			rd->cur = -1;
			imp_report(rd->d, rd->dir, "fulcrum has no %s section", k);
			return true;
		}
	return false;
}

/* A line the tokenizer refuses, reported as it was written. */
static void line_error(struct reader *rd, int why, char *text, int lineno)
{
	char *bad[] = { text };

	if (why == 0)
		return;
	rd->dir = imp_add_dir(rd->d, rd->file, lineno, bad, 1, -1);
	report(rd, why == -1 ? "more words than fulcrum-import reads" :
	    "an unterminated quote or a bad \\x escape");
}

static void line(struct reader *rd, char *text, int lineno)
{
	char *w[IMP_WORDS_MAX], *copy = xstrdup(text);
	struct args a = { w, imp_split(text, w, IMP_WORDS_MAX) };

	if (a.n <= 0)
		line_error(rd, a.n, copy, lineno);
	free(copy);
	if (a.n <= 0)
		return;

	rd->dir = imp_add_dir(rd->d, rd->file, lineno, w, a.n, rd->global ? -1 : rd->cur);
	if (section(rd, &a))
		return;
	if (rd->other != NULL)
		imp_report(rd->d, rd->dir, "in a %s section, which fulcrum has not", rd->other);
	else if (rd->global)
		g_directive(rd, &a);
	else if (rd->cur >= 0)
		p_directive(rd, &a);
	else
		report(rd, "outside any section");
}

/* -------------------------------------------------------------- after reading */

static const struct imp_set *eff(const struct imp_doc *d, const struct imp_proxy *p,
    size_t off)
{
	const struct imp_set *s = (const struct imp_set *)((const char *)p + off);

	if (s->set || p->defaults < 0)
		return s;
	return (const struct imp_set *)((const char *)&d->proxies[p->defaults] + off);
}

/* Mode tcp: left out.  No mode at all: HAProxy's tcp, said in a note. */
static void check_mode(struct imp_doc *d, struct imp_proxy *p)
{
	const struct imp_set *m = eff(d, p, offsetof(struct imp_proxy, mode));

	if (m->set && strcmp(m->str, "http") == 0) {
		imp_carry(d, m->dir);
		return;
	}
	if (m->set) {
		p->dropped = "mode tcp: fulcrum proxies HTTP only";
		imp_report(d, p->dir, "%s", p->dropped);
		return;
	}
	imp_note(d, p->dir, "mode", "no \"mode http\" here or in its defaults: HAProxy"
	    " would run it in TCP mode; fulcrum proxies HTTP only, check that this"
	    " traffic is HTTP");
}

/* A frontend's backend by name, if carried. */
static const struct imp_proxy *backend_named(const struct imp_doc *d, const char *name)
{
	int i = find_proxy(d, IMP_BACKEND, name);

	return i >= 0 && d->proxies[i].dropped == NULL ? &d->proxies[i] : NULL;
}

static void check_routes(struct imp_doc *d, struct imp_proxy *p)
{
	int n = 0;

	for (int i = 0; i < p->nroutes; i++) {
		struct imp_route *r = &p->routes[i];

		if (backend_named(d, r->backend) == NULL) {
			imp_report(d, r->dir, "backend \"%s\" is unknown or left out", r->backend);
			free(r->host);
			free(r->path);
			free(r->backend);
		} else {
			p->routes[n++] = *r;
		}
	}
	p->nroutes = n;
	for (int i = 0; i < p->nacls; i++)
		if (!p->acls[i].used)
			imp_report(d, p->acls[i].dir, "no route carried over uses it");
}

static void check_proxy(struct imp_doc *d, struct imp_proxy *p)
{
	const struct imp_set *db;

	if (p->kind == IMP_DEFAULTS || p->dropped != NULL)
		return;
	if (p->kind == IMP_BACKEND || p->kind == IMP_LISTEN) {
		if (p->nservers == 0)
			p->dropped = "no server fulcrum can use";
		if (p->kind == IMP_BACKEND)
			return;
	}
	if (p->binds.n == 0)
		p->dropped = "no address fulcrum can bind";
	if (p->kind != IMP_FRONTEND)
		return;
	check_routes(d, p);
	db = eff(d, p, offsetof(struct imp_proxy, default_backend));
	if (db->set && backend_named(d, db->str) == NULL)
		imp_report(d, db->dir, "backend \"%s\" is unknown or left out", db->str);
	if ((!db->set || backend_named(d, db->str) == NULL) && p->nroutes == 0)
		p->dropped = "no backend fulcrum can send its requests to";
}

static void finish_proxies(struct imp_doc *d)
{
	/* Backends first: a frontend needs to know which it can use. */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < d->nproxies; i++) {
			struct imp_proxy *p = &d->proxies[i];

			if ((p->kind == IMP_BACKEND) != (pass == 0) || p->kind == IMP_DEFAULTS)
				continue;
			check_mode(d, p);
			check_proxy(d, p);
			if (p->dropped != NULL)
				imp_report(d, p->dir, "%s", p->dropped);
		}
}

int imp_read_haproxy(struct imp_doc *d, const char *path)
{
	struct reader rd = { .d = d, .cur = -1, .last_defaults = -1 };
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;
	int lineno = 0;

	if (fp == NULL)
		return -1;
	rd.file = imp_add_file(d, path);
	while (getline(&buf, &cap, fp) >= 0)
		line(&rd, buf, ++lineno);
	free(buf);
	if (ferror(fp)) {
		int e = errno;

		fclose(fp);
		errno = e;
		return -1;
	}
	fclose(fp);
	finish_proxies(d);
	return 0;
}
