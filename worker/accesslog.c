/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * One access-log line per request, in HAProxy's "option httplog" field
 * order so that existing log tools (halog, goaccess, ...) read it:
 *
 *   client:port [accept date] listener listener/server TR/Tw/Tc/Tr/Ta
 *   status bytes - - termination actconn/feconn/beconn/srvconn/retries
 *   srv_queue/backend_queue "request line"
 *
 * Times are milliseconds (-1: that step did not happen).  The frontend is
 * the listener, the backend the one the request went to (the listener's
 * name when it went to none).  global.log.format = "json" writes the same
 * fields as one JSON object per line instead.
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

/*
 * Quotes the request line the way HAProxy does: '"' and '\' as #22, #5C,
 * and so bytes that are no printable ASCII: the line is then valid in a
 * JSON string as it is.
 */
static void quote(char *dst, size_t size, const char *src)
{
	size_t o = 0;

	for (; *src != '\0' && o + 4 < size; src++) {
		if (*src == '"' || *src == '\\' || (unsigned char)*src < 0x20 ||
		    (unsigned char)*src >= 0x7f)
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

/* One request's fields, for either format. */
struct entry {
	char host[FC_ADDRSTRLEN];
	int port;
	const char *date;
	int date_ms;
	const char *frontend, *backend, *server;
	long tr, tw, tc, tresp, ta;
	int status;
	unsigned long long bytes;
	char term[3];
	int actconn, feconn, beconn, srvconn, retries;
	char req[FC_LOGLINE * 3];
};

static void fill(struct entry *e, const struct fc_stream *s)
{
	const struct fc_txn *t = s->tx;
	const struct fc_listener *l = s->px->l;
	const struct fc_backend *be = t->be != NULL ? t->be->b : NULL;
	uint64_t now = ev_now_us(fc_w->ev);

	net_host_str(&s->peer.sa, e->host, sizeof(e->host));
	e->port = net_addr_port(&s->peer.sa);
	e->date = log_date((time_t)(s->accept_wall_us / 1000000));
	e->date_ms = (int)(s->accept_wall_us / 1000 % 1000);
	e->frontend = l->name;
	e->backend = be != NULL ? be->name : l->name;
	e->server = t->local ? t->local :
	    t->server >= 0 && be != NULL ? be->servers[t->server].name : "<NOSRV>";
	e->tr = ms_between(s->t_start, t->t_head);
	e->tw = 0;
	e->tc = ms_between(t->t_connect, t->t_connected);
	e->tresp = ms_between(t->t_connected, t->t_rsp);
	e->ta = ms_between(s->t_start, now);
	e->status = t->status ? t->status : -1;
	e->bytes = (unsigned long long)t->rsp.bytes;
	e->term[0] = t->term[0];
	e->term[1] = t->term[1];
	e->term[2] = '\0';
	e->actconn = fc_w->nconn;
	e->feconn = e->beconn = s->px->nconn;
	e->srvconn = t->server >= 0 && t->be != NULL ? t->be->srv[t->server].cur : 0;
	e->retries = t->retries;
	quote(e->req, sizeof(e->req), t->reqline != NULL ? t->reqline : "");
}

static int format_httplog(char *line, size_t size, const struct entry *e)
{
	return snprintf(line, size,
	    "%s:%d [%s.%03d] %s %s/%s "
	    "%ld/%ld/%ld/%ld/%ld %d %llu - - %c%c-- %d/%d/%d/%d/%d 0/0 \"%s\"",
	    e->host, e->port, e->date, e->date_ms, e->frontend, e->backend, e->server,
	    e->tr, e->tw, e->tc, e->tresp, e->ta, e->status, e->bytes,
	    e->term[0], e->term[1], e->actconn, e->feconn, e->beconn, e->srvconn,
	    e->retries, e->req);
}

/* The same fields, named as HAProxy's log-format variables say them. */
static int format_json(char *line, size_t size, const struct entry *e)
{
	return snprintf(line, size,
	    "{\"client_ip\":\"%s\",\"client_port\":%d,\"accept_date\":\"%s.%03d\","
	    "\"frontend\":\"%s\",\"backend\":\"%s\",\"server\":\"%s\","
	    "\"tr\":%ld,\"tw\":%ld,\"tc\":%ld,\"tresp\":%ld,\"ta\":%ld,"
	    "\"status\":%d,\"bytes_read\":%llu,\"termination_state\":\"%c%c--\","
	    "\"actconn\":%d,\"feconn\":%d,\"beconn\":%d,\"srv_conn\":%d,"
	    "\"retries\":%d,\"srv_queue\":0,\"backend_queue\":0,\"request\":\"%s\"}",
	    e->host, e->port, e->date, e->date_ms, e->frontend, e->backend, e->server,
	    e->tr, e->tw, e->tc, e->tresp, e->ta, e->status, e->bytes,
	    e->term[0], e->term[1], e->actconn, e->feconn, e->beconn, e->srvconn,
	    e->retries, e->req);
}

static void emit(const struct fc_stream *s)
{
	char line[2048];
	struct entry e;
	int n;

	if (!log_access_enabled())
		return;
	fill(&e, s);
	if (fc_w->conf->log.format == FC_LOG_JSON)
		n = format_json(line, sizeof(line), &e);
	else
		n = format_httplog(line, sizeof(line), &e);
	if (n > 0)
		log_access(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

struct fc_shm_srv_counters *accesslog_srv(const struct fc_be *be, int server)
{
	return &fc_w->blk->srv[be->srv_base + (uint32_t)server];
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
	struct fc_txn *t = s->tx;
	struct fc_shm_worker *w = fc_w->blk;

	if (t->logged)
		return;
	t->logged = true;
	shm_add(&w->requests, 1);
	shm_add(&w->bytes_in, t->cli_in);
	shm_add(&w->bytes_out, t->rsp.bytes);
	if (t->term[0] == 'C')
		accesslog_error(FC_ERR_CLI_ABORT);
	else if (t->term[0] == 'S' && t->term[1] == 'D')
		accesslog_error(FC_ERR_SRV_ABORT);
	if (t->server >= 0 && t->t_rsp != 0) {
		struct fc_shm_srv_counters *c = accesslog_srv(t->be, t->server);

		shm_add(&c->requests, 1);
		shm_add(&c->bytes_out, t->req.bytes);
		shm_add(&c->bytes_in, t->rsp.bytes);
	}
	emit(s);
}
