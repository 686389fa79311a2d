/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Reports on a running instance (report.h): a snapshot of its segment with
 * the per-worker counters summed, rendered as a text table, JSON, HAProxy's
 * `show stat` CSV or Prometheus metrics.  Every shared value is read with a
 * relaxed atomic load and nothing is ever written, so a segment whose
 * workers are wedged (or stopped) reads exactly like a healthy one.
 *
 * The counts in the header are checked against the mapping before use: a
 * damaged header must give a short report, never a read outside the map.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/alloc.h"
#include "conf/conf.h"
#include "lib/clock.h"
#include "shm/report.h"

#define ALIVE_MS	2000	/* a worker heartbeat older than this: not alive */

/* A NUL-terminated copy of a fixed-size text field of the segment. */
#define FIELD(buf, f)	field((buf), sizeof(buf), (f), sizeof(f))

static const char *field(char *dst, size_t dstlen, const char *src, size_t srclen)
{
	size_t n = strnlen(src, srclen < dstlen ? srclen : dstlen - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
	return dst;
}

/* ---------------------------------------------------------------- names */

const char *report_state_name(uint32_t state)
{
	/* Ordered as in shm-t.h: anything >= UP takes traffic. */
	switch (state) {
	case FC_SRV_MAINT:
		return "MAINT";
	case FC_SRV_DOWN:
		return "DOWN";
	case FC_SRV_DRAIN:
		return "DRAIN";
	default:
		return "UP";
	}
}

const char *report_check_name(uint32_t result)
{
	/* HAProxy's check_status codes, so that its tools read ours. */
	static const char *const names[] = {
		[FC_CHK_NONE] = "INI",
		[FC_CHK_CONNECT] = "L4CON",
		[FC_CHK_TIMEOUT] = "L4TOUT",
		[FC_CHK_BADRESP] = "L7RSP",
		[FC_CHK_BADSTATUS] = "L7STS",
		[FC_CHK_PASSED] = "L4OK",
		[FC_CHK_HTTP_OK] = "L7OK",
	};

	if (result >= sizeof(names) / sizeof(names[0]))
		return "UNK";
	return names[result];
}

const char *report_error_name(int kind)
{
	static const char *const names[FC_ERR_MAX] = {
		[FC_ERR_BADREQ] = "bad_request",
		[FC_ERR_REQ_TIMEOUT] = "request_timeout",
		[FC_ERR_CLI_ABORT] = "client_abort",
		[FC_ERR_CONN_REFUSED] = "conn_refused",
		[FC_ERR_CONN_TIMEOUT] = "conn_timeout",
		[FC_ERR_BADRESP] = "bad_response",
		[FC_ERR_NOSRV] = "no_server",
		[FC_ERR_SRV_TIMEOUT] = "server_timeout",
		[FC_ERR_SRV_ABORT] = "server_abort",
		[FC_ERR_INTERNAL] = "internal",
	};

	if (kind < 0 || kind >= FC_ERR_MAX)
		return "unknown";
	return names[kind];
}

const char *report_tls_fail_name(int reason)
{
	static const char *const names[FC_TLS_FAIL_MAX] = {
		[FC_TLS_FAIL_PROTOCOL] = "protocol",
		[FC_TLS_FAIL_VERSION] = "version",
		[FC_TLS_FAIL_CERT] = "cert",
		[FC_TLS_FAIL_TIMEOUT] = "timeout",
		[FC_TLS_FAIL_ABORT] = "abort",
		[FC_TLS_FAIL_OTHER] = "other",
	};

	if (reason < 0 || reason >= FC_TLS_FAIL_MAX)
		return "unknown";
	return names[reason];
}

const char *report_ha_state_name(uint32_t state)
{
	static const char *const names[] = {
		[FC_HA_INIT] = "INIT",
		[FC_HA_BACKUP] = "BACKUP",
		[FC_HA_MASTER] = "MASTER",
		[FC_HA_FAULT] = "FAULT",
	};

	if (state >= sizeof(names) / sizeof(names[0]))
		return NULL;
	return names[state];
}

#define HA_DISABLED	"DISABLED"	/* no ha process: not a VRRP state */

/* Before its first try a channel is as good as connecting. */
const char *report_sync_state_name(uint32_t state)
{
	static const char *const names[] = { [FC_SYNC_NONE] = "connecting",
	    [FC_SYNC_CONNECTING] = "connecting", [FC_SYNC_UP] = "up",
	    [FC_SYNC_DOWN] = "down" };

	return state < sizeof(names) / sizeof(names[0]) ? names[state] : NULL;
}

const char *report_lease_text(const struct fc_shm_ha_lease *l, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN];
	int family = l->family == AF_INET6 ? AF_INET6 : AF_INET;

	if ((l->family != AF_INET && l->family != AF_INET6) ||
	    inet_ntop(family, l->addr, addr, sizeof(addr)) == NULL)
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "%s/%u", addr, (unsigned)l->prefixlen);
	return buf;
}

uint32_t report_ha_npeers(const struct fc_shm_header *h)
{
	uint32_t n = shm_load(&h->ha_mesh.npeers);

	return n < FC_SHM_HA_PEERS ? n : FC_SHM_HA_PEERS;
}

uint32_t report_ha_nleases(const struct fc_shm_header *h)
{
	uint32_t n = shm_load(&h->ha_mesh.nleases);

	return n < FC_SHM_HA_LEASES ? n : FC_SHM_HA_LEASES;
}

const char *report_ha_name(uint32_t enabled, uint32_t state)
{
	const char *name = report_ha_state_name(state);

	if (!enabled)
		return HA_DISABLED;
	return name != NULL ? name : "UNKNOWN";
}

/* ---------------------------------------------------------------- snapshot */

/*
 * How many listeners lie between the server table and the worker blocks:
 * none if their table is not there.
 */
static uint64_t bound_listeners(const struct fc_shm_header *h, uint64_t ns)
{
	uint64_t end = h->off_servers + ns * sizeof(struct fc_shm_server);

	if (h->off_listeners < end || h->off_listeners > h->off_workers ||
	    h->nlisteners > (h->off_workers - h->off_listeners) /
	    sizeof(struct fc_shm_listener))
		return 0;
	return h->nlisteners;
}

/* How many servers, listeners and worker blocks really lie inside the mapping. */
static void bound_counts(struct fc_report *r)
{
	const struct fc_shm_header *h = r->shm->hdr;
	uint64_t size = r->shm->size, ns = h->nservers, nw = h->nworkers, nl;
	uint64_t stride = h->worker_stride;

	if (h->off_servers < sizeof(*h) || h->off_servers > h->off_workers ||
	    h->off_workers > size ||
	    ns > (h->off_workers - h->off_servers) / sizeof(struct fc_shm_server))
		return;
	r->nservers = (uint32_t)ns;
	nl = bound_listeners(h, ns);
	if (stride < sizeof(struct fc_shm_worker) +
	    ns * sizeof(struct fc_shm_srv_counters) +
	    nl * sizeof(struct fc_shm_tls_counters) ||
	    nw > FC_SHM_MAX_WORKERS || nw > (size - h->off_workers) / stride)
		return;
	r->nlisteners = (uint32_t)nl;	/* their counters are in the blocks */
	r->nworkers = (uint32_t)nw;
	if (h->off_backends >= h->off_listeners + nl * sizeof(struct fc_shm_listener) &&
	    h->off_backends <= h->off_workers && h->nbackends <=
	    (h->off_workers - h->off_backends) / sizeof(struct fc_shm_backend))
		r->nbackends = h->nbackends;
	r->has_retired = h->off_retired >= h->off_workers + nw * stride &&
	    h->off_retired <= size && size - h->off_retired >= stride;
}

/*
 * Killed a moment ago, a worker's heartbeat is still fresh but its process
 * and its connections are gone.  (A wedged worker still holds them.)
 */
static bool worker_exists(const struct fc_shm_worker *w)
{
	pid_t pid = shm_load(&w->pid);

	return pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH);
}

bool report_worker_alive(const struct fc_report *r, uint32_t slot)
{
	const struct fc_shm_worker *w;
	uint64_t hb;

	if (slot >= r->nworkers)
		return false;
	w = shm_worker(r->shm, slot);
	hb = shm_load(&w->heartbeat_ms);
	if (shm_load(&w->pid) <= 0 || hb == 0 || !worker_exists(w))
		return false;
	/* CLOCK_MONOTONIC is system-wide: the worker's clock is ours. */
	return hb >= r->now_mono_ms || r->now_mono_ms - hb <= ALIVE_MS;
}

/* to->f += from->f read atomically; a gauge only from a live block. */
#define ADD_LOADED(f, kind, ...) \
	if (live || !FC_SHM_IS_GAUGE(kind)) \
		to->f += shm_load(&from->f);

static void add_counters(struct fc_shm_srv_counters *to,
    const struct fc_shm_srv_counters *from, bool live)
{
	FC_SHM_SRV_COUNTERS(ADD_LOADED)
}

static void add_tls(struct fc_shm_tls_counters *to, const struct fc_shm_tls_counters *from,
    bool live)
{
	FC_SHM_TLS_COUNTERS(ADD_LOADED)
	for (int k = 0; k < FC_TLS_FAIL_MAX; k++)
		to->failures[k] += shm_load(&from->failures[k]);
}

/*
 * Adds the counters of block from.  live: false for a dead worker, whose
 * connections died with it, and for the retired block (what past
 * generations counted), which has no gauges.
 */
static void add_block(struct fc_report *to, struct fc_shm_worker *from, bool live)
{
	FC_SHM_WORKER_COUNTERS(ADD_LOADED)
	for (int k = 0; k < FC_ERR_MAX; k++)
		to->errors[k] += shm_load(&from->errors[k]);
	for (uint32_t i = 0; i < to->nservers; i++)
		add_counters(&to->servers[i].sum, &from->srv[i], live);
	for (uint32_t l = 0; l < to->nlisteners; l++)
		add_tls(&to->listeners[l].sum, shm_block_tls(to->shm, from, l), live);
}

static void add_worker(struct fc_report *r, uint32_t slot)
{
	struct fc_shm_worker *w = shm_worker(r->shm, slot);

	add_block(r, w, worker_exists(w));
	if (report_worker_alive(r, slot))
		r->workers_alive++;
}

void report_snapshot(struct fc_report *r, const struct fc_shm *shm)
{
	memset(r, 0, sizeof(*r));
	r->shm = shm;
	r->now_us = clock_wall_us();
	r->now_mono_ms = clock_mono_ms();
	bound_counts(r);
	r->servers = xcalloc(r->nservers + 1, sizeof(*r->servers));
	for (uint32_t i = 0; i < r->nservers; i++) {
		r->servers[i].shm = shm_server(shm, i);
		r->servers[i].state = shm_load_acq(&r->servers[i].shm->state);
	}
	r->listeners = xcalloc(r->nlisteners + 1, sizeof(*r->listeners));
	for (uint32_t l = 0; l < r->nlisteners; l++) {
		r->listeners[l].shm = shm_listener(shm, l);
		r->listeners[l].tls = shm_load(&r->listeners[l].shm->tls) != 0;
	}
	for (uint32_t w = 0; w < r->nworkers; w++)
		add_worker(r, w);
	if (r->has_retired)
		add_block(r, shm_retired(shm), false);
}

void report_free(struct fc_report *r)
{
	free(r->servers);
	free(r->listeners);
	r->servers = NULL;
	r->listeners = NULL;
}

#define ADD_FIELD(f, ...)	to->f += from->f;

void report_sum_counters(struct fc_shm_srv_counters *to,
    const struct fc_shm_srv_counters *from)
{
	FC_SHM_SRV_COUNTERS(ADD_FIELD)
}

/* A worker block's client-side counters, read once. */
struct traffic {
#define TRAFFIC_FIELD(f, ...)	uint64_t f;
	FC_SHM_WORKER_COUNTERS(TRAFFIC_FIELD)
#undef TRAFFIC_FIELD
	uint64_t errors[FC_ERR_MAX];
};

#define LOAD_FIELD(f, ...)	to->f = shm_load(&from->f);

static void load_traffic(struct traffic *to, const struct fc_shm_worker *from)
{
	FC_SHM_WORKER_COUNTERS(LOAD_FIELD)
	for (int k = 0; k < FC_ERR_MAX; k++)
		to->errors[k] = shm_load(&from->errors[k]);
}

/* ---------------------------------------------------------------- helpers */

/* Milliseconds from a wall-clock stamp to the snapshot (0 if in the future). */
static uint64_t ms_since(const struct fc_report *r, uint64_t us)
{
	return us >= r->now_us ? 0 : (r->now_us - us) / 1000;
}

static uint64_t ms_since_mono(const struct fc_report *r, uint64_t ms)
{
	return ms >= r->now_mono_ms ? 0 : r->now_mono_ms - ms;
}

/* A listener's stats page shows the backends it sends to (r->show_backend). */
static bool wanted_backend(const struct fc_report *r, uint32_t b, int listener)
{
	return listener < 0 || r->show_backend == NULL ||
	    (b < r->nbackends && r->show_backend[b]);
}

static bool wanted(const struct fc_report *r, const struct fc_report_server *s,
    int listener)
{
	return wanted_backend(r, s->shm->backend_index, listener);
}

/* Is listener l shown, and does it have TLS?  Only those show TLS counters. */
static bool tls_wanted(const struct fc_report *r, uint32_t l, int listener)
{
	return (listener < 0 || l == (uint32_t)listener) && r->listeners[l].tls;
}

static bool any_tls(const struct fc_report *r, int listener)
{
	for (uint32_t l = 0; l < r->nlisteners; l++)
		if (tls_wanted(r, l, listener))
			return true;
	return false;
}

uint64_t report_tls_failures(const struct fc_shm_tls_counters *c)
{
	uint64_t n = 0;

	for (int k = 0; k < FC_TLS_FAIL_MAX; k++)
		n += c->failures[k];
	return n;
}

/* "1.2.3.4" from an address in network order; NULL for 0 (none). */
static const char *ipv4_str(uint32_t addr, char *buf, size_t len)
{
	struct in_addr in = { .s_addr = addr };

	if (addr == 0 || inet_ntop(AF_INET, &in, buf, (socklen_t)len) == NULL)
		return NULL;
	return buf;
}

static void iso8601(uint64_t us, char *buf, size_t len)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "1970-01-01T00:00:00Z");
}

/* ---------------------------------------------------------------- JSON */

/* Appends key (with its leading comma, if any, and colon) then a string. */
static void json_kstr(struct fc_sbuf *b, const char *key, const char *s)
{
	sbuf_printf(b, "%s\"", key);
	sbuf_put_json(b, s);
	sbuf_put(b, "\"", 1);
}

/* Appends *sep and "key":v, then makes *sep a comma. */
static void json_ku64(struct fc_sbuf *b, const char **sep, const char *key, uint64_t v)
{
	sbuf_printf(b, "%s\"%s\":%" PRIu64, *sep, key, v);
	*sep = ",";
}

/* A counter of the caller's c, named by its field, appended to b after sep. */
#define JSON_FIELD(f, ...)	json_ku64(b, &sep, #f, c->f);

static void json_kopt(struct fc_sbuf *b, const char *key, bool has, uint64_t v)
{
	if (has)
		sbuf_printf(b, "%s%" PRIu64, key, v);
	else
		sbuf_printf(b, "%snull", key);
}

static void json_instance(struct fc_sbuf *b, const struct fc_report *r)
{
	const struct fc_shm_header *h = r->shm->hdr;
	char when[32], version[sizeof(h->fulcrum_version) + 1];
	char path[sizeof(h->config_path) + 1];
	uint64_t start = h->start_us;

	iso8601(start, when, sizeof(when));
	sbuf_printf(b, "\"instance\":{\"pid\":%" PRId32 ",\"generation\":%" PRIu32,
	    shm_load(&h->master_pid), shm_load(&h->generation));
	json_kstr(b, ",\"start_time\":", when);
	sbuf_printf(b, ",\"start_time_us\":%" PRIu64 ",\"uptime_s\":%" PRIu64,
	    start, ms_since(r, start) / 1000);
	json_kstr(b, ",\"version\":", FIELD(version, h->fulcrum_version));
	json_kstr(b, ",\"config\":", FIELD(path, h->config_path));
	json_kstr(b, ",\"segment\":", r->shm->name);
	sbuf_put(b, "}", 1);
}

static void json_check(struct fc_sbuf *b, const struct fc_report *r,
    const struct fc_shm_server *sv)
{
	uint32_t result = shm_load(&sv->check_result);
	int32_t code = shm_load(&sv->check_code);
	uint64_t last = shm_load(&sv->last_check_us);
	bool done = sv->checked && result != FC_CHK_NONE;
	char desc[sizeof(sv->check_desc) + 1];

	sbuf_printf(b, "{\"enabled\":%s", sv->checked ? "true" : "false");
	if (done)
		json_kstr(b, ",\"result\":", report_check_name(result));
	else
		sbuf_printf(b, ",\"result\":null");
	json_kopt(b, ",\"code\":", done && code >= 0, (uint64_t)code);
	json_kopt(b, ",\"duration_ms\":", done, shm_load(&sv->check_duration_ms));
	if (done)
		json_kstr(b, ",\"desc\":", FIELD(desc, sv->check_desc));
	else
		sbuf_printf(b, ",\"desc\":null");
	sbuf_printf(b, ",\"checks\":%" PRIu64 ",\"failures\":%" PRIu64,
	    shm_load(&sv->checks), shm_load(&sv->check_failures));
	json_kopt(b, ",\"last_check_ms_ago\":", last != 0, ms_since(r, last));
	sbuf_put(b, "}", 1);
}

static void json_counters(struct fc_sbuf *b, const struct fc_shm_srv_counters *c)
{
	const char *sep = "{";

	FC_SHM_SRV_COUNTERS(JSON_FIELD)
	sbuf_put(b, "}", 1);
}

static void json_server(struct fc_sbuf *b, const struct fc_report *r,
    const struct fc_report_server *s)
{
	const struct fc_shm_server *sv = s->shm;
	char buf[FC_SHM_NAME_LEN + 1];

	/* "listener": the name servers went by before "backends" (the same
	 * for a listener's own servers), kept for the readers of version 1. */
	json_kstr(b, "{\"backend\":", FIELD(buf, sv->backend));
	json_kstr(b, ",\"listener\":", FIELD(buf, sv->backend));
	json_kstr(b, ",\"name\":", FIELD(buf, sv->name));
	json_kstr(b, ",\"address\":", FIELD(buf, sv->address));
	json_kstr(b, ",\"state\":", report_state_name(s->state));
	sbuf_printf(b, ",\"last_change_ms\":%" PRIu64 ",\"check\":",
	    ms_since(r, shm_load(&sv->last_change_us)));
	json_check(b, r, sv);
	sbuf_printf(b, ",\"weight\":%" PRIu32 ",\"eweight\":%" PRIu32 ",\"backup\":%s"
	    ",\"counters\":", shm_load(&sv->weight), shm_load(&sv->eweight),
	    sv->backup ? "true" : "false");
	json_counters(b, &s->sum);
	sbuf_put(b, "}", 1);
}

/* {"handshakes":N,"resumed":N,"failures":{"protocol":N,...}} */
static void json_tls(struct fc_sbuf *b, const struct fc_shm_tls_counters *c)
{
	const char *sep = "{";

	FC_SHM_TLS_COUNTERS(JSON_FIELD)
	for (int k = 0; k < FC_TLS_FAIL_MAX; k++)
		sbuf_printf(b, "%s\"%s\":%" PRIu64, k == 0 ? ",\"failures\":{" : ",",
		    report_tls_fail_name(k), c->failures[k]);
	sbuf_put(b, "}}", 2);
}

static const char *balance_name(uint32_t balance)
{
	static const char *const names[] = { "roundrobin", "leastconn", "source" };

	return balance < sizeof(names) / sizeof(names[0]) ? names[balance] : "unknown";
}

/* {"name":..,"balance":..,"listener":own listener or null,"servers":N,"up":N,"counters":{sum}} */
static void json_backend(struct fc_sbuf *b, const struct fc_report *r, uint32_t k)
{
	const struct fc_shm_backend *be = shm_backend(r->shm, k);
	struct fc_shm_srv_counters sum = { 0 };
	char name[FC_SHM_NAME_LEN + 1];
	uint32_t up = 0;

	for (uint32_t i = 0; i < r->nservers; i++) {
		if (r->servers[i].shm->backend_index != k)
			continue;
		report_sum_counters(&sum, &r->servers[i].sum);
		up += r->servers[i].state >= FC_SRV_UP;
	}
	json_kstr(b, "{\"name\":", FIELD(name, be->name));
	json_kstr(b, ",\"balance\":", balance_name(be->balance));
	if (be->listener >= 0 && (uint32_t)be->listener < r->nlisteners)
		json_kstr(b, ",\"listener\":", FIELD(name, r->listeners[be->listener].shm->name));
	else
		sbuf_printf(b, ",\"listener\":null");
	sbuf_printf(b, ",\"servers\":%" PRIu32 ",\"up\":%" PRIu32 ",\"counters\":",
	    be->nservers, up);
	json_counters(b, &sum);
	sbuf_put(b, "}", 1);
}

/* Without TLS, "tls":false and nothing more: there is nothing to count. */
static void json_listener(struct fc_sbuf *b, const struct fc_report_listener *l)
{
	char name[FC_SHM_NAME_LEN + 1];

	json_kstr(b, "{\"name\":", FIELD(name, l->shm->name));
	sbuf_printf(b, ",\"tls\":%s", l->tls ? "true" : "false");
	if (l->tls) {
		sbuf_printf(b, ",\"tls_counters\":");
		json_tls(b, &l->sum);
	}
	sbuf_put(b, "}", 1);
}

static void json_errors(struct fc_sbuf *b, const uint64_t *errors)
{
	for (int k = 0; k < FC_ERR_MAX; k++)
		sbuf_printf(b, "%s\"%s\":%" PRIu64, k == 0 ? "{" : ",",
		    report_error_name(k), errors[k]);
	sbuf_put(b, "}", 1);
}

static void json_worker(struct fc_sbuf *b, const struct fc_report *r, uint32_t slot)
{
	const struct fc_shm_worker *w = shm_worker(r->shm, slot);
	uint64_t hb = shm_load(&w->heartbeat_ms);
	int32_t pid = shm_load(&w->pid);
	const char *sep = ",";
	struct traffic t;
	const struct traffic *c = &t;

	sbuf_printf(b, "{\"slot\":%" PRIu32 ",\"pid\":%" PRId32 ",\"alive\":%s",
	    slot, pid, report_worker_alive(r, slot) ? "true" : "false");
	json_kopt(b, ",\"heartbeat_ms_ago\":", pid != 0 && hb != 0, ms_since_mono(r, hb));
	load_traffic(&t, w);
	FC_SHM_WORKER_COUNTERS(JSON_FIELD)
	sbuf_printf(b, ",\"errors\":");
	json_errors(b, t.errors);
	sbuf_put(b, "}", 1);
}

static void json_totals(struct fc_sbuf *b, const struct fc_report *r)
{
	const struct fc_report *c = r;
	const char *sep = "{";

	sbuf_printf(b, "\"totals\":");
	FC_SHM_WORKER_COUNTERS(JSON_FIELD)
	sbuf_printf(b, ",\"errors\":");
	json_errors(b, r->errors);
	sbuf_printf(b, ",\"workers_alive\":%d,\"workers\":%" PRIu32 "}",
	    r->workers_alive, r->nworkers);
}

/*
 * The other master of the last split brain as text, or NULL: none yet, or
 * the ha process was writing it (family 0 meanwhile, or changed under us).
 */
static const char *split_peer_str(const struct fc_shm_split_peer *p, char *buf,
    size_t len)
{
	uint32_t family = shm_load_acq(&p->family);
	uint8_t addr[sizeof(p->addr)];

	memcpy(addr, p->addr, sizeof(addr));
	if ((family != 4 && family != 6) || shm_load_acq(&p->family) != family)
		return NULL;
	return inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, buf, (socklen_t)len);
}

/* Two masters at once (issue 18.4): how often, for how long in all, and
 * the other master of the last one (IPv4 or IPv6). */
static void json_split_brain(struct fc_sbuf *b, const struct fc_report *r,
    const struct fc_shm_ha *ha)
{
	bool active = shm_load(&ha->split_active) != 0;
	uint64_t ms = shm_load(&ha->split_ms), since = shm_load(&ha->split_since_us);
	char addr[INET6_ADDRSTRLEN];
	const char *peer = split_peer_str(&r->shm->hdr->split_peer, addr, sizeof(addr));

	if (active && since != 0)
		ms += ms_since(r, since);
	sbuf_printf(b, ",\"split_brain\":{\"count\":%" PRIu32 ",\"ms\":%" PRIu64
	    ",\"active\":%s", shm_load(&ha->split_count), ms, active ? "true" : "false");
	if (peer != NULL)
		json_kstr(b, ",\"peer\":", peer);
	else
		sbuf_printf(b, ",\"peer\":null");
	sbuf_put(b, "}", 1);
}

/* ha.peers: one object per sync channel (issue 21.2). */
static void json_ha_peers(struct fc_sbuf *b, const struct fc_report *r)
{
	const struct fc_shm_header *h = r->shm->hdr;
	char addr[INET_ADDRSTRLEN];

	sbuf_printf(b, ",\"peers\":[");
	for (uint32_t i = 0; i < report_ha_npeers(h); i++) {
		const struct fc_shm_ha_peer *p = &h->ha_mesh.peer[i];
		const char *state = report_sync_state_name(shm_load(&p->state));
		const char *said = report_ha_state_name(shm_load(&p->ha_state));
		uint64_t since = shm_load(&p->since_us), frame = shm_load(&p->frame_us);

		sbuf_printf(b, "%s{", i > 0 ? "," : "");
		json_kstr(b, "\"address\":", ipv4_str(shm_load(&p->addr), addr, sizeof(addr)) ?
		    addr : "?");
		json_kstr(b, ",\"channel\":", state != NULL ? state : "?");
		json_kopt(b, ",\"since_ms_ago\":", since != 0, ms_since(r, since));
		json_kopt(b, ",\"last_frame_ms_ago\":", frame != 0, ms_since(r, frame));
		sbuf_printf(b, ",\"sessions_sent\":%" PRIu64 ",\"sessions_received\":%" PRIu64,
		    shm_load(&p->sent), shm_load(&p->received));
		if (said != NULL)
			json_kstr(b, ",\"state\":", said);
		else
			sbuf_printf(b, ",\"state\":null");
		sbuf_put(b, "}", 1);
	}
	sbuf_put(b, "]", 1);
}

/* ha.vips: the addresses and whether this node holds them (its leases). */
static void json_ha_vips(struct fc_sbuf *b, const struct fc_report *r)
{
	const struct fc_shm_header *h = r->shm->hdr;
	char text[INET6_ADDRSTRLEN + 8];

	sbuf_printf(b, ",\"lease_s\":%" PRIu32 ",\"vips\":[", shm_load(&h->ha_mesh.lease_s));
	for (uint32_t i = 0; i < report_ha_nleases(h); i++) {
		const struct fc_shm_ha_lease *l = &h->ha_mesh.lease[i];
		uint64_t renewed = shm_load(&l->renewed_us);

		sbuf_printf(b, "%s{", i > 0 ? "," : "");
		json_kstr(b, "\"address\":", report_lease_text(l, text, sizeof(text)));
		sbuf_printf(b, ",\"held\":%s", shm_load(&l->held) ? "true" : "false");
		json_kopt(b, ",\"renewed_ms_ago\":", renewed != 0, ms_since(r, renewed));
		sbuf_put(b, "}", 1);
	}
	sbuf_put(b, "]", 1);
}

static void json_ha(struct fc_sbuf *b, const struct fc_report *r)
{
	const struct fc_shm_ha *ha = &r->shm->hdr->ha;
	uint32_t enabled = shm_load(&ha->enabled);
	uint64_t since = shm_load(&ha->since_us), seen = shm_load(&ha->peer_seen_us);
	const char *peer;
	char addr[INET_ADDRSTRLEN];

	sbuf_printf(b, "\"ha\":{\"enabled\":%s,\"state\":\"%s\"", enabled ? "true" : "false",
	    report_ha_name(enabled, shm_load(&ha->state)));
	json_kopt(b, ",\"since_ms_ago\":", since != 0, ms_since(r, since));
	sbuf_printf(b, ",\"priority\":%" PRIu32 ",\"vrid\":%" PRIu32 ",\"mode\":\"%s\"",
	    shm_load(&ha->priority), shm_load(&ha->vrid),
	    shm_load(&r->shm->hdr->ha_mode) == FC_HA_ANYCAST ? "anycast" : "vrrp");
	if ((peer = ipv4_str(shm_load(&ha->peer_addr), addr, sizeof(addr))) != NULL)
		json_kstr(b, ",\"peer\":", peer);
	else
		sbuf_printf(b, ",\"peer\":null");
	sbuf_printf(b, ",\"peer_priority\":%" PRIu32, shm_load(&ha->peer_priority));
	json_kopt(b, ",\"peer_seen_ms_ago\":", seen != 0, ms_since(r, seen));
	json_split_brain(b, r, ha);
	json_ha_peers(b, r);
	json_ha_vips(b, r);
	sbuf_put(b, "}", 1);
}

static void render_json(const struct fc_report *r, int listener, struct fc_sbuf *b)
{
	bool first = true;

	sbuf_put(b, "{", 1);
	json_instance(b, r);
	sbuf_printf(b, ",\"servers\":[");
	for (uint32_t i = 0; i < r->nservers; i++) {
		if (!wanted(r, &r->servers[i], listener))
			continue;
		sbuf_printf(b, "%s", first ? "" : ",");
		json_server(b, r, &r->servers[i]);
		first = false;
	}
	sbuf_printf(b, "],\"backends\":[");
	first = true;
	for (uint32_t k = 0; k < r->nbackends; k++) {
		if (!wanted_backend(r, k, listener))
			continue;
		sbuf_printf(b, "%s", first ? "" : ",");
		json_backend(b, r, k);
		first = false;
	}
	sbuf_printf(b, "],\"listeners\":[");
	first = true;
	for (uint32_t l = 0; l < r->nlisteners; l++) {
		if (listener >= 0 && l != (uint32_t)listener)
			continue;
		sbuf_printf(b, "%s", first ? "" : ",");
		json_listener(b, &r->listeners[l]);
		first = false;
	}
	sbuf_printf(b, "],\"workers\":[");
	for (uint32_t w = 0; w < r->nworkers; w++) {
		sbuf_printf(b, "%s", w == 0 ? "" : ",");
		json_worker(b, r, w);
	}
	sbuf_printf(b, "],");
	json_totals(b, r);
	/* The session table comes with persistence: its fill is 0 until then. */
	sbuf_printf(b, ",\"sessions\":{\"size\":%" PRIu32 ",\"capacity\":%" PRIu32 "},",
	    shm_load(&r->shm->hdr->sessions.used), r->shm->hdr->nsessions);
	json_ha(b, r);
	sbuf_printf(b, "}\n");
}

/* ---------------------------------------------------------------- CSV */

/*
 * HAProxy's `show stat` columns, in its order, up to srv_abrt; then, only
 * when a TLS listener is shown, the three of HAProxy's ssl stats module,
 * so that a config without TLS keeps the CSV it always had.
 */
enum {
	C_PXNAME, C_SVNAME, C_QCUR, C_QMAX, C_SCUR, C_SMAX, C_SLIM, C_STOT, C_BIN,
	C_BOUT, C_DREQ, C_DRESP, C_EREQ, C_ECON, C_ERESP, C_WRETR, C_WREDIS,
	C_STATUS, C_WEIGHT, C_ACT, C_BCK, C_CHKFAIL, C_CHKDOWN, C_LASTCHG,
	C_DOWNTIME, C_QLIMIT, C_PID, C_IID, C_SID, C_THROTTLE, C_LBTOT, C_TRACKED,
	C_TYPE, C_RATE, C_RATE_LIM, C_RATE_MAX, C_CHECK_STATUS, C_CHECK_CODE,
	C_CHECK_DURATION, C_HRSP_1XX, C_HRSP_2XX, C_HRSP_3XX, C_HRSP_4XX,
	C_HRSP_5XX, C_HRSP_OTHER, C_HANAFAIL, C_REQ_RATE, C_REQ_RATE_MAX,
	C_REQ_TOT, C_CLI_ABRT, C_SRV_ABRT,
	C_SSL_SESS, C_SSL_REUSED_SESS, C_SSL_FAILED_HANDSHAKE, C_NCOLS
};

#define C_NPLAIN	C_SSL_SESS	/* the columns without TLS */

static const char *const csv_names[] = {
	"pxname", "svname", "qcur", "qmax", "scur", "smax", "slim", "stot", "bin",
	"bout", "dreq", "dresp", "ereq", "econ", "eresp", "wretr", "wredis",
	"status", "weight", "act", "bck", "chkfail", "chkdown", "lastchg",
	"downtime", "qlimit", "pid", "iid", "sid", "throttle", "lbtot", "tracked",
	"type", "rate", "rate_lim", "rate_max", "check_status", "check_code",
	"check_duration", "hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx",
	"hrsp_5xx", "hrsp_other", "hanafail", "req_rate", "req_rate_max",
	"req_tot", "cli_abrt", "srv_abrt",
	"ssl_sess", "ssl_reused_sess", "ssl_failed_handshake",
};
_Static_assert(sizeof(csv_names) / sizeof(csv_names[0]) == C_NCOLS, "CSV columns");

/* HAProxy's type column. */
enum { CSV_FRONTEND = 0, CSV_BACKEND = 1, CSV_SERVER = 2 };

struct csv_row {
	char col[C_NCOLS][FC_SHM_NAME_LEN + 1];	/* "" : a field we do not have */
};

static void csv_u64(struct csv_row *row, int c, uint64_t v)
{
	snprintf(row->col[c], sizeof(row->col[c]), "%" PRIu64, v);
}

static void csv_str(struct csv_row *row, int c, const char *s)
{
	snprintf(row->col[c], sizeof(row->col[c]), "%s", s);
}

/* Quotes a field only when it must be (RFC 4180): names never need it. */
static void csv_put_field(struct fc_sbuf *b, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		sbuf_put(b, s, strlen(s));
		return;
	}
	sbuf_put(b, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			sbuf_put(b, "\"\"", 2);
		else
			sbuf_put(b, s, 1);
	}
	sbuf_put(b, "\"", 1);
}

/* The first ncols fields, each followed by a comma, as HAProxy writes them. */
static void csv_put_row(struct fc_sbuf *b, const struct csv_row *row, int ncols)
{
	for (int c = 0; c < ncols; c++) {
		csv_put_field(b, row->col[c]);
		sbuf_put(b, ",", 1);
	}
	sbuf_put(b, "\n", 1);
}

#define CSV_FIELD(f, kind, prom, help, col)	csv_u64(row, C_##col, c->f);

/* The columns a server row and its listener's BACKEND row share. */
static void csv_traffic(struct csv_row *row, const struct fc_shm_srv_counters *c)
{
	FC_SHM_SRV_COUNTERS(CSV_FIELD)
	csv_u64(row, C_PID, 1);		/* HAProxy's process number, not a pid */
}

static void csv_check(struct csv_row *row, const struct fc_shm_server *sv)
{
	uint32_t result = shm_load(&sv->check_result);
	int32_t code = shm_load(&sv->check_code);

	if (!sv->checked)
		return;
	csv_u64(row, C_CHKFAIL, shm_load(&sv->check_failures));
	csv_str(row, C_CHECK_STATUS, report_check_name(result));
	if (result == FC_CHK_NONE)
		return;
	if (code >= 0)
		csv_u64(row, C_CHECK_CODE, (uint64_t)code);
	csv_u64(row, C_CHECK_DURATION, shm_load(&sv->check_duration_ms));
}

static void csv_server(struct fc_sbuf *b, const struct fc_report *r,
    const struct fc_report_server *s, uint32_t sid, int ncols)
{
	const struct fc_shm_server *sv = s->shm;
	struct csv_row row;

	memset(&row, 0, sizeof(row));
	FIELD(row.col[C_PXNAME], sv->backend);
	FIELD(row.col[C_SVNAME], sv->name);
	csv_traffic(&row, &s->sum);
	csv_str(&row, C_STATUS, report_state_name(s->state));
	csv_u64(&row, C_WEIGHT, shm_load(&sv->eweight));	/* HAProxy's: effective */
	csv_u64(&row, C_ACT, !sv->backup);
	csv_u64(&row, C_BCK, sv->backup != 0);
	csv_u64(&row, C_LASTCHG, ms_since(r, shm_load(&sv->last_change_us)) / 1000);
	csv_u64(&row, C_IID, sv->backend_index + 1);
	csv_u64(&row, C_SID, sid);
	csv_u64(&row, C_TYPE, CSV_SERVER);
	csv_check(&row, sv);
	csv_put_row(b, &row, ncols);
}

/* The BACKEND row of the listener whose servers are first[0 .. n-1]. */
static void csv_backend(struct fc_sbuf *b, const struct fc_report_server *first, uint32_t n,
    int ncols)
{
	struct fc_shm_srv_counters sum = { 0 };
	uint64_t up = 0, bck = 0, weight = 0;
	struct csv_row row;

	for (uint32_t i = 0; i < n; i++) {
		report_sum_counters(&sum, &first[i].sum);
		if (first[i].state >= FC_SRV_UP) {
			*(first[i].shm->backup ? &bck : &up) += 1;
			weight += shm_load(&first[i].shm->eweight);
		}
	}
	memset(&row, 0, sizeof(row));
	FIELD(row.col[C_PXNAME], first->shm->backend);
	csv_str(&row, C_SVNAME, "BACKEND");
	csv_traffic(&row, &sum);
	csv_str(&row, C_STATUS, up + bck > 0 ? "UP" : "DOWN");
	csv_u64(&row, C_WEIGHT, weight);	/* as HAProxy: of the servers up */
	csv_u64(&row, C_ACT, up);
	csv_u64(&row, C_BCK, bck);
	csv_u64(&row, C_IID, first->shm->backend_index + 1);
	csv_u64(&row, C_SID, 0);
	csv_u64(&row, C_TYPE, CSV_BACKEND);
	csv_put_row(b, &row, ncols);
}

/* A TLS listener's FRONTEND row: its name, ids and TLS figures, nothing else. */
static void csv_frontend(struct fc_sbuf *b, const struct fc_report *r, uint32_t l)
{
	const struct fc_report_listener *ls = &r->listeners[l];
	struct csv_row row;

	memset(&row, 0, sizeof(row));
	FIELD(row.col[C_PXNAME], ls->shm->name);
	csv_str(&row, C_SVNAME, "FRONTEND");
	csv_u64(&row, C_PID, 1);
	csv_u64(&row, C_IID, l + 1);
	csv_u64(&row, C_SID, 0);
	csv_u64(&row, C_TYPE, CSV_FRONTEND);
	csv_u64(&row, C_SSL_SESS, ls->sum.handshakes);
	csv_u64(&row, C_SSL_REUSED_SESS, ls->sum.resumed);
	csv_u64(&row, C_SSL_FAILED_HANDSHAKE, report_tls_failures(&ls->sum));
	csv_put_row(b, &row, C_NCOLS);
}

/* The FRONTEND rows of the TLS listeners from *next up to (not with) end. */
static void csv_frontends(struct fc_sbuf *b, const struct fc_report *r, int listener,
    uint32_t *next, uint32_t end)
{
	for (; *next < end && *next < r->nlisteners; (*next)++)
		if (tls_wanted(r, *next, listener))
			csv_frontend(b, r, *next);
}

/*
 * Per listener, as HAProxy orders a proxy: a FRONTEND row if it has TLS,
 * one row per server, the BACKEND row.  No FRONTEND row otherwise, nor
 * traffic figures in it: the worker counters are per process, not per
 * listener, so a frontend's would be wrong as soon as there are two.
 */
static void render_csv(const struct fc_report *r, int listener, struct fc_sbuf *b)
{
	int ncols = any_tls(r, listener) ? C_NCOLS : C_NPLAIN;
	uint32_t i = 0, fe = 0;

	sbuf_put(b, "# ", 2);
	for (int c = 0; c < ncols; c++)
		sbuf_printf(b, "%s,", csv_names[c]);
	sbuf_put(b, "\n", 1);
	while (i < r->nservers) {
		uint32_t start = i, li = r->servers[i].shm->backend_index;

		while (i < r->nservers && r->servers[i].shm->backend_index == li)
			i++;
		csv_frontends(b, r, listener, &fe, li + 1);
		if (!wanted(r, &r->servers[start], listener))
			continue;
		for (uint32_t k = start; k < i; k++)
			csv_server(b, r, &r->servers[k], k - start + 1, ncols);
		csv_backend(b, &r->servers[start], i - start, ncols);
	}
	csv_frontends(b, r, listener, &fe, r->nlisteners);	/* listeners without servers */
}

/* ---------------------------------------------------------------- Prometheus */

/* A label value: backslash, double quote and newline escaped. */
static void prom_label(struct fc_sbuf *b, const char *name, const char *v, bool last)
{
	sbuf_printf(b, "%s=\"", name);
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			sbuf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			sbuf_put(b, "\\n", 2);
		else
			sbuf_put(b, v, 1);
	}
	sbuf_printf(b, "\"%s", last ? "}" : ",");
}

static void prom_head(struct fc_sbuf *b, const char *name, const char *type,
    const char *help)
{
	sbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_u64(struct fc_sbuf *b, const char *name, const char *type,
    const char *help, uint64_t v)
{
	prom_head(b, name, type, help);
	sbuf_printf(b, "%s %" PRIu64 "\n", name, v);
}

static bool srv_up(const struct fc_report *r, const struct fc_report_server *s,
    char *buf, size_t len)
{
	(void)r;
	snprintf(buf, len, "%d", s->state >= FC_SRV_UP);
	return true;
}

static bool srv_weight(const struct fc_report *r, const struct fc_report_server *s,
    char *buf, size_t len)
{
	(void)r;
	snprintf(buf, len, "%" PRIu32, shm_load(&s->shm->weight));
	return true;
}

static bool srv_last_change(const struct fc_report *r, const struct fc_report_server *s,
    char *buf, size_t len)
{
	uint64_t ms = ms_since(r, shm_load(&s->shm->last_change_us));

	snprintf(buf, len, "%" PRIu64 ".%03" PRIu64, ms / 1000, ms % 1000);
	return true;
}

static bool srv_check_duration(const struct fc_report *r,
    const struct fc_report_server *s, char *buf, size_t len)
{
	uint32_t ms = shm_load(&s->shm->check_duration_ms);

	(void)r;
	if (!s->shm->checked || shm_load(&s->shm->check_result) == FC_CHK_NONE)
		return false;
	snprintf(buf, len, "%" PRIu32 ".%03" PRIu32, ms / 1000, ms % 1000);
	return true;
}

static bool srv_check_failures(const struct fc_report *r,
    const struct fc_report_server *s, char *buf, size_t len)
{
	(void)r;
	if (!s->shm->checked)
		return false;
	snprintf(buf, len, "%" PRIu64, shm_load(&s->shm->check_failures));
	return true;
}

/* A summed counter of the list: its offset in struct fc_shm_srv_counters. */
#define PROM_SUM(f, kind, prom, help, ...) \
	{ "fulcrum_server_" prom, #kind, help, NULL, \
	  offsetof(struct fc_shm_srv_counters, f) },

/*
 * One per-server metric: get() writes a value other than a summed counter,
 * or returns false when this server has none (an unchecked server has no
 * check duration); without get(), the summed counter at off.
 */
static const struct prom_metric {
	const char *name, *type, *help;
	bool (*get)(const struct fc_report *, const struct fc_report_server *,
	    char *, size_t);
	size_t off;
} prom_servers[] = {
	{ "fulcrum_server_up", "gauge",
	  "1 if the server takes traffic (UP), 0 if DOWN or MAINT.", srv_up, 0 },
	{ "fulcrum_server_weight", "gauge", "Configured weight.", srv_weight, 0 },
	{ "fulcrum_server_last_change_seconds", "gauge",
	  "Seconds since the server's last state change.", srv_last_change, 0 },
	FC_SHM_SRV_COUNTERS(PROM_SUM)
	{ "fulcrum_server_check_duration_seconds", "gauge",
	  "Duration of the last health check.", srv_check_duration, 0 },
	{ "fulcrum_server_check_failures_total", "counter",
	  "Health checks failed.", srv_check_failures, 0 },
};

static void prom_server_metric(struct fc_sbuf *b, const struct fc_report *r,
    int listener, const struct prom_metric *m)
{
	char name[FC_SHM_NAME_LEN + 1], value[48];

	prom_head(b, m->name, m->type, m->help);
	for (uint32_t i = 0; i < r->nservers; i++) {
		const struct fc_report_server *s = &r->servers[i];

		if (!wanted(r, s, listener))
			continue;
		if (m->get == NULL)
			snprintf(value, sizeof(value), "%" PRIu64,
			    *(const uint64_t *)((const char *)&s->sum + m->off));
		else if (!m->get(r, s, value, sizeof(value)))
			continue;
		sbuf_printf(b, "%s{", m->name);
		/* Labelled "listener" as before backends: the backend's name,
		 * which a listener's own servers' is. */
		prom_label(b, "listener", FIELD(name, s->shm->backend), false);
		prom_label(b, "server", FIELD(name, s->shm->name), true);
		sbuf_printf(b, " %s\n", value);
	}
}

static void prom_instance(struct fc_sbuf *b, const struct fc_report *r)
{
	const struct fc_shm_header *h = r->shm->hdr;
	char version[sizeof(h->fulcrum_version) + 1], path[sizeof(h->config_path) + 1];

	prom_head(b, "fulcrum_info", "gauge", "Version, config file and segment (always 1).");
	sbuf_printf(b, "fulcrum_info{");
	prom_label(b, "version", FIELD(version, h->fulcrum_version), false);
	prom_label(b, "config", FIELD(path, h->config_path), false);
	prom_label(b, "segment", r->shm->name, true);
	sbuf_printf(b, " 1\n");
	prom_u64(b, "fulcrum_start_time_seconds", "gauge",
	    "Start time of the master, in seconds since the epoch.", h->start_us / 1000000);
	prom_u64(b, "fulcrum_uptime_seconds", "gauge", "Seconds since the master started.",
	    ms_since(r, h->start_us) / 1000);
	prom_u64(b, "fulcrum_config_generation", "gauge",
	    "Configuration generation (1 at start, +1 per reload).",
	    shm_load(&h->generation));
	prom_u64(b, "fulcrum_workers", "gauge", "Worker processes configured.", r->nworkers);
	prom_u64(b, "fulcrum_workers_alive", "gauge",
	    "Workers whose heartbeat is fresh (2 s).", (uint64_t)r->workers_alive);
}

#define PROM_TOTAL(f, kind, prom, help, ...) \
	prom_u64(b, "fulcrum_" prom, #kind, help, r->f);

static void prom_totals(struct fc_sbuf *b, const struct fc_report *r)
{
	FC_SHM_WORKER_COUNTERS(PROM_TOTAL)
	prom_head(b, "fulcrum_errors_total", "counter", "Errors by kind.");
	for (int k = 0; k < FC_ERR_MAX; k++)
		sbuf_printf(b, "fulcrum_errors_total{kind=\"%s\"} %" PRIu64 "\n",
		    report_error_name(k), r->errors[k]);
	prom_u64(b, "fulcrum_sessions", "gauge", "Entries in the session table.",
	    shm_load(&r->shm->hdr->sessions.used));
	prom_u64(b, "fulcrum_sessions_capacity", "gauge", "Session table capacity.",
	    r->shm->hdr->nsessions);
}

/* Per sync peer: channel up, sessions each way (issue 21.2). */
static void prom_ha_peers(struct fc_sbuf *b, const struct fc_report *r)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} m[] = {
		{ "fulcrum_ha_peer_up", "gauge", "Sync channel to the peer up (1) or not (0).",
		    offsetof(struct fc_shm_ha_peer, state) },
		{ "fulcrum_ha_peer_sessions_sent_total", "counter",
		    "Sessions sent to the peer.", offsetof(struct fc_shm_ha_peer, sent) },
		{ "fulcrum_ha_peer_sessions_received_total", "counter",
		    "Sessions received from the peer.", offsetof(struct fc_shm_ha_peer, received) },
	};
	const struct fc_shm_header *h = r->shm->hdr;
	char addr[INET_ADDRSTRLEN];

	if (report_ha_npeers(h) == 0)
		return;
	for (size_t k = 0; k < sizeof(m) / sizeof(m[0]); k++) {
		prom_head(b, m[k].name, m[k].type, m[k].help);
		for (uint32_t i = 0; i < report_ha_npeers(h); i++) {
			const struct fc_shm_ha_peer *p = &h->ha_mesh.peer[i];
			const char *f = (const char *)p + m[k].off;
			uint64_t v = k == 0 ? shm_load(&p->state) == FC_SYNC_UP :
			    shm_load((const uint64_t *)(const void *)f);

			sbuf_printf(b, "%s{", m[k].name);
			prom_label(b, "peer", ipv4_str(shm_load(&p->addr), addr, sizeof(addr)) ?
			    addr : "?", true);
			sbuf_printf(b, " %" PRIu64 "\n", v);
		}
	}
}

static void prom_ha_series(struct fc_sbuf *b, const char *state, const char *now)
{
	sbuf_printf(b, "fulcrum_ha_state{state=\"%s\"} %d\n", state, strcmp(now, state) == 0);
}

/*
 * fulcrum_ha_state as a state set: one series per state, then DISABLED,
 * the current one 1.
 */
static void prom_ha(struct fc_sbuf *b, const struct fc_report *r)
{
	const struct fc_shm_ha *ha = &r->shm->hdr->ha;
	const char *now = report_ha_name(shm_load(&ha->enabled), shm_load(&ha->state));
	const char *name;

	prom_head(b, "fulcrum_ha_state", "gauge",
	    "VRRP state of this node: 1 for the current state.");
	for (uint32_t s = 0; (name = report_ha_state_name(s)) != NULL; s++)
		prom_ha_series(b, name, now);
	prom_ha_series(b, HA_DISABLED, now);
	prom_u64(b, "fulcrum_ha_priority", "gauge", "VRRP priority advertised.",
	    shm_load(&ha->priority));
	prom_ha_peers(b, r);
}

/* A TLS counter of the list: its offset in struct fc_shm_tls_counters. */
#define PROM_TLS(f, kind, prom, help, ...) \
	{ "fulcrum_" prom, #kind, help, NULL, offsetof(struct fc_shm_tls_counters, f) },

static const struct prom_metric prom_tls[] = {
	FC_SHM_TLS_COUNTERS(PROM_TLS)
};

static void prom_tls_series(struct fc_sbuf *b, const struct fc_report *r, int listener,
    const struct prom_metric *m)
{
	char name[FC_SHM_NAME_LEN + 1];

	prom_head(b, m->name, m->type, m->help);
	for (uint32_t l = 0; l < r->nlisteners; l++) {
		if (!tls_wanted(r, l, listener))
			continue;
		sbuf_printf(b, "%s{", m->name);
		prom_label(b, "listener", FIELD(name, r->listeners[l].shm->name), true);
		sbuf_printf(b, " %" PRIu64 "\n",
		    *(const uint64_t *)((const char *)&r->listeners[l].sum + m->off));
	}
}

/* The TLS listeners' counters; nothing at all without one. */
static void prom_tls_listeners(struct fc_sbuf *b, const struct fc_report *r, int listener)
{
	char name[FC_SHM_NAME_LEN + 1];

	if (!any_tls(r, listener))
		return;
	for (size_t i = 0; i < sizeof(prom_tls) / sizeof(prom_tls[0]); i++)
		prom_tls_series(b, r, listener, &prom_tls[i]);
	prom_head(b, "fulcrum_tls_failures_total", "counter", "TLS handshakes failed, by reason.");
	for (uint32_t l = 0; l < r->nlisteners; l++) {
		if (!tls_wanted(r, l, listener))
			continue;
		FIELD(name, r->listeners[l].shm->name);
		for (int k = 0; k < FC_TLS_FAIL_MAX; k++) {
			sbuf_printf(b, "fulcrum_tls_failures_total{");
			prom_label(b, "listener", name, false);
			prom_label(b, "reason", report_tls_fail_name(k), true);
			sbuf_printf(b, " %" PRIu64 "\n", r->listeners[l].sum.failures[k]);
		}
	}
}

static void render_prometheus(const struct fc_report *r, int listener, struct fc_sbuf *b)
{
	prom_instance(b, r);
	prom_totals(b, r);
	prom_ha(b, r);
	prom_tls_listeners(b, r, listener);
	for (size_t i = 0; i < sizeof(prom_servers) / sizeof(prom_servers[0]); i++)
		prom_server_metric(b, r, listener, &prom_servers[i]);
}

/* ---------------------------------------------------------------- text */

/* "3d04h", "2h03m", "5m06s", "42s". */
static const char *fmt_dur(uint64_t s, char *buf, size_t len)
{
	if (s >= 86400)
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else
		snprintf(buf, len, "%" PRIu64 "s", s);
	return buf;
}

/* Exact below 10000, then "12.3K", "4.0M", ... (powers of 1024). */
static const char *fmt_bytes(uint64_t n, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	double v = (double)n;
	int u = -1;

	if (n < 10000) {
		snprintf(buf, len, "%" PRIu64, n);
		return buf;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f%c", v, units[u]);
	return buf;
}

static void text_header(struct fc_sbuf *b, const struct fc_report *r)
{
	const struct fc_shm_header *h = r->shm->hdr;
	const struct fc_shm_ha *ha = &h->ha;
	char version[sizeof(h->fulcrum_version) + 1], path[sizeof(h->config_path) + 1];
	char up[32], when[32];
	int32_t checker = shm_load(&h->checker_pid);

	iso8601(h->start_us, when, sizeof(when));
	sbuf_printf(b, "fulcrum %s  pid %" PRId32 "  generation %" PRIu32
	    "  up %s (since %s)\n", FIELD(version, h->fulcrum_version),
	    shm_load(&h->master_pid), shm_load(&h->generation),
	    fmt_dur(ms_since(r, h->start_us) / 1000, up, sizeof(up)), when);
	sbuf_printf(b, "config %s  segment %s\n", FIELD(path, h->config_path), r->shm->name);
	sbuf_printf(b, "workers alive %d/%" PRIu32 "  checker ", r->workers_alive, r->nworkers);
	if (checker != 0)
		sbuf_printf(b, "pid %" PRId32 " (heartbeat %" PRIu64 " ms ago)", checker,
		    ms_since_mono(r, shm_load(&h->checker_heartbeat_ms)));
	else
		sbuf_printf(b, "none");
	sbuf_printf(b, "  HA %s  sessions %" PRIu32 "/%" PRIu32 "\n",
	    report_ha_name(shm_load(&ha->enabled), shm_load(&ha->state)),
	    shm_load(&h->sessions.used), h->nsessions);
}

/* "L7OK HTTP 200 in 3 ms", "INI" before the first check, "no check". */
static const char *text_check(const struct fc_shm_server *sv, char *buf, size_t len)
{
	uint32_t result = shm_load(&sv->check_result);
	char desc[sizeof(sv->check_desc) + 1];

	if (!sv->checked)
		snprintf(buf, len, "no check");
	else if (result == FC_CHK_NONE)
		snprintf(buf, len, "%s", report_check_name(result));
	else
		snprintf(buf, len, "%s %s", report_check_name(result),
		    FIELD(desc, sv->check_desc));
	return buf;
}

static int text_name_width(const struct fc_report *r, int listener)
{
	int w = (int)strlen("SERVER");

	for (uint32_t i = 0; i < r->nservers; i++) {
		const struct fc_shm_server *sv = r->servers[i].shm;
		int n = (int)(strnlen(sv->backend, sizeof(sv->backend)) + 1 +
		    strnlen(sv->name, sizeof(sv->name)));

		if (wanted(r, &r->servers[i], listener) && n > w)
			w = n;
	}
	return w;
}

/*
 * The text table shows some counters only, in columns of their own widths,
 * bytes abbreviated and the two kinds of errors added up: written by hand,
 * not from the counter lists.
 */
static void text_server(struct fc_sbuf *b, const struct fc_report *r,
    const struct fc_report_server *s, int width)
{
	const struct fc_shm_server *sv = s->shm;
	const struct fc_shm_srv_counters *c = &s->sum;
	char ls[FC_SHM_NAME_LEN + 1], nm[FC_SHM_NAME_LEN + 1], addr[FC_SHM_NAME_LEN + 1];
	char id[2 * FC_SHM_NAME_LEN + 2], chk[96], age[16], in[16], out[16];

	snprintf(id, sizeof(id), "%s/%s", FIELD(ls, sv->backend), FIELD(nm, sv->name));
	sbuf_printf(b, "%-*s %-21s %-5s %6s  %-28.28s %6" PRIu32 " %6" PRIu64 " %8" PRIu64
	    " %8" PRIu64 " %7s %7s %6" PRIu64 "\n", width, id, FIELD(addr, sv->address),
	    report_state_name(s->state),
	    fmt_dur(ms_since(r, shm_load(&sv->last_change_us)) / 1000, age, sizeof(age)),
	    text_check(sv, chk, sizeof(chk)), shm_load(&sv->eweight), c->cur_conns,
	    c->total_conns, c->requests, fmt_bytes(c->bytes_in, in, sizeof(in)),
	    fmt_bytes(c->bytes_out, out, sizeof(out)), c->conn_errors + c->resp_errors);
}

/* "1.2 s", or "-" for 0 (never). */
static const char *text_ago(const struct fc_report *r, uint64_t us, char *buf, size_t len)
{
	uint64_t ms = ms_since(r, us);

	if (us == 0)
		snprintf(buf, len, "-");
	else if (ms < 10000)
		snprintf(buf, len, "%" PRIu64 " ms", ms);
	else
		fmt_dur(ms / 1000, buf, len);
	return buf;
}

/* The mode, the addresses (held or not) and one row per sync peer. */
static void text_ha(struct fc_sbuf *b, const struct fc_report *r)
{
	const struct fc_shm_header *h = r->shm->hdr;
	char text[INET6_ADDRSTRLEN + 8], addr[INET_ADDRSTRLEN], since[32], frame[32];

	if (!shm_load(&h->ha.enabled))
		return;
	sbuf_printf(b, "HA mode %s  lease %" PRIu32 " s  vips",
	    shm_load(&h->ha_mode) == FC_HA_ANYCAST ? "anycast" : "vrrp",
	    shm_load(&h->ha_mesh.lease_s));
	for (uint32_t i = 0; i < report_ha_nleases(h); i++)
		sbuf_printf(b, " %s (%s)", report_lease_text(&h->ha_mesh.lease[i], text,
		    sizeof(text)), shm_load(&h->ha_mesh.lease[i].held) ? "held" : "not held");
	sbuf_put(b, "\n", 1);
	if (report_ha_npeers(h) == 0)
		return;
	sbuf_printf(b, "\n%-15s %-10s %8s %10s %9s %9s %s\n", "PEER", "CHANNEL", "SINCE",
	    "LAST FRAME", "SENT", "RECEIVED", "STATE");
	for (uint32_t i = 0; i < report_ha_npeers(h); i++) {
		const struct fc_shm_ha_peer *p = &h->ha_mesh.peer[i];
		const char *st = report_sync_state_name(shm_load(&p->state));
		const char *said = report_ha_state_name(shm_load(&p->ha_state));

		sbuf_printf(b, "%-15s %-10s %8s %10s %9" PRIu64 " %9" PRIu64 " %s\n",
		    ipv4_str(shm_load(&p->addr), addr, sizeof(addr)) ? addr : "?",
		    st != NULL ? st : "?", text_ago(r, shm_load(&p->since_us), since, sizeof(since)),
		    text_ago(r, shm_load(&p->frame_us), frame, sizeof(frame)),
		    shm_load(&p->sent), shm_load(&p->received), said != NULL ? said : "-");
	}
}

static void text_servers(struct fc_sbuf *b, const struct fc_report *r, int listener)
{
	int width = text_name_width(r, listener);

	sbuf_printf(b, "\n%-*s %-21s %-5s %6s  %-28s %6s %6s %8s %8s %7s %7s %6s\n", width,
	    "SERVER", "ADDRESS", "STATE", "SINCE", "CHECK", "WEIGHT", "CUR", "TOTAL",
	    "REQS", "IN", "OUT", "ERRORS");
	for (uint32_t i = 0; i < r->nservers; i++)
		if (wanted(r, &r->servers[i], listener))
			text_server(b, r, &r->servers[i], width);
}

/* "PROTOCOL" for "protocol": the table's headings are in capitals. */
static const char *upper(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i < len - 1; i++)
		buf[i] = (char)toupper((unsigned char)s[i]);
	buf[i] = '\0';
	return buf;
}

/* "TLS LISTENER" or the longest name of a TLS listener shown. */
static int text_tls_width(const struct fc_report *r, int listener)
{
	int w = (int)strlen("TLS LISTENER");

	for (uint32_t l = 0; l < r->nlisteners; l++) {
		const struct fc_shm_listener *ls = r->listeners[l].shm;
		int n = (int)strnlen(ls->name, sizeof(ls->name));

		if (tls_wanted(r, l, listener) && n > w)
			w = n;
	}
	return w;
}

/* One row per TLS listener: handshakes, resumed, failed, then by reason. */
static void text_tls(struct fc_sbuf *b, const struct fc_report *r, int listener)
{
	int width = text_tls_width(r, listener);
	char name[FC_SHM_NAME_LEN + 1], head[16];

	if (!any_tls(r, listener))
		return;
	sbuf_printf(b, "\n%-*s %10s %8s %8s", width, "TLS LISTENER", "HANDSHAKES", "RESUMED",
	    "FAILED");
	for (int k = 0; k < FC_TLS_FAIL_MAX; k++)
		sbuf_printf(b, " %8s", upper(report_tls_fail_name(k), head, sizeof(head)));
	sbuf_put(b, "\n", 1);
	for (uint32_t l = 0; l < r->nlisteners; l++) {
		const struct fc_shm_tls_counters *c = &r->listeners[l].sum;

		if (!tls_wanted(r, l, listener))
			continue;
		sbuf_printf(b, "%-*s %10" PRIu64 " %8" PRIu64 " %8" PRIu64, width,
		    FIELD(name, r->listeners[l].shm->name), c->handshakes, c->resumed,
		    report_tls_failures(c));
		for (int k = 0; k < FC_TLS_FAIL_MAX; k++)
			sbuf_printf(b, " %8" PRIu64, c->failures[k]);
		sbuf_put(b, "\n", 1);
	}
}

static uint64_t sum_errors(const uint64_t *errors)
{
	uint64_t n = 0;

	for (int k = 0; k < FC_ERR_MAX; k++)
		n += errors[k];
	return n;
}

static void text_worker(struct fc_sbuf *b, const struct fc_report *r, uint32_t slot)
{
	const struct fc_shm_worker *w = shm_worker(r->shm, slot);
	uint64_t hb = shm_load(&w->heartbeat_ms);
	int32_t pid = shm_load(&w->pid);
	char age[24], in[16], out[16];
	struct traffic t;

	load_traffic(&t, w);
	if (pid != 0 && hb != 0)
		snprintf(age, sizeof(age), "%" PRIu64 " ms", ms_since_mono(r, hb));
	else
		snprintf(age, sizeof(age), "-");
	sbuf_printf(b, "%-6" PRIu32 " %7" PRId32 " %-5s %10s %6" PRIu64 " %8" PRIu64
	    " %8" PRIu64 " %7s %7s %6" PRIu64 "\n", slot, pid,
	    report_worker_alive(r, slot) ? "yes" : "no", age, t.cur_conns, t.total_conns,
	    t.requests, fmt_bytes(t.bytes_in, in, sizeof(in)),
	    fmt_bytes(t.bytes_out, out, sizeof(out)), sum_errors(t.errors));
}

static void text_totals(struct fc_sbuf *b, const struct fc_report *r)
{
	char in[16], out[16];
	bool any = false;

	sbuf_printf(b, "%-6s %7s %-5s %10s %6" PRIu64 " %8" PRIu64 " %8" PRIu64
	    " %7s %7s %6" PRIu64 "\n", "TOTAL", "", "", "", r->cur_conns, r->total_conns,
	    r->requests, fmt_bytes(r->bytes_in, in, sizeof(in)),
	    fmt_bytes(r->bytes_out, out, sizeof(out)), sum_errors(r->errors));
	sbuf_printf(b, "\nerrors:");
	for (int k = 0; k < FC_ERR_MAX; k++) {
		if (r->errors[k] == 0)
			continue;
		sbuf_printf(b, " %s %" PRIu64, report_error_name(k), r->errors[k]);
		any = true;
	}
	sbuf_printf(b, "%s\n", any ? "" : " none");
	sbuf_printf(b, "tunnels: %" PRIu64 " open, %" PRIu64 " total\n", r->cur_tunnels,
	    r->total_tunnels);
}

static void render_text(const struct fc_report *r, int listener, struct fc_sbuf *b)
{
	text_header(b, r);
	text_ha(b, r);
	text_servers(b, r, listener);
	text_tls(b, r, listener);
	sbuf_printf(b, "\n%-6s %7s %-5s %10s %6s %8s %8s %7s %7s %6s\n", "WORKER", "PID",
	    "ALIVE", "HEARTBEAT", "CUR", "TOTAL", "REQS", "IN", "OUT", "ERRORS");
	for (uint32_t w = 0; w < r->nworkers; w++)
		text_worker(b, r, w);
	text_totals(b, r);
}

void report_render(const struct fc_report *r, enum fc_report_fmt fmt, int listener,
    struct fc_sbuf *out)
{
	switch (fmt) {
	case FC_REPORT_JSON:
		render_json(r, listener, out);
		break;
	case FC_REPORT_CSV:
		render_csv(r, listener, out);
		break;
	case FC_REPORT_PROMETHEUS:
		render_prometheus(r, listener, out);
		break;
	default:
		render_text(r, listener, out);
		break;
	}
}
