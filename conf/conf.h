/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The configuration: a libconfig file loaded into plain structs.
 *
 * conf_load() parses and validates the whole file, collecting every error as
 * "FILE:LINE: message" before refusing it, so an operator fixes them all in
 * one go.  The result is plain data: no pointers into libconfig remain, and
 * it can be handed to a forked child as it is.  Every default lives on
 * its key's row in the section's table (conf/global.c, listener.c, ha_section.c),
 * and in contrib/fulcrum.conf.
 */
#ifndef FC_CONF_H
#define FC_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/net.h"

#define FC_NAME_MAX	64	/* listener, server, cookie names: 1..63 bytes */
#define FC_IFNAME_MAX	16
#define FC_WORKERS_MAX	64
#define FC_STALL_MIN_MS	20	/* global.stall_ms, watchdog_ms: 0 or at least this */
#define FC_VIPS_MAX	16	/* ha.vips: what one VRRP advert carries here */
#define FC_AUTH_KEY_MIN	16	/* ha.auth_key: 16..64 bytes */
#define FC_AUTH_KEY_MAX	64	/* global.workers: 1..64, 0 in the file: one per CPU */

enum fc_balance {
	FC_BALANCE_ROUNDROBIN,	/* weighted, smooth */
	FC_BALANCE_LEASTCONN,	/* fewest active connections / weight */
	FC_BALANCE_SOURCE,	/* hash of the client address */
};

enum fc_cookie_mode {
	FC_COOKIE_NONE,
	FC_COOKIE_PREFIX,
	FC_COOKIE_INSERT,
	FC_COOKIE_REWRITE,
};

struct fc_timeouts {		/* milliseconds */
	int connect;
	int client;
	int server;
	int http_request;
	int queue;
	int tunnel;		/* a WebSocket tunnel's idle time */
};

/*
 * What a request may hold before it is refused (issue 7): a longer request
 * line gets 414, a larger head or more header fields 431, a larger body
 * 413.  The head must fit in one buffer, hence header_size's ceiling.
 */
#define FC_LIMIT_LINE_MAX	8192
#define FC_LIMIT_HEAD_MAX	15360	/* FC_BUFSZ - FC_REWRITE (worker/worker-t.h) */
#define FC_LIMIT_HEADERS_MAX	100	/* FC_HTTP_MAX_HEADERS (worker/http.h) */

struct fc_limits {
	int request_line;		/* bytes, without CRLF */
	int header_size;		/* bytes of the whole head */
	int headers;			/* header fields */
	long long body;			/* bytes, 0: no limit */
};

/*
 * TLS (conf/tls.c).  The certificates and keys are read while the file is:
 * a missing, unreadable or mismatched one is an error at its line, and
 * the contexts are ready when conf_load() returns, for the forked workers
 * (and the checker) to use as they are.
 */
enum fc_verify {
	FC_VERIFY_NONE,
	FC_VERIFY_OPTIONAL,		/* asked for, checked, not required */
	FC_VERIFY_REQUIRED,
};

struct ssl_ctx_st;			/* OpenSSL's SSL_CTX */
struct fc_tls_sni;			/* conf/tls.c: the certificates by name */

struct fc_tls {				/* a listener's "tls" */
	bool enabled;			/* the group is there: HTTPS */
	char **certs;			/* PEM files: chain, then key */
	int ncerts;
	int min_version;		/* TLS1_2_VERSION or TLS1_3_VERSION */
	char *ciphers;			/* TLS 1.2 */
	char *ciphersuites;		/* TLS 1.3 */
	char **alpn;
	int nalpn;
	char *client_ca;		/* NULL: none */
	enum fc_verify verify_client;
	bool ktls;
	struct ssl_ctx_st *ctx;		/* the default certificates' context; the
					 * others are chosen by SNI */
	struct fc_tls_sni *sni;
};

struct fc_server_tls {			/* a server's "tls": fulcrum is the client */
	bool enabled;
	char *ca;			/* NULL: the system's default paths */
	char *sni;			/* NULL: none sent */
	bool verify;
	struct ssl_ctx_st *ctx;
};

struct fc_server {
	char name[FC_NAME_MAX];
	struct fc_addr addr;
	char addr_text[FC_ADDRSTRLEN];	/* as written in the file */
	int weight;			/* 0..256, 0: no new traffic */
	int maxconn;			/* 0: unlimited */
	bool check;
	char cookie[FC_NAME_MAX];	/* default: the server's name */
	bool backup;			/* traffic only when every other server is DOWN */
	int slowstart;			/* ms of weight ramp after DOWN->UP, 0: none */
	struct fc_server_tls tls;
	int send_proxy;			/* PROXY header version: 0 none, 1, 2 */
	int line;
};

struct fc_check {
	char *request;			/* "HEAD /check.txt HTTP/1.0"; NULL: TCP check */
	int expect_status;		/* 0: any 2xx/3xx */
	int interval, timeout;		/* ms */
	int rise, fall;
};

struct fc_cookie {
	char name[FC_NAME_MAX];
	enum fc_cookie_mode mode;	/* FC_COOKIE_NONE: no persistence */
	bool indirect, nocache, httponly, secure;
	char *domain;			/* NULL: none */
	int maxidle, maxlife;		/* seconds, 0: none */
};

/*
 * Learned sessions (shm/session.c): a backend's Set-Cookie of `cookie`
 * teaches the session id -> server mapping, kept in shared memory.  For
 * applications whose cookie cannot be touched (PHPSESSID).
 */
struct fc_stick {
	char cookie[FC_NAME_MAX];	/* "": no "stick" group, no learning */
	int expire;			/* seconds since last seen */
	int size;			/* entries this listener adds to the table */
};

struct fc_stats {
	char *uri;			/* NULL: no stats page */
	char *prometheus_uri;		/* NULL: no metrics page */
	char **auth;			/* "user:password" */
	int nauth;
	int refresh;			/* seconds, 0: no auto refresh */
};

/*
 * A pool of servers and how requests are spread over them: an entry of
 * "backends", or a listener's own "servers" (a backend named after the
 * listener, whose balance, check, cookie and stick it takes).
 */
struct fc_backend {
	char name[FC_NAME_MAX];
	enum fc_balance balance;
	struct fc_check check;
	struct fc_cookie cookie;
	struct fc_stick stick;
	struct fc_server *servers;
	int nservers;
	int listener;			/* whose own servers these are; -1: "backends" */
	int line;
	const char *file;		/* its file while the file is read (forget_files) */
};

/*
 * A listener's route: a request whose Host and path match goes to a
 * backend, or gets a redirect.  Both tests are optional.
 */
#define FC_ROUTE_HOST_MAX	253
struct fc_route {
	char *host;			/* lower case; "*.x" matches any y.x; NULL: any */
	char *path_prefix;		/* NULL: any */
	char backend_name[FC_NAME_MAX];
	int backend;			/* index in conf->backends; -1: a redirect */
	char *redirect;			/* target the rest of the path is appended to */
	int code;			/* 301, 302, 303, 307, 308 */
	int line;
	const char *file;		/* its file while the file is read (forget_files) */
};

/* request_headers, response_headers: applied in this order, del then set. */
struct fc_hdr_set {
	char *name, *value;
};

struct fc_hdr_rules {
	struct fc_hdr_set *set;		/* replaces every occurrence */
	int nset;
	char **del;			/* removes every occurrence */
	int ndel;
};

/* Per client address, nginx's limit_req: `requests` per `per_ms`, `burst` more at once. */
struct fc_rate_limit {
	bool enabled;
	int requests;
	int per_ms;
	int burst;
};

struct fc_listener {
	char name[FC_NAME_MAX];
	struct fc_addr *binds;
	char (*bind_text)[FC_ADDRSTRLEN];
	int nbinds;
	bool forwardfor;
	bool forwardfor_replace;	/* drop the client's X-Forwarded-For, not append */
	bool httpclose;
	bool accept_proxy;		/* a PROXY header (v1 or v2) starts every
					 * connection: its client is the client */
	int retries;
	int maxconn;
	struct fc_timeouts timeout;
	struct fc_limits limits;
	struct fc_stats stats;
	struct fc_tls tls;
	bool redirect_https;		/* every request: 301 to https:// */
	struct fc_route *routes;
	int nroutes;
	int backend;			/* when no route matches; -1: none (503) */
	char backend_name[FC_NAME_MAX];	/* as written ("backend"); "": none */
	struct fc_hdr_rules req_headers, rsp_headers;
	struct fc_rate_limit rate_limit;
	/* While the file is read: its own servers, balance, check, cookie
	 * and stick, moved to conf->backends once every section is read. */
	struct fc_backend own;
	int line;
	const char *file;		/* its file while the file is read (forget_files) */
};

struct fc_vip {
	struct fc_addr addr;
	int prefixlen;
};

enum fc_ha_mode {
	FC_HA_VRRP = 0,			/* one master, elected (the default) */
	FC_HA_ANYCAST = 1,		/* every healthy node holds the vips */
};

/* ha.sync: the TCP channels between the nodes' ha processes (ha/sync.c). */
#define FC_SYNC_MAX_PEERS	8	/* IPv4 entries of ha.peers with sync */
struct fc_ha_sync {
	bool enabled;			/* the "sync" group is present */
	int port;			/* TCP, both nodes listen on it */
	int interval_ms;		/* liveness probes; 3 missed: the peer is dead */
};

struct fc_ha {
	bool enabled;			/* the "ha" section is present */
	enum fc_ha_mode mode;
	char interface[FC_IFNAME_MAX];
	int vrid;			/* 1..255 */
	int priority;			/* 1..254 */
	int advert_ms;			/* multiple of 10 */
	bool preempt;
	bool track_proxy;
	struct fc_vip *vips;
	int nvips;
	struct fc_addr *peers;		/* empty: multicast 224.0.0.18 */
	int npeers;
	bool has_unicast_src;
	struct fc_addr unicast_src;	/* advert source; default: the interface's
					 * first IPv4 address that is not a VIP */
	int garp_count;			/* gratuitous ARP rounds on becoming master */
	int garp_repeat_ms;		/* between two rounds */
	char *notify;			/* run as "notify STATE VRID PRIORITY"; NULL: none */
	char *auth_key;			/* HMAC-SHA256 key (fulcrum extension); NULL: plain VRRPv3 */
	struct fc_ha_sync sync;		/* needs unicast peers and auth_key */
};

enum fc_log_format {
	FC_LOG_HTTPLOG,			/* HAProxy's httplog line */
	FC_LOG_JSON,			/* one JSON object, the same fields */
};

struct fc_log {
	bool enabled;			/* "log" present: access log on */
	int facility;			/* LOG_LOCAL0 ... */
	char *address;			/* syslog socket path, default "/dev/log" */
	bool udp;			/* address was "udp://HOST[:PORT]": udp_addr */
	struct fc_addr udp_addr;
	enum fc_log_format format;
};

struct fc_conf {
	char *path;			/* real path of the file */
	/* global */
	char *user, *group;		/* NULL: no privilege drop */
	int workers;			/* 0 in the file: one per CPU; resolved here */
	int maxconn;			/* per process (all workers) */
	char *pidfile;			/* NULL: none */
	char *chroot;			/* the workers' root; NULL: none */
	int drain_timeout;		/* ms, graceful stop / reload */
	int busy_poll_us;		/* workers poll this long after an event, 0: off */
	int stall_ms;			/* no heartbeat this long: no new connections, 0: off */
	int watchdog_ms;		/* no heartbeat this long: worker killed, 0: off */
	struct fc_log log;
	/* listeners, with "defaults" applied */
	struct fc_listener *listeners;
	int nlisteners;
	/* "backends", then the listeners' own servers, in the file's order */
	struct fc_backend *backends;
	int nbackends;
	struct fc_ha ha;
};

/*
 * Loads and validates path.  On success returns a configuration the caller
 * frees with conf_free().  On failure returns NULL and sets *errors to every
 * error found, one "FILE:LINE: message" per line, which the caller frees.
 */
struct fc_conf *conf_load(const char *path, char **errors);
void conf_free(struct fc_conf *conf);

/* Do two "ha" sections say the same (a reload need not restart the ha process)? */
bool conf_ha_equal(const struct fc_ha *a, const struct fc_ha *b);

#endif
