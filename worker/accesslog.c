/*
 * One access-log line per request, in HAProxy's "option httplog" field
 * order so that existing log tools (halog, goaccess, ...) read it:
 *
 *   client:port [accept date] listener listener/server TR/Tw/Tc/Tr/Ta
 *   status bytes - - termination actconn/feconn/beconn/srvconn/retries
 *   srv_queue/backend_queue "request line"
 *
 * Times are milliseconds (-1: that step did not happen).  fulcrum has no
 * separate frontend and backend, so the listener name stands for both.
 */
#include "config.h"

#include <stdio.h>
#include <time.h>

#include "lib/log.h"
#include "lib/net.h"
#include "worker/stream.h"

static long ms_between(uint64_t from_us, uint64_t to_us)
{
	if (from_us == 0 || to_us == 0 || to_us < from_us)
		return -1;
	return (long)((to_us - from_us) / 1000);
}

/* Quotes the request line the way HAProxy does: '"' and '\' as #22, #5C. */
static void quote(char *dst, size_t size, const char *src)
{
	size_t o = 0;

	for (; *src != '\0' && o + 4 < size; src++) {
		if (*src == '"' || *src == '\\' || (unsigned char)*src < 0x20)
			o += (size_t)snprintf(dst + o, size - o, "#%02X", (unsigned char)*src);
		else
			dst[o++] = *src;
	}
	dst[o] = '\0';
}

/*
 * "25/Nov/2026:11:22:33" for a time in seconds: localtime_r() takes a lock
 * and walks the zone rules, so the text is made once per second, not once
 * per request.
 */
static const char *log_date(time_t secs)
{
	static const char *mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	static time_t cached = -1;
	static char text[32];
	struct tm tm;

	if (secs != cached) {
		localtime_r(&secs, &tm);
		snprintf(text, sizeof(text), "%02d/%s/%04d:%02d:%02d:%02d", tm.tm_mday,
		    mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
		cached = secs;
	}
	return text;
}

void accesslog_emit(const struct fc_stream *s)
{
	const struct fc_listener *l = s->px->l;
	char line[1024], host[FC_ADDRSTRLEN], req[FC_LOGLINE * 3];
	uint64_t now = ev_now_us(fc_w->ev);
	int n;

	if (!log_access_enabled())
		return;
	net_host_str(&s->peer.sa, host, sizeof(host));
	quote(req, sizeof(req), s->reqline != NULL ? s->reqline : "");
	n = snprintf(line, sizeof(line),
	    "%s:%d [%s.%03d] %s %s/%s "
	    "%ld/%d/%ld/%ld/%ld %d %llu - - %c%c-- %d/%d/%d/%d/%d 0/0 \"%s\"",
	    host, net_addr_port(&s->peer.sa),
	    log_date((time_t)(s->accept_wall_us / 1000000)),
	    (int)(s->accept_wall_us / 1000 % 1000),
	    l->name, l->name, s->local ? s->local :
	    s->server >= 0 ? l->servers[s->server].name : "<NOSRV>",
	    ms_between(s->t_start, s->t_head), 0,
	    ms_between(s->t_connect, s->t_connected),
	    ms_between(s->t_connected, s->t_rsp),
	    ms_between(s->t_start, now),
	    s->status ? s->status : -1, (unsigned long long)s->rsp.bytes,
	    s->term[0], s->term[1],
	    fc_w->nconn, s->px->nconn, s->px->nconn,
	    s->server >= 0 ? s->px->srv[s->server].cur : 0, s->retries, req);
	if (n > 0)
		log_access(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}
