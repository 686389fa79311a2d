/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Reports on a running instance, read from its segment: the one place that
 * sums per-worker counters and turns the segment into text, JSON, CSV or
 * Prometheus metrics.  fulcrum-stat and the stats page both use it, so the
 * figures they show are the same.
 */
#ifndef FC_SHM_REPORT_H
#define FC_SHM_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/sbuf.h"
#include "shm/access.h"

enum fc_report_fmt {
	FC_REPORT_TEXT,		/* fulcrum-stat's default table */
	FC_REPORT_JSON,		/* DESIGN.md's fulcrum-stat --json object */
	FC_REPORT_CSV,		/* HAProxy's CSV column names where they mean the same */
	FC_REPORT_PROMETHEUS,	/* text exposition format */
};

/* One server with its counters summed over the workers. */
struct fc_report_server {
	const struct fc_shm_server *shm;	/* name, state, check results */
	uint32_t state;				/* read once, atomically */
	struct fc_shm_srv_counters sum;
};

/* One listener with its TLS counters summed over the workers. */
struct fc_report_listener {
	const struct fc_shm_listener *shm;	/* name */
	bool tls;				/* read once */
	struct fc_shm_tls_counters sum;
};

/* The whole instance at one instant. */
struct fc_report {
	const struct fc_shm *shm;
	uint64_t now_us;			/* wall clock of the snapshot */
	uint64_t now_mono_ms;
	struct fc_report_server *servers;	/* nservers of them */
	struct fc_report_listener *listeners;	/* nlisteners of them */
	/* One per FC_SHM_WORKER_COUNTERS entry: report.c sums them by name. */
	uint64_t cur_conns, total_conns, requests, bytes_in, bytes_out;
	uint64_t rate_limited, redirects;
	uint64_t cur_tunnels, total_tunnels;
	uint64_t errors[FC_ERR_MAX];
	int workers_alive;			/* heartbeat fresh within 2 s */
	/* The header's counts, bounded by what lies inside the mapping. */
	uint32_t nservers, nworkers, nlisteners, nbackends;
	/* The caller's: with a listener given to report_render(), the
	 * backends shown (nbackends of them); NULL: all. */
	const bool *show_backend;
	bool has_retired;			/* the retired block is inside too */
};

/* Takes a snapshot (the caller frees it with report_free()). */
void report_snapshot(struct fc_report *r, const struct fc_shm *shm);
void report_free(struct fc_report *r);
/*
 * Appends the snapshot in fmt to out; listener >= 0 keeps only that one's
 * TLS counters and the backends r->show_backend says.
 */
void report_render(const struct fc_report *r, enum fc_report_fmt fmt, int listener,
    struct fc_sbuf *out);
const char *report_state_name(uint32_t state);		/* "UP", "DOWN", "MAINT" */
const char *report_check_name(uint32_t result);		/* "L7OK", "L4CON", ... */
const char *report_error_name(int kind);		/* "bad_request", ... */
const char *report_tls_fail_name(int reason);		/* "protocol", ... */
/* enum fc_ha_state's names, "INIT" to "FAULT"; NULL for any other value. */
const char *report_ha_state_name(uint32_t state);
/* The same, "UNKNOWN" for any other value, "DISABLED" when there is no ha process. */
const char *report_ha_name(uint32_t enabled, uint32_t state);
/* to += from, every counter (the total of a listener's servers). */
void report_sum_counters(struct fc_shm_srv_counters *to,
    const struct fc_shm_srv_counters *from);
/* enum fc_sync_state's names: "connecting", "up", "down"; NULL for any other value. */
const char *report_sync_state_name(uint32_t state);
/* A lease's "198.51.100.10/32" into buf (INET6_ADDRSTRLEN + 4 bytes); "?" when odd. */
const char *report_lease_text(const struct fc_shm_ha_lease *l, char *buf, size_t len);
/* How many peer and lease slots are used, bounded by the arrays. */
uint32_t report_ha_npeers(const struct fc_shm_header *h);
uint32_t report_ha_nleases(const struct fc_shm_header *h);
/* Failed TLS handshakes, every reason. */
uint64_t report_tls_failures(const struct fc_shm_tls_counters *c);
/* Has worker slot a pid and a heartbeat within 2 s of the snapshot? */
bool report_worker_alive(const struct fc_report *r, uint32_t slot);

#endif
