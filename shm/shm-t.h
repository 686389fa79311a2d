/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * THE shared-memory layout of a fulcrum instance.  Changing anything here
 * -- a field, a size, an order -- needs FC_SHM_VERSION bumped: fulcrum-stat
 * of another version refuses the segment instead of misreading it.
 *
 *   +--------------------------------+ 0
 *   | header (one page)              |  master at start; ha block: ha process
 *   +--------------------------------+ off_servers
 *   | server[nservers]               |  the checker (single writer)
 *   +--------------------------------+ off_listeners
 *   | listener[nlisteners]           |  the master at start
 *   +--------------------------------+ off_backends
 *   | backend[nbackends]             |  the master at start
 *   +--------------------------------+ off_workers, page aligned
 *   | worker block 0                 |  worker 0 only
 *   | ... worker_stride apart        |  (each block page aligned)
 *   | worker block nworkers-1        |
 *   +--------------------------------+ off_retired
 *   | retired counters (one block)   |  the master only
 *   +--------------------------------+ off_shared, page aligned
 *   | rr[nbackends]                  |  every worker, atomic read-modify-write
 *   | rate[nrate]                    |  (shm/rate.c)
 *   +--------------------------------+ off_sessions
 *   | session[nsessions]             |  the checker (single writer)
 *   +--------------------------------+ sessions.off_cons, page aligned
 *   | ring_cons[FC_SHM_MAX_WORKERS]  |  the checker: read index per ring
 *   +--------------------------------+ sessions.off_rings, page aligned
 *   | ring 0: head, records          |  worker 0 only
 *   | ... ring_stride apart          |  (each ring page aligned)
 *   | ring nworkers-1                |
 *   +--------------------------------+ ha_rings.off (with ha.sync only)
 *   | ring "in": peer -> checker     |  the ha process only
 *   | ring "out": checker -> peer    |  the checker only
 *   +--------------------------------+ size
 *
 * A worker block (struct fc_shm_worker) is its head, srv[nservers] and
 * tls[nlisteners], the last two indexed like the server and listener
 * tables (access.h: shm_worker_tls()).  The retired block is laid out alike.
 *
 * Without `stick` in any listener there is no session table and no ring:
 * nsessions is 0 and off_sessions, off_cons and off_rings all equal size.
 * The two ha rings (issue 18.2) exist only with `stick` and `ha.sync`:
 * the ha process hands the sessions the peer node learned to the checker
 * through "in", and the checker passes what the workers learned to the ha
 * process through "out"; their read indices are in the header
 * (struct fc_shm_ha_rings), written by their consumers.
 * shm/session.c explains the table (buckets, seqlock, eviction).
 *
 * A reload (USR2) builds a new segment for the new generation and renames
 * it over the old name; the old generation finishes in the old one.  What
 * the old generation counted is folded into the new segment's "retired"
 * block, which readers add to the live workers' counters, so totals never
 * go back (shm_fold_retired()).
 *
 * Indices, never pointers.  Counters are 64-bit, written by one process
 * with relaxed atomic stores and read with relaxed atomic loads, so a
 * reader never sees a torn value; readers sum over the worker blocks.
 */
#ifndef FC_SHM_T_H
#define FC_SHM_T_H

#include <stddef.h>
#include <stdint.h>

#include "lib/tls.h"

#define FC_SHM_MAGIC		UINT64_C(0x314d5552434c5546)	/* "FULCRUM1" */
#define FC_SHM_VERSION		6
#define FC_SHM_PAGE		4096
#define FC_SHM_NAME_LEN		64
#define FC_SHM_MAX_WORKERS	64

/*
 * Server states.  Ordered so that >= FC_SRV_UP means "takes traffic" (its
 * persistent clients at least).  MAINT and DRAIN are the operator's
 * (fulcrumctl, the `admin` field), the others the checks'.
 */
enum fc_srv_state {
	FC_SRV_MAINT = 0,	/* no traffic at all, checks paused */
	FC_SRV_DOWN = 1,	/* failed `fall` checks in a row */
	FC_SRV_UP = 2,		/* not checked, or passed `rise` checks */
	FC_SRV_DRAIN = 3,	/* UP, but no new clients: persistent ones only */
};

/* What the operator asked for a server (fulcrumctl). */
enum fc_srv_admin {
	FC_ADMIN_READY = 0,
	FC_ADMIN_DRAIN = 1,
	FC_ADMIN_MAINT = 2,
};

/* Result of the last check.  >= FC_CHK_PASSED means healthy. */
enum fc_check_result {
	FC_CHK_NONE = 0,	/* not checked (yet) */
	FC_CHK_CONNECT = 1,	/* connection refused or failed */
	FC_CHK_TIMEOUT = 2,	/* no connection or no answer in time */
	FC_CHK_BADRESP = 3,	/* not an HTTP status line */
	FC_CHK_BADSTATUS = 4,	/* an HTTP status we do not accept */
	FC_CHK_PASSED = 5,	/* TCP connect succeeded */
	FC_CHK_HTTP_OK = 6,	/* accepted HTTP status */
};

/* Errors counted per worker, by kind. */
enum fc_err_kind {
	FC_ERR_BADREQ,		/* 400, 414, 431: malformed request */
	FC_ERR_REQ_TIMEOUT,	/* 408 */
	FC_ERR_CLI_ABORT,	/* client went away mid-transaction */
	FC_ERR_CONN_REFUSED,	/* connect to a server failed */
	FC_ERR_CONN_TIMEOUT,	/* connect to a server timed out */
	FC_ERR_BADRESP,		/* 502: malformed or truncated response */
	FC_ERR_NOSRV,		/* 503: no server could take the request */
	FC_ERR_SRV_TIMEOUT,	/* 504 */
	FC_ERR_SRV_ABORT,	/* server closed mid-response */
	FC_ERR_INTERNAL,	/* 500: out of memory or buffer */
	FC_ERR_MAX
};

/* Why a TLS handshake failed, counted per listener. */
enum fc_tls_fail {
	FC_TLS_FAIL_PROTOCOL,	/* not TLS, garbage, a bad record or message */
	FC_TLS_FAIL_VERSION,	/* no protocol version or cipher in common */
	FC_TLS_FAIL_CERT,	/* client certificate missing or refused */
	FC_TLS_FAIL_TIMEOUT,	/* not done within timeout.http_request */
	FC_TLS_FAIL_ABORT,	/* the client closed mid-handshake */
	FC_TLS_FAIL_OTHER,
	FC_TLS_FAIL_MAX
};

/*
 * Where the learned-session table and its rings are, and the checker's
 * counters of it (shm/session.c).  Written by the master at creation, then
 * by the checker alone.  All zero but the offsets without `stick`.
 */
struct fc_shm_sessions {
	uint64_t off_cons;		/* the page of struct fc_shm_ring_cons */
	uint64_t off_rings;		/* ring of worker k: off_rings + k * ring_stride */
	uint32_t ring_stride;		/* bytes, page aligned */
	uint32_t ring_slots;		/* records per ring, a power of two */
	uint32_t used;			/* live entries (fulcrum-stat: "size") */
	uint32_t sweep;			/* next entry session_expire() looks at */
	uint64_t learned;		/* records applied from the rings */
	uint64_t evicted;		/* live entries replaced: the table was full */
	uint64_t expired;		/* entries removed by session_expire() */
	uint64_t bad;			/* ring records refused (corrupt) */
};

/* VRRP states (RFC 5798 6.4), and FAULT: the node's own proxy is dead. */
enum fc_ha_state {
	FC_HA_INIT = 0,
	FC_HA_BACKUP = 1,
	FC_HA_MASTER = 2,
	FC_HA_FAULT = 3,		/* resigned: no worker heartbeat */
};

/* Written by the ha process (issue 6); all zero while there is none. */
struct fc_shm_ha {
	uint32_t enabled;
	uint32_t state;			/* enum fc_ha_state */
	uint64_t since_us;		/* wall clock of the last transition */
	uint32_t peer_addr;		/* IPv4, network order; 0: none heard */
	uint32_t peer_priority;
	uint64_t peer_seen_us;
	uint32_t priority;
	uint32_t vrid;
	/* Two masters seen at once (issue 18.4). */
	uint32_t split_count;		/* times it began */
	uint32_t split_active;		/* 1: now */
	uint64_t split_ms;		/* time spent in it, ended ones */
	uint64_t split_since_us;	/* wall clock of the current one's start */
};

/*
 * The other master of the last split brain, of either family (the ha
 * block's peer_addr is IPv4 only and has no room left).  Written by the
 * ha process: family 0 while it writes addr, then 4 or 6.
 */
struct fc_shm_split_peer {
	uint32_t family;		/* 4, 6; 0: none (yet) */
	uint32_t pad;
	uint8_t addr[16];		/* network order: 4 bytes for IPv4 */
};

/*
 * Where the sync channel's two session rings are (ha.sync with stick), and
 * their read indices, each written by its ring's consumer only.
 */
struct fc_shm_ha_rings {
	uint64_t off;			/* "in"; "out" at off + sessions.ring_stride; 0: none */
	uint64_t in_tail;		/* the checker: records of "in" applied */
	uint64_t out_tail;		/* the ha process: records of "out" taken */
	uint8_t reserved[40];
};

/* Channel states of a sync peer (issue 21.2). */
enum fc_sync_state {
	FC_SYNC_NONE = 0,		/* no channel has been tried yet */
	FC_SYNC_CONNECTING = 1,		/* connecting or authenticating */
	FC_SYNC_UP = 2,			/* authenticated */
	FC_SYNC_DOWN = 3,		/* lost; waiting to retry or for the peer */
};

#define FC_SHM_HA_PEERS		8	/* sync peers shown (conf: FC_SYNC_MAX_PEERS) */
#define FC_SHM_HA_LEASES	16	/* VIPs shown (VRRP_MAX_ADDRS) */

/*
 * One sync peer as the ha process sees it.  Each field is a relaxed atomic
 * of its own: a reader may see one refresh's state beside the previous
 * one's counters, never a torn value.
 */
struct fc_shm_ha_peer {
	uint32_t addr;			/* IPv4, network order */
	uint32_t state;			/* enum fc_sync_state */
	uint64_t since_us;		/* wall clock of the last state change */
	uint64_t frame_us;		/* wall clock of the last frame; 0: none */
	uint64_t sent;			/* sessions sent to it */
	uint64_t received;		/* sessions it sent */
	uint32_t ha_state;		/* its enum fc_ha_state, as it says; ~0: unknown */
	uint32_t pad;
	uint8_t reserved[16];
};

/* One VIP: in anycast mode a lease this node holds while its proxy lives. */
struct fc_shm_ha_lease {
	uint8_t addr[16];		/* network order: 4 bytes for IPv4 */
	uint16_t family;		/* AF_INET, AF_INET6 */
	uint16_t prefixlen;
	uint32_t held;			/* 1: on the interface now */
	uint64_t renewed_us;		/* wall clock of the last add or renewal */
};

/* The ha process's view of its peers and addresses (issue 21.2). */
struct fc_shm_ha_mesh {
	uint32_t npeers;		/* peer[] used */
	uint32_t nleases;		/* lease[] used */
	uint32_t lease_s;		/* lifetime of a held address */
	uint8_t reserved[52];
	struct fc_shm_ha_peer peer[FC_SHM_HA_PEERS];
	struct fc_shm_ha_lease lease[FC_SHM_HA_LEASES];
};

struct fc_shm_header {
	uint64_t magic;
	uint32_t version;
	uint32_t header_size;		/* sizeof(struct fc_shm_header) */
	uint64_t size;			/* whole segment */
	int32_t master_pid;
	uint32_t generation;		/* config generation, 1 at start */
	uint64_t start_us;		/* wall clock */
	char fulcrum_version[16];
	char config_path[256];
	uint32_t nlisteners;
	uint32_t nservers;
	uint32_t nworkers;
	uint32_t worker_stride;		/* bytes between worker blocks */
	uint64_t off_servers;
	uint64_t off_workers;
	uint64_t off_sessions;
	uint32_t nsessions;		/* session table capacity */
	int32_t checker_pid;
	uint64_t checker_heartbeat_ms;	/* CLOCK_MONOTONIC */
	struct fc_shm_ha ha;
	uint64_t off_retired;		/* counters of past generations (fc_shm_worker) */
	uint64_t off_listeners;		/* struct fc_shm_listener[nlisteners] */
	/* TLS session-ticket keys: the master makes, carries and rotates
	 * them, workers read them (lib/tls.h). */
	struct fc_tls_tickets tickets;
	uint32_t nbackends;
	uint32_t nrate;			/* rate-limit entries, 0: no listener limits */
	uint64_t off_backends;		/* struct fc_shm_backend[nbackends] */
	uint64_t off_shared;		/* rr[nbackends], then rate[nrate] */
	uint64_t shared_size;		/* bytes, page aligned */
	struct fc_shm_ha_rings ha_rings;
	uint32_t ha_mode;		/* enum fc_ha_mode, by the ha process */
	uint32_t pad;
	struct fc_shm_ha_mesh ha_mesh;	/* by the ha process */
	/* Free for growth: new fields take its first bytes (split_peer came
	 * from its last ones), so every field keeps its offset. */
	uint8_t reserved[2112];		/* the header fills one page */
	struct fc_shm_split_peer split_peer;	/* the ha process */
	struct fc_shm_sessions sessions;	/* last: the fields above keep their offsets */
};

struct fc_shm_server {
	char backend[FC_SHM_NAME_LEN];
	char name[FC_SHM_NAME_LEN];
	char address[FC_SHM_NAME_LEN];
	uint32_t backend_index;
	uint32_t weight;
	uint32_t checked;		/* 1: health-checked */
	uint32_t state;			/* enum fc_srv_state, atomic */
	uint32_t check_result;		/* enum fc_check_result */
	int32_t check_code;		/* HTTP status, -1 when none */
	uint32_t check_duration_ms;
	uint32_t check_count;		/* consecutive results like the last */
	uint64_t last_check_us;		/* wall clock */
	uint64_t last_change_us;	/* wall clock of the last state change */
	uint64_t checks, check_failures;
	char check_desc[64];		/* "HTTP 503 in 3 ms" */
	uint32_t eweight;		/* weight now: ramps up in slowstart, atomic */
	uint32_t backup;		/* 1: only when every other server is DOWN */
	uint32_t slowstart_ms;		/* 0: none */
	uint32_t admin;			/* enum fc_srv_admin */
	uint64_t up_since_ms;		/* CLOCK_MONOTONIC of the last DOWN -> UP */
	uint32_t weight_set;		/* 1: weight is fulcrumctl's, not the file's */
	/* The checks' verdict, FC_SRV_UP or FC_SRV_DOWN, under whatever the
	 * operator set (state shows MAINT over it); 0: none published yet.
	 * Taken from the reserved bytes: older readers never looked there. */
	uint32_t health;		/* atomic */
	uint8_t reserved[32];
};

/*
 * A listener of the config, in the config's order: what the servers'
 * listener_index and a worker block's tls[] refer to.  Written by the
 * master when it creates the segment, never after.
 */
struct fc_shm_listener {
	char name[FC_SHM_NAME_LEN];
	uint32_t tls;			/* 1: it terminates TLS (HTTPS) */
	uint8_t reserved[60];
};

/*
 * A backend of the config: "backends" first, then the listeners' own
 * servers (conf->backends' order), servers [srv_base, srv_base + nservers)
 * of the server table.  Written by the master when it creates the segment.
 */
struct fc_shm_backend {
	char name[FC_SHM_NAME_LEN];
	uint32_t srv_base;
	uint32_t nservers;
	uint32_t balance;		/* enum fc_balance */
	int32_t listener;		/* whose own servers; -1: "backends" */
	uint8_t reserved[48];
};

/* A backend's roundrobin position, shared by all workers (one cache line). */
struct fc_shm_rr {
	uint64_t next;			/* picks so far, atomic fetch-and-add */
	uint8_t reserved[56];
};

/*
 * A client address's entry in the rate-limit table (shm/rate.c): GCRA's
 * theoretical arrival time, compare-and-swapped by every worker.
 */
struct fc_shm_rate {
	uint64_t key;			/* hash of listener and address; 0: free */
	uint64_t tat_us;		/* CLOCK_MONOTONIC, us */
	uint64_t seen_ms;		/* last request, for eviction */
	uint64_t reserved;
};

/*
 * The counters of a worker block, of its servers and of its listeners' TLS
 * are listed once more, beside each struct, as X-macros, for the code that
 * sums, carries and renders them (shm/carry.c, shm/report.c), so that a new
 * counter is one line there; the assertions at the end keep the lists
 * complete.  In the
 * struct's order, X(field, kind, prom, help, ...):
 *   kind	gauge: a level now, summed over live processes only, never
 *		carried over a reload; counter: only grows.  (Prometheus's words.)
 *   prom	the Prometheus name after "fulcrum_" (or "fulcrum_server_")
 *   help	its HELP text
 * JSON names each by its field.  The text table and the HTML page show
 * some of them in an order and format of their own and say so.
 */
#define FC_SHM_IS_GAUGE(kind)	FC_SHM_IS_GAUGE_##kind
#define FC_SHM_IS_GAUGE_gauge	1
#define FC_SHM_IS_GAUGE_counter	0

/* One server's counters inside one worker block. */
struct fc_shm_srv_counters {
	uint64_t cur_conns;		/* streams using it now (gauge) */
	uint64_t total_conns;		/* connections opened */
	uint64_t requests;		/* responses relayed */
	uint64_t bytes_in, bytes_out;	/* from / to the server */
	uint64_t conn_errors;		/* refused or timed out */
	uint64_t resp_errors;		/* malformed, truncated, 504 */
	uint64_t retries;
};

/*
 * Each counter of the struct above, its last argument HAProxy's `show stat`
 * column (shm/report.c's C_<column>).  HAProxy's bin is what the proxy
 * sends to the server and bout what it receives: bytes_out and bytes_in.
 */
#define FC_SHM_SRV_COUNTERS(X) \
	X(cur_conns, gauge, "current_connections", \
	    "Connections to the server open now.", SCUR) \
	X(total_conns, counter, "connections_total", \
	    "Connections opened to the server.", STOT) \
	X(requests, counter, "requests_total", \
	    "Responses relayed from the server.", REQ_TOT) \
	X(bytes_in, counter, "bytes_in_total", "Bytes received from the server.", BOUT) \
	X(bytes_out, counter, "bytes_out_total", "Bytes sent to the server.", BIN) \
	X(conn_errors, counter, "connection_errors_total", \
	    "Connections to the server refused or timed out.", ECON) \
	X(resp_errors, counter, "response_errors_total", \
	    "Malformed, truncated or timed out responses.", ERESP) \
	X(retries, counter, "retries_total", "Connection attempts retried.", WRETR)

struct fc_shm_worker {
	uint64_t heartbeat_ms;		/* CLOCK_MONOTONIC, every loop pass */
	int32_t pid;			/* 0: never started */
	uint32_t generation;
	uint64_t started_us;		/* wall clock */
	uint64_t cur_conns;		/* client connections open */
	uint64_t total_conns;
	uint64_t requests;
	uint64_t bytes_in, bytes_out;	/* from / to clients */
	uint64_t rate_limited;		/* 429s sent */
	uint64_t redirects;		/* redirect routes and redirect_https */
	uint64_t cur_tunnels;		/* WebSocket tunnels open (gauge) */
	uint64_t total_tunnels;		/* tunnels opened (101 relayed) */
	uint64_t errors[FC_ERR_MAX];
	uint8_t reserved[80];
	struct fc_shm_srv_counters srv[];	/* header->nservers, then
						 * tls[header->nlisteners] */
};

/*
 * A worker block's client-side counters, cur_conns to total_tunnels.  errors[]
 * is not in the list: every user walks it by enum fc_err_kind, named by
 * report_error_name().
 */
#define FC_SHM_WORKER_COUNTERS(X) \
	X(cur_conns, gauge, "current_connections", "Client connections open now.") \
	X(total_conns, counter, "connections_total", "Client connections accepted.") \
	X(requests, counter, "requests_total", "Requests answered.") \
	X(bytes_in, counter, "bytes_in_total", "Bytes received from clients.") \
	X(bytes_out, counter, "bytes_out_total", "Bytes sent to clients.") \
	X(rate_limited, counter, "rate_limited_total", \
	    "Requests refused with 429 by a listener's rate_limit.") \
	X(redirects, counter, "redirects_total", \
	    "Requests answered with a redirect (routes, redirect_https).") \
	X(cur_tunnels, gauge, "current_tunnels", "WebSocket tunnels open now.") \
	X(total_tunnels, counter, "tunnels_total", "WebSocket tunnels opened (101 relayed).")

/*
 * One listener's TLS handshakes inside one worker block (after its srv[]).
 * A handshake ends exactly once: completed (handshakes, and resumed too
 * when abbreviated) or failed, counted under one reason.
 */
struct fc_shm_tls_counters {
	uint64_t handshakes;		/* completed, full and resumed */
	uint64_t resumed;		/* of those, abbreviated (session ticket) */
	uint64_t failures[FC_TLS_FAIL_MAX];
};

/*
 * Its counters but failures[], which every user walks by enum
 * fc_tls_fail, named by report_tls_fail_name().  Prometheus names after
 * "fulcrum_", labelled by listener.
 */
#define FC_SHM_TLS_COUNTERS(X) \
	X(handshakes, counter, "tls_handshakes_total", \
	    "TLS handshakes completed, full and resumed.") \
	X(resumed, counter, "tls_resumed_total", \
	    "TLS handshakes that resumed a session (abbreviated).")

/*
 * One learned session (shm/session.c): session id -> server.  Versioned:
 * seq is odd while the checker rewrites the entry, and a reader keeps a
 * result only if seq was even and unchanged around its reads.
 */
#define FC_SESSION_KEY_MAX	128	/* bytes of session id; longer: not learned */
#define FC_SESSION_WAYS		8	/* entries per bucket (session.c) */
#define FC_SESSION_RING_SLOTS	1024	/* records per worker ring, a power of two */

struct fc_shm_session {
	uint32_t seq;			/* odd: being written */
	uint32_t server;		/* index in the server table */
	uint64_t hash;			/* of listener and key; 0: free entry */
	uint64_t last_seen_ms;		/* CLOCK_MONOTONIC: learned or touched */
	uint64_t expires_ms;		/* last_seen_ms + ttl */
	uint32_t ttl_s;
	uint32_t backend;		/* sessions of two backends never mix */
	uint32_t keylen;
	uint8_t reserved[20];
	uint64_t key[FC_SESSION_KEY_MAX / 8];	/* zero padded */
};

/* What a worker pushes into its ring. */
enum fc_sess_kind {
	FC_SESS_LEARN = 1,		/* a server set the session cookie */
	FC_SESS_TOUCH = 2,		/* the session was used: refresh last-seen */
};

struct fc_shm_ring_rec {
	uint32_t kind;			/* enum fc_sess_kind */
	uint32_t server;
	uint32_t ttl_s;
	uint32_t keylen;
	uint64_t when_ms;		/* CLOCK_MONOTONIC, at the worker */
	uint64_t key[FC_SESSION_KEY_MAX / 8];
};

/*
 * A worker's ring, written only by that worker: records [tail, head) are
 * pending, tail being the checker's (struct fc_shm_ring_cons), in a page the
 * worker cannot write.  Indices count records forever; slot = i % ring_slots.
 */
struct fc_shm_ring {
	uint64_t head;			/* records published (release) */
	uint64_t pushed;
	uint64_t dropped;		/* ring full: not learned */
	uint64_t rejected;		/* empty or longer than FC_SESSION_KEY_MAX */
	uint8_t reserved[32];
	struct fc_shm_ring_rec rec[];	/* ring_slots */
};

struct fc_shm_ring_cons {
	uint64_t tail;			/* records consumed (release) */
	uint8_t reserved[56];
};

_Static_assert(sizeof(struct fc_shm_header) == FC_SHM_PAGE, "header is one page");
_Static_assert(sizeof(struct fc_shm_sessions) == 64, "sessions block");
_Static_assert(sizeof(struct fc_shm_session) == 192, "session entry");
_Static_assert(sizeof(struct fc_shm_ring_rec) == 152, "ring record");
_Static_assert(sizeof(struct fc_shm_ring) == 64, "ring head is one cache line");
_Static_assert(sizeof(struct fc_shm_ring_cons) == 64, "read index is one cache line");
_Static_assert(FC_SHM_MAX_WORKERS * sizeof(struct fc_shm_ring_cons) == FC_SHM_PAGE,
    "the read indices fill one page");
_Static_assert(sizeof(struct fc_shm_ha) == 64, "ha block");
_Static_assert(sizeof(struct fc_shm_ha_rings) == 64, "ha rings block");
_Static_assert(sizeof(struct fc_shm_ha_peer) == 64, "ha peer slot");
_Static_assert(sizeof(struct fc_shm_ha_lease) == 32, "ha lease slot");
_Static_assert(sizeof(struct fc_shm_ha_mesh) == 1088, "ha mesh block");
_Static_assert(sizeof(struct fc_shm_split_peer) == 24, "split-brain peer");
_Static_assert(sizeof(struct fc_tls_tickets) == 256, "ticket keys");
_Static_assert(sizeof(struct fc_shm_server) % 64 == 0, "servers are cache-line sized");
_Static_assert(sizeof(struct fc_shm_server) == 384, "server size");
_Static_assert(sizeof(struct fc_shm_srv_counters) == 64, "counters are one cache line");
_Static_assert(sizeof(struct fc_shm_worker) == 256, "worker block head");
_Static_assert(sizeof(struct fc_shm_listener) == 128, "listener entry");
_Static_assert(sizeof(struct fc_shm_backend) == 128, "backend entry");
_Static_assert(sizeof(struct fc_shm_rr) == 64, "rr is one cache line");
_Static_assert(sizeof(struct fc_shm_rate) == 32, "rate entry");
_Static_assert(sizeof(struct fc_shm_tls_counters) == 64, "TLS counters are one cache line");

/* The lists leave no counter out. */
#define FC_SHM_SRV_SIZE_(f, ...)	+ sizeof(((struct fc_shm_srv_counters *)0)->f)
#define FC_SHM_WORKER_SIZE_(f, ...)	+ sizeof(((struct fc_shm_worker *)0)->f)
#define FC_SHM_TLS_SIZE_(f, ...)	+ sizeof(((struct fc_shm_tls_counters *)0)->f)
_Static_assert(0 FC_SHM_SRV_COUNTERS(FC_SHM_SRV_SIZE_) ==
    sizeof(struct fc_shm_srv_counters), "FC_SHM_SRV_COUNTERS lists every field");
_Static_assert(0 FC_SHM_WORKER_COUNTERS(FC_SHM_WORKER_SIZE_) ==
    offsetof(struct fc_shm_worker, errors) - offsetof(struct fc_shm_worker, cur_conns),
    "FC_SHM_WORKER_COUNTERS lists every field from cur_conns to errors");
_Static_assert(0 FC_SHM_TLS_COUNTERS(FC_SHM_TLS_SIZE_) ==
    offsetof(struct fc_shm_tls_counters, failures),
    "FC_SHM_TLS_COUNTERS lists every field before failures");
#undef FC_SHM_SRV_SIZE_
#undef FC_SHM_WORKER_SIZE_
#undef FC_SHM_TLS_SIZE_

#endif
