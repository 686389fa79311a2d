/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fulcrumctl: changes a running instance's servers at run time, as
 * HAProxy's "set server ... state" does, without editing files.
 *
 *	fulcrumctl [-f FILE | -n NAME] drain|maint|ready BACKEND/SERVER
 *	fulcrumctl [-f FILE | -n NAME] weight BACKEND/SERVER N
 *	fulcrumctl [-f FILE | -n NAME] show
 *
 * drain: no new clients, persistent ones still come; maint: no traffic at
 * all, checks paused; ready: back to what the checks say.  A listener with
 * its own servers is their backend, under the listener's name.  The
 * request goes to the checker, the single writer of server state, through
 * the control page (shm/ctl.h); fulcrumctl prints its answer.  The state
 * shows in every stats output and stays over reloads.  Exit status: 0 ok,
 * 1 runtime failure (no instance, unknown server, no permission), 2 usage.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/sbuf.h"
#include "shm/ctl.h"
#include "shm/report.h"
#include "shm/shm.h"
#include "tools/instance.h"

#define PROG		"fulcrumctl"
#define ANSWER_MS	3000		/* the checker looks every FC_CTL_POLL_MS */

struct cmd {
	const char *file, *name;
	enum fc_ctl_op op;		/* 0: show */
	char backend[FC_SHM_NAME_LEN], server[FC_SHM_NAME_LEN];
	int weight;
};

static void usage(FILE *fp)
{
	fprintf(fp, "usage: " PROG " [-f FILE | -n NAME] drain|maint|ready BACKEND/SERVER\n"
	    "       " PROG " [-f FILE | -n NAME] weight BACKEND/SERVER N\n"
	    "       " PROG " [-f FILE | -n NAME] show\n"
	    "  drain   no new clients; persistent ones keep coming\n"
	    "  maint   no traffic at all; health checks paused\n"
	    "  ready   back in service, as its health checks say\n"
	    "  weight  its weight, 0..256, until the next start\n"
	    "  show    the servers, as fulcrum-stat shows them\n"
	    "  -f FILE the instance running with config FILE\n"
	    "  -n NAME the instance of segment NAME; neither: the only one\n"
	    "  -h, --help, -V, --version\n");
}

static int usage_error(const char *what, const char *arg)
{
	fprintf(stderr, PROG ": %s%s\n", arg, what);
	usage(stderr);
	return EXIT_USAGE;
}

/* "BACKEND/SERVER" into c. */
static int parse_target(const char *arg, struct cmd *c)
{
	const char *slash = strchr(arg, '/');
	size_t bl = slash != NULL ? (size_t)(slash - arg) : 0;

	if (slash == NULL || bl == 0 || bl >= sizeof(c->backend) || slash[1] == '\0' ||
	    strlen(slash + 1) >= sizeof(c->server) || strchr(slash + 1, '/') != NULL)
		return usage_error(": not BACKEND/SERVER", arg);
	memcpy(c->backend, arg, bl);
	c->backend[bl] = '\0';
	snprintf(c->server, sizeof(c->server), "%s", slash + 1);
	return 0;
}

static int parse_weight(const char *arg, struct cmd *c)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < 0 || v > 256)
		return usage_error(": a weight is a number from 0 to 256", arg);
	c->weight = (int)v;
	return 0;
}

static int parse_command(int argc, char **argv, struct cmd *c)
{
	static const struct { const char *name; enum fc_ctl_op op; } ops[] = {
		{ "ready", FC_CTL_READY }, { "drain", FC_CTL_DRAIN },
		{ "maint", FC_CTL_MAINT }, { "weight", FC_CTL_WEIGHT },
	};
	int want;

	if (argc < 1)
		return usage_error("a command is needed", "");
	if (strcmp(argv[0], "show") == 0)
		return argc == 1 ? 0 : usage_error(": unexpected after show", argv[1]);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(argv[0], ops[i].name) == 0)
			c->op = ops[i].op;
	if (c->op == 0)
		return usage_error(": unknown command", argv[0]);
	want = c->op == FC_CTL_WEIGHT ? 3 : 2;
	if (argc != want)
		return usage_error(": wrong number of arguments", argv[0]);
	if (parse_target(argv[1], c) != 0)
		return EXIT_USAGE;
	return c->op == FC_CTL_WEIGHT ? parse_weight(argv[2], c) : 0;
}

static int parse_args(int argc, char **argv, struct cmd *c)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int o;

	memset(c, 0, sizeof(*c));
	opterr = 0;
	while ((o = getopt_long(argc, argv, "+:f:n:hV", longopts, NULL)) != -1) {
		switch (o) {
		case 'f':
			c->file = optarg;
			break;
		case 'n':
			c->name = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf(PROG " " PACKAGE_VERSION "\n");
			exit(0);
		case ':':
			return usage_error(" needs an argument", argv[optind - 1]);
		default:
			return usage_error(": unknown option", argv[optind - 1]);
		}
	}
	if (c->file != NULL && c->name != NULL)
		return usage_error("-f and -n are exclusive", "");
	return parse_command(argc - optind, argv + optind, c);
}

static int show(const struct fc_shm *shm)
{
	struct fc_report r;
	struct fc_sbuf b = { 0 };
	int rc = 0;

	report_snapshot(&r, shm);
	report_render(&r, FC_REPORT_TEXT, -1, &b);
	report_free(&r);
	if (b.len > 0 && fwrite(b.p, 1, b.len, stdout) != b.len)
		rc = 1;
	sbuf_free(&b);
	return rc;
}

/* A server of the segment by its names: fulcrumctl says "unknown" itself. */
static bool known(const struct fc_shm *shm, const struct cmd *c)
{
	for (uint32_t i = 0; i < shm->hdr->nservers; i++) {
		const struct fc_shm_server *sv = shm_server(shm, i);

		if (strncmp(sv->backend, c->backend, sizeof(sv->backend)) == 0 &&
		    strncmp(sv->name, c->server, sizeof(sv->name)) == 0)
			return true;
	}
	return false;
}

static int request(const struct fc_shm *shm, const struct cmd *c)
{
	struct fc_ctl ctl;
	char err[320], msg[256];
	int rc;

	if (!known(shm, c)) {
		fprintf(stderr, PROG ": no server %s/%s in this instance (fulcrumctl show"
		    " lists them)\n", c->backend, c->server);
		return 1;
	}
	if (ctl_attach(&ctl, shm->name, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return 1;
	}
	rc = ctl_request(&ctl, shm_load(&shm->hdr->generation), c->op, c->backend,
	    c->server, c->weight, ANSWER_MS, msg, sizeof(msg));
	ctl_detach(&ctl);
	if (rc == ETIMEDOUT || rc == EBUSY) {
		fprintf(stderr, PROG ": %s\n", rc == EBUSY ? "another fulcrumctl holds the"
		    " control page" : "no answer from the checker (a reload in"
		    " progress? try again)");
		return 1;
	}
	fprintf(rc == 0 ? stdout : stderr, "%s%s\n", rc == 0 ? "" : PROG ": ", msg);
	return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	struct cmd c;
	struct fc_shm shm;
	char name[FC_SHM_NAME_LEN];
	int rc;

	if ((rc = parse_args(argc, argv, &c)) != 0)
		return rc;
	if ((rc = instance_name(PROG, c.file, c.name, name, sizeof(name))) != 0)
		return rc;
	if (instance_open(PROG, &shm, name, c.file) != 0)
		return 1;
	rc = c.op == 0 ? show(&shm) : request(&shm, &c);
	shm_detach(&shm);
	return rc;
}
