/*
 * The "global" section: the process-wide settings (privileges, workers,
 * connection ceiling, drain time, busy polling, stalled workers) and the
 * access log.
 */
#include "config.h"

#include <libconfig.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>

#include "conf/conf.h"
#include "conf/load.h"
#include "conf/section.h"

static const struct choice facilities[] = {
	{ "user", LOG_USER }, { "daemon", LOG_DAEMON },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	{ NULL, 0 },
};

/* Filled even without a "log" group, which only turns the access log on. */
static const struct key log_keys[] = {
	ENUM("facility", struct fc_log, facility, facilities, .def = LOG_LOCAL0),
	STR("address", struct fc_log, address, .sdef = "/dev/log"),
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

static const struct key global_keys[] = {
	STR("user", struct fc_conf, user, .sdef = NULL),
	STR("group", struct fc_conf, group, .sdef = NULL),
	/* 0: one per online CPU, see resolve_workers() */
	INT("workers", struct fc_conf, workers, 0, FC_WORKERS_MAX, .def = 0),
	INT("maxconn", struct fc_conf, maxconn, 1, MAXCONN_MAX, .def = 4096),
	STR("pidfile", struct fc_conf, pidfile, .sdef = NULL),
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
