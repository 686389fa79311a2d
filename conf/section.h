/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The sections of the file, one source file each, as conf.c calls them.
 * Internal to conf/, like load.h.
 *
 * A section file reads its groups into struct fc_conf through load.h's
 * tables (its defaults first, whether the group is there or not) and frees
 * what it allocated.  It calls down into load.c only: never another
 * section, never conf.c.  A new section (routes, header rules) is a new
 * file with the same two functions.
 */
#ifndef FC_CONF_SECTION_H
#define FC_CONF_SECTION_H

#include <libconfig.h>

#include "conf/conf.h"
#include "conf/load.h"

#define MAXCONN_MAX	1000000		/* global, listener and server maxconn */

/* "global": global is NULL when the file has no such group. */
void conf_read_global(struct loader *ld, const config_setting_t *global,
    struct fc_conf *conf);
void conf_free_global(struct fc_conf *conf);

/*
 * "defaults" (NULL: none) into a template every listener starts from, then
 * "listeners" (NULL: none, an error).
 */
void conf_read_listeners(struct loader *ld, const config_setting_t *defaults,
    const config_setting_t *listeners, struct fc_conf *conf);
void conf_free_listeners(struct fc_conf *conf);

/*
 * "backends" (backend.c; NULL: none), each starting with balance, the
 * default "defaults" gave.  The tables and functions of what a backend
 * has serve listener.c too, for a listener's own servers.  Once every
 * section is read, conf_link_backends() appends the listeners' own
 * servers to conf->backends and resolves "backend" and the routes' names.
 */
extern const struct choice conf_balances[];
extern const struct key conf_check_keys[];
extern const struct key conf_cookie_keys[];
extern const struct key conf_stick_keys[];
void conf_read_servers(struct loader *ld, const config_setting_t *s, const char *ctx,
    struct fc_backend *b);
/* Rules across a backend's keys (errors at e's line). */
void conf_backend_check(struct loader *ld, const config_setting_t *e, const char *ctx,
    const struct fc_backend *b);
void conf_read_backends(struct loader *ld, const config_setting_t *s,
    enum fc_balance balance, struct fc_conf *conf);
void conf_link_backends(struct loader *ld, struct fc_conf *conf);
void conf_backend_free(struct fc_backend *b);
void conf_free_backends(struct fc_conf *conf);

/* A listener's "routes", header rules and "rate_limit" (route.c). */
void conf_read_routes(struct loader *ld, const config_setting_t *s, const char *ctx,
    struct fc_listener *l);
extern const struct key conf_hdr_keys[];
extern const struct key conf_rate_keys[];
void conf_routes_free(struct fc_listener *l);

/* "ha", called only when the file has that group: it turns HA on. */
void conf_read_ha(struct loader *ld, const config_setting_t *ha, struct fc_ha *out);
void conf_free_ha(struct fc_ha *ha);

/*
 * "tls" (conf/tls.c), a sub-group of a listener and of a server: the keys,
 * walked by listener.c, then the contexts they describe, built once the
 * whole listener or server is read (errors at the group's member lines).
 */
extern const struct key conf_tls_keys[];
extern const struct key conf_server_tls_keys[];
void conf_tls_build(struct loader *ld, const config_setting_t *listener, const char *ctx,
    struct fc_listener *l);
void conf_tls_free(struct fc_tls *t);
void conf_server_tls_build(struct loader *ld, const config_setting_t *server,
    const char *ctx, struct fc_server *sv);
void conf_server_tls_free(struct fc_server_tls *t);

#endif
