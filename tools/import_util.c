/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What every reader of fulcrum-import shares: the line tokenizer, HAProxy's
 * time units, and the bookkeeping of directives and notes that backs the
 * "never dropped silently" contract (see import.h).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/alloc.h"
#include "tools/import.h"

#define TEXT_MAX	80	/* a directive's text in a note */
#define TIME_MAX_MS	86400000000LL

/* ------------------------------------------------------------ tokenizer */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * One escaped character at *src (just after the backslash) written at
 * *dst.  Returns the bytes of src it took, or -1 on a bad \x.
 */
static int unescape(const char *src, char *dst)
{
	switch (src[0]) {
	case 'r':
		*dst = '\r';
		return 1;
	case 'n':
		*dst = '\n';
		return 1;
	case 't':
		*dst = '\t';
		return 1;
	case 'x':
		if (hexval((unsigned char)src[1]) < 0 || hexval((unsigned char)src[2]) < 0)
			return -1;
		*dst = (char)(hexval((unsigned char)src[1]) * 16 + hexval((unsigned char)src[2]));
		return 3;
	case '\0':
		*dst = '\\';	/* a trailing backslash stays itself */
		return 0;
	default:
		*dst = src[0];
		return 1;
	}
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int imp_split(char *line, char **words, int max)
{
	char *r = line, *w = line;
	int n = 0;

	for (;;) {
		char quote = 0;

		while (is_blank(*r))
			r++;
		if (*r == '\0' || *r == '#')
			return n;
		if (n == max)
			return -1;
		words[n++] = w;
		/* The write head never passes the read head: in place is safe. */
		while (*r != '\0' && (quote != 0 || (!is_blank(*r) && *r != '#'))) {
			if (quote == 0 && (*r == '"' || *r == '\'')) {
				quote = *r++;
			} else if (quote != 0 && *r == quote) {
				quote = 0;
				r++;
			} else if (*r == '\\' && quote != '\'') {
				int k = unescape(r + 1, w++);

				if (k < 0)
					return -2;
				r += 1 + k;
			} else {
				*w++ = *r++;
			}
		}
		if (quote != 0)
			return -2;
		/* w <= r: the terminator never overwrites what is still to read,
		 * but for a '#' or the end, where reading stops anyway. */
		if (*r == '\0' || *r == '#') {
			*w = '\0';
			return n;
		}
		r++;
		*w++ = '\0';
	}
}

/* ----------------------------------------------------------- numbers */

int imp_parse_int(const char *s, long long max, long long *v)
{
	char *end;
	long long x;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || x > max)
		return -1;
	*v = x;
	return 0;
}

int imp_parse_time(const char *s, long long unit_ms, long long *ms)
{
	static const struct { const char *sfx; long long num, den; } units[] = {
		{ "us", 1, 1000 }, { "ms", 1, 1 }, { "s", 1000, 1 },
		{ "m", 60000, 1 }, { "h", 3600000, 1 }, { "d", 86400000, 1 },
	};
	char *end;
	long long x;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno != 0 || x > TIME_MAX_MS)
		return -1;
	if (*end == '\0') {
		*ms = x * unit_ms;
		return *ms > TIME_MAX_MS ? -1 : 0;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(end, units[i].sfx) == 0) {
			*ms = (x * units[i].num + units[i].den - 1) / units[i].den;
			return *ms > TIME_MAX_MS ? -1 : 0;
		}
	return -1;
}

/* ------------------------------------------------- directives, notes */

int imp_add_file(struct imp_doc *d, const char *path)
{
	d->files[d->nfiles] = path;
	return d->nfiles++;
}

static char *join(char **w, int n)
{
	size_t len = 0;
	char *out;

	for (int i = 0; i < n; i++)
		len += strlen(w[i]) + 1;
	out = xmalloc(len + 1);
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (i > 0)
			strcat(out, " ");
		strcat(out, w[i]);
	}
	/* Quoted values may hold control bytes: one note stays one line. */
	for (char *p = out; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	if (strlen(out) > TEXT_MAX)
		strcpy(out + TEXT_MAX - 3, "...");
	return out;
}

int imp_add_dir(struct imp_doc *d, int file, int line, char **w, int n, int owner)
{
	struct imp_dir *dir;

	d->dirs = xrealloc(d->dirs, (size_t)(d->ndirs + 1) * sizeof(*d->dirs));
	dir = &d->dirs[d->ndirs];
	dir->file = file;
	dir->line = line;
	dir->text = join(w, n);
	dir->state = IMP_PENDING;
	dir->owner = owner;
	return d->ndirs++;
}

static void vnote(struct imp_doc *d, int dir, const char *what, const char *fmt,
    va_list ap) __attribute__((format(printf, 4, 0)));

static void vnote(struct imp_doc *d, int dir, const char *what, const char *fmt,
    va_list ap)
{
	struct imp_note *n;
	char why[512];

	vsnprintf(why, sizeof(why), fmt, ap);
	d->notes = xrealloc(d->notes, (size_t)(d->nnotes + 1) * sizeof(*d->notes));
	n = &d->notes[d->nnotes++];
	n->file = d->dirs[dir].file;
	n->line = d->dirs[dir].line;
	n->directive = xstrdup(what);
	n->why = xstrdup(why);
}

void imp_report(struct imp_doc *d, int dir, const char *fmt, ...)
{
	va_list ap;

	if (d->dirs[dir].state == IMP_REPORTED)
		return;
	va_start(ap, fmt);
	vnote(d, dir, d->dirs[dir].text, fmt, ap);
	va_end(ap);
	d->dirs[dir].state = IMP_REPORTED;
}

void imp_note(struct imp_doc *d, int dir, const char *what, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vnote(d, dir, what, fmt, ap);
	va_end(ap);
}

void imp_carry(struct imp_doc *d, int dir)
{
	if (d->dirs[dir].state == IMP_PENDING)
		d->dirs[dir].state = IMP_CARRIED;
}

void imp_set_num(struct imp_set *s, long long v, int dir)
{
	free(s->str);
	s->str = NULL;
	s->set = true;
	s->num = v;
	s->dir = dir;
}

void imp_set_str(struct imp_set *s, const char *v, int dir)
{
	free(s->str);
	s->str = xstrdup(v);
	s->set = true;
	s->num = 0;
	s->dir = dir;
}

void imp_list_add(struct imp_list *l, const char *v, int dir)
{
	l->v = xrealloc(l->v, (size_t)(l->n + 1) * sizeof(*l->v));
	memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
	imp_set_str(&l->v[l->n++], v, dir);
}

bool imp_name(char *out, const char *in)
{
	bool same = true;
	size_t i;

	for (i = 0; in[i] != '\0' && i < IMP_NAME_MAX - 1; i++) {
		char c = in[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';

		out[i] = ok ? c : '_';
		same = same && ok;
	}
	out[i] = '\0';
	if (i == 0) {
		strcpy(out, "unnamed");
		return false;
	}
	return same && in[i] == '\0';
}

void imp_finish(struct imp_doc *d)
{
	for (int i = 0; i < d->ndirs; i++) {
		const struct imp_dir *dir = &d->dirs[i];
		const struct imp_proxy *p = dir->owner >= 0 ? &d->proxies[dir->owner] : NULL;

		if (dir->state != IMP_PENDING)
			continue;
		if (p != NULL && p->dropped != NULL)
			imp_report(d, i, "%s \"%s\" is left out: %s", p->kind == IMP_BACKEND ?
			    "backend" : p->kind == IMP_DEFAULTS ? "defaults" : "listener",
			    p->name, p->dropped);
		else if (p != NULL && p->kind == IMP_DEFAULTS)
			imp_report(d, i, "no proxy that fulcrum carries takes it from"
			    " this defaults section");
		else if (p != NULL && p->kind == IMP_BACKEND)
			imp_report(d, i, "fulcrum sets it per listener, and no listener"
			    " takes it from backend \"%s\" (only a listener's default"
			    " backend gives it)", p->name);
		else
			imp_report(d, i, "nothing fulcrum carries uses it");
	}
}

static int cmp_note(const void *a, const void *b)
{
	const struct imp_note *x = a, *y = b;

	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x < y ? -1 : x > y;
}

void imp_print_notes(const struct imp_doc *d, FILE *fp, const char *prefix)
{
	/* Sorted once; qsort with the address tie-break is stable enough
	 * for notes of one line, which are added in order. */
	qsort(d->notes, (size_t)d->nnotes, sizeof(*d->notes), cmp_note);
	for (int i = 0; i < d->nnotes; i++) {
		const struct imp_note *n = &d->notes[i];

		fprintf(fp, "%s%s:%d: %s: not carried over: %s\n", prefix,
		    d->files[n->file], n->line, n->directive, n->why);
	}
}

static void free_set(struct imp_set *s)
{
	free(s->str);
	s->str = NULL;
}

static void free_list(struct imp_list *l)
{
	for (int i = 0; i < l->n; i++)
		free_set(&l->v[i]);
	free(l->v);
}

static void free_server(struct imp_server *s)
{
	free_set(&s->cookie);
	free_set(&s->tls_ca);
}

static void free_proxy(struct imp_proxy *p)
{
	struct imp_set *sets[] = {
		&p->mode, &p->balance, &p->httpchk, &p->chk_send, &p->cookie,
		&p->cookie_mode, &p->domain, &p->stats_uri, &p->default_backend,
	};

	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		free_set(sets[i]);
	free_list(&p->binds);
	free_list(&p->stats_auth);
	for (int i = 0; i < p->nroutes; i++) {
		free(p->routes[i].host);
		free(p->routes[i].path);
		free(p->routes[i].backend);
	}
	free(p->routes);
	for (int i = 0; i < p->nhdrs; i++) {
		free(p->hdrs[i].name);
		free(p->hdrs[i].value);
	}
	free(p->hdrs);
	for (int i = 0; i < p->nacls; i++) {
		for (int j = 0; j < p->acls[i].nvalues; j++)
			free(p->acls[i].values[j]);
		free(p->acls[i].values);
		free(p->acls[i].name);
	}
	free(p->acls);
	for (int i = 0; i < p->nservers; i++)
		free_server(&p->servers[i]);
	free(p->servers);
}

void imp_doc_free(struct imp_doc *d)
{
	struct imp_set *g[] = {
		&d->global.user, &d->global.group, &d->global.pidfile,
		&d->global.log_facility, &d->global.log_address, &d->global.chroot,
		&d->ha.interface, &d->ha.unicast_src, &d->ha.auth_key,
	};

	for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++)
		free_set(g[i]);
	free_list(&d->ha.vips);
	free_list(&d->ha.peers);
	free(d->ha.node);
	free(d->ha.other);
	for (int i = 0; i < d->nproxies; i++)
		free_proxy(&d->proxies[i]);
	free(d->proxies);
	for (int i = 0; i < d->ndirs; i++)
		free(d->dirs[i].text);
	free(d->dirs);
	for (int i = 0; i < d->nnotes; i++) {
		free(d->notes[i].directive);
		free(d->notes[i].why);
	}
	free(d->notes);
}
