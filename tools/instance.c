/* SPDX-License-Identifier: BSD-2-Clause */
/* Finding the running instance a tool is about (instance.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/instance.h"

#define MAX_LIST	64		/* live instances listed when picking one */
#define NAME_HEX	16		/* hex digits of a segment name */

/* "/fulcrum-HEX" from "/fulcrum-HEX", "fulcrum-HEX" or the bare hex digits. */
static int name_from_arg(const char *prog, const char *arg, char *name, size_t len)
{
	const char *hex = arg;

	if (strncmp(hex, "/", 1) == 0)
		hex++;
	if (strncmp(hex, "fulcrum-", 8) == 0)
		hex += 8;
	if (strlen(hex) != NAME_HEX || strspn(hex, "0123456789abcdefABCDEF") != NAME_HEX) {
		fprintf(stderr, "%s: -n %s: not a segment name (/fulcrum- and %d hex "
		    "digits)\n", prog, arg, NAME_HEX);
		return EXIT_USAGE;
	}
	snprintf(name, len, "/fulcrum-%s", hex);
	for (char *p = name; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return 0;
}

/* The segment of the instance running FILE: named after its real path. */
static int name_from_file(const char *prog, const char *file, char *name, size_t len)
{
	char real[PATH_MAX];

	if (realpath(file, real) == NULL) {
		fprintf(stderr, "%s: %s: %s\n", prog, file, strerror(errno));
		return 1;
	}
	shm_name_for(real, name, len);
	return 0;
}

static void list_instance(const char *name)
{
	struct fc_shm shm;
	char err[256];

	if (shm_attach_ro(&shm, name, err, sizeof(err)) < 0) {
		fprintf(stderr, "  %s  (gone)\n", name);
		return;
	}
	fprintf(stderr, "  %s  master pid %d  config %.*s\n", name,
	    (int)shm_load(&shm.hdr->master_pid), (int)sizeof(shm.hdr->config_path),
	    shm.hdr->config_path);
	shm_detach(&shm);
}

/* Neither -f nor -n: the only live instance, or an error listing them. */
static int name_of_only(const char *prog, char *name, size_t len)
{
	static char names[MAX_LIST][FC_SHM_NAME_LEN];
	int n = shm_list_live(names, MAX_LIST);

	if (n == 0) {
		fprintf(stderr, "%s: no fulcrum instance is running\n", prog);
		return 1;
	}
	if (n == 1) {
		snprintf(name, len, "%s", names[0]);
		return 0;
	}
	fprintf(stderr, "%s: %d fulcrum instances are running:\n", prog, n);
	for (int i = 0; i < n && i < MAX_LIST; i++)
		list_instance(names[i]);
	if (n > MAX_LIST)
		fprintf(stderr, "  and %d more\n", n - MAX_LIST);
	fprintf(stderr, "%s: use -f FILE or -n NAME to pick one\n", prog);
	return 1;
}

int instance_name(const char *prog, const char *file, const char *arg, char *name,
    size_t len)
{
	if (file != NULL)
		return name_from_file(prog, file, name, len);
	if (arg != NULL)
		return name_from_arg(prog, arg, name, len);
	return name_of_only(prog, name, len);
}

int instance_gone(const char *prog, const struct fc_shm *shm)
{
	fprintf(stderr, "%s: the instance of %s is not running (master pid %d is "
	    "gone)\n", prog, shm->name, (int)shm_load(&shm->hdr->master_pid));
	return 1;
}

int instance_open(const char *prog, struct fc_shm *shm, const char *name, const char *file)
{
	char err[256];

	if (shm_attach_ro(shm, name, err, sizeof(err)) < 0) {
		if (errno != ENOENT)
			fprintf(stderr, "%s: %s\n", prog, err);
		else if (file != NULL)
			fprintf(stderr, "%s: no fulcrum instance is running with %s "
			    "(no segment %s)\n", prog, file, name);
		else
			fprintf(stderr, "%s: no fulcrum instance is running as %s\n",
			    prog, name);
		return 1;
	}
	if (!shm_instance_alive(shm)) {
		instance_gone(prog, shm);
		shm_detach(shm);
		return 1;
	}
	return 0;
}
