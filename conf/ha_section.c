/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The "ha" section: one VRRPv3 instance (ha/ runs it) -- the interface,
 * the virtual addresses, unicast peers, advert timing, gratuitous ARP, the
 * notify script and the optional HMAC key.  Without the section, struct
 * fc_ha stays zero and HA is off.
 */
#include "config.h"

#include <errno.h>
#include <libconfig.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/load.h"
#include "conf/section.h"
#include "lib/alloc.h"
#include "lib/net.h"

/* Linux accepts any interface name but "", ".", "..", or one with '/', ':' or spaces. */
static void key_ifname(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	const char *v = load_get_str(ld, s, ctx);

	if (v == NULL)
		return;
	if (strlen(v) > (size_t)k->max || strcmp(v, ".") == 0 || strcmp(v, "..") == 0 ||
	    strpbrk(v, "/: \t\n") != NULL) {
		load_errat(ld, s, "%s: \"%s\" must be a network interface name of 1 to"
		    " %lld characters", ctx, k->name, k->max);
		return;
	}
	memcpy((char *)obj + k->off, v, strlen(v) + 1);
}

static int check_centiseconds(struct loader *ld, const config_setting_t *s,
    const char *ctx, long long v)
{
	if (v % 10 == 0)
		return 0;
	load_errat(ld, s, "%s: \"advert_ms\" must be a multiple of 10 (VRRP counts"
	    " in centiseconds)", ctx);
	return -1;
}

static void key_vips(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_ha *ha = obj;
	char err[160];
	int i, j, n = load_str_list(ld, s, ctx, false);

	(void)k;
	if (n < 0)
		return;
	if (n == 0) {
		load_errat(ld, s, "%s: \"vips\" must hold at least one address", ctx);
		return;
	}
	if (n > FC_VIPS_MAX) {
		load_errat(ld, s, "%s: \"vips\" holds at most %d addresses (one VRRP"
		    " advert)", ctx, FC_VIPS_MAX);
		return;
	}
	ha->vips = xcalloc((size_t)n, sizeof(*ha->vips));
	ha->nvips = n;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = load_str_elem(s, i);
		struct fc_vip *vip = &ha->vips[i];

		if (net_parse_prefix(config_setting_get_string(e), &vip->addr,
		    &vip->prefixlen, err, sizeof(err)) < 0) {
			load_errat(ld, e, "%s vips: %s", ctx, err);
			continue;
		}
		for (j = 0; j < i; j++)
			if (net_addr_equal(&ha->vips[j].addr, &vip->addr))
				load_errat(ld, e, "%s vips: duplicate address \"%s\"", ctx,
				    config_setting_get_string(e));
	}
}

static void key_peers(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_ha *ha = obj;
	char err[160];
	int i, plen, n = load_str_list(ld, s, ctx, false);

	(void)k;
	if (n < 0)
		return;
	ha->peers = xcalloc((size_t)n, sizeof(*ha->peers));
	ha->npeers = n;
	for (i = 0; i < n; i++) {
		const config_setting_t *e = load_str_elem(s, i);
		const char *v = config_setting_get_string(e);

		if (net_parse_prefix(v, &ha->peers[i], &plen, err, sizeof(err)) < 0) {
			load_errat(ld, e, "%s peers: %s", ctx, err);
			continue;
		}
		/* "/32" is a host; anything shorter is a network, not a peer. */
		if (plen != (ha->peers[i].ss.ss_family == AF_INET ? 32 : 128))
			load_errat(ld, e, "%s peers: \"%s\" must be a host address"
			    " (no prefix, no port)", ctx, v);
	}
}

/* A host address, no prefix. */
static void key_unicast_src(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_ha *ha = obj;
	const char *v = load_get_str(ld, s, ctx);
	char err[160];
	int plen;

	(void)k;
	if (v == NULL)
		return;
	if (net_parse_prefix(v, &ha->unicast_src, &plen, err, sizeof(err)) < 0) {
		load_errat(ld, s, "%s unicast_src: %s", ctx, err);
		return;
	}
	if (ha->unicast_src.ss.ss_family != AF_INET || plen != 32) {
		load_errat(ld, s, "%s: \"unicast_src\" must be an IPv4 host address", ctx);
		return;
	}
	ha->has_unicast_src = true;
}

/* Checked at load time: a typo would otherwise surface at the first failover. */
static void key_notify(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_ha *ha = obj;
	const char *v = load_get_str(ld, s, ctx);

	(void)k;
	if (v == NULL)
		return;
	if (v[0] != '/') {
		load_errat(ld, s, "%s: \"notify\" must be an absolute path", ctx);
		return;
	}
	if (access(v, X_OK) < 0) {
		load_errat(ld, s, "%s: \"notify\": %s is not an executable file (%s)", ctx,
		    v, strerror(errno));
		return;
	}
	free(ha->notify);
	ha->notify = xstrdup(v);
}

static void key_auth_key(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_ha *ha = obj;
	const char *v = load_get_str(ld, s, ctx);

	(void)k;
	if (v == NULL)
		return;
	if (strlen(v) < FC_AUTH_KEY_MIN || strlen(v) > FC_AUTH_KEY_MAX) {
		load_errat(ld, s, "%s: \"auth_key\" must be %d to %d characters long", ctx,
		    FC_AUTH_KEY_MIN, FC_AUTH_KEY_MAX);
		return;
	}
	free(ha->auth_key);
	ha->auth_key = xstrdup(v);
}

static const struct choice ha_modes[] = {
	{ "vrrp", FC_HA_VRRP },
	{ "anycast", FC_HA_ANYCAST },
	{ NULL, 0 },
};

static const struct key sync_keys[] = {
	INT("port", struct fc_ha_sync, port, 1, 65535, .def = 7781),
	INT("interval_ms", struct fc_ha_sync, interval_ms, 1, 10000, .def = 10),
	END,
};

static const struct key ha_keys[] = {
	ENUM("mode", struct fc_ha, mode, ha_modes, .def = FC_HA_VRRP),
	ARR("interface", struct fc_ha, interface, key_ifname, REQ),
	/* 0: none; required with mode "vrrp" (check_ha_mode()) */
	INT("vrid", struct fc_ha, vrid, 0, 255, .def = 0),
	INT("priority", struct fc_ha, priority, 1, 254, .def = 100),
	TIME_MS("advert_ms", struct fc_ha, advert_ms, 10, 40950, .def = 1000,
	    .check = check_centiseconds),
	BOOL("preempt", struct fc_ha, preempt, .def = true),
	BOOL("track_proxy", struct fc_ha, track_proxy, .def = true),
	FUNC("vips", key_vips, REQ),
	FUNC("peers", key_peers, 0),		/* none: multicast */
	FUNC("unicast_src", key_unicast_src, 0),
	/* rounds, and ms between two */
	INT("garp_count", struct fc_ha, garp_count, 0, 100, .def = 5),
	TIME_MS("garp_repeat_ms", struct fc_ha, garp_repeat_ms, 10, 600000, .def = 1000),
	FUNC("notify", key_notify, 0),
	FUNC("auth_key", key_auth_key, 0),
	GROUP_ON("sync", struct fc_ha, sync, sync_keys, enabled),
	END,
};

/*
 * One VRRP instance speaks IPv4 or IPv6 (RFC 5798 5.2.9): IPv4 and IPv6
 * vips make two instances with the same vrid (ha/ha.c).  In unicast mode
 * each instance needs a peer of its own family, and an IPv6 peer is the
 * peer's link-local address, which its adverts come from (5.1.2.1).
 */
static void check_ha_families(struct loader *ld, const config_setting_t *s,
    const struct fc_ha *ha)
{
	bool vips[2] = { false, false }, peers[2] = { false, false };
	int i;

	if (ha->nvips == 0 || ha->npeers == 0)
		return;
	for (i = 0; i < ha->nvips; i++)
		vips[ha->vips[i].addr.ss.ss_family == AF_INET6] = true;
	for (i = 0; i < ha->npeers; i++)
		peers[ha->peers[i].ss.ss_family == AF_INET6] = true;
	for (i = 0; i < 2; i++)
		if (vips[i] != peers[i])
			load_errat(ld, config_setting_get_member(s, "peers"),
			    "ha: \"peers\" must hold an %s address when \"vips\" %s (one VRRP"
			    " instance per family)", i ? "IPv6" : "IPv4",
			    vips[i] ? "does" : "does not");
	for (i = 0; i < ha->npeers; i++) {
		const struct sockaddr_in6 *p = (const struct sockaddr_in6 *)&ha->peers[i].ss;

		if (p->sin6_family == AF_INET6 && !IN6_IS_ADDR_LINKLOCAL(&p->sin6_addr))
			load_errat(ld, config_setting_get_member(s, "peers"),
			    "ha: an IPv6 peer must be the peer's link-local address (fe80::/10)");
	}
}

/* VRRP needs its router id; anycast has no election, hence none. */
static void check_ha_mode(struct loader *ld, const config_setting_t *s,
    const struct fc_ha *ha)
{
	const config_setting_t *vrid = config_setting_get_member(s, "vrid");

	if (ha->mode == FC_HA_VRRP && vrid == NULL)
		load_errat(ld, s, "ha: missing \"vrid\"");
	else if (ha->mode == FC_HA_VRRP && ha->vrid == 0)
		load_errat(ld, vrid, "ha: \"vrid\" must be between 1 and 255");
	else if (ha->mode == FC_HA_ANYCAST && vrid != NULL)
		load_errat(ld, vrid, "ha: \"vrid\" belongs to mode \"vrrp\" (anycast"
		    " elects no master)");
}

/*
 * The sync channel authenticates with auth_key and knows its peers only from
 * "peers" (one channel per IPv4 entry, a full mesh): without either there is
 * no one to trust, so no channel.
 */
static void check_ha_sync(struct loader *ld, const config_setting_t *s,
    const struct fc_ha *ha)
{
	const config_setting_t *g = config_setting_get_member(s, "sync");
	int n4 = 0;

	if (!ha->sync.enabled)
		return;
	for (int i = 0; i < ha->npeers; i++)
		n4 += ha->peers[i].ss.ss_family == AF_INET;
	/* An auth_key given but refused has had its error already. */
	if (ha->auth_key == NULL && config_setting_get_member(s, "auth_key") == NULL)
		load_errat(ld, g, "ha: \"sync\" needs \"auth_key\" (the channel is"
		    " authenticated with it)");
	if (n4 == 0)
		load_errat(ld, g, "ha: \"sync\" needs an IPv4 unicast peer in \"peers\"");
	else if (n4 > FC_SYNC_MAX_PEERS)
		load_errat(ld, g, "ha: \"sync\" joins at most %d IPv4 peers, \"peers\""
		    " has %d", FC_SYNC_MAX_PEERS, n4);
}

void conf_read_ha(struct loader *ld, const config_setting_t *s, struct fc_ha *out)
{
	out->enabled = true;
	load_defaults(ha_keys, out);
	load_walk(ld, s, "ha", ha_keys, out);
	check_ha_mode(ld, s, out);
	check_ha_families(ld, s, out);
	check_ha_sync(ld, s, out);
}

void conf_free_ha(struct fc_ha *ha)
{
	free(ha->vips);
	free(ha->peers);
	free(ha->notify);
	free(ha->auth_key);
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
	if (a->enabled != b->enabled || a->mode != b->mode ||
	    strcmp(a->interface, b->interface) != 0 ||
	    a->vrid != b->vrid || a->priority != b->priority ||
	    a->advert_ms != b->advert_ms || a->preempt != b->preempt ||
	    a->track_proxy != b->track_proxy || a->nvips != b->nvips ||
	    a->npeers != b->npeers || a->has_unicast_src != b->has_unicast_src ||
	    a->garp_count != b->garp_count || a->garp_repeat_ms != b->garp_repeat_ms ||
	    !str_equal(a->notify, b->notify) || !str_equal(a->auth_key, b->auth_key) ||
	    a->sync.enabled != b->sync.enabled || a->sync.port != b->sync.port ||
	    a->sync.interval_ms != b->sync.interval_ms)
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
