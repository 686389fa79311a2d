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
static void key_log_address(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_log *lg = obj;
	const char *v = load_get_str(ld, s, ctx);
	char text[FC_ADDRSTRLEN + 8], err[160];

	(void)k;
	if (v == NULL)
		return;
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
			return;
		}
		lg->udp = true;
	} else if (v[0] != '/') {
		load_errat(ld, s, "%s: \"address\" must be a syslog socket path"
		    " (\"/dev/log\") or \"udp://HOST[:PORT]\"%s", ctx,
		    strchr(v, ':') != NULL ? ": write \"udp://\" before a host" : "");
		return;
	}
	free(lg->address);
	lg->address = xstrdup(config_setting_get_string(s));
}

/* Filled even without a "log" group, which only turns the access log on. */
static const struct key log_keys[] = {
	ENUM("facility", struct fc_log, facility, facilities, .def = LOG_LOCAL0),
	FUNC("address", key_log_address, 0),		/* default "/dev/log" */
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
static void key_user(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_conf *conf = obj;
	const char *v = load_get_str(ld, s, ctx);

	(void)k;
	if (v == NULL)
		return;
	errno = 0;
	if (getpwnam(v) == NULL) {
		load_errat(ld, s, "%s: \"user\": unknown user \"%s\"%s%s", ctx, v,
		    errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
		return;
	}
	free(conf->user);
	conf->user = xstrdup(v);
}

static void key_group(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_conf *conf = obj;
	const char *v = load_get_str(ld, s, ctx);

	(void)k;
	if (v == NULL)
		return;
	errno = 0;
	if (getgrnam(v) == NULL) {
		load_errat(ld, s, "%s: \"group\": unknown group \"%s\"%s%s", ctx, v,
		    errno != 0 ? ": " : "", errno != 0 ? strerror(errno) : "");
		return;
	}
	free(conf->group);
	conf->group = xstrdup(v);
}

/* The master writes the pid file at start: its directory must be there. */
static void key_pidfile(struct loader *ld, const config_setting_t *s, const char *ctx,
    const struct key *k, void *obj)
{
	struct fc_conf *conf = obj;
	const char *v = load_get_str(ld, s, ctx);
	const char *slash;
	char dir[4096];

	(void)k;
	if (v == NULL)
		return;
	slash = strrchr(v, '/');
	if (slash != NULL && slash != v && (size_t)(slash - v) < sizeof(dir)) {
		memcpy(dir, v, (size_t)(slash - v));
		dir[slash - v] = '\0';
		if (access(dir, W_OK | X_OK) < 0) {
			load_errat(ld, s, "%s: \"pidfile\": cannot write in %s (%s)", ctx, dir,
			    strerror(errno));
			return;
		}
	}
	free(conf->pidfile);
	conf->pidfile = xstrdup(v);
}

static const struct key global_keys[] = {
	FUNC("user", key_user, 0),
	FUNC("group", key_group, 0),
	/* 0: one per online CPU, see resolve_workers() */
	INT("workers", struct fc_conf, workers, 0, FC_WORKERS_MAX, .def = 0),
	INT("maxconn", struct fc_conf, maxconn, 1, MAXCONN_MAX, .def = 4096),
	FUNC("pidfile", key_pidfile, 0),
	/* ms */
	INT("drain_timeout", struct fc_conf, drain_timeout, 0, 3600000, .def = 30000),
	INT("busy_poll_us", struct fc_conf, busy_poll_us, 0, 10000, .def = 0),
	/* ms; 0 turns each off, see master/steer.c and the master's watchdog */
	INT("stall_ms", struct fc_conf, stall_ms, 0, 60000, .def = 200,
	    .check = check_stall),
	INT("watchdog_ms", struct fc_conf, watchdog_ms, 0, 3600000, .def = 2000,
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
	free(conf->pidfile);
	free(conf->log.address);
}
