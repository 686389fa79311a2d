/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Replays saved inputs through one fuzz harness, without libFuzzer: link
 * it with one t/fuzz/fuzz_*.c and the code that harness tests, with any
 * compiler.  `make check` runs it over t/fuzz/regress/<target>/, so that
 * every crash the fuzzers ever found stays fixed.
 *
 *	replay [FILE | DIR]...
 *
 * Without arguments it replays FUZZ_REPLAY_DIR, set at build time.  Files
 * whose names start with "." (.gitkeep) are skipped.  Each input is copied
 * so that it ends right before a PROT_NONE page: without AddressSanitizer,
 * reading one byte too far still crashes, as in t/unit/test_http.c.  A
 * broken invariant aborts; so a test failure is a signal, and the last
 * "replay:" line on stderr names the input.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t/fuzz/fuzz.h"

static int replayed;

/* Reads path into memory ending at a guard page; the caller unmaps *map. */
static const uint8_t *load(const char *path, size_t *size, void **map, size_t *maplen)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), data, off = 0;
	struct stat st;
	uint8_t *p;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	*size = (size_t)st.st_size;
	data = (*size + pg - 1) / pg * pg;
	*maplen = data + pg;
	*map = mmap(NULL, *maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*map == MAP_FAILED || mprotect((char *)*map + data, pg, PROT_NONE) == -1) {
		fprintf(stderr, "replay: mmap: %s\n", strerror(errno));
		exit(2);
	}
	p = (uint8_t *)*map + data - *size;
	while (off < *size) {
		if ((n = read(fd, p + off, *size - off)) <= 0) {
			fprintf(stderr, "replay: %s: %s\n", path, n == 0 ? "short read" :
			    strerror(errno));
			exit(2);
		}
		off += (size_t)n;
	}
	close(fd);
	return p;
}

static void replay_file(const char *path)
{
	const uint8_t *data;
	size_t size, maplen;
	void *map;

	/* Said before the run, so that a crash is followed by no other name. */
	fprintf(stderr, "replay: %s\n", path);
	data = load(path, &size, &map, &maplen);
	LLVMFuzzerTestOneInput(data, size);
	munmap(map, maplen);
	replayed++;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int skip_hidden(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* A directory's files in name order, so that two runs crash alike. */
static void replay_dir(const char *dir)
{
	struct dirent **names;
	char path[4096];
	int n;

	if ((n = scandir(dir, &names, skip_hidden, by_name)) == -1) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		exit(2);
	}
	for (int i = 0; i < n; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name) >=
		    sizeof(path)) {
			fprintf(stderr, "replay: %s/%s: name too long\n", dir, names[i]->d_name);
			exit(2);
		}
		replay_file(path);
		free(names[i]);
	}
	free(names);
}

static void replay(const char *path)
{
	struct stat st;

	if (stat(path, &st) == -1) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	if (S_ISDIR(st.st_mode))
		replay_dir(path);
	else
		replay_file(path);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			replay(argv[i]);
	} else {
#ifdef FUZZ_REPLAY_DIR
		replay(FUZZ_REPLAY_DIR);
#else
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
#endif
	}
	fprintf(stderr, "replay: %d input%s, no invariant broken\n", replayed,
	    replayed == 1 ? "" : "s");
	return 0;
}
