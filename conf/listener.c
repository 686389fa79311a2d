/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The "defaults" and "listeners" sections: what a listener binds, its
 * timeouts and request limits, its stats page, its routes and header
 * rules (route.c), and where its requests go: its own servers (with how
 * they are balanced, checked and persisted: backend.c's tables) or a
 * backend of "backends".
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

struct bindref {		/* every bind address seen, for duplicates */
	const struct fc_addr *addr;
	const struct fc_listener *listener;
	int line;
};

/* ------------------------------------------------- timeouts, limits */

/* ms */
static const struct key timeout_keys[] = {
	TIME_MS("connect", struct fc_timeouts, connect, 1, TIMEOUT_MAX, .def = 5000),
	TIME_MS("client", struct fc_timeouts, client, 1, TIMEOUT_MAX, .def = 50000),
	TIME_MS("server", struct fc_timeouts, server, 1, TIMEOUT_MAX, .def = 50000),
	TIME_MS("http_request", struct fc_timeouts, http_request, 1, TIMEOUT_MAX, .def = 10000),
	TIME_MS("queue", struct fc_timeouts, queue, 1, TIMEOUT_MAX, .def = 5000),
	TIME_MS("tunnel", struct fc_timeouts, tunnel, 1, TIMEOUT_MAX, .def = 3600000),
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

/* -------------------------------------------------------------- stats */

static int check_uri(struct loader *ld, const config_setting_t *s, const char *ctx,
    const char *v, void *obj)
{
	const char *p;

	(void)obj;
	for (p = v; *p > 0x20 && *p < 0x7f; p++)
		;
	if (v[0] == '/' && *p == '\0')
		return 0;
	load_errat(ld, s, "%s: \"%s\" must start with '/' and hold no spaces", ctx,
	    config_setting_name(s));
	return -1;
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
	STR("uri", struct fc_stats, uri, .flags = REQ, .str_check = check_uri),
	/* none: no Prometheus metrics page */
	STR("prometheus_uri", struct fc_stats, prometheus_uri, .str_check = check_uri),
	FUNC("auth", key_auth, 0),
	/* seconds, 0: no auto refresh */
	TIME_S("refresh", struct fc_stats, refresh, 0, 86400, .def = 0),
	END,
};

/* ----------------------------------------------------------- listener */

static key_fn key_servers, key_routes;

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

/* "[::ffff:127.0.0.1]:80": listening sockets are IPV6_V6ONLY (lib/net.c). */
static bool v4_mapped(const struct fc_addr *a)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;

	return a->ss.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr);
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
		if (v4_mapped(&l->binds[i])) {
			load_errat(ld, e, "%s: \"%s\" is an IPv4 address written as IPv6,"
			    " which an IPv6-only socket cannot bind: write it as IPv4",
			    what, config_setting_get_string(e));
			continue;
		}
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
	ENUM("balance", struct fc_listener, own.balance, conf_balances, \
	    .def = FC_BALANCE_ROUNDROBIN), \
	BOOL("forwardfor", struct fc_listener, forwardfor, .def = false), \
	BOOL("forwardfor_replace", struct fc_listener, forwardfor_replace, .def = false), \
	BOOL("httpclose", struct fc_listener, httpclose, .def = false), \
	BOOL("accept_proxy", struct fc_listener, accept_proxy, .def = false), \
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
	GROUP("check", struct fc_listener, own.check, conf_check_keys, 0),
	GROUP("cookie", struct fc_listener, own.cookie, conf_cookie_keys, 0),
	GROUP("stick", struct fc_listener, own.stick, conf_stick_keys, LAZY),
	GROUP("stats", struct fc_listener, stats, stats_keys, 0),
	/* Its presence makes the listener HTTPS (conf/tls.c). */
	{ ROW("tls", K_GROUP, struct fc_listener, tls), .sub = conf_tls_keys,
	    .flags = ON | LAZY, .on = offsetof(struct fc_listener, tls.enabled) },
	/* Every request answered with a 301 to https://: no servers needed. */
	BOOL("redirect_https", struct fc_listener, redirect_https, .def = false),
	/* Its own servers, or a backend of "backends": one of the two
	 * but with redirect_https or routes. */
	FUNC("servers", key_servers, 0),
	ARR("backend", struct fc_listener, backend_name, load_key_name, 0),
	FUNC("routes", key_routes, 0),
	GROUP("request_headers", struct fc_listener, req_headers, conf_hdr_keys, 0),
	GROUP("response_headers", struct fc_listener, rsp_headers, conf_hdr_keys, 0),
	{ ROW("rate_limit", K_GROUP, struct fc_listener, rate_limit), .sub = conf_rate_keys,
	    .flags = ON | LAZY, .on = offsetof(struct fc_listener, rate_limit.enabled) },
	END,
};

/* The keys that belong to the backend when the listener has no servers. */
static const char *const backend_only[] = { "balance", "check", "cookie", "stick", NULL };

/* Where its requests go: its servers, a backend, routes; one at least. */
static void check_destination(struct loader *ld, const config_setting_t *e,
    const char *ctx, const struct fc_listener *l)
{
	bool own = config_setting_get_member(e, "servers") != NULL;

	if (own && l->backend_name[0] != '\0')
		load_errat(ld, config_setting_get_member(e, "backend"), "%s: \"backend\""
		    " and \"servers\" together (its own servers are its backend)", ctx);
	if (!own && l->backend_name[0] == '\0' && l->nroutes == 0 && !l->redirect_https)
		load_errat(ld, e, "%s: missing \"servers\" or \"backend\"", ctx);
	if (own)
		return;
	for (int i = 0; backend_only[i] != NULL; i++) {
		const config_setting_t *k = config_setting_get_member(e, backend_only[i]);

		if (k != NULL)
			load_errat(ld, k, "%s: \"%s\" belongs to a backend: this listener"
			    " has no servers of its own", ctx, backend_only[i]);
	}
}

/* The metrics must not hide the page. */
static void check_stats(struct loader *ld, const config_setting_t *e, const char *ctx,
    const struct fc_stats *st)
{
	if (st->uri != NULL && st->prometheus_uri != NULL &&
	    strcmp(st->uri, st->prometheus_uri) == 0)
		load_errat(ld, config_setting_get_member(
		    config_setting_get_member(e, "stats"), "prometheus_uri"),
		    "%s: stats \"prometheus_uri\" must differ from its \"uri\"", ctx);
}

static void key_servers(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_listener *l = obj;

	(void)k;
	conf_read_servers(ld, s, ctx, &l->own);
}

static void key_routes(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	(void)k;
	conf_read_routes(ld, s, ctx, obj);
}

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
	l->file = config_setting_source_file(e);
	if (!config_setting_is_group(e)) {
		load_errat(ld, e, "listener #%d must be a group { ... }", i + 1);
		return;
	}
	load_object_ctx(ctx, sizeof(ctx), "listener", e, i);
	load_walk(ld, e, ctx, listener_keys, l);
	check_destination(ld, e, ctx, l);
	check_stats(ld, e, ctx, &l->stats);
	if (l->tls.enabled)
		conf_tls_build(ld, e, ctx, l);
	conf_backend_check(ld, e, ctx, &l->own);
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
	ld->balance = (int)template.own.balance;	/* for "backends" */
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
	conf_backend_free(&l->own);
	conf_routes_free(l);
	free(l->stats.uri);
	free(l->stats.prometheus_uri);
	for (i = 0; i < l->stats.nauth; i++)
		free(l->stats.auth[i]);
	free(l->stats.auth);
	conf_tls_free(&l->tls);
}

void conf_free_listeners(struct fc_conf *conf)
{
	int i;

	for (i = 0; i < conf->nlisteners; i++)
		listener_free(&conf->listeners[i]);
	free(conf->listeners);
}
