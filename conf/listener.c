/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The "defaults" and "listeners" sections: what a listener binds, how it
 * balances, its timeouts and request limits, its health checks, its
 * persistence ("cookie", "stick"), its stats page and its servers.
 *
 * "defaults" takes the keys a listener shares with it (LISTENER_COMMON)
 * into a template; each listener starts as a copy of it and overrides what
 * it gives, down to a single timeout.
 */
#include "config.h"

#include <libconfig.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/load.h"
#include "conf/section.h"
#include "lib/alloc.h"
#include "lib/net.h"

#define TIMEOUT_MAX		86400000	/* one day, in ms */
#define CHECK_MAX		3600000		/* one hour, in ms */
#define COOKIE_AGE_MAX		31536000	/* one year, in seconds */
#define STICK_SIZE_MAX		10000000	/* 192 bytes each in shared memory */
#define DOMAIN_MAX		253		/* cookie.domain: a DNS name */

/* K_ENUM writes an int. */
_Static_assert(sizeof(enum fc_balance) == sizeof(int), "enum fc_balance is no int");
_Static_assert(sizeof(enum fc_cookie_mode) == sizeof(int), "enum fc_cookie_mode is no int");

struct bindref {		/* every bind address seen, for duplicates */
	const struct fc_addr *addr;
	const struct fc_listener *listener;
	int line;
};

/* ------------------------------------------------- timeouts, limits */

/* ms */
static const struct key timeout_keys[] = {
	INT("connect", struct fc_timeouts, connect, 1, TIMEOUT_MAX, .def = 5000),
	INT("client", struct fc_timeouts, client, 1, TIMEOUT_MAX, .def = 50000),
	INT("server", struct fc_timeouts, server, 1, TIMEOUT_MAX, .def = 50000),
	INT("http_request", struct fc_timeouts, http_request, 1, TIMEOUT_MAX, .def = 10000),
	INT("queue", struct fc_timeouts, queue, 1, TIMEOUT_MAX, .def = 5000),
	END,
};

static const struct key limits_keys[] = {
	INT("request_line", struct fc_limits, request_line, 64, FC_LIMIT_LINE_MAX,
	    .def = FC_LIMIT_LINE_MAX),
	INT("header_size", struct fc_limits, header_size, 1024, FC_LIMIT_HEAD_MAX,
	    .def = FC_LIMIT_HEAD_MAX),
	INT("headers", struct fc_limits, headers, 1, FC_LIMIT_HEADERS_MAX,
	    .def = FC_LIMIT_HEADERS_MAX),
	/* 0: no limit */
	INT64("body", struct fc_limits, body, 0, INT64_C(1) << 50, .def = 0),
	END,
};

static const struct choice balances[] = {
	{ "roundrobin", FC_BALANCE_ROUNDROBIN },
	{ "leastconn", FC_BALANCE_LEASTCONN },
	{ "source", FC_BALANCE_SOURCE },
	{ NULL, 0 },
};

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
	if (n < 2 || n > 3 || !load_all_chars(method, load_is_token_char))
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
	const char *v = load_get_str(ld, s, ctx);

	(void)k;
	if (v == NULL)
		return;
	if (!valid_request(v)) {
		load_errat(ld, s, "%s: \"request\" must be \"METHOD URI"
		    " [HTTP/1.0|HTTP/1.1]\", for example \"HEAD /check.txt HTTP/1.0\"",
		    ctx);
		return;
	}
	free(check->request);
	check->request = xstrdup(v);
}

static const struct key check_keys[] = {
	FUNC("request", key_request, 0),		/* none: a TCP check */
	/* 0: any 2xx/3xx */
	INT("expect_status", struct fc_check, expect_status, 100, 599, .def = 0),
	/* ms */
	INT("interval", struct fc_check, interval, 100, CHECK_MAX, .def = 2000),
	INT("timeout", struct fc_check, timeout, 1, CHECK_MAX, .def = 2000),
	INT("rise", struct fc_check, rise, 1, 100, .def = 2),
	INT("fall", struct fc_check, fall, 1, 100, .def = 3),
	END,
};

/* ------------------------------------------------------------- cookie */

static const struct choice cookie_modes[] = {
	{ "prefix", FC_COOKIE_PREFIX },
	{ "insert", FC_COOKIE_INSERT },
	{ "rewrite", FC_COOKIE_REWRITE },
	{ NULL, 0 },
};

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
	const char *v = load_get_str(ld, s, ctx);

	(void)k;
	if (v == NULL)
		return;
	if (strlen(v) > DOMAIN_MAX || !load_all_chars(v, is_domain_char)) {
		load_errat(ld, s, "%s: \"domain\" must be a host name of 1 to %d"
		    " characters (letters, digits, '.', '-')", ctx, DOMAIN_MAX);
		return;
	}
	free(c->domain);
	c->domain = xstrdup(v);
}

static const struct key cookie_keys[] = {
	ARR("name", struct fc_cookie, name, load_key_token, REQ),
	/* Without a "cookie" group: no persistence. */
	ENUM("mode", struct fc_cookie, mode, cookie_modes, .def = FC_COOKIE_NONE,
	    .flags = REQ),
	BOOL("indirect", struct fc_cookie, indirect, .def = false),
	BOOL("nocache", struct fc_cookie, nocache, .def = false),
	BOOL("httponly", struct fc_cookie, httponly, .def = false),
	BOOL("secure", struct fc_cookie, secure, .def = false),
	FUNC("domain", key_cookie_domain, 0),		/* none by default */
	/* seconds, 0: none */
	INT("maxidle", struct fc_cookie, maxidle, 0, COOKIE_AGE_MAX, .def = 0),
	INT("maxlife", struct fc_cookie, maxlife, 0, COOKIE_AGE_MAX, .def = 0),
	END,
};

/* -------------------------------------------------------------- stick */

/* Its defaults apply once the group is there: without it, no learning
 * and no room taken in the session table. */
static const struct key stick_keys[] = {
	ARR("cookie", struct fc_stick, cookie, load_key_token, REQ),
	/* seconds since last seen */
	INT("expire", struct fc_stick, expire, 1, COOKIE_AGE_MAX, .def = 1800),
	/* entries this listener adds to the table */
	INT("size", struct fc_stick, size, 1, STICK_SIZE_MAX, .def = 100000),
	END,
};

/* -------------------------------------------------------------- stats */

static void key_uri(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_stats *st = obj;
	const char *v = load_get_str(ld, s, ctx), *p;

	(void)k;
	if (v == NULL)
		return;
	for (p = v; *p > 0x20 && *p < 0x7f; p++)
		;
	if (v[0] != '/' || *p != '\0') {
		load_errat(ld, s, "%s: \"uri\" must start with '/' and hold no spaces",
		    ctx);
		return;
	}
	free(st->uri);
	st->uri = xstrdup(v);
}

static void key_auth(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_stats *st = obj;
	int i, n = load_str_list(ld, s, ctx, false);

	(void)k;
	if (n < 0)
		return;
	st->auth = xcalloc((size_t)n, sizeof(*st->auth));
	st->nauth = n;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = load_str_elem(s, i);
		const char *v = config_setting_get_string(e);
		const char *colon = strchr(v, ':');

		if (colon == NULL || colon == v) {
			load_errat(ld, e, "%s: \"auth\" entries must be \"user:password\"",
			    ctx);
			continue;
		}
		st->auth[i] = xstrdup(v);
	}
}

static const struct key stats_keys[] = {
	FUNC("uri", key_uri, REQ),
	FUNC("auth", key_auth, 0),
	/* seconds, 0: no auto refresh */
	INT("refresh", struct fc_stats, refresh, 0, 86400, .def = 0),
	END,
};

/* ------------------------------------------------------------ servers */

static bool is_any_addr(const struct fc_addr *a)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->ss;

	if (a->ss.ss_family == AF_INET)
		return sin->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
}

static void key_server_addr(struct loader *ld, const config_setting_t *s,
    const char *ctx, const struct key *k, void *obj)
{
	struct fc_server *sv = obj;
	const char *v = load_get_str(ld, s, ctx);

	(void)k;
	if (v == NULL || load_get_addr(ld, s, ctx, &sv->addr) < 0)
		return;
	if (is_any_addr(&sv->addr)) {
		load_errat(ld, s, "%s: invalid address \"%s\" (a server needs a"
		    " specific address, not a wildcard)", ctx, v);
		return;
	}
	snprintf(sv->addr_text, sizeof(sv->addr_text), "%s", v);
}

static const struct key server_keys[] = {
	ARR("name", struct fc_server, name, load_key_name, REQ),
	FUNC("address", key_server_addr, REQ),
	/* 0: no new traffic */
	INT("weight", struct fc_server, weight, 0, 256, .def = 1),
	/* 0: unlimited */
	INT("maxconn", struct fc_server, maxconn, 0, MAXCONN_MAX, .def = 0),
	BOOL("check", struct fc_server, check, .def = false),
	/* Default: the server's name (parse_server()).  Same charset as
	 * names: the value travels in a cookie, and a prefix cookie must be
	 * split again on its delimiter. */
	ARR("cookie", struct fc_server, cookie, load_key_name, 0),
	/* Its presence: fulcrum talks TLS to the server (conf/tls.c). */
	{ ROW("tls", K_GROUP, struct fc_server, tls), .sub = conf_server_tls_keys,
	    .flags = ON | LAZY, .on = offsetof(struct fc_server, tls.enabled) },
	END,
};

static void check_server_dups(struct loader *ld, const config_setting_t *e,
    const char *lctx, const struct fc_listener *l, int i)
{
	const struct fc_server *sv = &l->servers[i];
	int j;

	for (j = 0; j < i; j++) {
		const struct fc_server *o = &l->servers[j];

		if (sv->name[0] != '\0' && strcmp(o->name, sv->name) == 0)
			load_errat(ld, e, "%s: duplicate server name \"%s\" (first at"
			    " line %d)", lctx, sv->name, o->line);
		else if (sv->cookie[0] != '\0' && strcmp(o->cookie, sv->cookie) == 0)
			load_errat(ld, e, "%s: server \"%s\" has the same cookie \"%s\""
			    " as server \"%s\" (line %d)", lctx, sv->name, sv->cookie,
			    o->name, o->line);
	}
}

static void parse_server(struct loader *ld, const config_setting_t *e,
    const char *lctx, struct fc_listener *l, int i)
{
	struct fc_server *sv = &l->servers[i];
	char ctx[CTX_MAX];

	load_defaults(server_keys, sv);
	sv->line = (int)config_setting_source_line(e);
	if (!config_setting_is_group(e)) {
		load_errat(ld, e, "%s: server #%d must be a group { ... }", lctx, i + 1);
		return;
	}
	load_object_ctx(ctx, sizeof(ctx), "server", e, i);
	load_walk(ld, e, ctx, server_keys, sv);
	if (sv->cookie[0] == '\0')
		memcpy(sv->cookie, sv->name, sizeof(sv->cookie));
	if (sv->tls.enabled)
		conf_server_tls_build(ld, e, ctx, sv);
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
		load_errat(ld, s, "%s: \"servers\" must be a list of groups"
		    " ( { ... }, ... )", ctx);
		return;
	}
	if (n == 0) {
		load_errat(ld, s, "%s: \"servers\" must hold at least one server", ctx);
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
			load_errat(ld, e, "%s: duplicate bind address \"%s\" (line %d)",
			    ctx, text, b->line);
		else
			load_errat(ld, e, "%s: bind address \"%s\" already used by"
			    " listener \"%s\" (line %d)", ctx, text, b->listener->name,
			    b->line);
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
	int i, n = load_str_list(ld, s, ctx, true);

	(void)k;
	if (n < 0)
		return;
	if (n == 0) {
		load_errat(ld, s, "%s: \"bind\" must hold at least one address", ctx);
		return;
	}
	l->binds = xcalloc((size_t)n, sizeof(*l->binds));
	l->bind_text = xcalloc((size_t)n, sizeof(*l->bind_text));
	l->nbinds = n;
	snprintf(what, sizeof(what), "%s bind", ctx);
	for (i = 0; i < n; i++) {
		const config_setting_t *e = load_str_elem(s, i);

		if (load_get_addr(ld, e, what, &l->binds[i]) < 0)
			continue;
		snprintf(l->bind_text[i], sizeof(l->bind_text[i]), "%s",
		    config_setting_get_string(e));
		register_bind(ld, e, ctx, l, &l->binds[i]);
	}
}

/*
 * The keys "defaults" sets for every listener and a listener for itself.
 * Their defaults start the template; a listener's sub-group changes only
 * the keys it gives, the rest stays as "defaults" had it.
 */
#define LISTENER_COMMON \
	ENUM("balance", struct fc_listener, balance, balances, \
	    .def = FC_BALANCE_ROUNDROBIN), \
	BOOL("forwardfor", struct fc_listener, forwardfor, .def = false), \
	BOOL("forwardfor_replace", struct fc_listener, forwardfor_replace, .def = false), \
	BOOL("httpclose", struct fc_listener, httpclose, .def = false), \
	INT("retries", struct fc_listener, retries, 0, 100, .def = 3), \
	INT("maxconn", struct fc_listener, maxconn, 1, MAXCONN_MAX, .def = 2000), \
	GROUP("timeout", struct fc_listener, timeout, timeout_keys, 0), \
	GROUP("limits", struct fc_listener, limits, limits_keys, 0)

static const struct key defaults_keys[] = {
	LISTENER_COMMON,
	END,
};

static const struct key listener_keys[] = {
	ARR("name", struct fc_listener, name, load_key_name, REQ),
	FUNC("bind", key_bind, REQ),
	LISTENER_COMMON,
	/* Filled even without a "check" group: servers with check = true
	 * then get TCP checks at these rates. */
	GROUP("check", struct fc_listener, check, check_keys, 0),
	GROUP("cookie", struct fc_listener, cookie, cookie_keys, 0),
	GROUP("stick", struct fc_listener, stick, stick_keys, LAZY),
	GROUP("stats", struct fc_listener, stats, stats_keys, 0),
	/* Its presence makes the listener HTTPS (conf/tls.c). */
	{ ROW("tls", K_GROUP, struct fc_listener, tls), .sub = conf_tls_keys,
	    .flags = ON | LAZY, .on = offsetof(struct fc_listener, tls.enabled) },
	/* Every request answered with a 301 to https://: no servers needed. */
	BOOL("redirect_https", struct fc_listener, redirect_https, .def = false),
	FUNC("servers", key_servers, 0),	/* required but with redirect_https */
	END,
};

static void parse_listener(struct loader *ld, const config_setting_t *e,
    struct fc_conf *conf, const struct fc_listener *template, int i)
{
	struct fc_listener *l = &conf->listeners[i];
	char ctx[CTX_MAX];
	int j;

	/* The template holds no pointers (no string default above, and
	 * "defaults" takes no string): a plain copy is safe. */
	*l = *template;
	l->line = (int)config_setting_source_line(e);
	if (!config_setting_is_group(e)) {
		load_errat(ld, e, "listener #%d must be a group { ... }", i + 1);
		return;
	}
	load_object_ctx(ctx, sizeof(ctx), "listener", e, i);
	load_walk(ld, e, ctx, listener_keys, l);
	if (l->nservers == 0 && !l->redirect_https &&
	    config_setting_get_member(e, "servers") == NULL)
		load_errat(ld, e, "%s: missing \"servers\"", ctx);
	if (l->tls.enabled)
		conf_tls_build(ld, e, ctx, l);
	/* One cookie cannot be both rewritten by fulcrum and learned as is. */
	if (l->cookie.mode != FC_COOKIE_NONE && strcmp(l->cookie.name, l->stick.cookie) == 0)
		load_errat(ld, e, "%s: \"stick.cookie\" and \"cookie.name\" must differ"
		    " (both are \"%s\")", ctx, l->stick.cookie);
	if (l->forwardfor_replace && !l->forwardfor)
		load_errat(ld, e, "%s: \"forwardfor_replace\" needs \"forwardfor = true\"",
		    ctx);
	for (j = 0; j < i && l->name[0] != '\0'; j++)
		if (strcmp(conf->listeners[j].name, l->name) == 0)
			load_errat(ld, e, "duplicate listener name \"%s\" (first at line %d)",
			    l->name, conf->listeners[j].line);
}

static void parse_listeners(struct loader *ld, const config_setting_t *s,
    struct fc_conf *conf, const struct fc_listener *template)
{
	int i, n = config_setting_length(s);

	if (!config_setting_is_list(s) && !(config_setting_is_array(s) && n == 0)) {
		load_errat(ld, s, "\"listeners\" must be a list of groups ( { ... }, ... )");
		return;
	}
	if (n == 0) {
		load_errat(ld, s, "\"listeners\" must hold at least one listener");
		return;
	}
	conf->listeners = xcalloc((size_t)n, sizeof(*conf->listeners));
	conf->nlisteners = n;
	for (i = 0; i < n; i++)
		parse_listener(ld, config_setting_get_elem(s, (unsigned)i), conf,
		    template, i);
}

void conf_read_listeners(struct loader *ld, const config_setting_t *defaults,
    const config_setting_t *listeners, struct fc_conf *conf)
{
	struct fc_listener template;

	memset(&template, 0, sizeof(template));
	load_defaults(listener_keys, &template);
	if (defaults != NULL)
		load_walk(ld, defaults, "defaults", defaults_keys, &template);
	if (listeners != NULL)
		parse_listeners(ld, listeners, conf, &template);
	else
		load_errfl(ld, NULL, 0, "no \"listeners\" defined");
	free(ld->binds);
	ld->binds = NULL;
	ld->nbinds = 0;
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
	conf_tls_free(&l->tls);
	for (i = 0; i < l->nservers; i++)
		conf_server_tls_free(&l->servers[i].tls);
	free(l->servers);
}

void conf_free_listeners(struct fc_conf *conf)
{
	int i;

	for (i = 0; i < conf->nlisteners; i++)
		listener_free(&conf->listeners[i]);
	free(conf->listeners);
}
