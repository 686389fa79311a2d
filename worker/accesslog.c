/* SPDX-License-Identifier: BSD-2-Clause */
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
 *
 * The counters of the worker's shm block are kept here too: a transaction
 * is counted when it is logged, errors when they are answered.
 */
#include "config.h"

#include <stdio.h>
#include <time.h>

#include "lib/log.h"
#include "lib/net.h"
#include "worker/accesslog.h"

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

static void emit(const struct fc_stream *s)
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

struct fc_shm_srv_counters *accesslog_srv(const struct fc_proxy *px, int server)
{
	return &fc_w->blk->srv[px->srv_base + (uint32_t)server];
}

void accesslog_error(enum fc_err_kind kind)
{
	shm_add(&fc_w->blk->errors[kind], 1);
}

void accesslog_status_error(int status)
{
	switch (status) {
	case 408: accesslog_error(FC_ERR_REQ_TIMEOUT); break;
	case 500: accesslog_error(FC_ERR_INTERNAL); break;
	case 502: accesslog_error(FC_ERR_BADRESP); break;
	case 503: accesslog_error(FC_ERR_NOSRV); break;
	case 504: accesslog_error(FC_ERR_SRV_TIMEOUT); break;
	default: accesslog_error(FC_ERR_BADREQ);
	}
}

void accesslog_txn(struct fc_stream *s)
{
	struct fc_shm_worker *w = fc_w->blk;

	if (s->logged)
		return;
	s->logged = true;
	shm_add(&w->requests, 1);
	shm_add(&w->bytes_in, s->cli_in);
	shm_add(&w->bytes_out, s->rsp.bytes);
	if (s->term[0] == 'C')
		accesslog_error(FC_ERR_CLI_ABORT);
	else if (s->term[0] == 'S' && s->term[1] == 'D')
		accesslog_error(FC_ERR_SRV_ABORT);
	if (s->server >= 0 && s->t_rsp != 0) {
		struct fc_shm_srv_counters *c = accesslog_srv(s->px, s->server);

		shm_add(&c->requests, 1);
		shm_add(&c->bytes_out, s->req.bytes);
		shm_add(&c->bytes_in, s->rsp.bytes);
	}
	emit(s);
}
