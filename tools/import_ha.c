/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The HA half of fulcrum-import: heartbeat's ha.cf and haresources, or
 * keepalived.conf's vrrp_instance, into the "ha" section (struct imp_ha).
 * heartbeat speaks its own protocol, so its timing and peers are carried
 * over as VRRP's nearest equivalents and the rest is reported; keepalived
 * already speaks VRRP, so its instance maps key by key.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "tools/import.h"

#define ADVERT_MIN	10
#define ADVERT_MAX	40950		/* VRRP's 12-bit centiseconds */

/* Reads path line by line into words; calls fn for every line that has some. */
typedef void line_fn(struct imp_doc *d, int file, int line, char **w, int n);

static int each_line(struct imp_doc *d, const char *path, line_fn *fn)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL, *w[IMP_WORDS_MAX];
	size_t cap = 0;
	int lineno = 0, file, n;

	if (fp == NULL)
		return -1;
	file = imp_add_file(d, path);
	while (getline(&buf, &cap, fp) >= 0) {
		lineno++;
		if ((n = imp_split(buf, w, IMP_WORDS_MAX)) < 0) {
			char *bad[] = { buf };

			imp_report(d, imp_add_dir(d, file, lineno, bad, 1, -1),
			    "more words than fulcrum-import reads, or a bad quote");
		} else if (n > 0) {
			fn(d, file, lineno, w, n);
		}
	}
	free(buf);
	n = ferror(fp) ? errno : 0;
	fclose(fp);
	errno = n;
	return n != 0 ? -1 : 0;
}

/* An IPv4 host address (VRRP over IPv4 is what fulcrum runs). */
static bool is_ipv4(const char *s)
{
	struct in_addr a;

	return inet_pton(AF_INET, s, &a) == 1;
}

/* "ADDR[/LEN]" as a fulcrum VIP; false if it is not one. */
static bool vip_text(const char *in, char *out, size_t len)
{
	char host[64];
	const char *slash = strchr(in, '/');
	long long plen = 32;

	snprintf(host, sizeof(host), "%.*s", slash ? (int)(slash - in) : 63, in);
	if (!is_ipv4(host) || (slash != NULL &&
	    (imp_parse_int(slash + 1, 32, &plen) < 0 || plen < 1)))
		return false;
	snprintf(out, len, "%s/%lld", host, plen);
	return true;
}

static void set_interface(struct imp_doc *d, int dir, const char *ifname)
{
	struct imp_ha *ha = &d->ha;

	if (strlen(ifname) >= 16 || strpbrk(ifname, "/: ") != NULL) {
		imp_note(d, dir, ifname, "not an interface name");
		return;
	}
	if (ha->interface.set && strcmp(ha->interface.str, ifname) != 0) {
		imp_report(d, dir, "fulcrum's VRRP runs on one interface, %s",
		    ha->interface.str);
		return;
	}
	if (!ha->interface.set)
		imp_set_str(&ha->interface, ifname, dir);
	imp_carry(d, dir);
}

/* An advert interval in ms, made a multiple of 10 in VRRP's range. */
static void set_advert(struct imp_doc *d, int dir, long long ms)
{
	long long v = (ms + 5) / 10 * 10;

	if (v < ADVERT_MIN || v > ADVERT_MAX) {
		imp_report(d, dir, "fulcrum's advert_ms is %d to %d ms", ADVERT_MIN, ADVERT_MAX);
		return;
	}
	if (v != ms)
		imp_note(d, dir, d->dirs[dir].text, "written as %lld ms (VRRP counts"
		    " centiseconds)", v);
	imp_set_num(&d->ha.advert_ms, v, dir);
}

/* ------------------------------------------------------------- heartbeat */

static void hb_node(struct imp_doc *d, int dir, char **w, int n)
{
	struct imp_ha *ha = &d->ha;

	for (int i = 1; i < n; i++) {
		if (ha->node == NULL)
			ha->node = xstrdup(w[i]);
		else if (ha->other == NULL && strcmp(ha->node, w[i]) != 0)
			ha->other = xstrdup(w[i]);
		else if (strcmp(ha->node, w[i]) != 0 && strcmp(ha->other, w[i]) != 0)
			imp_note(d, dir, w[i], "fulcrum pairs two nodes");
	}
	imp_carry(d, dir);
}

static void hacf_line(struct imp_doc *d, int file, int line, char **w, int n)
{
	struct imp_ha *ha = &d->ha;
	int dir = imp_add_dir(d, file, line, w, n, -1);
	long long ms;

	if (strcmp(w[0], "keepalive") == 0 && n == 2 && imp_parse_time(w[1], 1000, &ms) == 0)
		set_advert(d, dir, ms);
	else if (strcmp(w[0], "deadtime") == 0 && n == 2)
		imp_report(d, dir, "fulcrum declares the master dead after 3 adverts"
		    " (3 x advert_ms, from keepalive)");
	else if ((strcmp(w[0], "bcast") == 0 || strcmp(w[0], "mcast") == 0) && n >= 2) {
		set_interface(d, dir, w[1]);
		if (w[0][0] == 'm' && n > 2)
			imp_note(d, dir, "mcast group, port, ttl", "VRRP multicasts to"
			    " 224.0.0.18 (IP protocol 112, no port)");
	} else if (strcmp(w[0], "ucast") == 0 && n == 3 && is_ipv4(w[2])) {
		set_interface(d, dir, w[1]);
		imp_list_add(&ha->peers, w[2], dir);
	} else if (strcmp(w[0], "auto_failback") == 0 && n == 2 &&
	    (strcmp(w[1], "on") == 0 || strcmp(w[1], "off") == 0))
		imp_set_num(&ha->preempt, strcmp(w[1], "on") == 0, dir);
	else if (strcmp(w[0], "node") == 0 && n >= 2)
		hb_node(d, dir, w, n);
	else if (strcmp(w[0], "udpport") == 0)
		imp_report(d, dir, "VRRP is IP protocol 112: no port");
	else
		imp_report(d, dir, "fulcrum's ha section has no such setting");
}

/* "IPaddr::10.0.0.100/24/eth0[/bcast]", "IPaddr2::...", or a bare address. */
static void hr_resource(struct imp_doc *d, int dir, const char *r)
{
	char buf[128], vip[64], text[96], *parts[4] = { NULL }, *save = NULL;
	const char *sep = strstr(r, "::");
	int n = 0;

	if (strcmp(r, "haproxy") == 0 || strcmp(r, "fulcrum") == 0) {
		imp_set_num(&d->ha.track_proxy, 1, dir);
		return;
	}
	if (sep != NULL && strncmp(r, "IPaddr", 6) != 0) {
		imp_note(d, dir, r, "fulcrum's ha process moves addresses only");
		return;
	}
	snprintf(buf, sizeof(buf), "%s", sep != NULL ? sep + 2 : r);
	for (char *t = strtok_r(buf, "/", &save); t != NULL && n < 4; t = strtok_r(NULL, "/", &save))
		parts[n++] = t;
	snprintf(vip, sizeof(vip), "%s%s%s", parts[0] ? parts[0] : "",
	    n > 1 && strspn(parts[1], "0123456789") == strlen(parts[1]) ? "/" : "",
	    n > 1 && strspn(parts[1], "0123456789") == strlen(parts[1]) ? parts[1] : "");
	if (n == 0 || !vip_text(vip, text, sizeof(text))) {
		imp_note(d, dir, r, "%s", sep == NULL ? "fulcrum's ha process moves addresses"
		    " only" : "not an IPv4 address");
		return;
	}
	imp_list_add(&d->ha.vips, text, dir);
	for (int i = 1; i < n; i++)
		if (strspn(parts[i], "0123456789") != strlen(parts[i]))
			set_interface(d, dir, parts[i]);
	if (n == 1 || strspn(parts[1], "0123456789") != strlen(parts[1]))
		imp_note(d, dir, r, "no prefix length: written /32");
}

static void hr_line(struct imp_doc *d, int file, int line, char **w, int n)
{
	int dir = imp_add_dir(d, file, line, w, n, -1);

	if (d->ha.vips.n > 0) {
		imp_report(d, dir, "fulcrum runs one VRRP instance: the first resource"
		    " group is carried over");
		return;
	}
	free(d->ha.node);
	d->ha.node = xstrdup(w[0]);	/* the preferred node: master */
	if (d->ha.other != NULL && strcmp(d->ha.other, w[0]) == 0) {
		/* ha.cf named it second: its peer is the other one. */
		free(d->ha.other);
		d->ha.other = NULL;
	}
	for (int i = 1; i < n; i++)
		hr_resource(d, dir, w[i]);
	imp_carry(d, dir);
}

int imp_read_heartbeat(struct imp_doc *d, const char *hacf, const char *haresources)
{
	char *first = NULL;

	d->ha.source = IMP_HA_HEARTBEAT;
	if (hacf != NULL && each_line(d, hacf, hacf_line) < 0)
		return -1;
	/* ha.cf's first node, in case haresources names the other one. */
	if (d->ha.node != NULL)
		first = xstrdup(d->ha.node);
	if (haresources != NULL && each_line(d, haresources, hr_line) < 0) {
		free(first);
		return -1;
	}
	if (first != NULL && d->ha.other == NULL && strcmp(first, d->ha.node) != 0)
		d->ha.other = first;
	else
		free(first);
	return 0;
}

/* ------------------------------------------------------------ keepalived */

struct tok {
	char *s;
	int line;
};

struct knode {
	char **w;
	int n;
	int line, last;		/* the block's first and last lines */
	struct knode *kids;
	int nkids;
	bool block;
	int dir;
};

struct toks {
	struct tok *v;
	int n, i;
};

static void tok_add(struct toks *t, const char *s, size_t len, int line)
{
	t->v = xrealloc(t->v, (size_t)(t->n + 1) * sizeof(*t->v));
	t->v[t->n].s = xstrndup(s, len);
	t->v[t->n++].line = line;
}

/* Words of a line, braces apart: "vrrp_instance VI_1{" is three tokens. */
static void tokenize(struct toks *t, char *text, int line)
{
	char *w[IMP_WORDS_MAX];
	int n;

	text[strcspn(text, "!")] = '\0';	/* keepalived's other comment */
	n = imp_split(text, w, IMP_WORDS_MAX);
	for (int i = 0; i < n; i++)
		for (const char *p = w[i]; *p != '\0';) {
			size_t k = strcspn(p, "{}");

			if (k > 0)
				tok_add(t, p, k, line);
			if (p[k] == '\0')
				break;
			tok_add(t, p + k, 1, line);
			p += k + 1;
		}
}

static void parse_nodes(struct toks *t, struct knode **out, int *nout)
{
	while (t->i < t->n && strcmp(t->v[t->i].s, "}") != 0) {
		struct knode nd;
		int line = t->v[t->i].line;

		memset(&nd, 0, sizeof(nd));
		nd.line = nd.last = line;
		nd.w = xcalloc((size_t)(t->n - t->i + 1), sizeof(*nd.w));
		while (t->i < t->n && t->v[t->i].line == line && strcmp(t->v[t->i].s, "{") != 0 &&
		    strcmp(t->v[t->i].s, "}") != 0)
			nd.w[nd.n++] = t->v[t->i++].s;
		if (t->i < t->n && strcmp(t->v[t->i].s, "{") == 0) {
			t->i++;
			nd.block = true;
			parse_nodes(t, &nd.kids, &nd.nkids);
			nd.last = t->i < t->n ? t->v[t->i].line : nd.line;
			t->i += t->i < t->n;	/* its "}" */
		}
		*out = xrealloc(*out, (size_t)(*nout + 1) * sizeof(**out));
		(*out)[(*nout)++] = nd;
	}
}

static void free_nodes(struct knode *v, int n)
{
	for (int i = 0; i < n; i++) {
		free_nodes(v[i].kids, v[i].nkids);
		free(v[i].w);
	}
	free(v);
}

static int node_dir(struct imp_doc *d, int file, struct knode *nd)
{
	char *none[] = { (char *)"{" };

	nd->dir = imp_add_dir(d, file, nd->line, nd->n > 0 ? nd->w : none,
	    nd->n > 0 ? nd->n : 1, -1);
	return nd->dir;
}

/* Every line of a block, the block itself first, reported with why. */
static void report_block(struct imp_doc *d, int file, struct knode *nd, const char *why)
{
	imp_report(d, node_dir(d, file, nd), "%s", why);
	for (int i = 0; i < nd->nkids; i++)
		report_block(d, file, &nd->kids[i], why);
}

/* advert_int: seconds, with a fraction ("0.1"). */
static int decimal_ms(const char *s, long long *ms)
{
	long long whole = 0, frac = 0, scale = 1000;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9' && whole < 100000; p++)
		whole = whole * 10 + (*p - '0');
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			if (scale > 1)
				frac = frac * 10 + (*p - '0'), scale /= 10;
	if (*p != '\0')
		return -1;
	*ms = whole * 1000 + frac * scale;
	return 0;
}

static void kv_list(struct imp_doc *d, int file, struct knode *nd, bool vips)
{
	char vip[64];

	imp_carry(d, node_dir(d, file, nd));
	for (int i = 0; i < nd->nkids; i++) {
		struct knode *k = &nd->kids[i];
		int dir = node_dir(d, file, k);

		if (k->n == 0 || (vips ? !vip_text(k->w[0], vip, sizeof(vip)) : !is_ipv4(k->w[0]))) {
			imp_report(d, dir, "not an IPv4 address (fulcrum runs VRRP over IPv4)");
			continue;
		}
		imp_list_add(vips ? &d->ha.vips : &d->ha.peers, vips ? vip : k->w[0], dir);
		if (vips && strchr(k->w[0], '/') == NULL)
			imp_note(d, dir, k->w[0], "no prefix length: written /32, as keepalived");
		for (int j = 1; j + 1 < k->n; j += 2)
			if (strcmp(k->w[j], "dev") == 0)
				set_interface(d, dir, k->w[j + 1]);
			else
				imp_note(d, dir, k->w[j], "fulcrum adds the address as it is"
				    " (no label, scope or other option)");
	}
}

static void k_int(struct imp_doc *d, int dir, struct imp_set *s, const char *v, long long min,
    long long max)
{
	long long x;

	if (imp_parse_int(v, 1000, &x) < 0 || x < min || x > max)
		imp_report(d, dir, "fulcrum takes %lld to %lld", min, max);
	else
		imp_set_num(s, x, dir);
}

static void k_instance_key(struct imp_doc *d, int file, struct knode *k)
{
	struct imp_ha *ha = &d->ha;
	const char *key = k->w[0], *v = k->n > 1 ? k->w[1] : "";
	int dir;
	long long ms;

	if (k->block && (strcmp(key, "virtual_ipaddress") == 0 || strcmp(key, "unicast_peer") == 0)) {
		kv_list(d, file, k, key[0] == 'v');
		return;
	}
	if (k->block && strcmp(key, "track_script") == 0) {
		imp_set_num(&ha->track_proxy, 1, node_dir(d, file, k));
		for (int i = 0; i < k->nkids; i++)
			imp_note(d, node_dir(d, file, &k->kids[i]), k->kids[i].n ? k->kids[i].w[0] : "{",
			    "fulcrum tracks its own workers (track_proxy): no script is run");
		return;
	}
	if (k->block) {
		report_block(d, file, k, strcmp(key, "authentication") == 0 ? "VRRPv3 has no"
		    " authentication; fulcrum's auth_key (HMAC-SHA256, 16 to 64 characters,"
		    " the same on both nodes) is its own extension: set one by hand" :
		    "fulcrum's ha section has no such setting");
		return;
	}
	dir = node_dir(d, file, k);
	if (strcmp(key, "state") == 0)
		imp_carry(d, dir);	/* fulcrum elects by priority, as VRRP does */
	else if (strcmp(key, "interface") == 0 && k->n == 2)
		set_interface(d, dir, v);
	else if (strcmp(key, "virtual_router_id") == 0 && k->n == 2)
		k_int(d, dir, &ha->vrid, v, 1, 255);
	else if (strcmp(key, "priority") == 0 && k->n == 2)
		k_int(d, dir, &ha->priority, v, 1, 254);
	else if (strcmp(key, "advert_int") == 0 && k->n == 2 && decimal_ms(v, &ms) == 0)
		set_advert(d, dir, ms);
	else if ((strcmp(key, "nopreempt") == 0 || strcmp(key, "preempt") == 0) && k->n == 1)
		imp_set_num(&ha->preempt, key[0] == 'p', dir);
	else if (strcmp(key, "unicast_src_ip") == 0 && k->n == 2 && is_ipv4(v))
		imp_set_str(&ha->unicast_src, v, dir);
	else if (strncmp(key, "notify", 6) == 0)
		imp_report(d, dir, "fulcrum's notify script gets \"STATE VRID PRIORITY\","
		    " not keepalived's arguments: set ha.notify by hand");
	else
		imp_report(d, dir, "fulcrum's ha section has no such setting");
}

static void k_top(struct imp_doc *d, int file, struct knode *nd)
{
	char why[160];

	if (nd->block && nd->n >= 1 && strcmp(nd->w[0], "vrrp_instance") == 0 &&
	    d->ha.vrid.set + d->ha.vips.n == 0 && !d->ha.interface.set) {
		imp_carry(d, node_dir(d, file, nd));
		for (int i = 0; i < nd->nkids; i++)
			if (nd->kids[i].n > 0)
				k_instance_key(d, file, &nd->kids[i]);
			else
				report_block(d, file, &nd->kids[i], "a block without a name");
		return;
	}
	snprintf(why, sizeof(why), "%s", nd->n > 0 && strcmp(nd->w[0], "vrrp_instance") == 0 ?
	    "fulcrum runs one VRRP instance: the first one is carried over" :
	    nd->n > 0 && strcmp(nd->w[0], "vrrp_script") == 0 ? "fulcrum tracks its own"
	    " workers (ha.track_proxy) instead of running a script" :
	    nd->n > 0 && strcmp(nd->w[0], "virtual_server") == 0 ? "fulcrum is the load"
	    " balancer itself: no LVS virtual servers" : "fulcrum has no such setting");
	report_block(d, file, nd, why);
}

int imp_read_keepalived(struct imp_doc *d, const char *path)
{
	struct toks t = { NULL, 0, 0 };
	struct knode *top = NULL;
	int ntop = 0, file, lineno = 0;
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;

	if (fp == NULL)
		return -1;
	d->ha.source = IMP_HA_KEEPALIVED;
	file = imp_add_file(d, path);
	while (getline(&buf, &cap, fp) >= 0)
		tokenize(&t, buf, ++lineno);
	free(buf);
	fclose(fp);
	while (t.i < t.n) {
		parse_nodes(&t, &top, &ntop);
		t.i += t.i < t.n;	/* a stray "}" */
	}
	for (int i = 0; i < ntop; i++)
		k_top(d, file, &top[i]);
	free_nodes(top, ntop);
	for (int i = 0; i < t.n; i++)
		free(t.v[i].s);
	free(t.v);
	return 0;
}
