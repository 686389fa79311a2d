/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The worker's types (functions are in each module's header).  A stream is
 * one client connection and, while a request is in flight, the server
 * connection serving it.  Each direction is a channel: one fixed-size
 * buffer whose first `fwd` bytes are cleared to be sent on, so heads are
 * rewritten in place and bodies pass through without copies beyond the
 * kernel's.  Every connection reads and writes through its transport
 * (worker/xprt.h): plain TCP or TLS.
 *
 * Two queues, not to be confused: the run queue holds streams with work
 * left over for the next loop pass (stream.c); a proxy's server queue
 * holds streams waiting for a server below its maxconn (backend.c).
 */
#ifndef FC_WORKER_WORKER_T_H
#define FC_WORKER_WORKER_T_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf/conf.h"
#include "lib/ev.h"
#include "lib/net.h"
#include "lib/sbuf.h"
#include "shm/shm.h"
#include "worker/balance.h"
#include "worker/cookie.h"
#include "worker/http.h"

#define FC_BUFSZ	16384
#define FC_REWRITE	1024		/* room kept for head rewrites */
#define FC_MAX_LINE	8192		/* request line: 414 above */

_Static_assert(FC_LIMIT_LINE_MAX == FC_MAX_LINE, "limits.request_line ceiling");
_Static_assert(FC_LIMIT_HEAD_MAX == FC_BUFSZ - FC_REWRITE, "limits.header_size ceiling");
_Static_assert(FC_LIMIT_HEADERS_MAX == FC_HTTP_MAX_HEADERS, "limits.headers ceiling");
#define FC_LOGLINE	512		/* request line kept for the log */

struct fc_buf {
	size_t start, end;
	char data[FC_BUFSZ];
};

struct fc_stream;
struct fc_proxy;
struct fc_be;
struct fc_xprt;
struct ssl_session_st;

/*
 * A connection; server connections outlive streams in the idle pool.
 * rd and wr are the socket's edge-triggered readiness: set by events,
 * cleared by the transport when the socket has no more to give or take.
 * A transport may wait on the other direction (TLS reading needs to
 * write during a handshake): recv_waits_wr, send_waits_rd (xprt.h).
 */
struct fc_conn {
	struct fc_ev_io io;
	const struct fc_xprt *xprt;	/* how bytes cross the socket */
	void *xctx;			/* the transport's state; plain TCP: none */
	struct fc_stream *s;		/* NULL: idle server connection */
	struct fc_proxy *px;		/* a client's listener */
	struct fc_be *be;		/* a server's backend */
	int server;			/* server index in be, -1 for clients */
	bool rd : 1, wr : 1;		/* edge-triggered readiness */
	bool recv_waits_wr : 1;		/* the transport's recv waits for wr */
	bool send_waits_rd : 1;		/* the transport's send waits for rd */
	bool eof : 1;			/* peer closed its side */
	bool hup : 1;			/* FIN or error announced: read to the end */
	bool connecting : 1;
	bool early_tried : 1;		/* a send before the connect completed */
	bool xdone : 1;			/* the transport's handshake is over (TLS) */
	bool xfailed : 1;		/* its failure is counted */
	bool xbroken : 1;		/* a fatal transport error: no close_notify */
	bool xdrained : 1, xfull : 1;	/* TLS: the socket found empty, full, in
					 * this call (xprt_tls.c's BIO) */
	bool more : 1;			/* the last bytes before a close: sent with
					 * MSG_MORE, flushed with the FIN (xprt.h) */
	unsigned char *pre;		/* a PROXY header to send first; NULL: none */
	uint8_t pre_len, pre_off;	/* its length, how much of it went out */
	struct fc_conn *prev, *next;	/* idle pool; freed-after-the-pass list */
	uint64_t idle_since;
};

/* CH_TUNNEL: a tunnel's direction (worker/tunnel.h), every byte goes on;
 * it is CH_DONE once its end was passed on. */
enum fc_chan_state { CH_HEAD, CH_BODY, CH_DONE, CH_TUNNEL };

struct fc_chan {
	struct fc_buf *buf;
	size_t fwd;			/* bytes from buf->start cleared to send */
	size_t sent;			/* of those, already sent but kept for a retry */
	bool keep;			/* keep sent bytes (request not answered yet) */
	enum fc_chan_state state;
	enum fc_http_body body;
	uint64_t left;			/* FC_BODY_LENGTH: bytes still to come */
	struct fc_chunked ck;
	uint64_t max_body;		/* chunked request: limits.body, 0: none */
	uint64_t decoded;		/* chunked data bytes seen, when max_body */
	uint64_t bytes;			/* bytes sent on, for the log */
	struct fc_pipe *pipe;		/* the body goes by splice (splice.h) */
};

/* A pipe a spliced body crosses (splice.h). */
struct fc_pipe {
	int fd[2];
	size_t len;			/* bytes in it */
	struct fc_pipe *next;		/* the worker's spare pipes */
};

/* Per-server state of one worker. */
struct fc_srv_rt {
	struct fc_conn *idle;		/* idle keep-alive connections, LIFO */
	struct fc_conn *idle_tail;	/* the coldest of them */
	int nidle;
	int cur;			/* streams using the server now */
	int maxconn;			/* this worker's share of its maxconn, 0: none */
	struct ssl_session_st *tls_sess;	/* TLS to the server: the last session,
						 * for the next connection to resume */
};

/* A listening socket and the listener it belongs to. */
struct fc_listen_io {
	struct fc_ev_io io;
	struct fc_proxy *px;
};

/* One listener as seen by one worker. */
struct fc_proxy {
	const struct fc_listener *l;
	int nconn, maxconn;
	int nfds;
	struct fc_listen_io *lio;	/* its listening sockets */
	bool paused;
	int index;			/* in conf->listeners */
	struct fc_shm_tls_counters *tls_ctr;	/* a TLS listener's, in this
						 * worker's block */
	bool *show_backend;		/* its stats page: the backends it uses */
};

/* One backend as seen by one worker. */
struct fc_be {
	const struct fc_backend *b;
	struct fc_lb lb;
	struct fc_srv_rt *srv;
	struct fc_stream *srvq_head, *srvq_tail;	/* the server queue, FIFO */
	int srvq_len;
	int index;			/* in conf->backends */
	uint32_t srv_base;		/* its first server in the shm table */
	bool *excluded;			/* scratch for each pick */
};

/*
 * What one transaction (a request and its response) needs, from its first
 * byte to its log line.  Taken from a pool when a request starts and given
 * back when the connection goes idle between requests (stream.c), as nginx
 * frees its request on keep-alive: an idle connection holds only its
 * stream.
 */
struct fc_txn {
	struct fc_be *be;		/* the transaction's backend; NULL: none yet */
	struct fc_conn *srv;
	struct fc_chan req, rsp;
	int server;
	int retries;			/* retries done */
	int srvq_want;			/* in the server queue for this server, -1: any */
	int status;
	int stick_server;		/* its learned session's server, -1: none */
	char term[3];			/* termination state, HAProxy letters */
	bool is_head : 1;		/* HEAD request: response has no body */
	bool cli_keepalive : 1, srv_keepalive : 1;
	bool req_http10 : 1;
	bool close_after : 1;		/* close the client when the response is out */
	bool body_unread : 1;		/* answered here, its body left in the socket */
	bool req_cut : 1;		/* the server stopped taking the request */
	bool rsp_started : 1;		/* response head sent to the client */
	bool srv_reused : 1;		/* server connection came from the idle pool */
	bool reuse_retried : 1;		/* the request was sent again once */
	bool logged : 1;
	bool sent_1xx : 1;		/* an interim response went to the client */
	bool idempotent : 1;		/* the method may be sent twice (RFC 9110 9.2.2) */
	bool in_srvq : 1;		/* in be's server queue: every usable server is full */
	bool dequeued : 1;		/* a server slot freed: connect on the next run */
	bool ws_asked : 1;		/* the request asks for a WebSocket tunnel */
	bool tunnel : 1;		/* a 101 granted it: bytes only (tunnel.h) */
	bool *tried;			/* servers tried; allocated on a first failure */
	struct fc_stream *srvq_next, *srvq_prev;
	struct fc_sbuf payload;		/* a response fulcrum makes itself (stats) */
	size_t payload_off;
	uint64_t cli_in;		/* bytes read from the client in this transaction */
	const char *local;		/* who answered it, for the log: "<STATS>" */
	struct fc_ck_req *ck;		/* what its persistence cookie says; pooled */
	uint64_t stick_hash;		/* of that session id: learned already */
	uint64_t t_head, t_connect, t_connected, t_rsp;	/* us */
	char *reqline;			/* for the log, FC_LOGLINE bytes; NULL: none yet */
};

/*
 * A client connection.  Between requests it holds no transaction (tx is
 * NULL) and no buffer: this is all an idle keep-alive connection costs.
 */
struct fc_stream {
	struct fc_proxy *px;
	struct fc_txn *tx;		/* the transaction in flight; NULL: idle */
	struct fc_conn cli;
	struct fc_ev_timer timer;
	uint64_t deadline;
	union fc_sockaddr peer;		/* the client: the socket's, or its PROXY header's */
	union fc_sockaddr dst;		/* where it connected: its PROXY header's, or
					 * getsockname() once needed; family 0: not yet */
	struct fc_stream *prev, *next;	/* all streams of the worker */
	struct fc_stream *runq_next;
	/* The next transaction's times start when the last one ended (or at
	 * the accept), idle time included, as they always have in the log. */
	uint64_t t_start;		/* us */
	uint64_t accept_wall_us;
	unsigned int ntxn;		/* transactions completed on this connection */
	bool dead : 1;
	bool lingering : 1;		/* waiting for the client to close */
	bool in_runq : 1;		/* in the run queue */
	bool await_proxy : 1;		/* accept_proxy: its PROXY header is not read yet */
};

/*
 * One stream per client connection, idle ones included: it fills
 * jemalloc's 256-byte class exactly (past it, 320), and bench/'s idle
 * memory per connection follows the class.  A field an idle connection
 * does not need goes in struct fc_txn, which only connections in a
 * transaction hold (a pool's block, reused without an allocator call).
 */
_Static_assert(sizeof(struct fc_stream) <= 256, "a stream fits jemalloc's 256-byte class");

/* Worker-wide context, set by worker_main() and read by every file of it. */
struct fc_worker {
	const struct fc_conf *conf;
	struct fc_ev *ev;
	struct fc_proxy *proxies;
	int nproxies;
	struct fc_be *backends;
	int nbackends;
	int max_servers;		/* of one backend: s->tried's size */
	int nconn, maxconn;
	int nidle;			/* idle server connections, all backends */
	int nsrv;			/* server connections open, idle ones too */
	int released;			/* connections closed since worker.c looked */
	bool draining;
	struct fc_shm *shm;
	int slot;			/* which worker: its block and session ring */
	struct fc_shm_worker *blk;	/* this worker's counters */
	struct fc_stream *streams;	/* live streams */
	struct fc_stream *graveyard;	/* freed after the loop pass */
	uint64_t last_event_us;		/* busy_poll_us: when the loop last had one */
};

extern struct fc_worker *fc_w;

#endif
