/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fulcrum's command line:
 *   fulcrum [-d] [-f FILE]     run (-d: foreground, logs on stderr)
 *   fulcrum -c [-f FILE]       check the configuration, exit 0 or 1
 *   fulcrum -v                 version and build options
 *   fulcrum -h                 this usage
 * (--check, --foreground, --file, --version and --help too.)  Exit status,
 * as fulcrum-stat's: 0 ok, 1 a runtime failure (an invalid configuration
 * included), 2 a usage error.
 */
#include "config.h"

#include <getopt.h>
#include <libconfig.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#ifdef HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

#include "conf/conf.h"
#include "master/master.h"

#define DEFAULT_CONF	FC_SYSCONFDIR "/fulcrum/fulcrum.conf"
#define EXIT_USAGE	2

static void usage(FILE *out)
{
	fprintf(out,
	    "usage: fulcrum [-d] [-f FILE]    run (-d: stay in the foreground)\n"
	    "       fulcrum -c [-f FILE]      check the configuration\n"
	    "       fulcrum -v                show version and build options\n"
	    "       fulcrum -h                this help\n"
	    "  -c, --check       check FILE as a start would, then exit 0 or 1\n"
	    "  -d, --foreground  no daemon: stay in the foreground, log to stderr\n"
	    "  -f, --file FILE   the configuration (default: %s)\n"
	    "  -v, --version     version and build options\n"
	    "  -h, --help        this help\n"
	    "exit status: 0 ok, 1 failure (invalid configuration included), 2 usage\n"
	    "see fulcrum(8) and fulcrum.conf(5)\n", DEFAULT_CONF);
}

static void version(void)
{
	const char *alloc = "libc malloc";
#ifdef HAVE_JEMALLOC
	size_t len = sizeof(alloc);

	if (mallctl("version", &alloc, &len, NULL, 0) != 0)
		alloc = "jemalloc (version unknown)";
	printf("fulcrum %s\nbuild options: %s\nallocator: jemalloc %s\n",
	    PACKAGE_VERSION, FC_BUILD_OPTIONS, alloc);
#else
	printf("fulcrum %s\nbuild options: %s\nallocator: %s\n",
	    PACKAGE_VERSION, FC_BUILD_OPTIONS, alloc);
#endif
	printf("libconfig %d.%d.%d, %s\n", LIBCONFIG_VER_MAJOR, LIBCONFIG_VER_MINOR,
	    LIBCONFIG_VER_REVISION, OpenSSL_version(OPENSSL_VERSION));
}

int main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "check", no_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'd' },
		{ "file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = DEFAULT_CONF;
	bool check = false, foreground = false;
	struct fc_conf *conf;
	char *errors = NULL;
	int ch;

	while ((ch = getopt_long(argc, argv, "cdf:hv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			check = true;
			break;
		case 'd':
			foreground = true;
			break;
		case 'f':
			path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'v':
			version();
			return 0;
		default:	/* getopt said which option */
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "fulcrum: unexpected argument %s\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((conf = conf_load(path, &errors)) == NULL) {
		fprintf(stderr, "%s\n", errors);
		if (check)
			fprintf(stderr, "configuration invalid\n");
		free(errors);
		return 1;
	}
	if (check) {
		printf("configuration valid\n");
		conf_free(conf);
		return 0;
	}
	return master_run(conf, foreground);
}
