/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The statistics page of a listener: matching its URI, basic authentication,
 * and the HTML page.  ";csv" and ";json" are rendered by shm/report.c, which
 * fulcrum-stat uses too, so every view of the instance shows the same
 * figures; only the HTML, meant for people, is written here.
 *
 * Every response is built whole in an sbuf (the page is a few kB per server)
 * and is never cached: the figures are only true at the instant they are read.
 */
#include "config.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "lib/clock.h"
#include "lib/str.h"
#include "shm/report.h"
#include "worker/stats.h"

/*
 * Credentials are compared as fixed-size, zero-padded buffers, so the time
 * taken does not depend on where they differ nor on their lengths.  A
 * configured "user:password" longer than this can never log in.
 */
#define CRED_MAX	512
#define B64_MAX		(4 * ((CRED_MAX + 2) / 3))
#define REALM		"fulcrum statistics"
#define CHECKER_STALE_MS 3000	/* heartbeat older than this: checker not running */

/* ------------------------------------------------------------ matching */

/* The path of an absolute-form target ("http://host/x" → "/x"), else target. */
static const char *target_path(const char *t, size_t *len)
{
	size_t skip, i;

	if (str_iprefix(t, *len, "http://"))
		skip = 7;
	else if (str_iprefix(t, *len, "https://"))
		skip = 8;
	else
		return t;
	for (i = skip; i < *len && t[i] != '/'; i++)
		;
	*len -= i;
	return t + i;
}

/* A scraper may add parameters of its own ("/metrics?name[]=x"): ignored. */
static bool is_prometheus(const char *uri, const char *path, size_t len)
{
	size_t n;

	if (uri == NULL)
		return false;
	n = strlen(uri);
	return len >= n && memcmp(path, uri, n) == 0 && (len == n || path[n] == '?');
}

enum fc_stats_kind stats_match(const struct fc_listener *l, const char *target, size_t len)
{
	const char *uri = l->stats.uri, *rest;
	size_t ulen, rlen;

	if (uri == NULL)
		return FC_STATS_NONE;
	target = target_path(target, &len);
	if (is_prometheus(l->stats.prometheus_uri, target, len))
		return FC_STATS_PROMETHEUS;
	ulen = strlen(uri);
	if (len < ulen || memcmp(target, uri, ulen) != 0)
		return FC_STATS_NONE;
	rest = target + ulen;
	rlen = len - ulen;
	if (rlen == 0)
		return FC_STATS_HTML;
	if (rlen == 4 && memcmp(rest, ";csv", 4) == 0)
		return FC_STATS_CSV;
	if (rlen == 5 && memcmp(rest, ";json", 5) == 0)
		return FC_STATS_JSON;
	return FC_STATS_NONE;
}

/* ---------------------------------------------------------------- auth */

static bool b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/*
 * Decodes standard padded base64 into out (CRED_MAX bytes); returns the
 * length or -1.  EVP_DecodeBlock alone is too lenient for this: it takes '='
 * anywhere as a zero sextet and counts the padding as zero bytes of output,
 * so the shape is checked here and the padding subtracted.
 */
static int b64_decode(const char *in, size_t len, unsigned char *out)
{
	unsigned char tmp[B64_MAX];
	size_t i, pad = 0;
	int n;

	if (len == 0 || len % 4 != 0 || len > B64_MAX)
		return -1;
	if (in[len - 1] == '=')
		pad = in[len - 2] == '=' ? 2 : 1;
	for (i = 0; i < len - pad; i++)
		if (!b64_char(in[i]))
			return -1;
	n = EVP_DecodeBlock(tmp, (const unsigned char *)in, (int)len);
	if (n < 0 || (size_t)n < pad || (size_t)n - pad > CRED_MAX) {
		OPENSSL_cleanse(tmp, sizeof(tmp));
		return -1;
	}
	n -= (int)pad;
	memcpy(out, tmp, (size_t)n);
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return n;
}

/* 1 when x == 0, else 0, without a branch. */
static unsigned int ct_is_zero(size_t x)
{
	return (unsigned int)(1 ^ ((x | (0 - x)) >> (sizeof(x) * 8 - 1)));
}

/*
 * Compares the given credential with every configured one, all the way
 * through (no early exit on a match), each over CRED_MAX bytes.
 */
static bool cred_valid(const struct fc_stats *st, const unsigned char *got, size_t glen)
{
	unsigned char given[CRED_MAX], want[CRED_MAX];
	unsigned int match = 0;
	size_t wlen;
	int i;

	memset(given, 0, sizeof(given));
	memcpy(given, got, glen);
	for (i = 0; i < st->nauth; i++) {
		if (st->auth[i] == NULL)
			continue;
		wlen = strnlen(st->auth[i], CRED_MAX + 1);
		memset(want, 0, sizeof(want));
		memcpy(want, st->auth[i], wlen < CRED_MAX ? wlen : CRED_MAX);
		match |= ct_is_zero((wlen ^ glen) |
		    (size_t)CRYPTO_memcmp(want, given, CRED_MAX));
	}
	OPENSSL_cleanse(given, sizeof(given));
	OPENSSL_cleanse(want, sizeof(want));
	return match != 0;
}

/* "Authorization: Basic <base64>" holding one of the configured credentials. */
static bool authorized(const struct fc_stats *st, const struct fc_http_msg *req)
{
	unsigned char cred[CRED_MAX];
	const char *v;
	size_t vlen, i;
	int h, n;
	bool ok;

	if (st->nauth == 0)
		return true;
	h = http_find_header(req, "Authorization", 0);
	if (h < 0 || http_find_header(req, "Authorization", (size_t)h + 1) >= 0)
		return false;		/* none, or ambiguous */
	v = req->headers[h].value;
	vlen = req->headers[h].value_len;
	if (vlen < 6 || !str_iprefix(v, vlen, "Basic") || v[5] != ' ')
		return false;
	for (i = 5; i < vlen && v[i] == ' '; i++)
		;
	if ((n = b64_decode(v + i, vlen - i, cred)) < 0)
		return false;
	ok = cred_valid(st, cred, (size_t)n);
	OPENSSL_cleanse(cred, sizeof(cred));
	return ok;
}

/* ------------------------------------------------------------ response */

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 401: return "Unauthorized";
	case 405: return "Method Not Allowed";
	default: return "Error";
	}
}

/* An IMF-fixdate, without strftime: its names depend on the locale. */
static void put_date(struct fc_sbuf *out)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t now = time(NULL);
	struct tm tm;

	if (gmtime_r(&now, &tm) == NULL)
		return;
	sbuf_printf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * The status line and headers every answer carries; extra is more header
 * lines (each ending in CRLF) or "".  The body is the caller's.
 */
static void put_head(struct fc_sbuf *out, int status, const char *ctype, size_t clen,
    const char *extra, const struct fc_http_msg *req, bool keepalive)
{
	sbuf_printf(out, "HTTP/1.1 %d %s\r\n", status, reason(status));
	put_date(out);
	sbuf_printf(out, "Content-Type: %s\r\nContent-Length: %zu\r\n", ctype, clen);
	sbuf_printf(out, "%s", extra);
	sbuf_printf(out, "Cache-Control: no-cache, no-store, must-revalidate\r\n"
	    "Pragma: no-cache\r\nExpires: 0\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; "
	    "frame-ancestors 'none'\r\n");
	if (!keepalive)
		sbuf_printf(out, "Connection: close\r\n");
	else if (req->version_minor == 0)	/* 1.0 closes unless told */
		sbuf_printf(out, "Connection: keep-alive\r\n");
	sbuf_printf(out, "\r\n");
}

static bool is_head(const struct fc_http_msg *req)
{
	return req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0;
}

static bool is_get(const struct fc_http_msg *req)
{
	return req->method_len == 3 && memcmp(req->method, "GET", 3) == 0;
}

static int respond(struct fc_sbuf *out, int status, const char *ctype,
    const struct fc_sbuf *body, const char *extra, const struct fc_http_msg *req,
    bool keepalive)
{
	put_head(out, status, ctype, body->len, extra, req, keepalive);
	if (!is_head(req) && body->len > 0)
		sbuf_put(out, body->p, body->len);
	return status;
}

/* 401 and 405: a short page saying why. */
static int respond_refusal(struct fc_sbuf *out, int status, const char *extra, const char *why,
    const struct fc_http_msg *req, bool keepalive)
{
	struct fc_sbuf body = { 0 };

	sbuf_printf(&body, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<title>%d %s</title></head>\n<body><h1>%d %s</h1>\n<p>%s</p></body></html>\n",
	    status, reason(status), status, reason(status), why);
	respond(out, status, "text/html; charset=utf-8", &body, extra, req, keepalive);
	sbuf_free(&body);
	return status;
}

/* ---------------------------------------------------------- formatting */

/*
 * Appends a NUL-padded field of the segment (size bytes at most, maybe being
 * rewritten by the checker as we read), HTML-escaped; control bytes become
 * '?' so that a torn or odd string cannot break the page.
 */
static void put_field(struct fc_sbuf *b, const char *s, size_t size)
{
	char tmp[256];
	size_t i, n = size < sizeof(tmp) - 1 ? size : sizeof(tmp) - 1;

	for (i = 0; i < n && s[i] != '\0'; i++)
		tmp[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	tmp[i] = '\0';
	sbuf_put_html(b, tmp);
}

/* "3d 4h", "4h 12m", "12m 5s", "5s", "250 ms": the two largest units. */
static void fmt_dur(char *buf, size_t len, uint64_t us)
{
	uint64_t s = us / 1000000;

	if (s >= 86400)
		snprintf(buf, len, "%" PRIu64 "d %" PRIu64 "h", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, len, "%" PRIu64 "h %" PRIu64 "m", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, len, "%" PRIu64 "m %" PRIu64 "s", s / 60, s % 60);
	else if (s >= 1)
		snprintf(buf, len, "%" PRIu64 "s", s);
	else
		snprintf(buf, len, "%" PRIu64 " ms", us / 1000);
}

/* How long ago then was (wall clock, µs); 0 means never. */
static void put_ago(struct fc_sbuf *b, uint64_t now, uint64_t then)
{
	char d[32];

	if (then == 0) {
		sbuf_printf(b, "never");
		return;
	}
	fmt_dur(d, sizeof(d), then < now ? now - then : 0);
	sbuf_printf(b, "%s ago", d);
}

/* A byte count in a numeric cell: binary units, the exact figure on hover. */
static void td_bytes(struct fc_sbuf *b, uint64_t v)
{
	static const char units[] = "KMGTPE";
	double d = (double)v;
	int u = -1;

	if (v < 1024) {
		sbuf_printf(b, "<td class=\"n\">%" PRIu64 " B</td>", v);
		return;
	}
	while (d >= 1024 && u < 5) {
		d /= 1024;
		u++;
	}
	sbuf_printf(b, "<td class=\"n\" title=\"%" PRIu64 " bytes\">%.1f %ciB</td>",
	    v, d, units[u]);
}

static void td_num(struct fc_sbuf *b, uint64_t v)
{
	sbuf_printf(b, "<td class=\"n\">%" PRIu64 "</td>", v);
}

/* ---------------------------------------------------------------- page */

static const char page_css[] =
	"body{font:14px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;"
	"margin:1.5em;color:#1f2328;background:#f6f8fa}\n"
	"h1{font-size:1.6em;margin:0 0 .2em}h1 small{font-weight:normal;color:#59636e}\n"
	"h2{font-size:1.15em;margin:1.4em 0 .5em}\n"
	".inst{margin:0;color:#454c54}.inst b{color:#1f2328;font-weight:600}\n"
	".inst .bad{color:#c62828;font-weight:600}\n"
	"table{border-collapse:collapse;background:#fff;box-shadow:0 1px 3px rgba(0,0,0,.12)}\n"
	"th,td{padding:.3em .65em;border:1px solid #d8dee4;white-space:nowrap;"
	"text-align:left}\n"
	"thead th{background:#e9edf1;font-weight:600}\n"
	"td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
	"td.st{font-weight:700;text-align:center}td.st small{display:block;font-weight:400}\n"
	"td.muted{color:#8c959f}\n"
	"tr.up{background:#eefaf0}tr.up td.st{background:#2e9e44;color:#fff}\n"
	"tr.up-going-down{background:#f6fcf7}\n"
	"tr.up-going-down td.st{background:#9ed8a8;color:#143d1c}\n"
	"tr.down{background:#fdeceb}tr.down td.st{background:#d93025;color:#fff}\n"
	"tr.down-going-up{background:#fef6f5}\n"
	"tr.down-going-up td.st{background:#f2a7a1;color:#5c1510}\n"
	"tr.maint{background:#e8f0fe}tr.maint td.st{background:#1a73e8;color:#fff}\n"
	"tr.drain{background:#fff8e1}tr.drain td.st{background:#f9a825;color:#fff}\n"
	"tfoot td{font-weight:600;background:#eef1f4}\n"
	".legend{margin:.6em 0;color:#454c54}.legend span{display:inline-block;padding:0 .5em;"
	"margin-right:.4em;border-radius:3px}\n"
	".legend .up{background:#2e9e44;color:#fff}.legend .up-going-down{background:#9ed8a8}\n"
	".legend .down{background:#d93025;color:#fff}\n"
	".legend .down-going-up{background:#f2a7a1}\n"
	".legend .maint{background:#1a73e8;color:#fff}"
	".legend .drain{background:#f9a825;color:#fff}\n"
	"footer{margin-top:1.5em;color:#59636e}a{color:#0969da}\n";

static void html_head(struct fc_sbuf *b, const struct fc_listener *l)
{
	sbuf_printf(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
	if (l->stats.refresh > 0)
		sbuf_printf(b, "<meta http-equiv=\"refresh\" content=\"%d\">\n",
		    l->stats.refresh);
	sbuf_printf(b, "<title>fulcrum \xe2\x80\x94 ");
	sbuf_put_html(b, l->name);
	sbuf_printf(b, "</title>\n<style>\n%s</style>\n</head>\n<body>\n", page_css);
	sbuf_printf(b, "<header>\n<h1>fulcrum <small>\xe2\x80\x94 listener ");
	sbuf_put_html(b, l->name);
	sbuf_printf(b, "</small></h1>\n");
}

/* An enabled block's state; a value out of the enum (a torn or odd write): "?". */
static const char *ha_state_name(uint32_t state)
{
	const char *name = report_ha_state_name(state);

	return name != NULL ? name : "?";
}

static void html_ha(struct fc_sbuf *b, const struct fc_report *r)
{
	const struct fc_shm_ha *ha = &r->shm->hdr->ha;
	char peer[INET_ADDRSTRLEN];
	uint32_t addr;

	if (!shm_load(&ha->enabled)) {
		sbuf_printf(b, " \xc2\xb7 HA <b>off</b>");
		return;
	}
	sbuf_printf(b, " \xc2\xb7 HA <b>%s</b> since ", ha_state_name(shm_load(&ha->state)));
	put_ago(b, r->now_us, shm_load(&ha->since_us));
	sbuf_printf(b, " (VRID %" PRIu32 ", priority %" PRIu32 ")",
	    shm_load(&ha->vrid), shm_load(&ha->priority));
	addr = shm_load(&ha->peer_addr);
	if (addr != 0 && inet_ntop(AF_INET, &addr, peer, sizeof(peer)) != NULL) {
		sbuf_printf(b, ", peer %s priority %" PRIu32 " seen ", peer,
		    shm_load(&ha->peer_priority));
		put_ago(b, r->now_us, shm_load(&ha->peer_seen_us));
	}
}

static void html_checker(struct fc_sbuf *b, const struct fc_report *r)
{
	const struct fc_shm_header *h = r->shm->hdr;
	int32_t pid = shm_load(&h->checker_pid);
	uint64_t beat = shm_load(&h->checker_heartbeat_ms);

	if (pid <= 0 || beat == 0 || r->now_mono_ms > beat + CHECKER_STALE_MS)
		sbuf_printf(b, " \xc2\xb7 checker <span class=\"bad\">not running</span>");
	else
		sbuf_printf(b, " \xc2\xb7 checker pid <b>%" PRId32 "</b>", pid);
}

/* One line about the instance: version, pid, uptime, workers, generation, HA. */
static void html_instance(struct fc_sbuf *b, const struct fc_report *r)
{
	const struct fc_shm_header *h = r->shm->hdr;
	uint64_t start = shm_load(&h->start_us);
	char up[32];

	fmt_dur(up, sizeof(up), start != 0 && start < r->now_us ? r->now_us - start : 0);
	sbuf_printf(b, "<p class=\"inst\">version <b>");
	put_field(b, h->fulcrum_version, sizeof(h->fulcrum_version));
	sbuf_printf(b, "</b> \xc2\xb7 pid <b>%" PRId32 "</b> \xc2\xb7 up <b>%s</b>"
	    " \xc2\xb7 workers alive <b%s>%d/%" PRIu32 "</b>"
	    " \xc2\xb7 generation <b>%" PRIu32 "</b>",
	    shm_load(&h->master_pid), up,
	    (uint32_t)r->workers_alive < h->nworkers ? " class=\"bad\"" : "",
	    r->workers_alive, h->nworkers, shm_load(&h->generation));
	html_checker(b, r);
	html_ha(b, r);
	sbuf_printf(b, "</p>\n</header>\n");
}

/*
 * The row class and, for a checked server between two states, how far it
 * is: "UP" with failed checks not yet `fall` of them is going down, "DOWN"
 * with good checks not yet `rise` of them is going up (as HAProxy's "UP 1/3").
 */
static const char *state_class(const struct fc_report_server *rs, const struct fc_check *ck,
    char *note, size_t len)
{
	const struct fc_shm_server *sv = rs->shm;
	uint32_t result = shm_load(&sv->check_result);
	uint32_t count = shm_load(&sv->check_count);
	bool checked = shm_load(&sv->checked) != 0;

	note[0] = '\0';
	switch (rs->state) {
	case FC_SRV_UP:
		if (checked && result != FC_CHK_NONE && result < FC_CHK_PASSED &&
		    count < (uint32_t)ck->fall) {
			snprintf(note, len, "going down %" PRIu32 "/%d", count, ck->fall);
			return "up-going-down";
		}
		return "up";
	case FC_SRV_DOWN:
		if (checked && result >= FC_CHK_PASSED && count < (uint32_t)ck->rise) {
			snprintf(note, len, "going up %" PRIu32 "/%d", count, ck->rise);
			return "down-going-up";
		}
		return "down";
	case FC_SRV_DRAIN:
		return "drain";
	default:
		return "maint";
	}
}

static void html_table_head(struct fc_sbuf *b)
{
	sbuf_printf(b, "<table>\n<thead>\n<tr><th rowspan=\"2\">Server</th>"
	    "<th rowspan=\"2\">Address</th><th rowspan=\"2\">State</th>"
	    "<th rowspan=\"2\">Last change</th><th rowspan=\"2\">Weight</th>"
	    "<th colspan=\"5\">Last check</th><th colspan=\"2\">Connections</th>"
	    "<th rowspan=\"2\">Requests</th><th colspan=\"2\">Bytes</th>"
	    "<th colspan=\"3\">Errors</th></tr>\n"
	    "<tr><th>Result</th><th>Code</th><th>Time</th><th>Detail</th><th>When</th>"
	    "<th>Current</th><th>Total</th><th>In</th><th>Out</th>"
	    "<th>Connect</th><th>Response</th><th>Retries</th></tr>\n</thead>\n<tbody>\n");
}

static void html_check_cells(struct fc_sbuf *b, const struct fc_report *r,
    const struct fc_shm_server *sv)
{
	uint32_t result = shm_load(&sv->check_result);
	int32_t code = shm_load(&sv->check_code);

	if (!shm_load(&sv->checked)) {
		sbuf_printf(b, "<td colspan=\"5\" class=\"muted\">not checked</td>");
		return;
	}
	sbuf_printf(b, "<td title=\"%" PRIu64 " checks, %" PRIu64 " failed\">",
	    shm_load(&sv->checks), shm_load(&sv->check_failures));
	sbuf_put_html(b, report_check_name(result));
	sbuf_printf(b, "</td>");
	if (code >= 0)
		sbuf_printf(b, "<td class=\"n\">%" PRId32 "</td>", code);
	else
		sbuf_printf(b, "<td></td>");
	if (result != FC_CHK_NONE)
		sbuf_printf(b, "<td class=\"n\">%" PRIu32 " ms</td>",
		    shm_load(&sv->check_duration_ms));
	else
		sbuf_printf(b, "<td></td>");
	sbuf_printf(b, "<td>");
	put_field(b, sv->check_desc, sizeof(sv->check_desc));
	sbuf_printf(b, "</td><td>");
	put_ago(b, r->now_us, shm_load(&sv->last_check_us));
	sbuf_printf(b, "</td>");
}

/* The HTML shows bytes in binary units: its own cells, not the counter lists. */
static void html_counter_cells(struct fc_sbuf *b, const struct fc_shm_srv_counters *c)
{
	td_num(b, c->cur_conns);
	td_num(b, c->total_conns);
	td_num(b, c->requests);
	td_bytes(b, c->bytes_in);
	td_bytes(b, c->bytes_out);
	td_num(b, c->conn_errors);
	td_num(b, c->resp_errors);
	td_num(b, c->retries);
}

static void html_server_row(struct fc_sbuf *b, const struct fc_report *r,
    const struct fc_report_server *rs, const struct fc_listener *l,
    const struct fc_backend *backends)
{
	const struct fc_shm_server *sv = rs->shm;
	/* The segment is this generation's: its backends are our config's. */
	const struct fc_backend *be = &backends[sv->backend_index];
	char note[48];
	const char *cls = state_class(rs, &be->check, note, sizeof(note));

	sbuf_printf(b, "<tr class=\"%s\"><td>", cls);
	if (strncmp(sv->backend, l->name, sizeof(sv->backend)) != 0) {
		put_field(b, sv->backend, sizeof(sv->backend));	/* a shared backend */
		sbuf_printf(b, "/");
	}
	put_field(b, sv->name, sizeof(sv->name));
	sbuf_printf(b, "</td><td>");
	put_field(b, sv->address, sizeof(sv->address));
	sbuf_printf(b, "</td><td class=\"st\">");
	sbuf_put_html(b, report_state_name(rs->state));
	if (note[0] != '\0')
		sbuf_printf(b, " <small>%s</small>", note);
	sbuf_printf(b, "</td><td>");
	put_ago(b, r->now_us, shm_load(&sv->last_change_us));
	sbuf_printf(b, "</td>");
	td_num(b, shm_load(&sv->eweight));	/* ramping up in slow start */
	html_check_cells(b, r, sv);
	html_counter_cells(b, &rs->sum);
	sbuf_printf(b, "</tr>\n");
}

/* The servers of the backends listener li uses, one row each, and a row of totals. */
static void html_servers(struct fc_sbuf *b, const struct fc_report *r,
    const struct fc_listener *l, const struct fc_backend *backends)
{
	struct fc_shm_srv_counters tot = { 0 };
	uint32_t i, n = r->nservers;
	int shown = 0, up = 0;
	uint64_t weight = 0;

	sbuf_printf(b, "<h2>Servers</h2>\n");
	html_table_head(b);
	for (i = 0; i < n; i++) {
		const struct fc_report_server *rs = &r->servers[i];

		uint32_t bi = rs->shm->backend_index;

		if (r->show_backend != NULL && (bi >= r->nbackends || !r->show_backend[bi]))
			continue;
		html_server_row(b, r, rs, l, backends);
		report_sum_counters(&tot, &rs->sum);
		weight += shm_load(&rs->shm->eweight);
		up += rs->state >= FC_SRV_UP;
		shown++;
	}
	if (shown == 0)
		sbuf_printf(b, "<tr><td colspan=\"18\" class=\"muted\">no servers</td></tr>\n");
	sbuf_printf(b, "</tbody>\n<tfoot>\n<tr><td colspan=\"2\">Total: %d server%s</td>"
	    "<td class=\"st\">%d/%d UP</td><td></td>", shown, shown == 1 ? "" : "s", up, shown);
	td_num(b, weight);
	sbuf_printf(b, "<td colspan=\"5\"></td>");
	html_counter_cells(b, &tot);
	sbuf_printf(b, "</tr>\n</tfoot>\n</table>\n");
	sbuf_printf(b, "<p class=\"legend\"><span class=\"up\">UP</span>"
	    "<span class=\"up-going-down\">UP, going down</span>"
	    "<span class=\"down\">DOWN</span>"
	    "<span class=\"down-going-up\">DOWN, going up</span>"
	    "<span class=\"drain\">DRAIN</span>"
	    "<span class=\"maint\">MAINT</span></p>\n");
}

/*
 * The TLS handshakes of listener li, if it has TLS: completed, resumed,
 * failed, and the failures by reason.  A listener without TLS shows nothing.
 */
static void html_tls(struct fc_sbuf *b, const struct fc_report *r, int li)
{
	const struct fc_shm_tls_counters *c;
	int k;

	if (li < 0 || (uint32_t)li >= r->nlisteners || !r->listeners[li].tls)
		return;
	c = &r->listeners[li].sum;
	sbuf_printf(b, "<h2>TLS</h2>\n<table>\n<thead>\n<tr><th rowspan=\"2\">Handshakes</th>"
	    "<th rowspan=\"2\">Resumed</th><th colspan=\"%d\">Failed</th></tr>\n<tr>"
	    "<th>Total</th>", FC_TLS_FAIL_MAX + 1);
	for (k = 0; k < FC_TLS_FAIL_MAX; k++) {
		sbuf_printf(b, "<th>");
		sbuf_put_html(b, report_tls_fail_name(k));
		sbuf_printf(b, "</th>");
	}
	sbuf_printf(b, "</tr>\n</thead>\n<tbody><tr>");
	td_num(b, c->handshakes);
	td_num(b, c->resumed);
	td_num(b, report_tls_failures(c));
	for (k = 0; k < FC_TLS_FAIL_MAX; k++)
		td_num(b, c->failures[k]);
	sbuf_printf(b, "</tr></tbody>\n</table>\n");
}

/* The HA mode, its addresses and one row per sync peer (issue 21.2). */
static void html_ha_mesh(struct fc_sbuf *b, const struct fc_report *r)
{
	const struct fc_shm_header *h = r->shm->hdr;
	char text[INET6_ADDRSTRLEN + 8], addr[INET_ADDRSTRLEN];
	const char *name;

	if (!shm_load(&h->ha.enabled))
		return;
	sbuf_printf(b, "<h2>HA <small>(mode %s)</small></h2>\n<p>",
	    shm_load(&h->ha_mode) == FC_HA_ANYCAST ? "anycast" : "vrrp");
	for (uint32_t i = 0; i < report_ha_nleases(h); i++) {
		const struct fc_shm_ha_lease *l = &h->ha_mesh.lease[i];
		bool held = shm_load(&l->held) != 0;

		sbuf_printf(b, "%s", i > 0 ? " \xc2\xb7 " : "address ");
		sbuf_put_html(b, report_lease_text(l, text, sizeof(text)));
		sbuf_printf(b, " <b%s>%s</b>", held ? "" : " class=\"muted\"",
		    held ? "held" : "not held");
	}
	sbuf_printf(b, "</p>\n");
	if (report_ha_npeers(h) == 0)
		return;
	sbuf_printf(b, "<table>\n<thead>\n<tr><th>Peer</th><th>Channel</th><th>Since</th>"
	    "<th>Last frame</th><th>Sessions sent</th><th>Sessions received</th>"
	    "<th>Its state</th></tr>\n</thead>\n<tbody>\n");
	for (uint32_t i = 0; i < report_ha_npeers(h); i++) {
		const struct fc_shm_ha_peer *p = &h->ha_mesh.peer[i];
		uint32_t a = shm_load(&p->addr);
		uint32_t st = shm_load(&p->state);

		name = report_sync_state_name(st);
		sbuf_printf(b, "<tr class=\"%s\"><td>", st == FC_SYNC_UP ? "up" : "down");
		sbuf_put_html(b, inet_ntop(AF_INET, &a, addr, sizeof(addr)) ? addr : "?");
		sbuf_printf(b, "</td><td>");
		sbuf_put_html(b, name != NULL ? name : "?");
		sbuf_printf(b, "</td><td>");
		put_ago(b, r->now_us, shm_load(&p->since_us));
		sbuf_printf(b, "</td><td>");
		put_ago(b, r->now_us, shm_load(&p->frame_us));
		sbuf_printf(b, "</td>");
		td_num(b, shm_load(&p->sent));
		td_num(b, shm_load(&p->received));
		name = report_ha_state_name(shm_load(&p->ha_state));
		sbuf_printf(b, "<td>");
		sbuf_put_html(b, name != NULL ? name : "-");
		sbuf_printf(b, "</td></tr>\n");
	}
	sbuf_printf(b, "</tbody>\n</table>\n");
}

/* Client side, summed over the workers: the whole instance, every listener. */
static void html_clients(struct fc_sbuf *b, const struct fc_report *r)
{
	int k;

	sbuf_printf(b, "<h2>Clients <small>(all listeners of this instance)</small></h2>\n"
	    "<table>\n<thead><tr><th>Current connections</th><th>Total connections</th>"
	    "<th>Requests</th><th>Bytes in</th><th>Bytes out</th>"
	    "<th>Current tunnels</th><th>Total tunnels</th>");
	for (k = 0; k < FC_ERR_MAX; k++) {
		sbuf_printf(b, "<th>");
		sbuf_put_html(b, report_error_name(k));
		sbuf_printf(b, "</th>");
	}
	sbuf_printf(b, "</tr></thead>\n<tbody><tr>");
	td_num(b, r->cur_conns);
	td_num(b, r->total_conns);
	td_num(b, r->requests);
	td_bytes(b, r->bytes_in);
	td_bytes(b, r->bytes_out);
	td_num(b, r->cur_tunnels);
	td_num(b, r->total_tunnels);
	for (k = 0; k < FC_ERR_MAX; k++)
		td_num(b, r->errors[k]);
	sbuf_printf(b, "</tr></tbody>\n</table>\n");
}

static void html_footer(struct fc_sbuf *b, const struct fc_report *r,
    const struct fc_listener *l)
{
	time_t now = (time_t)(r->now_us / 1000000);
	char when[32] = "";
	struct tm tm;

	if (gmtime_r(&now, &tm) != NULL)
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	sbuf_printf(b, "<footer>\n<p>As <a href=\"");
	sbuf_put_html(b, l->stats.uri);
	sbuf_printf(b, ";csv\">CSV</a> \xc2\xb7 <a href=\"");
	sbuf_put_html(b, l->stats.uri);
	sbuf_printf(b, ";json\">JSON</a> \xc2\xb7 generated %s", when);
	if (l->stats.refresh > 0)
		sbuf_printf(b, " \xc2\xb7 refreshes every %d s", l->stats.refresh);
	sbuf_printf(b, "</p>\n</footer>\n</body>\n</html>\n");
}

static void render_html(struct fc_sbuf *b, const struct fc_report *r,
    const struct fc_listener *l, int li, const struct fc_backend *backends)
{
	html_head(b, l);
	html_instance(b, r);
	html_servers(b, r, l, backends);
	html_tls(b, r, li);
	html_ha_mesh(b, r);
	html_clients(b, r);
	html_footer(b, r, l);
}

/* ----------------------------------------------------------------- api */

int stats_respond(const struct fc_listener *l, int listener_index, const bool *show_backend,
    const struct fc_backend *backends, const struct fc_shm *shm, enum fc_stats_kind kind, const struct fc_http_msg *req,
    bool keepalive, struct fc_sbuf *out)
{
	struct fc_sbuf body = { 0 };
	struct fc_report r;
	const char *ctype;

	/* Credentials first: a stranger learns nothing, not even the methods. */
	if (!authorized(&l->stats, req))
		return respond_refusal(out, 401,
		    "WWW-Authenticate: Basic realm=\"" REALM "\"\r\n",
		    "These statistics need a user name and a password.", req, keepalive);
	if (!is_get(req) && !is_head(req))
		return respond_refusal(out, 405, "Allow: GET, HEAD\r\n",
		    "The statistics answer GET and HEAD only.", req, keepalive);

	report_snapshot(&r, shm);
	r.show_backend = show_backend;
	switch (kind) {
	case FC_STATS_CSV:
		ctype = "text/csv; charset=utf-8";
		report_render(&r, FC_REPORT_CSV, listener_index, &body);
		break;
	case FC_STATS_JSON:
		ctype = "application/json";
		report_render(&r, FC_REPORT_JSON, listener_index, &body);
		break;
	case FC_STATS_PROMETHEUS:
		/* The exposition format's own media type. */
		ctype = "text/plain; version=0.0.4; charset=utf-8";
		report_render(&r, FC_REPORT_PROMETHEUS, listener_index, &body);
		break;
	default:
		ctype = "text/html; charset=utf-8";
		render_html(&body, &r, l, listener_index, backends);
		break;
	}
	report_free(&r);
	respond(out, 200, ctype, &body, "", req, keepalive);
	sbuf_free(&body);
	return 200;
}
