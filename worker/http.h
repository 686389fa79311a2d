/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * HTTP/1.1 message heads (RFC 9112), parsed strictly, without copying.
 *
 * The parsers are stateless: they are called again on the whole head each
 * time more bytes arrive, and return the length of the head (including the
 * final CRLF CRLF) when it is complete, FC_HTTP_INCOMPLETE (-2) when more
 * bytes are needed, or FC_HTTP_ERROR (-1) for a malformed head; then
 * *status tells which answer fits (400, 414, 431 / 502).  Names and values
 * point into the caller's buffer.
 *
 * Bodies are framed, not copied: struct fc_chunked walks a chunked body as it
 * streams through and says where it ends.
 */
#ifndef FC_WORKER_HTTP_H
#define FC_WORKER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FC_HTTP_ERROR		(-1)
#define FC_HTTP_INCOMPLETE	(-2)
#define FC_HTTP_MAX_HEADERS	100

struct fc_http_header {
	const char *name;
	size_t name_len;
	const char *value;		/* leading and trailing blanks removed */
	size_t value_len;
};

enum fc_http_body {
	FC_BODY_NONE,			/* no body */
	FC_BODY_LENGTH,			/* content_length bytes */
	FC_BODY_CHUNKED,		/* Transfer-Encoding ends in chunked */
	FC_BODY_EOF,			/* response delimited by the server closing */
};

struct fc_http_msg {
	/* request line */
	const char *method;
	size_t method_len;
	const char *target;
	size_t target_len;
	/* status line */
	int status;
	const char *reason;
	size_t reason_len;
	/* both */
	int version_minor;		/* HTTP/1.0 or HTTP/1.1 */
	const char *first_line;		/* request or status line, without CRLF */
	size_t first_line_len;
	struct fc_http_header headers[FC_HTTP_MAX_HEADERS];
	size_t nheaders;
	/* what the head means for framing and the connection */
	enum fc_http_body body;
	uint64_t content_length;
	bool conn_close;		/* "Connection: close", or HTTP/1.0 without keep-alive */
	bool conn_keepalive;		/* "Connection: keep-alive" */
	bool expect_continue;		/* "Expect: 100-continue" */
	bool upgrade;			/* "Connection: upgrade" present */
	bool upgrade_websocket;		/* an Upgrade field lists "websocket" */
	int host;			/* index of the Host header, -1 if none */
	int conn_names;			/* the first Connection field naming other
				   fields (an option besides keep-alive and
				   upgrade), -1 if none */
};

/*
 * Parses a request head.  Malformed (*status = 400): a bad request line or
 * method, a version other than HTTP/1.0 or 1.1, a field name that is not a
 * token or is followed by whitespace, obs-fold, bare CR or LF, NUL or other
 * control bytes, both Content-Length and Transfer-Encoding, differing or
 * invalid Content-Lengths, a Transfer-Encoding that does not end in exactly
 * "chunked", a missing or repeated Host in HTTP/1.1, a case variant of HEAD
 * or CONNECT.  Well-formed but not passed on (*status = 501): CONNECT, a
 * Transfer-Encoding listing a coding before chunked.  A request line longer
 * than max_line gives 414, a head larger than max_head or with more than
 * FC_HTTP_MAX_HEADERS fields gives 431.
 */
int http_parse_request(const char *buf, size_t len, struct fc_http_msg *msg,
    size_t max_line, size_t max_head, int *status);

/*
 * Parses a response head, as strictly (*status = 502).  is_head_request and
 * the status code decide whether a body follows (RFC 9112 section 6.3).
 */
int http_parse_response(const char *buf, size_t len, struct fc_http_msg *msg,
    bool is_head_request, size_t max_head, int *status);

/* Case-insensitive search; returns the header index or -1. */
int http_find_header(const struct fc_http_msg *msg, const char *name, size_t from);
/*
 * Splits uri-host [":" port] (RFC 3986 section 3.2.2) of len bytes at a:
 * the host is the first *hostlen bytes (an IP-literal with its brackets),
 * *port -1 when absent.  0, or -1 when it is no valid authority.
 */
int http_split_authority(const char *a, size_t len, size_t *hostlen, long *port);
/* The request's Host name without its port; false when there is none. */
bool http_host_name(const struct fc_http_msg *m, const char **h, size_t *n);
/* True when the comma-separated value holds the token (case-insensitive). */
bool http_value_has_token(const char *value, size_t len, const char *token);
/* The same for a token of toklen bytes, not NUL-terminated. */
bool http_list_has(const char *value, size_t len, const char *token, size_t toklen);

/*
 * Walks a chunked body (RFC 9112 section 7.1), extensions and trailers
 * included.  A trailer field that frames, routes or manages the connection
 * (Content-Length, Transfer-Encoding, Host, Connection and the hop-by-hop
 * fields) makes the body malformed.
 */
struct fc_chunked {
	int state;
	uint64_t left;			/* data bytes left in the current chunk */
	size_t line;			/* bytes seen in the current size/trailer line */
	unsigned int tr_match;		/* forbidden trailer names the name may still be */
	bool done;			/* the last chunk and the trailers were seen */
};

void http_chunked_init(struct fc_chunked *c);
/*
 * Feeds len bytes of a chunked body.  Returns how many belong to the body
 * (fewer than len only when the body ended inside buf: c->done is then set),
 * or FC_HTTP_ERROR for a malformed body.  If data is not NULL, it is called
 * for each span of chunk data (decoded payload).
 */
ssize_t http_chunked_feed(struct fc_chunked *c, const char *buf, size_t len,
    void (*data)(void *arg, const char *p, size_t n), void *arg);

/*
 * The path and query of the request target: the target itself in
 * origin-form, what follows the authority in absolute-form (may be empty).
 */
void http_target_path(const struct fc_http_msg *m, const char **p, size_t *n);

#endif
