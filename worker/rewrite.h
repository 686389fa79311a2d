/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Head rewriting: the request and response heads as the other side gets
 * them -- hop-by-hop fields dropped (RFC 9110 section 7.6.1), framing
 * fields in one form, X-Forwarded-For, the persistence cookie stripped
 * from requests and set in responses, Connection for keep-alive or close.
 * The new head replaces the old one in place, in the channel's buffer.
 */
#ifndef FC_WORKER_REWRITE_H
#define FC_WORKER_REWRITE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/sbuf.h"

#include "worker/worker-t.h"

/*
 * Rewrites the request head m (hlen bytes at s->req's fwd).  Returns the
 * new head's length, or 0 when it does not fit (431).
 */
size_t rewrite_request(struct fc_stream *s, const struct fc_http_msg *m, size_t hlen);

/*
 * Rewrites the response head m (hlen bytes at s->rsp's fwd).  Returns the
 * new head's length, or 0 when it does not fit (502).
 */
size_t rewrite_response(struct fc_stream *s, const struct fc_http_msg *m, size_t hlen);

/*
 * The answer of a redirect route (rt->redirect): its status and Location,
 * into out.  Returns the status.
 */
int rewrite_redirect(const struct fc_http_msg *m, const struct fc_route *rt,
    bool keepalive, struct fc_sbuf *out);
/*
 * The answer to a request on a redirect_https listener: 301 to
 * https://HOST/TARGET (Host without its port; the path and query of an
 * absolute-form target), or 400 when the request names no host.  Returns
 * the status; the response is in out.
 */
int rewrite_redirect_https(const struct fc_http_msg *m, bool keepalive,
    struct fc_sbuf *out);

/* Removes the head of hlen bytes at ch's fwd (an interim response dropped). */
void rewrite_drop_head(struct fc_chan *ch, size_t hlen);

#endif
