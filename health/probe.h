/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One health probe of one server, for the checker (health.c): a
 * non-blocking TCP connect, a TLS handshake for a server with "tls" (the
 * certificate verified as the workers do), and, for an HTTP check, one
 * request and its status line, the whole bounded by the check's timeout.  However it ends,
 * the outcome comes back once through the probe's done() callback, with
 * the fd already closed.
 */
#ifndef FC_HEALTH_PROBE_H
#define FC_HEALTH_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf.h"
#include "lib/ev.h"
#include "shm/shm-t.h"

#define PROBE_DESC_LEN	64	/* sizeof(struct fc_shm_server.check_desc) */
#define PROBE_BUF	512	/* a longer status line is a bad response */

struct probe_result {
	enum fc_check_result result;	/* >= FC_CHK_PASSED: healthy */
	int code;			/* HTTP status, -1 when none */
	uint32_t duration_ms;
	char desc[PROBE_DESC_LEN];	/* "HTTP 503 in 3 ms", "connection refused" */
};

struct probe {
	struct fc_ev_io io;		/* first member; fd -1 when idle */
	struct fc_ev_timer deadline;
	const struct fc_check *check;
	const struct fc_addr *addr;
	const struct fc_server_tls *tls;	/* NULL or not enabled: plain TCP */
	int send_proxy;			/* PROXY header version first, 0: none */
	struct ssl_st *ssl;		/* while a TLS probe runs */
	bool handshaken;
	const char *req;		/* the whole request; NULL: TCP check */
	size_t reqlen, sent;
	char buf[PROBE_BUF];		/* the response so far */
	size_t got;
	uint64_t start_us;		/* monotonic */
	bool connected;
	void (*done)(struct probe *p, const struct probe_result *r);
};

/*
 * The request an HTTP check sends to the server at host ("1.2.3.4:80"),
 * or NULL for a TCP check.  The caller frees it.
 */
char *probe_request(const struct fc_check *check, const char *host, size_t *len);

/*
 * Starts p, which must be idle and have check, addr, tls, req and done set.
 * done() may run before this returns (a connect that fails at once).
 */
void probe_start(struct fc_ev *ev, struct probe *p);
/* Ends a running probe without calling done(). */
void probe_cancel(struct fc_ev *ev, struct probe *p);

/*
 * Parses "HTTP/1.x NNN ...\r\n" at the start of buf.  Returns the length of
 * the line with its end, -2 while it is incomplete, -1 when it is not a
 * status line; sets *status on success.
 */
int probe_parse_status(const char *buf, size_t len, int *status);

#endif
