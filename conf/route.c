/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A listener's traffic rules: "routes" (which backend, or a redirect, by
 * Host and path), "request_headers" and "response_headers" (set, del) and
 * "rate_limit".  listener.c walks them through the tables and functions
 * exported here (section.h); conf_link_backends() (backend.c) resolves
 * the backend names once every backend is known.
 */
#include "config.h"

#include <ctype.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conf.h"
#include "conf/load.h"
#include "conf/section.h"
#include "lib/alloc.h"

#define ROUTES_MAX	1000
#define HDR_RULES_MAX	64		/* set or del entries in one group */
#define HDR_VALUE_MAX	1024		/* FC_REWRITE: room kept for head rewrites */
#define TARGET_MAX	1024

/* ------------------------------------------------------------- routes */

static bool is_host_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '-';
}

/* A visible ASCII string without spaces: a path or a Location. */
static bool is_target_char(int c)
{
	return c > 0x20 && c < 0x7f;
}

static int check_route_host(struct loader *ld, const config_setting_t *s,
    const char *ctx, const char *v, void *obj)
{
	const char *name = strncmp(v, "*.", 2) == 0 ? v + 2 : v;

	(void)obj;
	/* Labels not empty: "example.com." would never match, as requests'
	 * trailing dots are dropped before the comparison. */
	if (strlen(v) <= FC_ROUTE_HOST_MAX && name[0] != '\0' && name[0] != '.' &&
	    name[strlen(name) - 1] != '.' && strstr(name, "..") == NULL &&
	    load_all_chars(name, is_host_char))
		return 0;
	load_errat(ld, s, "%s: \"host\" must be a host name (letters, digits,"
	    " '-', labels joined by '.', no trailing dot), or \"*.\" and one,"
	    " without a port", ctx);
	return -1;
}

static int check_route_prefix(struct loader *ld, const config_setting_t *s,
    const char *ctx, const char *v, void *obj)
{
	(void)obj;
	if (v[0] == '/' && strlen(v) <= TARGET_MAX && load_all_chars(v, is_target_char))
		return 0;
	load_errat(ld, s, "%s: \"path_prefix\" must start with '/' and hold"
	    " no spaces", ctx);
	return -1;
}

static int check_route_redirect(struct loader *ld, const config_setting_t *s,
    const char *ctx, const char *v, void *obj)
{
	(void)obj;
	if (strlen(v) <= TARGET_MAX && load_all_chars(v, is_target_char) &&
	    (v[0] == '/' || strstr(v, "://") != NULL))
		return 0;
	load_errat(ld, s, "%s: \"redirect\" must be a path (\"/new/\") or an"
	    " absolute URL (\"https://example.com\"), without spaces", ctx);
	return -1;
}

static int check_code(struct loader *ld, const config_setting_t *s, const char *ctx,
    long long v)
{
	if (v == 301 || v == 302 || v == 303 || v == 307 || v == 308)
		return 0;
	load_errat(ld, s, "%s: \"code\" must be 301, 302, 303, 307 or 308", ctx);
	return -1;
}

static const struct key route_keys[] = {
	/* none: any Host; matched ignoring case */
	STR("host", struct fc_route, host, .str_check = check_route_host),
	/* none: any path */
	STR("path_prefix", struct fc_route, path_prefix, .str_check = check_route_prefix),
	ARR("backend", struct fc_route, backend_name, load_key_name, 0),
	STR("redirect", struct fc_route, redirect, .str_check = check_route_redirect),
	INT("code", struct fc_route, code, 100, 999, .def = 302, .check = check_code),
	END,
};

static void parse_route(struct loader *ld, const config_setting_t *e, const char *lctx,
    struct fc_route *rt, int i)
{
	char ctx[CTX_MAX];

	load_defaults(route_keys, rt);
	rt->backend = -1;
	rt->line = (int)config_setting_source_line(e);
	rt->file = config_setting_source_file(e);
	snprintf(ctx, sizeof(ctx), "%s route #%d", lctx, i + 1);
	if (!config_setting_is_group(e)) {
		load_errat(ld, e, "%s must be a group { ... }", ctx);
		return;
	}
	load_walk(ld, e, ctx, route_keys, rt);
	if ((rt->backend_name[0] != '\0') == (rt->redirect != NULL))
		load_errat(ld, e, "%s: give either \"backend\" or \"redirect\"", ctx);
	else if (rt->redirect == NULL && config_setting_get_member(e, "code") != NULL)
		load_errat(ld, e, "%s: \"code\" goes with \"redirect\"", ctx);
}

void conf_read_routes(struct loader *ld, const config_setting_t *s, const char *ctx,
    struct fc_listener *l)
{
	int i, n = config_setting_length(s);

	if (!config_setting_is_list(s) && !(config_setting_is_array(s) && n == 0)) {
		load_errat(ld, s, "%s: \"routes\" must be a list of groups ( { ... }, ... )",
		    ctx);
		return;
	}
	if (n > ROUTES_MAX) {
		load_errat(ld, s, "%s: more than %d routes", ctx, ROUTES_MAX);
		return;
	}
	l->routes = xcalloc((size_t)(n > 0 ? n : 1), sizeof(*l->routes));
	l->nroutes = n;
	for (i = 0; i < n; i++)
		parse_route(ld, config_setting_get_elem(s, (unsigned)i), ctx,
		    &l->routes[i], i);
}

/* ------------------------------------------------------- header rules */

/*
 * Framing and hop-by-hop fields stay fulcrum's: touching them would let a
 * rule desynchronise the message or the connection (smuggling).
 */
static const char *const untouchable[] = {
	"content-length", "transfer-encoding", "connection", "host", "keep-alive",
	"te", "trailer", "upgrade", "proxy-connection", NULL,
};

static bool check_hdr_name(struct loader *ld, const config_setting_t *s,
    const char *ctx, const char *v)
{
	if (strlen(v) >= FC_NAME_MAX || !load_all_chars(v, load_is_token_char)) {
		load_errat(ld, s, "%s: \"%s\" is no header name (1 to %d token"
		    " characters)", ctx, v, FC_NAME_MAX - 1);
		return false;
	}
	for (int i = 0; untouchable[i] != NULL; i++)
		if (strcasecmp(v, untouchable[i]) == 0) {
			load_errat(ld, s, "%s: header \"%s\" cannot be set or removed"
			    " (framing and connection headers are fulcrum's)", ctx, v);
			return false;
		}
	return true;
}

/* Visible characters, spaces and tabs inside, none at the ends. */
static bool check_hdr_value(struct loader *ld, const config_setting_t *s,
    const char *ctx, const char *v)
{
	size_t n = strlen(v);
	const unsigned char *p;

	for (p = (const unsigned char *)v; *p != '\0'; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			break;
	if (*p != '\0' || n > HDR_VALUE_MAX || (n > 0 && (v[0] == ' ' ||
	    v[0] == '\t' || v[n - 1] == ' ' || v[n - 1] == '\t'))) {
		load_errat(ld, s, "%s: a header value holds no control characters, no"
		    " spaces at its ends and at most %d bytes", ctx, HDR_VALUE_MAX);
		return false;
	}
	return true;
}

static void parse_set(struct loader *ld, const config_setting_t *e, const char *ctx,
    struct fc_hdr_set *hs)
{
	const config_setting_t *name = config_setting_get_member(e, "name");
	const config_setting_t *value = config_setting_get_member(e, "value");
	const char *n, *v;

	if (!config_setting_is_group(e) || name == NULL || value == NULL ||
	    config_setting_length(e) != 2) {
		load_errat(ld, e, "%s: each \"set\" entry is { name = \"...\";"
		    " value = \"...\"; }", ctx);
		return;
	}
	if ((n = load_get_str(ld, name, ctx)) == NULL || !check_hdr_name(ld, name, ctx, n))
		return;
	if (config_setting_type(value) != CONFIG_TYPE_STRING) {
		load_errat(ld, value, "%s: \"value\" must be a string", ctx);
		return;
	}
	v = config_setting_get_string(value);
	if (!check_hdr_value(ld, value, ctx, v))
		return;
	hs->name = xstrdup(n);
	hs->value = xstrdup(v);
}

static void key_hdr_set(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_hdr_rules *r = obj;
	int n = config_setting_length(s);

	(void)k;
	if (!config_setting_is_list(s) && !(config_setting_is_array(s) && n == 0)) {
		load_errat(ld, s, "%s: \"set\" must be a list of groups ( { name = ...;"
		    " value = ...; }, ... )", ctx);
		return;
	}
	if (n > HDR_RULES_MAX) {
		load_errat(ld, s, "%s: more than %d \"set\" entries", ctx, HDR_RULES_MAX);
		return;
	}
	r->set = xcalloc((size_t)(n > 0 ? n : 1), sizeof(*r->set));
	r->nset = n;
	for (int i = 0; i < n; i++)
		parse_set(ld, config_setting_get_elem(s, (unsigned)i), ctx, &r->set[i]);
}

static void key_hdr_del(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_hdr_rules *r = obj;
	int n = load_str_list(ld, s, ctx, true);

	(void)k;
	if (n < 0)
		return;
	if (n > HDR_RULES_MAX) {
		load_errat(ld, s, "%s: more than %d \"del\" entries", ctx, HDR_RULES_MAX);
		return;
	}
	r->del = xcalloc((size_t)(n > 0 ? n : 1), sizeof(*r->del));
	r->ndel = n;
	for (int i = 0; i < n; i++) {
		const config_setting_t *e = load_str_elem(s, i);
		const char *v = config_setting_get_string(e);

		if (check_hdr_name(ld, e, ctx, v))
			r->del[i] = xstrdup(v);
	}
}

const struct key conf_hdr_keys[] = {
	FUNC("set", key_hdr_set, 0),
	FUNC("del", key_hdr_del, 0),
	END,
};

static void hdr_rules_free(struct fc_hdr_rules *r)
{
	for (int i = 0; i < r->nset; i++) {
		free(r->set[i].name);
		free(r->set[i].value);
	}
	free(r->set);
	for (int i = 0; i < r->ndel; i++)
		free(r->del[i]);
	free(r->del);
}

/* --------------------------------------------------------- rate limit */

const struct key conf_rate_keys[] = {
	INT("requests", struct fc_rate_limit, requests, 1, 1000000, .flags = REQ),
	/* ms */
	TIME_MS("per_ms", struct fc_rate_limit, per_ms, 1, 86400000, .def = 1000),
	/* requests beyond the rate let through at once */
	INT("burst", struct fc_rate_limit, burst, 0, 1000000, .def = 0),
	END,
};

void conf_routes_free(struct fc_listener *l)
{
	for (int i = 0; i < l->nroutes; i++) {
		free(l->routes[i].host);
		free(l->routes[i].path_prefix);
		free(l->routes[i].redirect);
	}
	free(l->routes);
	hdr_rules_free(&l->req_headers);
	hdr_rules_free(&l->rsp_headers);
}
