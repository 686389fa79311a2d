/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fulcrum-stat: prints a running instance's servers, workers, totals,
 * session table and HA state, read from its shared-memory segment.
 *
 *	fulcrum-stat [-f FILE | -n NAME] [--json | --csv | --prometheus] [-w SECONDS]
 *
 * It maps the segment read-only and never talks to a process, so it answers
 * the same when every worker is wedged.  Exit status: 0 ok, 1 error (no
 * instance, instance gone, another layout version), 2 usage.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/sbuf.h"
#include "shm/report.h"
#include "shm/shm.h"
#include "tools/instance.h"

#define PROG		"fulcrum-stat"
#define MIN_WATCH	0.1		/* -w: the shortest refresh, seconds */

static volatile sig_atomic_t stop;

struct options {
	const char *file;
	const char *name;
	enum fc_report_fmt fmt;
	int nfmts;			/* more than one --json/--csv/...: usage */
	double watch;			/* seconds, 0: print once */
};

static void usage(FILE *fp)
{
	fprintf(fp, "usage: " PROG " [-f FILE | -n NAME] [--json | --csv | --prometheus]"
	    " [-w SECONDS]\n"
	    "  -f FILE        the instance running with config FILE\n"
	    "  -n NAME        the instance of segment NAME (/fulcrum-HEX, fulcrum-HEX"
	    " or HEX)\n"
	    "                 neither: the only instance running\n"
	    "  --json, --csv, --prometheus\n"
	    "                 output format (default: a table)\n"
	    "  -w SECONDS     redraw every SECONDS (>= %.1f) until interrupted\n"
	    "  -v, --version  the version and the segment layout it reads\n"
	    "  -h, --help     this help\n"
	    "exit status: 0 ok, 1 failure (no instance, another layout), 2 usage\n"
	    "see fulcrum-stat(1)\n", MIN_WATCH);
}

static int parse_watch(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < MIN_WATCH ||
	    v > (double)INT_MAX / 1000)
		return -1;
	*out = v;
	return 0;
}

static void set_fmt(struct options *o, enum fc_report_fmt fmt)
{
	o->fmt = fmt;
	o->nfmts++;
}

/* Returns 0, or EXIT_USAGE after saying why. */
static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "csv", no_argument, NULL, 'C' },
		{ "prometheus", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->fmt = FC_REPORT_TEXT;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:f:n:w:hv", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->file = optarg;
			break;
		case 'n':
			o->name = optarg;
			break;
		case 'w':
			if (parse_watch(optarg, &o->watch) < 0) {
				fprintf(stderr, PROG ": -w %s: a number of seconds, at "
				    "least %.1f\n", optarg, MIN_WATCH);
				return EXIT_USAGE;
			}
			break;
		case 'J':
			set_fmt(o, FC_REPORT_JSON);
			break;
		case 'C':
			set_fmt(o, FC_REPORT_CSV);
			break;
		case 'P':
			set_fmt(o, FC_REPORT_PROMETHEUS);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'v':
			printf(PROG " %s (shm layout %u)\n", PACKAGE_VERSION,
			    (unsigned)FC_SHM_VERSION);
			exit(0);
		case ':':
			fprintf(stderr, PROG ": %s needs an argument\n", argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		default:
			if (optopt != 0)
				fprintf(stderr, PROG ": unknown option -%c\n", optopt);
			else
				fprintf(stderr, PROG ": unknown option %s\n",
				    argv[optind - 1]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument %s\n", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (o->file != NULL && o->name != NULL) {
		fprintf(stderr, PROG ": -f and -n are exclusive\n");
		return EXIT_USAGE;
	}
	if (o->nfmts > 1) {
		fprintf(stderr, PROG ": one of --json, --csv, --prometheus at most\n");
		return EXIT_USAGE;
	}
	return 0;
}

/* Renders one report, after clear (if not NULL), and writes it at once. */
static int print_report(const struct fc_shm *shm, enum fc_report_fmt fmt,
    const char *clear)
{
	struct fc_report r;
	struct fc_sbuf b = { 0 };
	bool ok;

	if (clear != NULL)
		sbuf_printf(&b, "%s", clear);
	report_snapshot(&r, shm);
	report_render(&r, fmt, -1, &b);
	report_free(&r);
	ok = b.len == 0 || fwrite(b.p, 1, b.len, stdout) == b.len;
	sbuf_free(&b);
	if (fflush(stdout) != 0 || !ok) {
		fprintf(stderr, PROG ": writing the report: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/*
 * INT and TERM stay blocked but during the wait: ppoll() unblocks them
 * atomically, so a signal is never lost between the check and the sleep.
 */
static void watch_signals(sigset_t *waitmask)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, waitmask);
	sigdelset(waitmask, SIGINT);
	sigdelset(waitmask, SIGTERM);
}

/*
 * A reload renames the next generation's segment over the name, and the
 * old one goes when its last process does: move to the new one, once it is
 * there and alive.
 */
static void follow_reload(struct fc_shm *shm)
{
	struct fc_shm next;
	char err[256];

	if (shm_name_is_ours(shm) || shm_attach_ro(&next, shm->name, err, sizeof(err)) < 0)
		return;
	if (!shm_instance_alive(&next)) {
		shm_detach(&next);
		return;
	}
	shm_detach(shm);
	*shm = next;
}

/*
 * -w: redraws every `secs` until INT or TERM (exit 0).  On a terminal each
 * frame clears the screen first, like top; into a pipe the frames follow
 * each other, so `--json -w 1 | jq` reads a stream of objects.
 */
static int watch(struct fc_shm *shm, enum fc_report_fmt fmt, double secs)
{
	const char *clear = isatty(STDOUT_FILENO) ? "\033[H\033[2J" : NULL;
	struct timespec ts = { .tv_sec = (time_t)secs,
	    .tv_nsec = (long)((secs - (double)(time_t)secs) * 1e9) };
	sigset_t waitmask;

	watch_signals(&waitmask);
	while (!stop) {
		follow_reload(shm);
		if (!shm_instance_alive(shm))
			return instance_gone(PROG, shm);
		if (print_report(shm, fmt, clear) != 0)
			return 1;
		if (clear == NULL && fmt == FC_REPORT_TEXT)
			printf("\n");
		ppoll(NULL, 0, &ts, &waitmask);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o;
	struct fc_shm shm;
	char name[FC_SHM_NAME_LEN];
	int rc;

	if ((rc = parse_args(argc, argv, &o)) != 0)
		return rc;
	if ((rc = instance_name(PROG, o.file, o.name, name, sizeof(name))) != 0)
		return rc;
	if (instance_open(PROG, &shm, name, o.file) != 0)
		return 1;
	if (o.watch > 0)
		rc = watch(&shm, o.fmt, o.watch);
	else
		rc = print_report(&shm, o.fmt, NULL);
	shm_detach(&shm);
	return rc;
}
