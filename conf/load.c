/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The table-driven loader under every section of the file (see load.h):
 * error collection, the walk over a group through its table of keys, the
 * defaults, and the value checks that more than one section uses.  It
 * knows no section: those come to it as tables.
 */
#include "config.h"

#include <libconfig.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/load.h"
#include "lib/alloc.h"
#include "lib/net.h"

#define KEY_LEN_MAX	32	/* longer names are not compared for "did you mean" */
#define MIN(a, b)	((a) < (b) ? (a) : (b))

struct error {
	char *file;		/* the path as given, or an included file */
	int line;		/* 0: the file as a whole */
	int seq;		/* keeps errors of one line in the order found */
	char *msg;
};

/* ------------------------------------------------------------ errors */

static void verr(struct loader *ld, const char *file, int line,
    const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

/*
 * libconfig names a setting's file NULL when it is the main one, and an
 * included one as written after @include: make that usable from any
 * directory.  The caller frees the result.
 */
static char *error_file(const struct loader *ld, const char *file)
{
	char *out;
	size_t len;

	if (file == NULL)
		return xstrdup(ld->path);
	if (file[0] == '/' || ld->incdir == NULL)
		return xstrdup(file);
	len = strlen(ld->incdir) + strlen(file) + 2;
	out = xmalloc(len);
	snprintf(out, len, "%s/%s", ld->incdir, file);
	return out;
}

/*
 * A value quoted in a message may hold a newline or other control bytes
 * (libconfig strings can): written as \xNN, one error stays one line that
 * starts with FILE:LINE.  Takes msg, returns the string the caller frees.
 */
static char *escape_controls(char *msg)
{
	size_t n = 0, o = 0;
	char *out;

	for (const char *p = msg; *p != '\0'; p++)
		n += ((unsigned char)*p < 0x20 || *p == 0x7f) ? 4 : 1;
	out = xmalloc(n + 1);
	for (const char *p = msg; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(out + o, n + 1 - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	out[o] = '\0';
	free(msg);
	return out;
}

static void verr(struct loader *ld, const char *file, int line,
    const char *fmt, va_list ap)
{
	struct error *e;
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	ld->errs = xrealloc(ld->errs, (size_t)(ld->nerrs + 1) * sizeof(*ld->errs));
	e = &ld->errs[ld->nerrs];
	e->file = error_file(ld, file);
	e->line = line;
	e->seq = ld->nerrs++;
	e->msg = xmalloc((size_t)n + 1);
	vsnprintf(e->msg, (size_t)n + 1, fmt, ap);
	e->msg = escape_controls(e->msg);
}

void load_errat(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(ld, config_setting_source_file(s), (int)config_setting_source_line(s),
	    fmt, ap);
	va_end(ap);
}

void load_errfl(struct loader *ld, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(ld, file, line, fmt, ap);
	va_end(ap);
}

static int cmp_error(const void *a, const void *b)
{
	const struct error *x = a, *y = b;
	int c = strcmp(x->file, y->file);

	if (c != 0)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

char *load_join_errors(struct loader *ld)
{
	size_t len = 1, off = 0;
	char *out;
	int i;

	qsort(ld->errs, (size_t)ld->nerrs, sizeof(*ld->errs), cmp_error);
	for (i = 0; i < ld->nerrs; i++)
		len += strlen(ld->errs[i].file) + strlen(ld->errs[i].msg) + 16;
	out = xmalloc(len);
	out[0] = '\0';
	for (i = 0; i < ld->nerrs; i++) {
		const struct error *e = &ld->errs[i];
		const char *sep = i > 0 ? "\n" : "";

		if (e->line > 0)
			off += (size_t)snprintf(out + off, len - off, "%s%s:%d: %s",
			    sep, e->file, e->line, e->msg);
		else
			off += (size_t)snprintf(out + off, len - off, "%s%s: %s",
			    sep, e->file, e->msg);
	}
	return out;
}

void load_free(struct loader *ld)
{
	int i;

	for (i = 0; i < ld->nerrs; i++) {
		free(ld->errs[i].file);
		free(ld->errs[i].msg);
	}
	free(ld->errs);
	free(ld->incdir);
}

/* ------------------------------------------------------------ values */

bool load_is_name_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

/* RFC 9110 tchar: what a cookie name or a method may be made of. */
bool load_is_token_char(int c)
{
	return load_is_name_char(c) || (c != '\0' && strchr("!#$%&'*+^`|~", c) != NULL);
}

bool load_all_chars(const char *s, bool (*ok)(int))
{
	for (; *s != '\0'; s++)
		if (!ok((unsigned char)*s))
			return false;
	return true;
}

static bool is_integer(const config_setting_t *s)
{
	/* "5000" and "5000L" are both integers to a human. */
	return config_setting_type(s) == CONFIG_TYPE_INT ||
	    config_setting_type(s) == CONFIG_TYPE_INT64;
}

static const struct unit {
	const char *suffix;
	long long ms;
} time_units[] = {
	{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	{ "d", 86400000 }, { NULL, 0 },
};

/*
 * A time as HAProxy's users write it: digits then a unit ("100ms", "5s",
 * "2m", "1h", "1d"), in the key's own unit (ms, or s with SEC): -1 when
 * it is no such time or is not a whole number of them.
 */
static long long parse_time(const char *v, int flags)
{
	long long n = 0, base = (flags & SEC) ? 1000 : 1;
	const char *p = v;
	const struct unit *u;

	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > 100000000000LL)
			return -1;
		n = n * 10 + (*p - '0');
	}
	if (p == v)
		return -1;
	for (u = time_units; u->suffix != NULL && strcmp(u->suffix, p) != 0; u++)
		;
	if (u->suffix == NULL)
		return -1;
	if (n > LLONG_MAX / u->ms)	/* "213503982335d": out of any range */
		return LLONG_MAX;
	if ((n * u->ms) % base != 0)
		return -1;
	return n * u->ms / base;
}

static int get_int(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, long long *v)
{
	const char *name = config_setting_name(s);

	if ((k->flags & (MS | SEC)) && config_setting_type(s) == CONFIG_TYPE_STRING) {
		if ((*v = parse_time(config_setting_get_string(s), k->flags)) < 0) {
			load_errat(ld, s, "%s: \"%s\" must be %s, or a time with a"
			    " unit: \"100ms\", \"5s\", \"2m\", \"1h\", \"1d\"%s", ctx, name,
			    (k->flags & SEC) ? "an integer (seconds)" :
			    "an integer (milliseconds)",
			    (k->flags & SEC) ? " (whole seconds)" : "");
			return -1;
		}
	} else if (!is_integer(s)) {
		load_errat(ld, s, "%s: \"%s\" must be an integer%s", ctx, name,
		    (k->flags & SEC) ? " (seconds) or a time (\"30m\")" :
		    (k->flags & MS) ? " (milliseconds) or a time (\"5s\")" : "");
		return -1;
	} else
		*v = config_setting_get_int64(s);
	if (*v < k->min || *v > k->max) {
		load_errat(ld, s, "%s: \"%s\" must be between %lld and %lld%s", ctx,
		    name, k->min, k->max,
		    (k->flags & SEC) ? " seconds" : (k->flags & MS) ? " ms" : "");
		return -1;
	}
	return 0;
}

const char *load_get_str(struct loader *ld, const config_setting_t *s, const char *ctx)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		load_errat(ld, s, "%s: \"%s\" must be a string", ctx,
		    config_setting_name(s));
		return NULL;
	}
	v = config_setting_get_string(s);
	if (*v == '\0') {
		load_errat(ld, s, "%s: \"%s\" must not be empty", ctx,
		    config_setting_name(s));
		return NULL;
	}
	return v;
}

/* Appends s to the string in buf, truncating to size. */
static void append(char *buf, size_t size, const char *s)
{
	size_t len = strlen(buf), n = strlen(s);

	if (n > size - len - 1)
		n = size - len - 1;
	memcpy(buf + len, s, n);
	buf[len + n] = '\0';
}

/* Maps a string setting through table; -1 after an error. */
static int get_choice(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct choice *table)
{
	const struct choice *c;
	char names[160] = "";
	const char *v;

	if ((v = load_get_str(ld, s, ctx)) == NULL)
		return -1;
	for (c = table; c->name != NULL; c++)
		if (strcmp(c->name, v) == 0)
			return c->value;
	for (c = table; c->name != NULL; c++) {
		append(names, sizeof(names), c == table ? "" : ", ");
		append(names, sizeof(names), c->name);
	}
	load_errat(ld, s, "%s: \"%s\" must be one of: %s", ctx, config_setting_name(s),
	    names);
	return -1;
}

int load_str_list(struct loader *ld, const config_setting_t *s, const char *ctx,
    bool scalar_ok)
{
	int i, n, type = config_setting_type(s);

	if (scalar_ok && type == CONFIG_TYPE_STRING)
		return 1;
	if (type != CONFIG_TYPE_ARRAY && type != CONFIG_TYPE_LIST)
		goto bad;
	n = config_setting_length(s);
	for (i = 0; i < n; i++)
		if (config_setting_type(config_setting_get_elem(s, (unsigned)i)) !=
		    CONFIG_TYPE_STRING)
			goto bad;
	return n;
bad:
	load_errat(ld, s, "%s: \"%s\" must be %san array of strings [ \"...\", ... ]",
	    ctx, config_setting_name(s), scalar_ok ? "a string or " : "");
	return -1;
}

const config_setting_t *load_str_elem(const config_setting_t *s, int i)
{
	if (config_setting_type(s) == CONFIG_TYPE_STRING)
		return s;
	return config_setting_get_elem(s, (unsigned)i);
}

static int get_addr(struct loader *ld, const config_setting_t *e, const char *what,
    struct fc_addr *addr,
    int (*parse)(const char *, struct fc_addr *, char *, size_t))
{
	const char *text = config_setting_get_string(e);
	char err[160 + NI_MAXHOST];

	if (strlen(text) >= FC_ADDRSTRLEN) {
		load_errat(ld, e, "%s: invalid address \"%s\" (too long)", what, text);
		return -1;
	}
	if (parse(text, addr, err, sizeof(err)) == 0)
		return 0;
	/* net_parse_addr() sometimes names the text itself, sometimes not. */
	if (strncmp(err, "invalid address", 15) == 0)
		load_errat(ld, e, "%s: %s", what, err);
	else
		load_errat(ld, e, "%s: invalid address \"%s\": %s", what, text, err);
	return -1;
}

int load_get_addr(struct loader *ld, const config_setting_t *e, const char *what,
    struct fc_addr *addr)
{
	return get_addr(ld, e, what, addr, net_parse_addr);
}

int load_resolve_addr(struct loader *ld, const config_setting_t *e, const char *what,
    struct fc_addr *addr)
{
	return get_addr(ld, e, what, addr, net_resolve_addr);
}

void load_object_ctx(char *ctx, size_t len, const char *kind,
    const config_setting_t *group, int index)
{
	const config_setting_t *name = config_setting_get_member(group, "name");

	if (name != NULL && config_setting_type(name) == CONFIG_TYPE_STRING &&
	    *config_setting_get_string(name) != '\0')
		snprintf(ctx, len, "%s \"%.80s\"", kind, config_setting_get_string(name));
	else
		snprintf(ctx, len, "%s #%d", kind, index + 1);
}

/* A char array of max+1 bytes holding a name: 1..max of [A-Za-z0-9_.-]. */
void load_key_name(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	const char *v = load_get_str(ld, s, ctx);

	if (v == NULL)
		return;
	if (strlen(v) > (size_t)k->max || !load_all_chars(v, load_is_name_char)) {
		load_errat(ld, s, "%s: \"%s\" must be 1 to %lld characters of"
		    " [A-Za-z0-9_.-]", ctx, k->name, k->max);
		return;
	}
	memcpy((char *)obj + k->off, v, strlen(v) + 1);
}

/* A char array of max+1 bytes holding a cookie name: 1..max token chars. */
void load_key_token(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	const char *v = load_get_str(ld, s, ctx);

	if (v == NULL)
		return;
	if (strlen(v) > (size_t)k->max || !load_all_chars(v, load_is_token_char)) {
		load_errat(ld, s, "%s: \"%s\" must be 1 to %lld characters of a cookie"
		    " name (letters, digits, !#$%%&'*+-.^_`|~)", ctx, k->name, k->max);
		return;
	}
	memcpy((char *)obj + k->off, v, strlen(v) + 1);
}

/* ------------------------------------------------------------ tables */

void load_defaults(const struct key *keys, void *obj)
{
	const struct key *k;

	for (k = keys; k->name != NULL; k++) {
		void *field = (char *)obj + k->off;

		switch (k->kind) {
		case K_INT:
		case K_ENUM:
			*(int *)field = (int)k->def;
			break;
		case K_INT64:
			*(long long *)field = k->def;
			break;
		case K_BOOL:
			*(bool *)field = k->def != 0;
			break;
		case K_STR:
			*(char **)field = k->sdef != NULL ? xstrdup(k->sdef) : NULL;
			break;
		case K_GROUP:
			if (!(k->flags & LAZY))
				load_defaults(k->sub, field);
			break;
		case K_FUNC:
			break;		/* its fields start zeroed */
		}
	}
}

/* A sub-group, as "listener "web" timeout": obj is the parent's object. */
static void walk_group(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	void *group = (char *)obj + k->off;
	char sub[CTX_MAX];

	if (k->flags & ON)
		*(bool *)((char *)obj + k->on) = true;
	if (k->flags & LAZY)
		load_defaults(k->sub, group);
	if (!config_setting_is_group(s)) {
		load_errat(ld, s, "%s: \"%s\" must be a group { ... }", ctx,
		    config_setting_name(s));
		return;
	}
	snprintf(sub, sizeof(sub), "%s %s", ctx, config_setting_name(s));
	/* Only the keys given change: the rest stay as inherited. */
	load_walk(ld, s, sub, k->sub, group);
}

static void apply_key(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	void *field = (char *)obj + k->off;
	const char *str;
	long long v;
	int e;

	switch (k->kind) {
	case K_INT:
		if (get_int(ld, s, ctx, k, &v) == 0 &&
		    (k->check == NULL || k->check(ld, s, ctx, v) == 0))
			*(int *)field = (int)v;
		break;
	case K_INT64:
		if (get_int(ld, s, ctx, k, &v) == 0)
			*(long long *)field = v;
		break;
	case K_BOOL:
		/* No 0/1 or "yes": libconfig's own true/false only. */
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			load_errat(ld, s, "%s: \"%s\" must be true or false", ctx, k->name);
		else
			*(bool *)field = config_setting_get_bool(s) != 0;
		break;
	case K_STR:
		if ((str = load_get_str(ld, s, ctx)) != NULL &&
		    (k->str_check == NULL || k->str_check(ld, s, ctx, str, obj) == 0)) {
			free(*(char **)field);
			*(char **)field = xstrdup(str);
		}
		break;
	case K_ENUM:
		if ((e = get_choice(ld, s, ctx, k->choices)) >= 0)
			*(int *)field = e;
		break;
	case K_GROUP:
		walk_group(ld, s, ctx, k, obj);
		break;
	case K_FUNC:
		k->fn(ld, s, ctx, k, obj);
		break;
	}
}

/*
 * Edits (insert, delete, replace, swap two neighbours) from a to b, or
 * SIZE_MAX for names too long to be keys.
 */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[KEY_LEN_MAX + 1][KEY_LEN_MAX + 1];

	if (la > KEY_LEN_MAX || lb > KEY_LEN_MAX)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		for (size_t j = 0; j <= lb; j++) {
			size_t best = i == 0 ? j : j == 0 ? i : SIZE_MAX;

			if (i > 0 && j > 0) {
				best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
				best = MIN(best, d[i - 1][j] + 1);
				best = MIN(best, d[i][j - 1] + 1);
				if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
					best = MIN(best, d[i - 2][j - 2] + 1);
			}
			d[i][j] = best;
		}
	return d[la][lb];
}

/* "unknown key", and the one key it was likely meant to be, if any. */
static void unknown_key(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *keys)
{
	const char *name = config_setting_name(s), *near = NULL;
	size_t best = SIZE_MAX, ties = 0;

	for (const struct key *k = keys; k->name != NULL; k++) {
		size_t d = edit_distance(name, k->name);

		if (d < best) {
			best = d;
			near = k->name;
			ties = 0;
		} else if (d == best)
			ties++;
	}
	/* Close: two edits at most, and no more than a third of the name. */
	if (near != NULL && ties == 0 && best <= 2 && best * 3 <= strlen(name))
		load_errat(ld, s, "unknown key \"%s\" in %s (did you mean \"%s\"?)",
		    name, ctx, near);
	else
		load_errat(ld, s, "unknown key \"%s\" in %s", name, ctx);
}

void load_walk(struct loader *ld, const config_setting_t *group, const char *ctx,
    const struct key *keys, void *obj)
{
	unsigned long long seen = 0;
	const struct key *k;
	int i, n = config_setting_length(group);

	for (i = 0; i < n; i++) {
		const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
		const char *name = config_setting_name(s);

		for (k = keys; k->name != NULL && strcmp(k->name, name) != 0; k++)
			;
		if (k->name == NULL) {
			unknown_key(ld, s, ctx, keys);
			continue;
		}
		seen |= 1ULL << (k - keys);
		apply_key(ld, s, ctx, k, obj);
	}
	for (k = keys; k->name != NULL; k++)
		if ((k->flags & REQ) && !(seen & (1ULL << (k - keys))))
			load_errat(ld, group, "%s: missing \"%s\"", ctx, k->name);
}
