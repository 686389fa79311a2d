/*
 * fulcrum's command line:
 *   fulcrum [-d] [-f FILE]     run (-d: foreground, logs on stderr)
 *   fulcrum -c [-f FILE]       check the configuration, exit 0 or 1
 *   fulcrum -v                 version and build options
 */
#include "config.h"

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

#define DEFAULT_CONF FC_SYSCONFDIR "/fulcrum/fulcrum.conf"

static void usage(FILE *out)
{
	fprintf(out,
	    "usage: fulcrum [-d] [-f FILE]    run (-d: stay in the foreground)\n"
	    "       fulcrum -c [-f FILE]      check the configuration\n"
	    "       fulcrum -v                show version and build options\n"
	    "default FILE: %s\n", DEFAULT_CONF);
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
	const char *path = DEFAULT_CONF;
	bool check = false, foreground = false;
	struct fc_conf *conf;
	char *errors = NULL;
	int ch;

	while ((ch = getopt(argc, argv, "cdf:hv")) != -1) {
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
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
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
