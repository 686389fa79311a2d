/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Configuration loader: a libconfig file into struct fc_conf (see conf.h).
 *
 * This file holds the top: opening the file, reading it with libconfig,
 * dispatching its sections in the order inheritance needs, and turning
 * the errors into the caller's string.  Each section has its own file
 * (section.h), all built on the table-driven machinery of load.h:
 *
 *   conf.c -> global.c, listener.c, backend.c, route.c, ha_section.c -> load.c
 *
 * Nothing here stops at the first error or logs: every problem becomes a
 * "FILE:LINE: message" entry, and conf_load() refuses the file at the end
 * with all of them, sorted by line.
 */
#include "config.h"

#include <errno.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf/conf.h"
#include "conf/load.h"
#include "conf/section.h"
#include "lib/alloc.h"

static const char *const sections[] = { "global", "defaults", "listeners", "backends",
	"ha", NULL };

/* Unknown sections, and sections that must be groups but are not. */
static void check_sections(struct loader *ld, const config_setting_t *root)
{
	const config_setting_t *s;
	int i, j, n = config_setting_length(root);

	for (i = 0; i < n; i++) {
		s = config_setting_get_elem(root, (unsigned)i);
		for (j = 0; sections[j] != NULL; j++)
			if (strcmp(sections[j], config_setting_name(s)) == 0)
				break;
		if (sections[j] == NULL)
			load_errat(ld, s, "unknown section \"%s\" (global, defaults,"
			    " listeners, backends, ha)", config_setting_name(s));
		else if (strcmp(sections[j], "listeners") != 0 &&
		    strcmp(sections[j], "backends") != 0 &&
		    !config_setting_is_group(s))
			load_errat(ld, s, "\"%s\" must be a group { ... }", sections[j]);
	}
}

/* The section called name if it is a group (check_sections() says if not). */
static const config_setting_t *group_of(const config_setting_t *root, const char *name)
{
	const config_setting_t *s = config_setting_get_member(root, name);

	return s != NULL && config_setting_is_group(s) ? s : NULL;
}

/* The sections, in the order that inheritance needs. */
static void parse_root(struct loader *ld, const config_setting_t *root,
    struct fc_conf *conf)
{
	const config_setting_t *s;

	check_sections(ld, root);
	conf_read_global(ld, group_of(root, "global"), conf);
	conf_read_listeners(ld, group_of(root, "defaults"),
	    config_setting_get_member(root, "listeners"), conf);
	conf_read_backends(ld, config_setting_get_member(root, "backends"),
	    (enum fc_balance)ld->balance, conf);
	conf_link_backends(ld, conf);
	if ((s = group_of(root, "ha")) != NULL)
		conf_read_ha(ld, s, &conf->ha);
}

/*
 * Resolves and opens path, reporting why not.  Returns the open stream
 * and sets *real (malloc'd, caller frees), or NULL after an error.
 */
static FILE *open_conf(struct loader *ld, const char *path, char **real)
{
	struct stat st;
	FILE *fp;

	if ((*real = realpath(path, NULL)) == NULL) {
		load_errfl(ld, NULL, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		load_errfl(ld, NULL, 0, "cannot open: %s", strerror(errno));
	} else if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		load_errfl(ld, NULL, 0, "cannot open: %s", strerror(EISDIR));
		fclose(fp);
		fp = NULL;
	}
	if (fp == NULL) {
		free(*real);
		*real = NULL;
	}
	return fp;
}

/* @include "x.conf" is relative to the including file's directory. */
static void set_include_dir(struct loader *ld, config_t *cfg, const char *real)
{
	char *slash;

	ld->incdir = xstrdup(real);
	if ((slash = strrchr(ld->incdir, '/')) != NULL)
		slash[slash == ld->incdir ? 1 : 0] = '\0';
	config_set_include_dir(cfg, ld->incdir);	/* copies it */
}

static void parse_error(struct loader *ld, const config_t *cfg)
{
	const char *text = config_error_text(cfg);

	if (text == NULL)
		text = "unknown error";
	/* libconfig's text is often just "syntax error": don't say it twice. */
	if (strcmp(text, "syntax error") == 0)
		load_errfl(ld, config_error_file(cfg), config_error_line(cfg),
		    "syntax error");
	else
		load_errfl(ld, config_error_file(cfg), config_error_line(cfg),
		    "syntax error: %s", text);
}

/* Parses the open file into conf. */
static void read_conf(struct loader *ld, FILE *fp, struct fc_conf *conf)
{
	config_t cfg;

	config_init(&cfg);
	set_include_dir(ld, &cfg, conf->path);
	if (config_read(&cfg, fp) == CONFIG_FALSE)
		parse_error(ld, &cfg);
	else
		parse_root(ld, config_root_setting(&cfg), conf);
	config_destroy(&cfg);
}

struct fc_conf *conf_load(const char *path, char **errors)
{
	struct loader ld = { .path = path };
	struct fc_conf *conf = NULL;
	char *real;
	FILE *fp;

	*errors = NULL;
	if ((fp = open_conf(&ld, path, &real)) != NULL) {
		conf = xcalloc(1, sizeof(*conf));
		conf->path = real;
		read_conf(&ld, fp, conf);
		fclose(fp);
	}
	if (ld.nerrs > 0) {
		conf_free(conf);
		conf = NULL;
		*errors = load_join_errors(&ld);
	}
	load_free(&ld);
	return conf;
}

void conf_free(struct fc_conf *conf)
{
	if (conf == NULL)
		return;
	free(conf->path);
	conf_free_global(conf);
	conf_free_listeners(conf);
	conf_free_backends(conf);
	conf_free_ha(&conf->ha);
	free(conf);
}
