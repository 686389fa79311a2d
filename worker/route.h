/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Where a request goes: a listener's routes, matched in order on the Host
 * (exact or "*." wildcard, case-insensitive, port ignored) and the path
 * prefix, the first match winning; else the listener's backend.
 */
#ifndef FC_WORKER_ROUTE_H
#define FC_WORKER_ROUTE_H

#include "conf/conf.h"
#include "worker/http.h"

/* The first route of l that m matches, or NULL. */
const struct fc_route *route_match(const struct fc_listener *l, const struct fc_http_msg *m);

/* Does host (hn bytes, no port) match pattern ("api.example.com", "*.example.org")? */
bool route_host_match(const char *pattern, const char *host, size_t hn);

#endif
