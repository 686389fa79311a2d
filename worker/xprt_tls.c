/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * TLS, the second transport (xprt.h), with OpenSSL on the connection's
 * non-blocking socket: the listener's side (fulcrum terminates HTTPS) and
 * the server's (fulcrum is the client).  The handshake is not a phase of
 * its own: the first SSL_read (or SSL_write) drives it, and its
 * SSL_ERROR_WANT_READ/WRITE become the connection's readiness flags, so a
 * handshake waits in the event loop like any read and never stalls the
 * other clients.
 *
 * Batching as plain TCP does: one call reads up to the room the caller
 * gives (OpenSSL hands out a record at a time, read-ahead fills its buffer
 * with what the socket has) and writes all it is given until the socket is
 * full, instead of one record per pass.  And the same syscall rule: the
 * socket sits under a BIO of ours that notes a short read (the socket is
 * empty) or a short write (it is full), so the next attempt in the same
 * call answers "retry" without the recv() or send() that would only say
 * EAGAIN.  kTLS needs OpenSSL's own socket BIO: tls.ktls listeners keep it.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "lib/clock.h"
#include "lib/log.h"
#include "lib/net.h"
#include "lib/tls.h"
#include "shm/access.h"
#include "worker/xprt.h"

/* ------------------------------------------------------ counting */

static struct fc_shm_tls_counters *counters(const struct fc_conn *c)
{
	return c->px->tls_ctr;
}

/* The first handshake failure of a listener's connection, by reason. */
static void count_failure(struct fc_conn *c, enum fc_tls_fail why)
{
	if (c->xdone || c->xfailed || c->server >= 0)
		return;
	c->xfailed = true;
	shm_add(&counters(c)->failures[why], 1);
}

/*
 * A server connection's session, for the next connection to that server
 * to resume (TLS 1.2: at the end of the handshake; 1.3: once its ticket
 * came, seen when the connection closes).
 */
static void keep_session(struct fc_conn *c, SSL *ssl)
{
	struct fc_srv_rt *rt = &c->be->srv[c->server];
	SSL_SESSION *sess = SSL_get1_session(ssl);

	if (sess == NULL)
		return;
	if (!SSL_SESSION_is_resumable(sess)) {
		SSL_SESSION_free(sess);
		return;
	}
	SSL_SESSION_free(rt->tls_sess);
	rt->tls_sess = sess;
}

/* tls.ktls asked for, and the kernel or the cipher said no: say so once. */
static void ktls_check(const struct fc_conn *c, SSL *ssl)
{
	static bool said;

	if (said || !c->px->l->tls.ktls || BIO_get_ktls_send(SSL_get_wbio(ssl)))
		return;
	said = true;
	log_notice("listener \"%s\": tls.ktls is on but the kernel does not take"
	    " this connection's records (no \"tls\" module, or the cipher): OpenSSL"
	    " does the record layer", c->px->l->name);
}

static void count_done(struct fc_conn *c, SSL *ssl)
{
	c->xdone = true;
	if (c->server >= 0) {
		keep_session(c, ssl);
		return;
	}
	shm_add(&counters(c)->handshakes, 1);
	ktls_check(c, ssl);
	if (SSL_session_reused(ssl))
		shm_add(&counters(c)->resumed, 1);
}

/* Why a handshake failed, from OpenSSL's reason code. */
static enum fc_tls_fail failure_of(unsigned long e)
{
	switch (ERR_GET_REASON(e)) {
	case SSL_R_UNSUPPORTED_PROTOCOL:
	case SSL_R_VERSION_TOO_LOW:
	case SSL_R_NO_SHARED_CIPHER:
	case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
	case SSL_R_NO_SHARED_GROUPS:
	case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
		return FC_TLS_FAIL_VERSION;
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
	case SSL_R_CERTIFICATE_VERIFY_FAILED:
	case SSL_R_NO_CERTIFICATES_RETURNED:
		return FC_TLS_FAIL_CERT;
	case SSL_R_UNEXPECTED_EOF_WHILE_READING:
		return FC_TLS_FAIL_ABORT;
	case SSL_R_HTTP_REQUEST:
	case SSL_R_HTTPS_PROXY_REQUEST:
	case SSL_R_WRONG_VERSION_NUMBER:
	case SSL_R_PACKET_LENGTH_TOO_LONG:
	case SSL_R_RECORD_LENGTH_MISMATCH:
	case SSL_R_UNEXPECTED_MESSAGE:
	case SSL_R_UNEXPECTED_RECORD:
	case SSL_R_LENGTH_MISMATCH:
	case SSL_R_BAD_PACKET_LENGTH:
	case SSL_R_ENCRYPTED_LENGTH_TOO_LONG:
	case SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC:
		return FC_TLS_FAIL_PROTOCOL;
	default:
		return ERR_GET_LIB(e) == ERR_LIB_SSL ? FC_TLS_FAIL_PROTOCOL : FC_TLS_FAIL_OTHER;
	}
}

/*
 * A failed handshake, logged at most once a minute per worker: a port on
 * the internet sees scanners all day, and the counters say how many.
 */
static void log_failure(const struct fc_conn *c, unsigned long e)
{
	static uint64_t last_ms;
	uint64_t now = clock_mono_ms();
	char buf[256];

	if (c->server >= 0 || (last_ms != 0 && now - last_ms < 60000))
		return;
	last_ms = now;
	ERR_error_string_n(e, buf, sizeof(buf));
	log_notice("listener \"%s\": TLS handshake failed (%s); more are counted,"
	    " not logged, for a minute", c->px->l->name, buf);
}

/* ------------------------------------------------------ the socket */

static BIO_METHOD *bio_conn;

static int conn_bio_read(BIO *b, char *buf, size_t len, size_t *got)
{
	struct fc_conn *c = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	if (c->xdrained && !c->hup) {
		BIO_set_retry_read(b);
		return 0;
	}
	if ((n = recv(c->io.fd, buf, len, 0)) > 0) {
		*got = (size_t)n;
		c->xdrained = (size_t)n < len;
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		c->xdrained = true;
		BIO_set_retry_read(b);
	}
	return 0;			/* no retry flag: an EOF or an error */
}

/*
 * TLS 1.3 sends the session ticket as soon as the client's Finished is
 * read.  When the client's first request came with that Finished (read-ahead
 * holds it), a response is on its way: the ticket waits for it (MSG_MORE)
 * and both leave in one segment: a segment and a wake-up of the client fewer
 * per handshake.  The response's send, the FIN or the client's next segment
 * (TCP_NODELAY) pushes it, and a server slower than about 200 ms finds it
 * gone: the kernel sends held data when its probe timer fires.  Only during
 * the handshake: a response held for a pipelined request's server would
 * wait for that server.
 */
static bool ticket_waits(const struct fc_conn *c)
{
	/* xdone first: after the handshake, no call into OpenSSL per write. */
	return c->server < 0 && !c->xdone && !SSL_is_init_finished(c->xctx) &&
	    SSL_has_pending(c->xctx);
}

static int conn_bio_write(BIO *b, const char *buf, size_t len, size_t *put)
{
	struct fc_conn *c = BIO_get_data(b);
	ssize_t n;
	int pre;
	bool more;

	BIO_clear_retry_flags(b);
	if (c->xfull) {
		BIO_set_retry_write(b);
		return 0;
	}
	/* A PROXY header goes before the ClientHello: it is plain text. */
	if (c->pre != NULL && (pre = xprt_send_pre(c)) <= 0) {
		c->xfull = pre == 0;
		if (pre == 0)
			BIO_set_retry_write(b);
		return 0;
	}
	more = c->more || ticket_waits(c);
	if ((n = send(c->io.fd, buf, len, MSG_NOSIGNAL | (more ? MSG_MORE : 0))) >= 0) {
		*put = (size_t)n;
		c->xfull = (size_t)n < len;
		return 1;
	}
	if (errno == EAGAIN || errno == EINTR) {
		c->xfull = true;
		BIO_set_retry_write(b);
	}
	return 0;
}

static long conn_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b, (void)num, (void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int conn_bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

/* The socket of c as OpenSSL's BIO: ours, or OpenSSL's for kTLS. */
static int bio_attach(SSL *ssl, struct fc_conn *c, bool ktls)
{
	BIO *b;

	if (ktls)
		return SSL_set_fd(ssl, c->io.fd) == 1 ? 0 : -1;
	if (bio_conn == NULL) {
		if ((bio_conn = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
		    "fulcrum connection")) == NULL)
			return -1;
		BIO_meth_set_read_ex(bio_conn, conn_bio_read);
		BIO_meth_set_write_ex(bio_conn, conn_bio_write);
		BIO_meth_set_ctrl(bio_conn, conn_bio_ctrl);
		BIO_meth_set_create(bio_conn, conn_bio_create);
	}
	if ((b = BIO_new(bio_conn)) == NULL)
		return -1;
	BIO_set_data(b, c);
	SSL_set_bio(ssl, b, b);
	return 0;
}

/* ------------------------------------------------------ the calls */

/*
 * SSL_get_error's verdict as the connection's state: 0 when the call must
 * wait for readiness (cleared here), -1 when the connection is over
 * (c->eof set).  reading: the call was SSL_read.
 */
static ssize_t io_error(struct fc_conn *c, SSL *ssl, int r, bool reading)
{
	unsigned long e;

	/* The handshake this call finished comes before its end: one read can
	 * bring the client's Finished, its request and its FIN. */
	if (!c->xdone && SSL_is_init_finished(ssl))
		count_done(c, ssl);
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_READ:
		c->rd = false;
		if (!reading)
			c->send_waits_rd = true;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		c->wr = false;
		if (reading)
			c->recv_waits_wr = true;
		return 0;
	case SSL_ERROR_ZERO_RETURN:		/* close_notify */
		c->eof = true;
		count_failure(c, FC_TLS_FAIL_ABORT);
		return 0;
	case SSL_ERROR_SYSCALL:		/* our BIO says EAGAIN as WANT_*: an EOF */
		c->eof = true;
		c->xbroken = true;
		count_failure(c, FC_TLS_FAIL_ABORT);
		return c->xdone && reading ? 0 : -1;
	default:
		e = ERR_peek_last_error();
		c->eof = true;
		c->xbroken = true;
		if (!c->xdone && !c->xfailed)
			log_failure(c, e);
		count_failure(c, failure_of(e));
		ERR_clear_error();
		/* A peer that closed without close_notify, once the
		 * handshake is done: an end of input like TCP's FIN. */
		return c->xdone && reading &&
		    ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING ? 0 : -1;
	}
}

/*
 * SSL_get_error() needs an empty error queue before each I/O call.  In
 * OpenSSL 3.0 ERR_clear_error() frees every slot's file and function
 * names, 32 free() calls even when the queue is empty: look first.
 */
static inline void err_reset(void)
{
	if (ERR_peek_error() != 0)
		ERR_clear_error();
}

static ssize_t tls_recv(struct fc_conn *c, void *buf, size_t len)
{
	SSL *ssl = c->xctx;
	size_t got = 0, n;
	ssize_t r = 0;

	c->xdrained = c->xfull = false;	/* what this call finds out */
	while (got < len) {
		err_reset();
		if (SSL_read_ex(ssl, (char *)buf + got, len - got, &n) != 1) {
			r = io_error(c, ssl, 0, true);
			break;
		}
		c->recv_waits_wr = false;
		got += n;
		/* The socket was emptied and OpenSSL holds nothing more:
		 * as raw TCP's short read, readiness waits for an event. */
		if (c->xdrained && !c->hup && !SSL_has_pending(ssl)) {
			c->rd = false;
			break;
		}
	}
	if (!c->xdone && SSL_is_init_finished(ssl))
		count_done(c, ssl);
	if (got > 0)
		return (ssize_t)got;	/* an error is seen again by the next call */
	return r;
}

static ssize_t tls_send(struct fc_conn *c, const void *buf, size_t len)
{
	SSL *ssl = c->xctx;
	size_t done = 0, n;
	ssize_t r = 0;

	c->xdrained = c->xfull = false;
	while (done < len) {
		err_reset();
		if (SSL_write_ex(ssl, (const char *)buf + done, len - done, &n) != 1) {
			r = io_error(c, ssl, 0, false);
			break;
		}
		c->send_waits_rd = false;
		done += n;
	}
	if (!c->xdone && SSL_is_init_finished(ssl))
		count_done(c, ssl);
	if (done > 0)
		return (ssize_t)done;
	return r;
}

/*
 * close_notify: once, never after a broken session, best effort (a full
 * socket loses it; the peer then sees the TCP FIN alone).  Without it a
 * client cannot tell our end of the data from a truncation attack.
 */
static void close_notify(struct fc_conn *c, SSL *ssl)
{
	if (c->xbroken || !c->xdone || (SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN))
		return;
	ERR_clear_error();
	c->xfull = false;
	SSL_shutdown(ssl);
	ERR_clear_error();
}

static int tls_shutw(struct fc_conn *c)
{
	close_notify(c, c->xctx);
	return shutdown(c->io.fd, SHUT_WR);
}

/*
 * A handshake still going when its connection is closed ran out of time
 * (timeout.http_request) or met a drain: counted as a timeout.  A server
 * connection leaves its session to the next one to that server.
 */
static void tls_close(struct fc_conn *c)
{
	SSL *ssl = c->xctx;

	if (ssl != NULL) {
		count_failure(c, FC_TLS_FAIL_TIMEOUT);
		close_notify(c, ssl);
		if (c->more)
			xprt_flush_fin(c);
		if (c->server >= 0 && c->xdone && !c->xbroken)
			keep_session(c, ssl);
		SSL_free(ssl);
		c->xctx = NULL;
	}
	if (c->io.fd >= 0)
		close(c->io.fd);
	c->io.fd = -1;
}

const struct fc_xprt xprt_tls = {
	.name = "tls",
	.recv = tls_recv,
	.send = tls_send,
	.shutw = tls_shutw,
	.close = tls_close,
};

/* ------------------------------------------------------ setting up */

int xprt_tls_accept(struct fc_conn *c, struct ssl_ctx_st *ctx)
{
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL || bio_attach(ssl, c, c->px->l->tls.ktls) < 0) {
		SSL_free(ssl);
		ERR_clear_error();
		return -1;
	}
	SSL_set_accept_state(ssl);
	c->xprt = &xprt_tls;
	c->xctx = ssl;
	return 0;
}

int xprt_tls_connect(struct fc_conn *c)
{
	const struct fc_server *sv = &c->be->b->servers[c->server];
	SSL_SESSION *sess = c->be->srv[c->server].tls_sess;
	SSL *ssl = SSL_new(sv->tls.ctx);
	char ip[FC_ADDRSTRLEN];

	net_host_str((const struct sockaddr *)&sv->addr.ss, ip, sizeof(ip));
	if (ssl == NULL || bio_attach(ssl, c, false) < 0 ||
	    tls_client_setup(ssl, -1, sv->tls.sni, ip, sv->tls.verify) < 0) {
		SSL_free(ssl);
		ERR_clear_error();
		return -1;
	}
	if (sess != NULL)
		SSL_set_session(ssl, sess);
	c->xprt = &xprt_tls;
	c->xctx = ssl;
	return 0;
}

const char *xprt_tls_client_verify(const struct fc_conn *c)
{
	SSL *ssl = c->xctx;

	if (c->xprt != &xprt_tls || ssl == NULL)
		return NULL;
	if (SSL_get0_peer_certificate(ssl) == NULL)
		return "NONE";
	return SSL_get_verify_result(ssl) == X509_V_OK ? "SUCCESS" : "FAILED";
}
