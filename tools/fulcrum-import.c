/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fulcrum-import: writes a commented fulcrum.conf from a classic haproxy.cfg,
 * and optionally heartbeat's ha.cf + haresources or keepalived.conf.
 *
 *	fulcrum-import [-o OUT] [--ha-cf FILE --haresources FILE |
 *	    --keepalived FILE] haproxy.cfg
 *	fulcrum-import haproxy.cfg [ha.cf [haresources]]
 *
 * The readers (import_haproxy.c, import_ha.c) fill the model of import.h;
 * this file writes it out.  Each key written marks the directive it came
 * from as carried over; what is left is reported (imp_finish) on stderr as
 * "FILE:LINE: directive: not carried over: why" and as a comment block at
 * the end of the output.  Exit status: 0 written, 1 a file cannot be read
 * or nothing fulcrum could run came out of it (no listener), 2 usage.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/import.h"

#define PROG		"fulcrum-import"
#define EXIT_USAGE	2

struct opts {
	const char *out, *hacf, *haresources, *keepalived, *haproxy;
};

struct writer {
	FILE *fp;
	struct imp_doc *d;
	const struct imp_proxy *fcd;	/* the defaults written as "defaults" */
	int depth;
};

/* ------------------------------------------------------------ primitives */

static void indent(struct writer *w)
{
	for (int i = 0; i < w->depth; i++)
		fputc('\t', w->fp);
}

static const char *base(const char *path)
{
	const char *s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

/* "	# haproxy.cfg:12" after a key, and the directive marked carried. */
static void from(struct writer *w, const struct imp_set *s)
{
	const struct imp_dir *dir = &w->d->dirs[s->dir];

	fprintf(w->fp, "\t# %s:%d", base(w->d->files[dir->file]), dir->line);
	imp_carry(w->d, s->dir);
}

/* A libconfig string: quotes, backslashes and control bytes escaped. */
static void put_quoted(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(fp, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(fp, "\\x%02x", c);
		else
			fputc(c, fp);
	}
	fputc('"', fp);
}

static void w_str(struct writer *w, const char *key, const struct imp_set *s)
{
	if (s == NULL || !s->set)
		return;
	indent(w);
	fprintf(w->fp, "%s = ", key);
	put_quoted(w->fp, s->str);
	fputc(';', w->fp);
	from(w, s);
	fputc('\n', w->fp);
}

static void w_int(struct writer *w, const char *key, const struct imp_set *s)
{
	if (s == NULL || !s->set)
		return;
	indent(w);
	fprintf(w->fp, "%s = %lld;", key, s->num);
	from(w, s);
	fputc('\n', w->fp);
}

static void w_bool(struct writer *w, const char *key, const struct imp_set *s)
{
	if (s == NULL || !s->set)
		return;
	indent(w);
	fprintf(w->fp, "%s = %s;", key, s->num ? "true" : "false");
	from(w, s);
	fputc('\n', w->fp);
}

static void w_list(struct writer *w, const char *key, const struct imp_list *l)
{
	if (l->n == 0)
		return;
	indent(w);
	fprintf(w->fp, "%s = [ ", key);
	for (int i = 0; i < l->n; i++) {
		put_quoted(w->fp, l->v[i].str);
		fputs(i + 1 < l->n ? ", " : " ", w->fp);
	}
	fputs("];", w->fp);
	from(w, &l->v[0]);
	for (int i = 1; i < l->n; i++)
		if (l->v[i].dir != l->v[i - 1].dir) {
			fprintf(w->fp, ", :%d", w->d->dirs[l->v[i].dir].line);
			imp_carry(w->d, l->v[i].dir);
		}
	fputc('\n', w->fp);
}

static void open_group(struct writer *w, const char *key, const char *comment)
{
	indent(w);
	if (key != NULL && key[strlen(key) - 1] == ':')
		fprintf(w->fp, "%s {", key);	/* a section: "global: {" */
	else if (key != NULL)
		fprintf(w->fp, "%s = {", key);
	else
		fputc('{', w->fp);
	if (comment != NULL)
		fprintf(w->fp, "\t# %s", comment);
	fputc('\n', w->fp);
	w->depth++;
}

static void close_group(struct writer *w, const char *end)
{
	w->depth--;
	indent(w);
	fprintf(w->fp, "}%s\n", end);
}

/* ---------------------------------------------------------- inheritance */

static const struct imp_set *field(const struct imp_proxy *p, size_t off)
{
	return (const struct imp_set *)((const char *)p + off);
}

/* p's own value, else its defaults'; NULL if neither sets it. */
static const struct imp_set *eff(const struct writer *w, const struct imp_proxy *p,
    size_t off)
{
	const struct imp_set *s;

	if (p == NULL)
		return NULL;
	s = field(p, off);
	if (!s->set && p->defaults >= 0)
		s = field(&w->d->proxies[p->defaults], off);
	return s->set ? s : NULL;
}

/* The first of a and b that gives it (with their defaults). */
static const struct imp_set *first_of(const struct writer *w, const struct imp_proxy *a,
    const struct imp_proxy *b, size_t off)
{
	const struct imp_set *s = a != NULL && field(a, off)->set ? field(a, off) : NULL;

	if (s == NULL && b != NULL && field(b, off)->set)
		s = field(b, off);
	if (s == NULL)
		s = eff(w, a, off);
	if (s == NULL)
		s = eff(w, b, off);
	return s;
}

/* NULL when the "defaults" group written gives that value already. */
static const struct imp_set *not_fcd(const struct writer *w, const struct imp_set *s)
{
	const char *lo = (const char *)w->fcd;

	if (s != NULL && w->fcd != NULL && (const char *)s >= lo &&
	    (const char *)s < lo + sizeof(*w->fcd))
		return NULL;
	return s;
}

#define OFF(f)	offsetof(struct imp_proxy, f)

/* --------------------------------------------------------------- global */

static void write_global(struct writer *w)
{
	struct imp_global *g = &w->d->global;

	if (!g->user.set && !g->group.set && !g->maxconn.set && !g->pidfile.set &&
	    !g->workers.set && !g->drain.set && !g->daemon.set && !g->log_facility.set &&
	    !g->chroot.set)
		return;
	open_group(w, "global:", NULL);
	w_str(w, "user", &g->user);
	w_str(w, "group", &g->group);
	w_int(w, "workers", &g->workers);
	w_int(w, "maxconn", &g->maxconn);
	w_str(w, "pidfile", &g->pidfile);
	w_int(w, "drain_timeout", &g->drain);
	if (g->daemon.set) {
		indent(w);
		fputs("# daemon: fulcrum runs in the background unless started with -d;"
		    " its systemd unit\n", w->fp);
		indent(w);
		fputs("# runs it in the foreground (-d) and logs its stderr.", w->fp);
		from(w, &g->daemon);
		fputc('\n', w->fp);
	}
	if (g->chroot.set) {
		/* fulcrum -c would refuse a directory this node lacks: a hint. */
		indent(w);
		fputs("# chroot = ", w->fp);
		put_quoted(w->fp, g->chroot.str);
		fprintf(w->fp, ";\t# %s:%d: uncomment once the directory exists\n",
		    base(w->d->files[w->d->dirs[g->chroot.dir].file]), w->d->dirs[g->chroot.dir].line);
	}
	if (g->log_facility.set) {
		open_group(w, "log", NULL);
		w_str(w, "facility", &g->log_facility);
		w_str(w, "address", &g->log_address);
		close_group(w, ";");
	}
	close_group(w, ";");
	fputc('\n', w->fp);
}

/* ------------------------------------------------------------- defaults */

static const size_t timeouts[] = {
	OFF(timeout[IMP_T_CONNECT]), OFF(timeout[IMP_T_CLIENT]), OFF(timeout[IMP_T_SERVER]),
	OFF(timeout[IMP_T_HTTP_REQUEST]), OFF(timeout[IMP_T_QUEUE]), OFF(timeout[IMP_T_TUNNEL]),
};
static const char *const timeout_keys[] = {
	"connect", "client", "server", "http_request", "queue", "tunnel",
};

/* The only defaults section, when every proxy inherits from it. */
static const struct imp_proxy *pick_fcd(const struct imp_doc *d)
{
	int found = -1;

	for (int i = 0; i < d->nproxies; i++)
		if (d->proxies[i].kind == IMP_DEFAULTS) {
			if (found >= 0)
				return NULL;
			found = i;
		}
	for (int i = 0; i < d->nproxies; i++)
		if (d->proxies[i].kind != IMP_DEFAULTS && d->proxies[i].defaults != found)
			return NULL;
	return found >= 0 ? &d->proxies[found] : NULL;
}

static void write_timeouts(struct writer *w, const struct imp_set *t[6])
{
	bool any = false;

	for (int i = 0; i < 6; i++)
		any = any || t[i] != NULL;
	if (!any)
		return;
	open_group(w, "timeout", "ms");
	for (int i = 0; i < 6; i++)
		w_int(w, timeout_keys[i], t[i]);
	close_group(w, ";");
}

static void write_defaults(struct writer *w)
{
	const struct imp_proxy *p = w->fcd;
	const struct imp_set *t[6];
	char why[64];

	if (p == NULL)
		return;
	snprintf(why, sizeof(why), "from %s:%d", base(w->d->files[w->d->dirs[p->dir].file]),
	    w->d->dirs[p->dir].line);
	open_group(w, "defaults:", why);
	imp_carry(w->d, p->dir);
	w_int(w, "retries", &p->retries);
	w_int(w, "maxconn", &p->maxconn);
	w_str(w, "balance", &p->balance);
	w_bool(w, "forwardfor", &p->forwardfor);
	w_bool(w, "httpclose", &p->httpclose);
	for (int i = 0; i < 6; i++)
		t[i] = field(p, timeouts[i])->set ? field(p, timeouts[i]) : NULL;
	write_timeouts(w, t);
	close_group(w, ";");
	fputc('\n', w->fp);
}

/* -------------------------------------------------------------- backends */

/* A backend's check group, from its servers' inter, rise and fall. */
static void write_check(struct writer *w, const struct imp_proxy *b)
{
	const struct imp_set *req = eff(w, b, OFF(chk_send));
	const struct imp_set *chk = eff(w, b, OFF(httpchk));
	const struct imp_server *first = NULL;

	for (int i = 0; i < b->nservers && first == NULL; i++)
		if (b->servers[i].check.set)
			first = &b->servers[i];
	if (first == NULL && chk == NULL)
		return;
	open_group(w, "check", NULL);
	if (chk != NULL) {
		if (req != NULL)
			imp_carry(w->d, chk->dir);
		w_str(w, "request", req != NULL ? req : chk);
	}
	w_int(w, "expect_status", eff(w, b, OFF(expect_status)));
	if (first != NULL) {
		w_int(w, "interval", &first->inter);
		w_int(w, "rise", &first->rise);
		w_int(w, "fall", &first->fall);
	}
	w_int(w, "timeout", eff(w, b, OFF(timeout[IMP_T_CHECK])));
	close_group(w, ";");
	for (int i = 0; first != NULL && i < b->nservers; i++) {
		const struct imp_server *s = &b->servers[i];

		if (s->check.set && ((s->inter.set && (!first->inter.set || s->inter.num != first->inter.num)) ||
		    (s->rise.set && (!first->rise.set || s->rise.num != first->rise.num)) ||
		    (s->fall.set && (!first->fall.set || s->fall.num != first->fall.num))))
			imp_note(w->d, s->dir, s->name, "its inter, rise or fall differ from"
			    " server %s's: fulcrum checks a backend's servers alike", first->name);
	}
}

static void write_cookie(struct writer *w, const struct imp_proxy *b)
{
	const struct imp_set *c = eff(w, b, OFF(cookie));
	const struct imp_proxy *p;

	if (c == NULL)
		return;
	p = field(b, OFF(cookie))->set ? b : &w->d->proxies[b->defaults];
	open_group(w, "cookie", NULL);
	w_str(w, "name", &p->cookie);
	w_str(w, "mode", &p->cookie_mode);
	w_bool(w, "indirect", &p->indirect);
	w_bool(w, "nocache", &p->nocache);
	w_bool(w, "httponly", &p->httponly);
	w_bool(w, "secure", &p->secure);
	w_str(w, "domain", &p->domain);
	w_int(w, "maxidle", &p->maxidle);
	w_int(w, "maxlife", &p->maxlife);
	close_group(w, ";");
}

static void write_server(struct writer *w, const struct imp_server *s, bool last)
{
	static const char *const proxies[] = { "none", "v1", "v2" };
	const struct imp_dir *dir = &w->d->dirs[s->dir];

	indent(w);
	fputs("{ name = ", w->fp);
	put_quoted(w->fp, s->name);
	fputs("; address = ", w->fp);
	put_quoted(w->fp, s->addr);
	fputc(';', w->fp);
	if (s->cookie.set) {
		fputs(" cookie = ", w->fp);
		put_quoted(w->fp, s->cookie.str);
		fputc(';', w->fp);
	}
	if (s->weight.set)
		fprintf(w->fp, " weight = %lld;", s->weight.num);
	if (s->maxconn.set)
		fprintf(w->fp, " maxconn = %lld;", s->maxconn.num);
	if (s->check.set)
		fputs(" check = true;", w->fp);
	if (s->backup.set)
		fputs(" backup = true;", w->fp);
	if (s->slowstart.set)
		fprintf(w->fp, " slowstart = %lld;", s->slowstart.num);
	if (s->send_proxy.set)
		fprintf(w->fp, " send_proxy = \"%s\";", proxies[s->send_proxy.num]);
	if (s->tls.set) {
		fprintf(w->fp, " tls = { verify = %s;", s->tls_noverify.set ? "false" : "true");
		if (s->tls_ca.set) {
			fputs(" ca = ", w->fp);
			put_quoted(w->fp, s->tls_ca.str);
			fputc(';', w->fp);
		}
		fputs(" };", w->fp);
	} else if (s->tls_noverify.set || s->tls_ca.set) {
		imp_note(w->d, s->dir, s->name, "verify and ca-file go with ssl");
	}
	fprintf(w->fp, " }%s\t# %s:%d\n", last ? "" : ",", base(w->d->files[dir->file]),
	    dir->line);
	imp_carry(w->d, s->dir);
}

/* What a backend has: balance, check, cookie, servers. */
static void write_pool(struct writer *w, const struct imp_proxy *b)
{
	w_str(w, "balance", not_fcd(w, eff(w, b, OFF(balance))));
	write_check(w, b);
	write_cookie(w, b);
	indent(w);
	fputs("servers = (\n", w->fp);
	w->depth++;
	for (int i = 0; i < b->nservers; i++)
		write_server(w, &b->servers[i], i + 1 == b->nservers);
	w->depth--;
	indent(w);
	fputs(");\n", w->fp);
}

static const char *where(const struct writer *w, int dir, char *buf, size_t len)
{
	snprintf(buf, len, "from %s:%d", base(w->d->files[w->d->dirs[dir].file]),
	    w->d->dirs[dir].line);
	return buf;
}

static bool is_listener(const struct imp_proxy *p)
{
	return p->kind != IMP_BACKEND && p->kind != IMP_DEFAULTS && p->dropped == NULL;
}

static bool is_backend(const struct imp_proxy *p)
{
	return p->kind == IMP_BACKEND && p->dropped == NULL;
}

/* How many proxies after i are of the kind: the last one ends without a comma. */
static int count_after(const struct imp_doc *d, int i, bool (*kind)(const struct imp_proxy *))
{
	int n = 0;

	while (++i < d->nproxies)
		n += kind(&d->proxies[i]);
	return n;
}

static int write_backends(struct writer *w)
{
	int n = 0;
	char buf[128];

	for (int i = 0; i < w->d->nproxies; i++) {
		const struct imp_proxy *b = &w->d->proxies[i];

		if (!is_backend(b))
			continue;
		if (n++ == 0)
			fputs("backends = (\n", w->fp), w->depth++;
		open_group(w, NULL, where(w, b->dir, buf, sizeof(buf)));
		imp_carry(w->d, b->dir);
		indent(w);
		fputs("name = ", w->fp);
		put_quoted(w->fp, b->name);
		fputs(";\n", w->fp);
		write_pool(w, b);
		close_group(w, count_after(w->d, i, is_backend) > 0 ? "," : "");
	}
	if (n > 0) {
		w->depth--;
		fputs(");\n\n", w->fp);
	}
	return n;
}

/* ------------------------------------------------------------- listeners */

static void write_stats(struct writer *w, const struct imp_proxy *l, const struct imp_proxy *b)
{
	const struct imp_proxy *p = NULL;
	const struct imp_proxy *cand[] = {
		l, b, l->defaults >= 0 ? &w->d->proxies[l->defaults] : NULL,
		b != NULL && b->defaults >= 0 ? &w->d->proxies[b->defaults] : NULL,
	};

	for (size_t i = 0; i < 4 && p == NULL; i++)
		if (cand[i] != NULL && cand[i]->stats_uri.set)
			p = cand[i];
	if (p == NULL)
		return;
	open_group(w, "stats", NULL);
	w_str(w, "uri", &p->stats_uri);
	w_list(w, "auth", &p->stats_auth);
	w_int(w, "refresh", &p->stats_refresh);
	close_group(w, ";");
}

static void write_routes(struct writer *w, const struct imp_proxy *l)
{
	if (l->nroutes == 0)
		return;
	indent(w);
	fputs("routes = (\n", w->fp);
	for (int i = 0; i < l->nroutes; i++) {
		const struct imp_route *r = &l->routes[i];
		const struct imp_dir *dir = &w->d->dirs[r->dir];

		indent(w);
		fputs("\t{ ", w->fp);
		if (r->host != NULL) {
			fputs("host = ", w->fp);
			put_quoted(w->fp, r->host);
			fputs("; ", w->fp);
		}
		if (r->path != NULL) {
			fputs("path_prefix = ", w->fp);
			put_quoted(w->fp, r->path);
			fputs("; ", w->fp);
		}
		fputs("backend = ", w->fp);
		put_quoted(w->fp, r->backend);
		fprintf(w->fp, "; }%s\t# %s:%d\n", i + 1 < l->nroutes ? "," : "",
		    base(w->d->files[dir->file]), dir->line);
		imp_carry(w->d, r->dir);
	}
	indent(w);
	fputs(");\n", w->fp);
}

static void write_hdr_group(struct writer *w, const struct imp_proxy *l,
    const struct imp_proxy *b, bool response)
{
	const struct imp_proxy *ps[2] = { l, b != l ? b : NULL };
	int nset = 0, ndel = 0;

	for (int k = 0; k < 2; k++)
		for (int i = 0; ps[k] != NULL && i < ps[k]->nhdrs; i++)
			if (ps[k]->hdrs[i].response == response)
				*(ps[k]->hdrs[i].value != NULL ? &nset : &ndel) += 1;
	if (nset + ndel == 0)
		return;
	open_group(w, response ? "response_headers" : "request_headers", NULL);
	for (int pass = 0; pass < 2; pass++) {
		int n = pass == 0 ? nset : ndel, done = 0;

		if (n == 0)
			continue;
		indent(w);
		fputs(pass == 0 ? "set = (\n" : "del = [\n", w->fp);
		for (int k = 0; k < 2; k++)
			for (int i = 0; ps[k] != NULL && i < ps[k]->nhdrs; i++) {
				const struct imp_hdr *h = &ps[k]->hdrs[i];
				const struct imp_dir *dir = &w->d->dirs[h->dir];

				if (h->response != response || (h->value != NULL) != (pass == 0))
					continue;
				indent(w);
				fputs(pass == 0 ? "\t{ name = " : "\t", w->fp);
				put_quoted(w->fp, h->name);
				if (pass == 0) {
					fputs("; value = ", w->fp);
					put_quoted(w->fp, h->value);
					fputs("; }", w->fp);
				}
				fprintf(w->fp, "%s\t# %s:%d\n", ++done < n ? "," : "",
				    base(w->d->files[dir->file]), dir->line);
				imp_carry(w->d, h->dir);
			}
		indent(w);
		fputs(pass == 0 ? ");\n" : "];\n", w->fp);
	}
	close_group(w, ";");
}

/* The listener's keys that HAProxy takes from the frontend or the backend side. */
static void write_listener_keys(struct writer *w, const struct imp_proxy *l,
    const struct imp_proxy *b)
{
	const struct imp_set *t[6];

	/* Server side first from the backend, client side from the frontend. */
	w_bool(w, "forwardfor", not_fcd(w, first_of(w, l, b, OFF(forwardfor))));
	w_bool(w, "httpclose", not_fcd(w, first_of(w, l, b, OFF(httpclose))));
	w_bool(w, "accept_proxy", not_fcd(w, eff(w, l, OFF(accept_proxy))));
	w_int(w, "retries", not_fcd(w, first_of(w, b, l, OFF(retries))));
	w_int(w, "maxconn", not_fcd(w, eff(w, l, OFF(maxconn))));
	for (int i = 0; i < 6; i++) {
		bool server_side = i != 1 && i != 3;

		t[i] = not_fcd(w, server_side ? first_of(w, b, l, timeouts[i]) :
		    first_of(w, l, NULL, timeouts[i]));
	}
	write_timeouts(w, t);
	write_stats(w, l, b);
}

static void write_listener(struct writer *w, const struct imp_proxy *l)
{
	const struct imp_set *db = eff(w, l, OFF(default_backend));
	const struct imp_proxy *b = l->kind == IMP_LISTEN ? l : NULL;
	char buf[128];

	for (int i = 0; b == NULL && db != NULL && i < w->d->nproxies; i++) {
		const struct imp_proxy *p = &w->d->proxies[i];

		if (p->kind == IMP_BACKEND && p->dropped == NULL && strcmp(p->name, db->str) == 0)
			b = p;
	}
	open_group(w, NULL, where(w, l->dir, buf, sizeof(buf)));
	imp_carry(w->d, l->dir);
	indent(w);
	fputs("name = ", w->fp);
	put_quoted(w->fp, l->name);
	fputs(";\n", w->fp);
	w_list(w, "bind", &l->binds);
	write_listener_keys(w, l, b);
	write_routes(w, l);
	write_hdr_group(w, l, b, false);
	write_hdr_group(w, l, b, true);
	if (l->kind == IMP_LISTEN)
		write_pool(w, l);
	else if (b != NULL)
		w_str(w, "backend", db);
}

static int write_listeners(struct writer *w)
{
	int n = 0;

	for (int i = 0; i < w->d->nproxies; i++) {
		const struct imp_proxy *l = &w->d->proxies[i];

		if (!is_listener(l))
			continue;
		if (n++ == 0)
			fputs("listeners = (\n", w->fp), w->depth++;
		write_listener(w, l);
		close_group(w, count_after(w->d, i, is_listener) > 0 ? "," : "");
	}
	if (n > 0) {
		w->depth--;
		fputs(");\n\n", w->fp);
	}
	return n;
}

/* -------------------------------------------------------------------- ha */

static void write_priority(struct writer *w)
{
	struct imp_ha *ha = &w->d->ha;

	if (ha->priority.set) {
		w_int(w, "priority", &ha->priority);
		indent(w);
		fputs("# this node's priority: the other node's file keeps its own\n", w->fp);
		return;
	}
	indent(w);
	fprintf(w->fp, "priority = 101;\t# %s%s%s: on %s write priority = 100\n",
	    ha->node != NULL ? "node " : "this node", ha->node != NULL ? ha->node : "",
	    ha->node != NULL ? " (haresources' preferred node)" : "",
	    ha->other != NULL ? ha->other : "the other node");
}

static void write_ha(struct writer *w)
{
	struct imp_ha *ha = &w->d->ha;

	if (ha->source == IMP_HA_NONE)
		return;
	if (!ha->interface.set || ha->vips.n == 0) {
		fprintf(w->fp, "# No \"ha\" section: the HA files give no %s.\n\n",
		    !ha->interface.set ? "interface" : "virtual address");
		fprintf(stderr, PROG ": no ha section written: the HA files give no %s\n",
		    !ha->interface.set ? "interface" : "virtual address");
		return;
	}
	open_group(w, "ha:", ha->source == IMP_HA_HEARTBEAT ? "from heartbeat's ha.cf"
	    " and haresources" : "from keepalived.conf's vrrp_instance");
	w_str(w, "interface", &ha->interface);
	if (ha->vrid.set)
		w_int(w, "vrid", &ha->vrid);
	else {
		indent(w);
		fprintf(w->fp, "vrid = 51;\t# %s: one unused on this LAN, the same on both"
		    " nodes\n", ha->source == IMP_HA_HEARTBEAT ? "heartbeat has none" :
		    "no usable virtual_router_id");
	}
	write_priority(w);
	w_int(w, "advert_ms", &ha->advert_ms);
	w_bool(w, "preempt", &ha->preempt);
	w_bool(w, "track_proxy", &ha->track_proxy);
	w_list(w, "vips", &ha->vips);
	if (ha->peers.n > 0) {
		w_list(w, "peers", &ha->peers);
		indent(w);
		fputs("# peers: the other node's address (its file lists this one)\n", w->fp);
	}
	w_str(w, "unicast_src", &ha->unicast_src);
	close_group(w, ";");
	fputc('\n', w->fp);
}

/* ----------------------------------------------------------------- output */

static void write_head(struct writer *w)
{
	fputs("# fulcrum.conf written by " PROG " " PACKAGE_VERSION " from:\n", w->fp);
	for (int i = 0; i < w->d->nfiles; i++)
		fprintf(w->fp, "#   %s\n", w->d->files[i]);
	fputs("# \"# FILE:LINE\" names the line each setting comes from; what could not\n"
	    "# be carried over is listed at the end, with why.  Check it with:\n"
	    "#   fulcrum -c -f THIS_FILE\n\n", w->fp);
}

static void write_notes(struct writer *w)
{
	if (w->d->nnotes == 0) {
		fputs("# Every directive was carried over.\n", w->fp);
		return;
	}
	fprintf(w->fp, "# Not carried over (%d):\n", w->d->nnotes);
	imp_print_notes(w->d, w->fp, "#   ");
}

/* Writes the whole file to fp; returns the number of listeners. */
static int write_conf(struct imp_doc *d, FILE *fp)
{
	struct writer w = { fp, d, pick_fcd(d), 0 };
	int n;

	write_head(&w);
	write_global(&w);
	write_defaults(&w);
	n = write_listeners(&w);
	write_backends(&w);
	write_ha(&w);
	imp_finish(d);
	write_notes(&w);
	return n;
}

/* ------------------------------------------------------------ command line */

static void usage(FILE *fp)
{
	fprintf(fp, "usage: " PROG " [-o OUT] [--ha-cf FILE --haresources FILE |"
	    " --keepalived FILE] haproxy.cfg\n"
	    "       " PROG " [-o OUT] haproxy.cfg [ha.cf [haresources]]\n"
	    "  -o OUT              write to OUT instead of stdout\n"
	    "  --ha-cf FILE        heartbeat's ha.cf\n"
	    "  --haresources FILE  heartbeat's haresources\n"
	    "  --keepalived FILE   keepalived.conf (its first vrrp_instance)\n"
	    "  -h, --help, -V, --version\n"
	    "What is not carried over goes to stderr as FILE:LINE: directive: why.\n");
}

static int usage_error(const char *msg)
{
	fprintf(stderr, PROG ": %s\n", msg);
	usage(stderr);
	return EXIT_USAGE;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "ha-cf", required_argument, NULL, 'a' },
		{ "haresources", required_argument, NULL, 'r' },
		{ "keepalived", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":o:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': o->out = optarg; break;
		case 'a': o->hacf = optarg; break;
		case 'r': o->haresources = optarg; break;
		case 'k': o->keepalived = optarg; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf(PROG " " PACKAGE_VERSION "\n"); exit(0);
		case ':': return usage_error("an option needs an argument");
		default: return usage_error("unknown option");
		}
	}
	if (optind >= argc || argc - optind > 3)
		return usage_error("one haproxy.cfg is needed (then ha.cf and haresources)");
	o->haproxy = argv[optind];
	if (argc - optind > 1 && o->hacf == NULL)
		o->hacf = argv[optind + 1];
	if (argc - optind > 2 && o->haresources == NULL)
		o->haresources = argv[optind + 2];
	if (o->keepalived != NULL && (o->hacf != NULL || o->haresources != NULL))
		return usage_error("heartbeat's files or keepalived.conf, not both");
	return 0;
}

static int read_all(struct imp_doc *d, const struct opts *o)
{
	const char *failed = NULL;

	if (imp_read_haproxy(d, o->haproxy) < 0)
		failed = o->haproxy;
	else if ((o->hacf != NULL || o->haresources != NULL) &&
	    imp_read_heartbeat(d, o->hacf, o->haresources) < 0)
		failed = o->hacf != NULL && d->nfiles < 2 ? o->hacf : o->haresources;
	else if (o->keepalived != NULL && imp_read_keepalived(d, o->keepalived) < 0)
		failed = o->keepalived;
	if (failed == NULL)
		return 0;
	fprintf(stderr, PROG ": %s: %s\n", failed, strerror(errno));
	return 1;
}

/* Written to a memory buffer first: no half-written OUT on failure. */
static int emit(struct imp_doc *d, const char *out)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len), *fp;
	int n;

	if (mem == NULL) {
		fprintf(stderr, PROG ": %s\n", strerror(errno));
		return 1;
	}
	n = write_conf(d, mem);
	fclose(mem);
	imp_print_notes(d, stderr, "");
	if (n == 0) {
		fprintf(stderr, PROG ": %s: no listener could be carried over (see above):"
		    " nothing written\n", d->files[0]);
		free(text);
		return 1;
	}
	fp = out != NULL ? fopen(out, "w") : stdout;
	if (fp == NULL || fwrite(text, 1, len, fp) != len || fflush(fp) != 0 ||
	    (out != NULL && fclose(fp) != 0)) {
		fprintf(stderr, PROG ": %s: %s\n", out != NULL ? out : "stdout", strerror(errno));
		free(text);
		return 1;
	}
	free(text);
	return 0;
}

int main(int argc, char **argv)
{
	struct imp_doc d;
	struct opts o;
	int rc;

	if ((rc = parse_args(argc, argv, &o)) != 0)
		return rc;
	memset(&d, 0, sizeof(d));
	rc = read_all(&d, &o);
	if (rc == 0)
		rc = emit(&d, o.out);
	imp_doc_free(&d);
	return rc;
}
