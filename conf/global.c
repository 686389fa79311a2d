/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The "global" section: the process-wide settings (privileges, workers,
 * connection ceiling, drain time, busy polling, stalled workers) and the
 * access log.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <libconfig.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/load.h"
#include "conf/section.h"
#include "lib/alloc.h"
#include "lib/net.h"

static const struct choice facilities[] = {
	{ "user", LOG_USER }, { "daemon", LOG_DAEMON },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	{ NULL, 0 },
};

static const struct choice formats[] = {
	{ "httplog", FC_LOG_HTTPLOG }, { "json", FC_LOG_JSON }, { NULL, 0 },
};

_Static_assert(sizeof(enum fc_log_format) == sizeof(int), "enum fc_log_format is no int");

/*
 * A local syslog socket ("/dev/log") or a remote syslog over UDP
 * ("udp://HOST[:PORT]", port 514 by default, as the classic "log
 * 127.0.0.1 local0").  Anything else would be silently useless: an error.
 */
static int check_log_address(struct loader *ld, const config_setting_t *s,
    const char *ctx, const char *v, void *obj)
{
	struct fc_log *lg = obj;
	char text[FC_ADDRSTRLEN + 8], err[160];

	if (strncmp(v, "udp://", 6) == 0) {
		v += 6;
		snprintf(text, sizeof(text), "%s%s", v, strrchr(v, ']') != NULL ?
		    (strstr(strrchr(v, ']'), "]:") ? "" : ":514") :
		    (strchr(v, ':') != NULL ? "" : ":514"));
		if (strlen(v) >= FC_ADDRSTRLEN ||
		    net_parse_addr(text, &lg->udp_addr, err, sizeof(err)) < 0 ||
		    net_addr_port((struct sockaddr *)&lg->udp_addr.ss) == 0) {
			load_errat(ld, s, "%s: \"address\" udp://%s: not an IP address and"
			    " port (udp://127.0.0.1:514)", ctx, v);
			return -1;
		}
		lg->udp = true;
	} else if (v[0] != '/') {
		load_errat(ld, s, "%s: \"address\" must be a syslog socket path"
		    " (\"/dev/log\") or \"udp://HOST[:PORT]\"%s", ctx,
		    strchr(v, ':') != NULL ? ": write \"udp://\" before a host" : "");
		return -1;
	}
	return 0;
}

/* Filled even without a "log" group, which only turns the access log on. */
static const struct key log_keys[] = {
	ENUM("facility", struct fc_log, facility, facilities, .def = LOG_LOCAL0),
	/* none: "/dev/log" */
	STR("address", struct fc_log, address, .str_check = check_log_address),
	ENUM("format", struct fc_log, format, formats, .def = FC_LOG_HTTPLOG),
	END,
};

/*
 * An idle worker beats every few milliseconds (worker/worker.c): a
 * shorter limit would take healthy workers out or kill them.
 */
static int check_stall(struct loader *ld, const config_setting_t *s, const char *ctx,
    long long v)
{
	if (v == 0 || v >= FC_STALL_MIN_MS)
		return 0;
	load_errat(ld, s, "%s: \"%s\" must be 0 (off) or at least %d ms", ctx,
	    config_setting_name(s), FC_STALL_MIN_MS);
	return -1;
}

/*
 * The user and group must exist when the file is read, not only when the
 * master starts: "fulcrum -c" (systemd's ExecStartPre) then refuses what
 * start would refuse, with the line, and so does a reload.
 */
static int check_user(struct loader *ld, const config_setting_t *s, const char *ctx,
    const char *v, void *obj)
{
	(void)obj;
	errno = 0;
	if (getpwnam(v) != NULL)
		return 0;
	load_errat(ld, s, "%s: \"user\": unknown user \"%s\"%s%s", ctx, v,
	    errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
	return -1;
}

static int check_group(struct loader *ld, const config_setting_t *s, const char *ctx,
    const char *v, void *obj)
{
	(void)obj;
	errno = 0;
	if (getgrnam(v) != NULL)
		return 0;
	load_errat(ld, s, "%s: \"group\": unknown group \"%s\"%s%s", ctx, v,
	    errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
	return -1;
}

/* The master writes the pid file at start: its directory must be there. */
static int check_pidfile(struct loader *ld, const config_setting_t *s, const char *ctx,
    const char *v, void *obj)
{
	const char *slash = strrchr(v, '/');
	char dir[4096];

	(void)obj;
	if (slash == NULL || slash == v || (size_t)(slash - v) >= sizeof(dir))
		return 0;
	memcpy(dir, v, (size_t)(slash - v));
	dir[slash - v] = '\0';
	if (access(dir, W_OK | X_OK) == 0)
		return 0;
	load_errat(ld, s, "%s: \"pidfile\": cannot write in %s (%s)", ctx, dir,
	    strerror(errno));
	return -1;
}

/*
 * The workers' root: an absolute path to a directory that is there now.
 * Nothing in it is needed (see master.c, chroot_enter()); an empty
 * directory that the workers' user cannot write is the right one.
 */
static int check_chroot(struct loader *ld, const config_setting_t *s, const char *ctx,
    const char *v, void *obj)
{
	struct stat st;

	(void)obj;
	if (v[0] != '/') {
		load_errat(ld, s, "%s: \"chroot\" must be an absolute path", ctx);
		return -1;
	}
	errno = 0;
	if (stat(v, &st) < 0 || !S_ISDIR(st.st_mode)) {
		load_errat(ld, s, "%s: \"chroot\": %s is not a directory%s%s", ctx, v,
		    errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
		return -1;
	}
	return 0;
}

static const struct key global_keys[] = {
	STR("user", struct fc_conf, user, .str_check = check_user),
	STR("group", struct fc_conf, group, .str_check = check_group),
	/* 0: one per online CPU, see resolve_workers() */
	INT("workers", struct fc_conf, workers, 0, FC_WORKERS_MAX, .def = 0),
	INT("maxconn", struct fc_conf, maxconn, 1, MAXCONN_MAX, .def = 4096),
	STR("pidfile", struct fc_conf, pidfile, .str_check = check_pidfile),
	/* none: the workers see the whole file system */
	STR("chroot", struct fc_conf, chroot, .str_check = check_chroot),
	/* ms */
	TIME_MS("drain_timeout", struct fc_conf, drain_timeout, 0, 3600000, .def = 30000),
	INT("busy_poll_us", struct fc_conf, busy_poll_us, 0, 10000, .def = 0),
	/* ms; 0 turns each off, see master/steer.c and the master's watchdog */
	TIME_MS("stall_ms", struct fc_conf, stall_ms, 0, 60000, .def = 200,
	    .check = check_stall),
	TIME_MS("watchdog_ms", struct fc_conf, watchdog_ms, 0, 3600000, .def = 2000,
	    .check = check_stall),
	GROUP_ON("log", struct fc_conf, log, log_keys, enabled),
	END,
};

/* workers = 0 (or absent) means one per online CPU. */
static int resolve_workers(int workers)
{
	long n;

	if (workers > 0)
		return workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		return 1;
	return n > FC_WORKERS_MAX ? FC_WORKERS_MAX : (int)n;
}

void conf_read_global(struct loader *ld, const config_setting_t *global,
    struct fc_conf *conf)
{
	load_defaults(global_keys, conf);
	conf->log.address = xstrdup("/dev/log");
	if (global != NULL)
		load_walk(ld, global, "global", global_keys, conf);
	conf->workers = resolve_workers(conf->workers);
}

void conf_free_global(struct fc_conf *conf)
{
	free(conf->user);
	free(conf->group);
	free(conf->chroot);
	free(conf->pidfile);
	free(conf->log.address);
}
