/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The statistics page of a listener (`stats = { uri; auth; refresh; }`):
 * an HTML page for people, ";csv" in HAProxy's column names for existing
 * tools, ";json", and the Prometheus text format at its own prometheus_uri.  The figures come from the shared-memory segment
 * through shm/report.h, so they are the ones fulcrum-stat prints.
 */
#ifndef FC_WORKER_STATS_H
#define FC_WORKER_STATS_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/conf.h"
#include "lib/sbuf.h"
#include "shm/shm.h"
#include "worker/http.h"

enum fc_stats_kind {
	FC_STATS_NONE, FC_STATS_HTML, FC_STATS_CSV, FC_STATS_JSON,
	FC_STATS_PROMETHEUS,		/* at stats.prometheus_uri */
};

/*
 * Is this request target the stats page of l?  l->stats.uri NULL: never.  The
 * path must equal stats.uri exactly; HAProxy's suffixes ";csv" and ";json" (after
 * the uri, e.g. "/fulcrum?stats;csv") select the format; anything else → NONE.
 * An absolute-form target ("http://host/fulcrum?stats") is matched on its path.
 * stats.prometheus_uri, with or without a query, is PROMETHEUS.
 */
enum fc_stats_kind stats_match(const struct fc_listener *l, const char *target, size_t len);

/*
 * Writes the whole HTTP/1.1 response (status line, headers, body) for req into
 * out and returns its status (200, 401, 405).  keepalive: whether to keep the
 * connection (adds Connection: close otherwise).  The request body, if any,
 * is not looked at: the caller discards it or closes the connection.
 */
int stats_respond(const struct fc_listener *l, int listener_index, const bool *show_backend,
    const struct fc_backend *backends, const struct fc_shm *shm,
    enum fc_stats_kind kind, const struct fc_http_msg *req, bool keepalive, struct fc_sbuf *out);

#endif
