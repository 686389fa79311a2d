/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The loader's machinery, shared by conf/'s section files.  Internal to
 * conf/: nothing outside it includes this header (conf.h is the API).
 *
 * Every group of the file is described by a table of keys, one row per
 * key: its name, kind, field, range and default.  load_defaults() writes a
 * table's defaults into a zeroed object; load_walk() then applies a group
 * of the file to it and does what all groups share -- unknown keys, types,
 * ranges, required keys, sub-groups -- so the rules read as data, and a
 * section file only handles what a table cannot say: addresses, names,
 * checks across settings.
 *
 * Nothing here stops at the first error or logs: every problem becomes a
 * "FILE:LINE: message" entry (load_errat), and conf_load() refuses the
 * file at the end with all of them, sorted by line.
 */
#ifndef FC_CONF_LOAD_H
#define FC_CONF_LOAD_H

#include <libconfig.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib/net.h"

#define CTX_MAX		160	/* "listener "NAME" timeout" and such */

struct error;
struct bindref;

struct loader {
	const char *path;	/* as given by the caller */
	char *incdir;		/* where @include looks: the file's directory */
	struct error *errs;
	int nerrs;
	struct bindref *binds;	/* listener.c's, while it reads "listeners" */
	int nbinds;
	int balance;		/* "defaults" balance, for "backends" */
};

struct key;
typedef void key_fn(struct loader *, const config_setting_t *, const char *,
    const struct key *, void *);
/* A rule beyond an integer's range: 0, or -1 after an error. */
typedef int key_check(struct loader *, const config_setting_t *, const char *,
    long long);
/*
 * A rule beyond a string's being there and not empty: 0, or -1 after an
 * error.  It may fill the object's other fields from the value.
 */
typedef int key_str_check(struct loader *, const config_setting_t *, const char *,
    const char *, void *);

enum kind {
	K_INT,			/* int at off, in [min, max], then check() if any */
	K_INT64,		/* long long at off, in [min, max] */
	K_BOOL,			/* bool at off */
	K_STR,			/* char * at off, malloc'd, not empty, then str_check() */
	K_ENUM,			/* an int-sized enum at off, named by choices */
	K_GROUP,		/* a { ... } group into the struct at off, through sub */
	K_FUNC,			/* fn does it all; off and max are fn's own */
};

#define REQ	0x01		/* the key must be present */
#define LAZY	0x02		/* K_GROUP: defaults only once the group is there,
				 * zeroes without it (its presence turns a
				 * feature on, like "stick") */
#define ON	0x04		/* K_GROUP: its presence sets the bool at on */
#define MS	0x08		/* K_INT: milliseconds; "5s", "100ms", "2m" too */
#define SEC	0x10		/* K_INT: seconds; "30m", "1h", "1d" too */

struct choice {
	const char *name;
	int value;
};

struct key {
	const char *name;
	enum kind kind;
	size_t off;			/* the field, in the object walked */
	long long min, max;		/* K_INT, K_INT64; ARR: max is the length */
	long long def;			/* K_INT, K_INT64, K_BOOL, K_ENUM: default */
	const char *sdef;		/* K_STR: default, copied; NULL: none */
	int flags;
	key_fn *fn;			/* K_FUNC */
	key_check *check;		/* K_INT: NULL or a rule beyond the range */
	key_str_check *str_check;	/* K_STR: NULL or a rule on the value */
	const struct choice *choices;	/* K_ENUM, ended by a NULL name */
	const struct key *sub;		/* K_GROUP: the group's own keys */
	size_t on;			/* K_GROUP with ON: a bool, in the object walked */
};

/*
 * The rows of a table.  A value row names its default after the range,
 * ".def = 3" (".sdef" for a string), or ".flags = REQ" when the file must
 * give it; the defaults sit there and nowhere else.  contrib/fulcrum.conf
 * documents each of them: keep both in step.
 */
#define ROW(n, k, st, f)	.name = (n), .kind = (k), .off = offsetof(st, f)
#define INT(n, st, f, lo, hi, ...) \
	{ ROW(n, K_INT, st, f), .min = (lo), .max = (hi), __VA_ARGS__ }
/* An int of milliseconds, or of seconds: a string with a unit is taken too. */
#define TIME_MS(n, st, f, lo, hi, ...) \
	{ ROW(n, K_INT, st, f), .min = (lo), .max = (hi), .flags = MS, __VA_ARGS__ }
#define TIME_S(n, st, f, lo, hi, ...) \
	{ ROW(n, K_INT, st, f), .min = (lo), .max = (hi), .flags = SEC, __VA_ARGS__ }
#define INT64(n, st, f, lo, hi, ...) \
	{ ROW(n, K_INT64, st, f), .min = (lo), .max = (hi), __VA_ARGS__ }
#define BOOL(n, st, f, ...)	{ ROW(n, K_BOOL, st, f), __VA_ARGS__ }
#define STR(n, st, f, ...)	{ ROW(n, K_STR, st, f), __VA_ARGS__ }
#define ENUM(n, st, f, ch, ...) \
	{ ROW(n, K_ENUM, st, f), .choices = (ch), __VA_ARGS__ }
/* A sub-group: walked as "CTX NAME", its defaults from its own table. */
#define GROUP(n, st, f, keys, fl) \
	{ ROW(n, K_GROUP, st, f), .sub = (keys), .flags = (fl) }
/* A sub-group whose mere presence sets its bool member on ("log"). */
#define GROUP_ON(n, st, f, keys, onf) { ROW(n, K_GROUP, st, f), .sub = (keys), \
	.flags = ON, .on = offsetof(st, f.onf) }
/* A char array field: fn gets its size from max. */
#define ARR(n, st, f, func, fl) { ROW(n, K_FUNC, st, f), .min = 1, \
	.max = sizeof(((st *)0)->f) - 1, .fn = (func), .flags = (fl) }
/* A key whose function works on the whole object. */
#define FUNC(n, func, fl)	{ .name = (n), .kind = K_FUNC, .fn = (func), .flags = (fl) }
#define END			{ .name = NULL }

/* ----------------------------------------------------------- tables */

/* Writes the defaults of keys (and of their non-LAZY groups) into obj,
 * which starts zeroed. */
void load_defaults(const struct key *keys, void *obj);
/*
 * Applies every member of group to obj through keys: an unknown key, a
 * wrong type or a value out of range is an error, and so is a REQ key
 * left out (reported at the group's line).  ctx names the group in
 * messages: "listener "web"".
 */
void load_walk(struct loader *ld, const config_setting_t *group, const char *ctx,
    const struct key *keys, void *obj);

/* ----------------------------------------------------------- errors */

/* An error about setting s, reported at its file and line. */
void load_errat(struct loader *ld, const config_setting_t *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An error at file (NULL: the main one) and line (0: the file as a whole). */
void load_errfl(struct loader *ld, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Every error, sorted by file and line, one "FILE:LINE: message" a line.
 * The caller frees the result. */
char *load_join_errors(struct loader *ld);
/* Frees what ld holds, not ld itself. */
void load_free(struct loader *ld);

/* ------------------------------------------- values, for K_FUNC rows */

bool load_is_name_char(int c);		/* [A-Za-z0-9_.-] */
bool load_is_token_char(int c);		/* RFC 9110 tchar */
bool load_all_chars(const char *s, bool (*ok)(int));
/* The setting's string, or NULL after an error when it is not a non-empty string. */
const char *load_get_str(struct loader *ld, const config_setting_t *s, const char *ctx);
/*
 * Checks that s is an array or a list of strings (or, when scalar_ok, a
 * single string) and returns how many; -1 after an error.
 */
int load_str_list(struct loader *ld, const config_setting_t *s, const char *ctx,
    bool scalar_ok);
/* The i-th string of what load_str_list() accepted. */
const config_setting_t *load_str_elem(const config_setting_t *s, int i);
/* Parses an "IP:PORT" string; the error names what (e.g. "listener "x" bind"). */
int load_get_addr(struct loader *ld, const config_setting_t *e, const char *what,
    struct fc_addr *addr);
/* The same, and "NAME:PORT" resolved now (net_resolve_addr()). */
int load_resolve_addr(struct loader *ld, const config_setting_t *e, const char *what,
    struct fc_addr *addr);
/* "server "webA"" in ctx, or "server #2" while the group has no usable name. */
void load_object_ctx(char *ctx, size_t len, const char *kind,
    const config_setting_t *group, int index);

/* ARR handlers: a name of [A-Za-z0-9_.-]; a cookie name (token chars). */
void load_key_name(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj);
void load_key_token(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj);

#endif
