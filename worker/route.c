/* SPDX-License-Identifier: BSD-2-Clause */
/* Routes (route.h). */
#include "config.h"

#include <string.h>

#include "lib/str.h"
#include "worker/route.h"

bool route_host_match(const char *pattern, const char *host, size_t hn)
{
	size_t pn = strlen(pattern);

	/* A fully qualified "example.org." is the same name. */
	if (hn > 0 && host[hn - 1] == '.')
		hn--;
	if (strncmp(pattern, "*.", 2) != 0)
		return str_ieq(host, hn, pattern, pn);
	/* "*.example.org": one label or more before ".example.org". */
	pn--;
	return hn > pn && str_ieq(host + hn - pn, pn, pattern + 1, pn);
}

static bool prefix_match(const char *prefix, const struct fc_http_msg *m)
{
	const char *path;
	size_t n, pn = strlen(prefix);

	http_target_path(m, &path, &n);
	return n >= pn && memcmp(path, prefix, pn) == 0;
}

const struct fc_route *route_match(const struct fc_listener *l, const struct fc_http_msg *m)
{
	const char *host = NULL;
	size_t hn = 0;
	bool has_host = false, looked = false;

	for (int i = 0; i < l->nroutes; i++) {
		const struct fc_route *rt = &l->routes[i];

		if (rt->host != NULL) {
			if (!looked) {
				has_host = http_host_name(m, &host, &hn);
				looked = true;
			}
			if (!has_host || !route_host_match(rt->host, host, hn))
				continue;
		}
		if (rt->path_prefix != NULL && !prefix_match(rt->path_prefix, m))
			continue;
		return rt;
	}
	return NULL;
}
