/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The "backends" section and what every backend has, whether it is an
 * entry of "backends" or a listener's own servers: how it balances, its
 * health checks, its persistence ("cookie", "stick") and its servers.
 * listener.c reads a listener's own through the tables exported here
 * (section.h); conf_link_backends() then gathers both kinds into
 * conf->backends and resolves the names that point at them.
 */
#include "config.h"

#include <libconfig.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/load.h"
#include "conf/section.h"
#include "lib/alloc.h"
#include "lib/net.h"

#define CHECK_MAX		3600000		/* one hour, in ms */
#define COOKIE_AGE_MAX		31536000	/* one year, in seconds */
#define STICK_SIZE_MAX		10000000	/* 192 bytes each in shared memory */
#define DOMAIN_MAX		253		/* cookie.domain: a DNS name */
#define SLOWSTART_MAX		3600000		/* one hour, in ms */

/* K_ENUM writes an int. */
_Static_assert(sizeof(enum fc_balance) == sizeof(int), "enum fc_balance is no int");
_Static_assert(sizeof(enum fc_cookie_mode) == sizeof(int), "enum fc_cookie_mode is no int");

/* A server's send_proxy: the PROXY protocol version (lib/proxyproto.h). */
static const struct choice proxy_versions[] = {
	{ "none", 0 },
	{ "v1", 1 },
	{ "v2", 2 },
	{ NULL, 0 },
};

const struct choice conf_balances[] = {
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

static int check_request(struct loader *ld, const config_setting_t *s, const char *ctx,
    const char *v, void *obj)
{
	(void)obj;
	if (valid_request(v))
		return 0;
	load_errat(ld, s, "%s: \"request\" must be \"METHOD URI"
	    " [HTTP/1.0|HTTP/1.1]\", for example \"HEAD /check.txt HTTP/1.0\"", ctx);
	return -1;
}

const struct key conf_check_keys[] = {
	/* none: a TCP check */
	STR("request", struct fc_check, request, .str_check = check_request),
	/* 0: any 2xx/3xx */
	INT("expect_status", struct fc_check, expect_status, 100, 599, .def = 0),
	/* ms */
	TIME_MS("interval", struct fc_check, interval, 100, CHECK_MAX, .def = 2000),
	TIME_MS("timeout", struct fc_check, timeout, 1, CHECK_MAX, .def = 2000),
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
static int check_cookie_domain(struct loader *ld, const config_setting_t *s,
    const char *ctx, const char *v, void *obj)
{
	(void)obj;
	if (strlen(v) <= DOMAIN_MAX && load_all_chars(v, is_domain_char))
		return 0;
	load_errat(ld, s, "%s: \"domain\" must be a host name of 1 to %d"
	    " characters (letters, digits, '.', '-')", ctx, DOMAIN_MAX);
	return -1;
}

const struct key conf_cookie_keys[] = {
	ARR("name", struct fc_cookie, name, load_key_token, REQ),
	/* Without a "cookie" group: no persistence. */
	ENUM("mode", struct fc_cookie, mode, cookie_modes, .def = FC_COOKIE_NONE,
	    .flags = REQ),
	BOOL("indirect", struct fc_cookie, indirect, .def = false),
	BOOL("nocache", struct fc_cookie, nocache, .def = false),
	BOOL("httponly", struct fc_cookie, httponly, .def = false),
	BOOL("secure", struct fc_cookie, secure, .def = false),
	/* none by default */
	STR("domain", struct fc_cookie, domain, .str_check = check_cookie_domain),
	/* seconds, 0: none */
	TIME_S("maxidle", struct fc_cookie, maxidle, 0, COOKIE_AGE_MAX, .def = 0),
	TIME_S("maxlife", struct fc_cookie, maxlife, 0, COOKIE_AGE_MAX, .def = 0),
	END,
};

/* -------------------------------------------------------------- stick */

/* Its defaults apply once the group is there: without it, no learning
 * and no room taken in the session table. */
const struct key conf_stick_keys[] = {
	ARR("cookie", struct fc_stick, cookie, load_key_token, REQ),
	/* seconds since last seen */
	TIME_S("expire", struct fc_stick, expire, 1, COOKIE_AGE_MAX, .def = 1800),
	/* entries this backend adds to the table */
	INT("size", struct fc_stick, size, 1, STICK_SIZE_MAX, .def = 100000),
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
	/* A name is resolved at each load: a reload follows a changed record. */
	if (v == NULL || load_resolve_addr(ld, s, ctx, &sv->addr) < 0)
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
	/* Traffic only when every other server of the backend is DOWN. */
	BOOL("backup", struct fc_server, backup, .def = false),
	/* A PROXY header first on every connection, checks included. */
	ENUM("send_proxy", struct fc_server, send_proxy, proxy_versions, .def = 0),
	/* ms of weight ramp after DOWN -> UP, 0: none */
	TIME_MS("slowstart", struct fc_server, slowstart, 0, SLOWSTART_MAX, .def = 0),
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
    const char *lctx, const struct fc_backend *b, int i)
{
	const struct fc_server *sv = &b->servers[i];
	int j;

	for (j = 0; j < i; j++) {
		const struct fc_server *o = &b->servers[j];

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
    const char *lctx, struct fc_backend *b, int i)
{
	struct fc_server *sv = &b->servers[i];
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
	check_server_dups(ld, e, lctx, b, i);
}

void conf_read_servers(struct loader *ld, const config_setting_t *s, const char *ctx,
    struct fc_backend *b)
{
	int i, n = config_setting_length(s);

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
	b->servers = xcalloc((size_t)n, sizeof(*b->servers));
	b->nservers = n;
	for (i = 0; i < n; i++)
		parse_server(ld, config_setting_get_elem(s, (unsigned)i), ctx, b, i);
}


/* ----------------------------------------------------------- backends */

static void key_backend_servers(struct loader *ld, const config_setting_t *s,
    const char *ctx, const struct key *k, void *obj)
{
	(void)k;
	conf_read_servers(ld, s, ctx, obj);
}

static const struct key backend_keys[] = {
	ARR("name", struct fc_backend, name, load_key_name, REQ),
	ENUM("balance", struct fc_backend, balance, conf_balances,
	    .def = FC_BALANCE_ROUNDROBIN),
	GROUP("check", struct fc_backend, check, conf_check_keys, 0),
	GROUP("cookie", struct fc_backend, cookie, conf_cookie_keys, 0),
	GROUP("stick", struct fc_backend, stick, conf_stick_keys, LAZY),
	FUNC("servers", key_backend_servers, REQ),
	END,
};

void conf_backend_check(struct loader *ld, const config_setting_t *e, const char *ctx,
    const struct fc_backend *b)
{
	/* One cookie cannot be both rewritten by fulcrum and learned as is. */
	if (b->cookie.mode != FC_COOKIE_NONE && strcmp(b->cookie.name, b->stick.cookie) == 0)
		load_errat(ld, e, "%s: \"stick.cookie\" and \"cookie.name\" must differ"
		    " (both are \"%s\")", ctx, b->stick.cookie);
}

static void parse_backend(struct loader *ld, const config_setting_t *e,
    struct fc_backend *b, int i, enum fc_balance balance)
{
	char ctx[CTX_MAX];

	load_defaults(backend_keys, b);
	b->balance = balance;
	b->listener = -1;
	b->line = (int)config_setting_source_line(e);
	b->file = config_setting_source_file(e);
	if (!config_setting_is_group(e)) {
		load_errat(ld, e, "backend #%d must be a group { ... }", i + 1);
		return;
	}
	load_object_ctx(ctx, sizeof(ctx), "backend", e, i);
	load_walk(ld, e, ctx, backend_keys, b);
	conf_backend_check(ld, e, ctx, b);
}

void conf_read_backends(struct loader *ld, const config_setting_t *s,
    enum fc_balance balance, struct fc_conf *conf)
{
	int i, n;

	if (s == NULL)
		return;
	n = config_setting_length(s);
	if (!config_setting_is_list(s) && !(config_setting_is_array(s) && n == 0)) {
		load_errat(ld, s, "\"backends\" must be a list of groups ( { ... }, ... )");
		return;
	}
	conf->backends = xcalloc((size_t)n, sizeof(*conf->backends));
	conf->nbackends = n;
	for (i = 0; i < n; i++)
		parse_backend(ld, config_setting_get_elem(s, (unsigned)i),
		    &conf->backends[i], i, balance);
}

/* ------------------------------------------------------------ linking */

static int find_backend(const struct fc_conf *conf, const char *name)
{
	for (int i = 0; i < conf->nbackends; i++)
		if (strcmp(conf->backends[i].name, name) == 0)
			return i;
	return -1;
}

/* Two backends of one name: two "backends" entries, or one and a listener's own. */
static void check_backend_names(struct loader *ld, const struct fc_conf *conf)
{
	for (int i = 0; i < conf->nbackends; i++) {
		const struct fc_backend *b = &conf->backends[i];
		int j = find_backend(conf, b->name);

		if (j == i || b->name[0] == '\0')
			continue;
		if (b->listener >= 0 && conf->backends[j].listener >= 0)
			continue;	/* two listeners of one name: said already */
		if (b->listener >= 0)
			load_errfl(ld, b->file, b->line, "listener \"%s\": its own servers make"
			    " a backend of that name, and backend \"%s\" (line %d) has"
			    " it already", b->name, b->name, conf->backends[j].line);
		else
			load_errfl(ld, b->file, b->line, "duplicate backend name \"%s\" (first"
			    " at line %d)", b->name, conf->backends[j].line);
	}
}

/* Moves each listener's own servers to the end of conf->backends. */
static void gather_own(struct fc_conf *conf)
{
	int n = conf->nbackends;

	for (int i = 0; i < conf->nlisteners; i++)
		n += conf->listeners[i].own.nservers > 0;
	conf->backends = xrealloc(conf->backends, (size_t)(n > 0 ? n : 1) *
	    sizeof(*conf->backends));
	for (int i = 0; i < conf->nlisteners; i++) {
		struct fc_listener *l = &conf->listeners[i];
		struct fc_backend *b;

		if (l->own.nservers == 0)
			continue;
		b = &conf->backends[conf->nbackends++];
		*b = l->own;
		memcpy(b->name, l->name, sizeof(b->name));
		b->listener = i;
		b->line = l->line;
		b->file = l->file;
		l->own.servers = NULL;
		l->own.nservers = 0;
		l->own.check.request = NULL;
		l->own.cookie.domain = NULL;
	}
}

static void link_listener(struct loader *ld, struct fc_conf *conf, struct fc_listener *l,
    int li)
{
	l->backend = -1;
	for (int i = 0; i < conf->nbackends; i++)
		if (conf->backends[i].listener == li)
			l->backend = i;
	if (l->backend_name[0] != '\0') {
		l->backend = find_backend(conf, l->backend_name);
		if (l->backend < 0)
			load_errfl(ld, l->file, l->line, "listener \"%s\": \"backend\" names"
			    " an unknown backend \"%s\"", l->name, l->backend_name);
	}
	for (int r = 0; r < l->nroutes; r++) {
		struct fc_route *rt = &l->routes[r];

		if (rt->redirect != NULL)
			continue;
		if ((rt->backend = find_backend(conf, rt->backend_name)) < 0)
			load_errfl(ld, rt->file, rt->line, "listener \"%s\": route #%d names an"
			    " unknown backend \"%s\"", l->name, r + 1, rt->backend_name);
	}
}

/*
 * The file names noted for the errors above are libconfig's strings, gone
 * with its config once the file is read: none outlives the reading.
 */
static void forget_files(struct fc_conf *conf)
{
	for (int i = 0; i < conf->nbackends; i++)
		conf->backends[i].file = NULL;
	for (int i = 0; i < conf->nlisteners; i++) {
		conf->listeners[i].file = NULL;
		for (int r = 0; r < conf->listeners[i].nroutes; r++)
			conf->listeners[i].routes[r].file = NULL;
	}
}

void conf_link_backends(struct loader *ld, struct fc_conf *conf)
{
	gather_own(conf);
	check_backend_names(ld, conf);
	for (int i = 0; i < conf->nlisteners; i++)
		link_listener(ld, conf, &conf->listeners[i], i);
	forget_files(conf);
}

void conf_backend_free(struct fc_backend *b)
{
	free(b->check.request);
	free(b->cookie.domain);
	for (int i = 0; i < b->nservers; i++)
		conf_server_tls_free(&b->servers[i].tls);
	free(b->servers);
}

void conf_free_backends(struct fc_conf *conf)
{
	for (int i = 0; i < conf->nbackends; i++)
		conf_backend_free(&conf->backends[i]);
	free(conf->backends);
}
