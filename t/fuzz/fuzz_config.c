/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer harness for the configuration loader (conf_load and conf_free
 * in conf/, on top of libconfig, lib/net.c and lib/alloc.c).
 *
 * conf_load() takes a path, so each input is written to one file, made
 * once per process in a private directory under $TMPDIR (not a memfd:
 * conf_load() calls realpath(), and /proc/self/fd/N of a memfd resolves
 * to "/memfd:... (deleted)", which does not exist).  The loader must
 * then either return a configuration that keeps the promises of conf.h,
 * or refuse with errors that all read "FILE:LINE: message" or "FILE:
 * message", FILE being the path it was given: an operator greps for it,
 * and a line that does not start so is one a value smuggled in.  Whatever
 * the answer, everything is freed (LeakSanitizer checks).
 *
 * Inputs holding "@include" are skipped: they would read whatever file
 * they name (/dev/zero, say, never ends), which tests the machine, not
 * fulcrum.
 */
#include "config.h"

#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/conf.h"
#include "t/fuzz/fuzz.h"

static char dir[PATH_MAX - 16];		/* room for "/fuzz.conf" in path */
static char path[PATH_MAX];		/* dir/fuzz.conf, as conf_load() gets it */
static char *real;			/* its realpath(), what conf->path must be */

static void remove_file(void)
{
	unlink(path);
	rmdir(dir);
	free(real);
}

static void make_file(void)
{
	const char *tmp = getenv("TMPDIR");
	int fd;

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	if ((size_t)snprintf(dir, sizeof(dir), "%s/fc-fuzz-conf.XXXXXX", tmp) >= sizeof(dir) ||
	    mkdtemp(dir) == NULL) {
		perror("fuzz_config: mkdtemp");
		abort();
	}
	snprintf(path, sizeof(path), "%s/fuzz.conf", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 || close(fd) == -1 ||
	    (real = realpath(path, NULL)) == NULL) {
		perror("fuzz_config: fuzz.conf");
		abort();
	}
	atexit(remove_file);
}

static void write_file(const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_TRUNC);
	ssize_t n;

	if (fd == -1) {
		perror("fuzz_config: open");
		abort();
	}
	while (size > 0) {
		if ((n = write(fd, data, size)) <= 0) {
			perror("fuzz_config: write");
			abort();
		}
		data += n;
		size -= (size_t)n;
	}
	close(fd);
}

/* Case-insensitive, NULs and all: libconfig's scanner sees them too. */
static bool has_include(const uint8_t *data, size_t size)
{
	static const char word[] = "@include";
	size_t n = sizeof(word) - 1;

	for (size_t i = 0; i + n <= size; i++)
		if (data[i] == '@' && fuzz_ci_eq((const char *)data + i, n, word))
			return true;
	return false;
}

/* Every line: PATH ":" [ LINE ":" ] " " message. */
static void check_errors(const char *errors)
{
	size_t plen = strlen(path);
	const char *line = errors, *p;

	FUZZ_CHECK(*errors != '\0');
	for (;;) {
		FUZZ_CHECK(strncmp(line, path, plen) == 0 && line[plen] == ':');
		p = line + plen + 1;
		if (*p >= '1' && *p <= '9') {
			while (*p >= '0' && *p <= '9')
				p++;
			FUZZ_CHECK(*p++ == ':');
		}
		FUZZ_CHECK(p[0] == ' ' && p[1] != '\0' && p[1] != '\n');
		if ((line = strchr(p, '\n')) == NULL)
			break;
		line++;
	}
}

/* A NUL-terminated name of 1..max - 1 bytes in a char[max]. */
static bool name_ok(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	return n > 0 && n < max;
}

/* What conf.h promises about a loaded configuration. */
static void check_conf(const struct fc_conf *c)
{
	FUZZ_CHECK(c->path != NULL && strcmp(c->path, real) == 0);
	FUZZ_CHECK(c->workers >= 1 && c->workers <= FC_WORKERS_MAX);
	FUZZ_CHECK(c->nlisteners >= 0 && (c->nlisteners == 0 || c->listeners != NULL));
	for (int i = 0; i < c->nlisteners; i++) {
		const struct fc_listener *l = &c->listeners[i];

		FUZZ_CHECK(name_ok(l->name, sizeof(l->name)));
		FUZZ_CHECK(l->nbinds >= 0);
		for (int j = 0; j < l->nbinds; j++)
			FUZZ_CHECK(memchr(l->bind_text[j], '\0', FC_ADDRSTRLEN) != NULL);
		FUZZ_CHECK(l->backend >= -1 && l->backend < c->nbackends);
		FUZZ_CHECK(l->backend >= 0 || l->nroutes > 0 || l->redirect_https);
		for (int j = 0; j < l->nroutes; j++)
			FUZZ_CHECK((l->routes[j].redirect != NULL) ==
			    (l->routes[j].backend < 0) && l->routes[j].backend < c->nbackends);
		FUZZ_CHECK(l->stats.nauth >= 0);
		for (int j = 0; j < l->stats.nauth; j++)
			FUZZ_CHECK(l->stats.auth[j] != NULL);
	}
	for (int i = 0; i < c->nbackends; i++) {
		const struct fc_backend *b = &c->backends[i];

		FUZZ_CHECK(name_ok(b->name, sizeof(b->name)) && b->nservers > 0);
		for (int j = 0; j < b->nservers; j++) {
			const struct fc_server *s = &b->servers[j];

			FUZZ_CHECK(name_ok(s->name, sizeof(s->name)));
			FUZZ_CHECK(memchr(s->cookie, '\0', sizeof(s->cookie)) != NULL);
			FUZZ_CHECK(memchr(s->addr_text, '\0', sizeof(s->addr_text)) != NULL);
			FUZZ_CHECK(s->weight >= 0 && s->weight <= 256 && s->maxconn >= 0);
		}
		FUZZ_CHECK(memchr(b->cookie.name, '\0', sizeof(b->cookie.name)) != NULL);
	}
	if (c->ha.enabled) {
		FUZZ_CHECK(memchr(c->ha.interface, '\0', sizeof(c->ha.interface)) != NULL);
		FUZZ_CHECK(c->ha.vrid >= 1 && c->ha.vrid <= 255);
		FUZZ_CHECK(c->ha.priority >= 1 && c->ha.priority <= 254);
		FUZZ_CHECK(c->ha.advert_ms > 0 && c->ha.advert_ms % 10 == 0);
		FUZZ_CHECK(c->ha.nvips >= 0 && c->ha.npeers >= 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fc_conf *conf;
	char *errors = NULL;

	if (has_include(data, size))
		return 0;
	if (path[0] == '\0')
		make_file();
	write_file(data, size);
	conf = conf_load(path, &errors);
	/* One answer or the other, never both, never neither. */
	FUZZ_CHECK((conf == NULL) != (errors == NULL));
	if (conf != NULL)
		check_conf(conf);
	else
		check_errors(errors);
	conf_free(conf);
	free(errors);
	return 0;
}
