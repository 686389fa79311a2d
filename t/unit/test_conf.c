/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of conf/: every config file here is written to a fresh
 * temporary directory, loaded with conf_load(), and either checked field
 * by field or for the exact "FILE:LINE: message" lines it must produce.
 * The line numbers are spelled out in each file as a comment.
 */
#include "config.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "conf/conf.h"

/* A listener's own servers: the backend named after it (conf->backends). */
#define LBE(c, l)	(&(c)->backends[(l)->backend])
#define OWN(c, i)	LBE(c, &(c)->listeners[i])

/*
 * Under ASan, check for leaks at the end of each test: LeakSanitizer's
 * own report at exit comes after Criterion has counted the test as passed.
 */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#define LEAK_CHECK()	__lsan_do_recoverable_leak_check()
#else
#define LEAK_CHECK()	0
#endif

static char dir[64];
static char path[128];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/fc-test-conf-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fulcrum.conf", dir);
}

static void teardown(void)
{
	char p[192];

	unlink(path);
	snprintf(p, sizeof(p), "%s/servers.inc", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/sub", dir);
	rmdir(p);
	rmdir(dir);
}

TestSuite(conf, .init = setup, .fini = teardown);

/*
 * Test(conf, name) whose body must also leave no leak behind.  The check
 * runs inside the test, where a failure counts: LeakSanitizer's report at
 * exit, or a failure in .fini, comes after Criterion has scored the test.
 */
#define CONF_TEST(name)							\
	static void name##_body(void);					\
	Test(conf, name)						\
	{								\
		name##_body();						\
		cr_expect_eq(LEAK_CHECK(), 0, "memory leaked (report above)"); \
	}								\
	static void name##_body(void)

static void write_conf(const char *text)
{
	FILE *fp = fopen(path, "w");

	cr_assert_not_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* Loads text, which must be valid; the caller frees the result. */
static struct fc_conf *load_ok(const char *text)
{
	struct fc_conf *conf;
	char *errors;

	write_conf(text);
	conf = conf_load(path, &errors);
	cr_assert_not_null(conf, "unexpected errors:\n%s", errors ? errors : "(none)");
	cr_assert_null(errors);
	return conf;
}

/* Loads text, which must be refused; returns the errors (caller frees). */
static char *load_bad(const char *text)
{
	struct fc_conf *conf;
	char *errors;

	write_conf(text);
	conf = conf_load(path, &errors);
	cr_assert_null(conf, "the file was accepted");
	cr_assert_not_null(errors);
	return errors;
}

/* True if one whole line of errors is "PATH:LINE: msg" (LINE 0: "PATH: msg"). */
static bool has_line(const char *errors, const char *file, int line, const char *msg)
{
	char want[512];
	const char *p = errors;
	size_t n;

	if (line > 0)
		snprintf(want, sizeof(want), "%s:%d: %s", file, line, msg);
	else
		snprintf(want, sizeof(want), "%s: %s", file, msg);
	n = strlen(want);
	for (;;) {
		if (strncmp(p, want, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return true;
		if ((p = strchr(p, '\n')) == NULL)
			return false;
		p++;
	}
}

static int count_lines(const char *errors)
{
	int n = 1;

	for (; *errors != '\0'; errors++)
		n += *errors == '\n';
	return n;
}

/* Asserts that text is refused with exactly this one error. */
static void expect_error(const char *text, int line, const char *msg)
{
	char *errors = load_bad(text);

	cr_expect(has_line(errors, path, line, msg),
	    "expected \"%s:%d: %s\", got:\n%s", path, line, msg, errors);
	cr_expect_eq(count_lines(errors), 1, "expected one error, got:\n%s", errors);
	free(errors);
}

/* A valid listener for files that test something else. */
#define LISTENER \
	"listeners = ( {\n" \
	"  name = \"web\";\n" \
	"  bind = \"127.0.0.1:8080\";\n" \
	"  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n" \
	"} );\n"

static int cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > FC_WORKERS_MAX ? FC_WORKERS_MAX : (int)n;
}

/* ------------------------------------------------------------- valid */

CONF_TEST(minimal_file_gets_every_default)
{
	struct fc_conf *c = load_ok(LISTENER);
	struct fc_listener *l = &c->listeners[0];
	struct fc_server *s = &LBE(c, l)->servers[0];

	cr_expect_null(c->user);
	cr_expect_null(c->group);
	cr_expect_eq(c->workers, cpus());
	cr_expect_eq(c->maxconn, 4096);
	cr_expect_null(c->pidfile);
	cr_expect_eq(c->drain_timeout, 30000);
	cr_expect_eq(c->busy_poll_us, 0);
	cr_expect_eq(c->stall_ms, 200);
	cr_expect_eq(c->watchdog_ms, 2000);
	cr_expect_not(c->log.enabled);
	cr_expect_eq(c->log.facility, LOG_LOCAL0);
	cr_expect_str_eq(c->log.address, "/dev/log");

	cr_assert_eq(c->nlisteners, 1);
	cr_expect_str_eq(l->name, "web");
	cr_assert_eq(l->nbinds, 1);
	cr_expect_str_eq(l->bind_text[0], "127.0.0.1:8080");
	cr_expect_eq(l->binds[0].ss.ss_family, AF_INET);
	cr_expect_eq(LBE(c, l)->balance, FC_BALANCE_ROUNDROBIN);
	cr_expect_not(l->forwardfor);
	cr_expect_not(l->forwardfor_replace);
	cr_expect_not(l->httpclose);
	cr_expect_eq(l->retries, 3);
	cr_expect_eq(l->maxconn, 2000);
	cr_expect_eq(l->timeout.connect, 5000);
	cr_expect_eq(l->timeout.client, 50000);
	cr_expect_eq(l->timeout.server, 50000);
	cr_expect_eq(l->timeout.http_request, 10000);
	cr_expect_eq(l->timeout.queue, 5000);
	cr_expect_eq(l->timeout.tunnel, 3600000);
	cr_expect_null(LBE(c, l)->check.request);
	cr_expect_eq(LBE(c, l)->check.expect_status, 0);
	cr_expect_eq(LBE(c, l)->check.interval, 2000);
	cr_expect_eq(LBE(c, l)->check.timeout, 2000);
	cr_expect_eq(LBE(c, l)->check.rise, 2);
	cr_expect_eq(LBE(c, l)->check.fall, 3);
	cr_expect_eq(LBE(c, l)->cookie.mode, FC_COOKIE_NONE);
	cr_expect_null(l->stats.uri);
	cr_expect_eq(l->stats.nauth, 0);
	cr_expect_eq(l->line, 1);

	cr_assert_eq(LBE(c, l)->nservers, 1);
	cr_expect_str_eq(s->name, "s1");
	cr_expect_str_eq(s->addr_text, "127.0.0.1:8081");
	cr_expect_eq(s->weight, 1);
	cr_expect_eq(s->maxconn, 0);
	cr_expect_not(s->check);
	cr_expect_str_eq(s->cookie, "s1");
	cr_expect_eq(s->line, 4);

	cr_expect_not(c->ha.enabled);
	conf_free(c);
}

CONF_TEST(full_file_sets_every_key)
{
	struct fc_conf *c = load_ok(
	    "global: { user = \"nobody\"; group = \"nogroup\"; workers = 3; maxconn = 100;\n"
	    "  pidfile = \"/tmp/x.pid\"; drain_timeout = 0; busy_poll_us = 50;\n"
	    "  log = { facility = \"daemon\"; address = \"/tmp/log.sock\"; }; };\n"
	    "defaults: { retries = 0; maxconn = 7; balance = \"leastconn\";\n"
	    "  forwardfor = true; httpclose = true;\n"
	    "  timeout = { connect = 1; client = 2; server = 3; http_request = 4; queue = 5;"
	    " tunnel = 6; }; };\n"
	    "listeners = ( {\n"
	    "  name = \"a-b_c.d\"; bind = [ \"*:80\", \"[::1]:81\" ]; balance = \"source\";\n"
	    "  forwardfor = false; httpclose = false; retries = 100; maxconn = 1000000;\n"
	    "  timeout = { client = 86400000; };\n"
	    "  check = { request = \"GET /health HTTP/1.1\"; expect_status = 204;\n"
	    "    interval = 100; timeout = 50; rise = 1; fall = 100; };\n"
	    "  cookie = { name = \"SRV\"; mode = \"insert\"; indirect = true; nocache = true;\n"
	    "    httponly = true; secure = true; domain = \"example.com\";\n"
	    "    maxidle = 60; maxlife = 31536000; };\n"
	    "  stats = { uri = \"/st\"; auth = [ \"a:b\", \"c:\" ]; refresh = 5; };\n"
	    "  servers = ( { name = \"x\"; address = \"[2001:db8::1]:8080\"; weight = 0;\n"
	    "      maxconn = 9; check = true; cookie = \"X1\"; },\n"
	    "    { name = \"y\"; address = \"10.0.0.2:80\"; weight = 256; } );\n"
	    "} );\n"
	    "ha: { interface = \"eth1\"; vrid = 255; priority = 254; advert_ms = 40950;\n"
	    "  preempt = false; track_proxy = false;\n"
	    "  vips = [ \"10.0.0.99/24\", \"10.0.0.98\" ]; peers = [ \"10.0.0.2\", \"10.0.0.3/32\" ]; };\n");
	struct fc_listener *l = &c->listeners[0];

	cr_expect_str_eq(c->user, "nobody");
	cr_expect_str_eq(c->group, "nogroup");
	cr_expect_eq(c->workers, 3);
	cr_expect_eq(c->maxconn, 100);
	cr_expect_str_eq(c->pidfile, "/tmp/x.pid");
	cr_expect_eq(c->drain_timeout, 0);
	cr_expect_eq(c->busy_poll_us, 50);
	cr_expect(c->log.enabled);
	cr_expect_eq(c->log.facility, LOG_DAEMON);
	cr_expect_str_eq(c->log.address, "/tmp/log.sock");

	cr_expect_str_eq(l->name, "a-b_c.d");
	cr_assert_eq(l->nbinds, 2);
	cr_expect_str_eq(l->bind_text[0], "*:80");
	cr_expect_str_eq(l->bind_text[1], "[::1]:81");
	cr_expect_eq(l->binds[1].ss.ss_family, AF_INET6);
	cr_expect_eq(LBE(c, l)->balance, FC_BALANCE_SOURCE);
	cr_expect_not(l->forwardfor);
	cr_expect_not(l->httpclose);
	cr_expect_eq(l->retries, 100);
	cr_expect_eq(l->maxconn, 1000000);
	cr_expect_eq(l->timeout.connect, 1);
	cr_expect_eq(l->timeout.client, 86400000);
	cr_expect_eq(l->timeout.queue, 5);
	cr_expect_eq(l->timeout.tunnel, 6);
	cr_expect_str_eq(LBE(c, l)->check.request, "GET /health HTTP/1.1");
	cr_expect_eq(LBE(c, l)->check.expect_status, 204);
	cr_expect_eq(LBE(c, l)->check.interval, 100);
	cr_expect_eq(LBE(c, l)->check.timeout, 50);
	cr_expect_eq(LBE(c, l)->check.rise, 1);
	cr_expect_eq(LBE(c, l)->check.fall, 100);
	cr_expect_str_eq(LBE(c, l)->cookie.name, "SRV");
	cr_expect_eq(LBE(c, l)->cookie.mode, FC_COOKIE_INSERT);
	cr_expect(LBE(c, l)->cookie.indirect && LBE(c, l)->cookie.nocache);
	cr_expect(LBE(c, l)->cookie.httponly && LBE(c, l)->cookie.secure);
	cr_expect_str_eq(LBE(c, l)->cookie.domain, "example.com");
	cr_expect_eq(LBE(c, l)->cookie.maxidle, 60);
	cr_expect_eq(LBE(c, l)->cookie.maxlife, 31536000);
	cr_expect_str_eq(l->stats.uri, "/st");
	cr_assert_eq(l->stats.nauth, 2);
	cr_expect_str_eq(l->stats.auth[0], "a:b");
	cr_expect_str_eq(l->stats.auth[1], "c:");
	cr_expect_eq(l->stats.refresh, 5);

	cr_assert_eq(LBE(c, l)->nservers, 2);
	cr_expect_str_eq(LBE(c, l)->servers[0].addr_text, "[2001:db8::1]:8080");
	cr_expect_eq(LBE(c, l)->servers[0].weight, 0);
	cr_expect_eq(LBE(c, l)->servers[0].maxconn, 9);
	cr_expect(LBE(c, l)->servers[0].check);
	cr_expect_str_eq(LBE(c, l)->servers[0].cookie, "X1");
	cr_expect_eq(LBE(c, l)->servers[1].weight, 256);
	cr_expect_eq(LBE(c, l)->servers[1].line, 19);

	cr_expect(c->ha.enabled);
	cr_expect_str_eq(c->ha.interface, "eth1");
	cr_expect_eq(c->ha.vrid, 255);
	cr_expect_eq(c->ha.priority, 254);
	cr_expect_eq(c->ha.advert_ms, 40950);
	cr_expect_not(c->ha.preempt);
	cr_expect_not(c->ha.track_proxy);
	cr_assert_eq(c->ha.nvips, 2);
	cr_expect_eq(c->ha.vips[0].prefixlen, 24);
	cr_expect_eq(c->ha.vips[1].prefixlen, 32);
	cr_expect_eq(c->ha.npeers, 2);
	conf_free(c);
}

CONF_TEST(ha_section_gets_its_defaults)
{
	struct fc_conf *c = load_ok(LISTENER
	    "ha: { interface = \"eth0\"; vrid = 1; vips = [ \"192.0.2.1/24\" ]; };\n");

	cr_expect(c->ha.enabled);
	cr_expect_eq(c->ha.priority, 100);
	cr_expect_eq(c->ha.advert_ms, 1000);
	cr_expect(c->ha.preempt);
	cr_expect(c->ha.track_proxy);
	cr_expect_eq(c->ha.npeers, 0);
	cr_expect_not(c->ha.has_unicast_src);
	cr_expect_eq(c->ha.garp_count, 5);
	cr_expect_eq(c->ha.garp_repeat_ms, 1000);
	cr_expect_null(c->ha.notify);
	cr_expect_null(c->ha.auth_key);
	conf_free(c);
}

CONF_TEST(ha_failover_keys_are_read)
{
	struct fc_conf *c = load_ok(LISTENER
	    "ha: { interface = \"eth0\"; vrid = 1; vips = [ \"192.0.2.1/24\" ];\n"
	    "  unicast_src = \"192.0.2.11\"; garp_count = 0; garp_repeat_ms = 10;\n"
	    "  notify = \"/bin/true\"; auth_key = \"0123456789abcdef\"; };\n");
	char host[FC_ADDRSTRLEN];

	cr_assert(c->ha.has_unicast_src);
	cr_expect_str_eq(net_host_str((struct sockaddr *)&c->ha.unicast_src.ss, host,
	    sizeof(host)), "192.0.2.11");
	cr_expect_eq(c->ha.garp_count, 0);
	cr_expect_eq(c->ha.garp_repeat_ms, 10);
	cr_expect_str_eq(c->ha.notify, "/bin/true");
	cr_expect_str_eq(c->ha.auth_key, "0123456789abcdef");
	conf_free(c);
}

CONF_TEST(integers_may_carry_the_int64_suffix)
{
	struct fc_conf *c = load_ok("global: { maxconn = 5000L; };\n" LISTENER);

	cr_expect_eq(c->maxconn, 5000);
	conf_free(c);
}

CONF_TEST(semicolons_are_optional_as_in_libconfig)
{
	struct fc_conf *c = load_ok("global: { maxconn = 10 drain_timeout = 20 }\n" LISTENER);

	cr_expect_eq(c->maxconn, 10);
	cr_expect_eq(c->drain_timeout, 20);
	conf_free(c);
}

CONF_TEST(group_without_user_is_accepted)
{
	struct fc_conf *c = load_ok("global: { group = \"nogroup\"; };\n" LISTENER);

	cr_expect_null(c->user);
	cr_expect_str_eq(c->group, "nogroup");
	conf_free(c);
}

CONF_TEST(workers_zero_resolves_to_the_cpu_count)
{
	struct fc_conf *c = load_ok("global: { workers = 0; };\n" LISTENER);

	cr_expect_eq(c->workers, cpus());
	cr_expect_geq(c->workers, 1);
	conf_free(c);
}

CONF_TEST(defaults_are_inherited_and_overridden_per_listener)
{
	struct fc_conf *c = load_ok(
	    "defaults: { retries = 5; maxconn = 10; balance = \"leastconn\"; forwardfor = true;\n"
	    "  httpclose = true; timeout = { connect = 111; server = 222; tunnel = 444; }; };\n"
	    "listeners = (\n"
	    "  { name = \"a\"; bind = \"127.0.0.1:1\";\n"
	    "    servers = ( { name = \"s\"; address = \"127.0.0.1:2\"; } ); },\n"
	    "  { name = \"b\"; bind = \"127.0.0.1:3\"; retries = 0; balance = \"source\";\n"
	    "    forwardfor = false; timeout = { server = 333; };\n"
	    "    servers = ( { name = \"s\"; address = \"127.0.0.1:2\"; } ); }\n"
	    ");\n");
	struct fc_listener *a = &c->listeners[0], *b = &c->listeners[1];

	cr_expect_eq(a->retries, 5);
	cr_expect_eq(a->maxconn, 10);
	cr_expect_eq(LBE(c, a)->balance, FC_BALANCE_LEASTCONN);
	cr_expect(a->forwardfor);
	cr_expect(a->httpclose);
	cr_expect_eq(a->timeout.connect, 111);
	cr_expect_eq(a->timeout.server, 222);
	cr_expect_eq(a->timeout.client, 50000);
	cr_expect_eq(a->timeout.tunnel, 444);

	cr_expect_eq(b->retries, 0);
	cr_expect_eq(b->maxconn, 10);
	cr_expect_eq(LBE(c, b)->balance, FC_BALANCE_SOURCE);
	cr_expect_not(b->forwardfor);
	cr_expect(b->httpclose);
	cr_expect_eq(b->timeout.connect, 111);	/* kept: only "server" was given */
	cr_expect_eq(b->timeout.server, 333);
	cr_expect_eq(b->timeout.tunnel, 444);	/* kept as well */
	cr_expect_eq(b->line, 6);
	conf_free(c);
}

CONF_TEST(accept_proxy_is_inherited_and_send_proxy_names_a_version)
{
	struct fc_conf *c = load_ok(
	    "defaults: { accept_proxy = true; };\n"
	    "listeners = (\n"
	    "  { name = \"a\"; bind = \"127.0.0.1:1\";\n"
	    "    servers = ( { name = \"s\"; address = \"127.0.0.1:2\"; send_proxy = \"v1\"; },\n"
	    "                { name = \"t\"; address = \"127.0.0.1:3\"; send_proxy = \"v2\"; },\n"
	    "                { name = \"u\"; address = \"127.0.0.1:4\"; send_proxy = \"none\"; },\n"
	    "                { name = \"v\"; address = \"127.0.0.1:5\"; } ); },\n"
	    "  { name = \"b\"; bind = \"127.0.0.1:6\"; accept_proxy = false;\n"
	    "    servers = ( { name = \"s\"; address = \"127.0.0.1:2\"; } ); }\n"
	    ");\n");

	cr_expect(c->listeners[0].accept_proxy);
	cr_expect_not(c->listeners[1].accept_proxy);
	cr_expect_eq(OWN(c, 0)->servers[0].send_proxy, 1);
	cr_expect_eq(OWN(c, 0)->servers[1].send_proxy, 2);
	cr_expect_eq(OWN(c, 0)->servers[2].send_proxy, 0);
	cr_expect_eq(OWN(c, 0)->servers[3].send_proxy, 0);
	conf_free(c);
	c = load_ok(LISTENER);
	cr_expect_not(c->listeners[0].accept_proxy, "default: false");
	conf_free(c);

	expect_error(
	    "listeners = ( {\n"
	    "  name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\";\n"
	    "                send_proxy = \"v3\"; } );\n"	/* 4 */
	    "} );\n",
	    4, "server \"s1\": \"send_proxy\" must be one of: none, v1, v2");
	expect_error(
	    "listeners = ( {\n"
	    "  name = \"web\"; bind = \"127.0.0.1:8080\"; accept_proxy = \"yes\";\n"
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n",
	    2, "listener \"web\": \"accept_proxy\" must be true or false");
}

CONF_TEST(forwardfor_replace_is_inherited_and_needs_forwardfor)
{
	struct fc_conf *c = load_ok(
	    "defaults: { forwardfor = true; forwardfor_replace = true; };\n"
	    "listeners = (\n"
	    "  { name = \"a\"; bind = \"127.0.0.1:1\";\n"
	    "    servers = ( { name = \"s\"; address = \"127.0.0.1:2\"; } ); },\n"
	    "  { name = \"b\"; bind = \"127.0.0.1:3\"; forwardfor_replace = false;\n"
	    "    servers = ( { name = \"s\"; address = \"127.0.0.1:2\"; } ); },\n"
	    "  { name = \"c\"; bind = \"127.0.0.1:4\"; forwardfor = false;\n"
	    "    forwardfor_replace = false;\n"
	    "    servers = ( { name = \"s\"; address = \"127.0.0.1:2\"; } ); }\n"
	    ");\n");

	cr_expect(c->listeners[0].forwardfor && c->listeners[0].forwardfor_replace);
	cr_expect(c->listeners[1].forwardfor && !c->listeners[1].forwardfor_replace);
	cr_expect(!c->listeners[2].forwardfor && !c->listeners[2].forwardfor_replace);
	conf_free(c);

	expect_error(
	    "listeners = ( {\n"
	    "  name = \"web\"; bind = \"127.0.0.1:8080\";\n"	/* 2 */
	    "  forwardfor_replace = true;\n"
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n",
	    1, "listener \"web\": \"forwardfor_replace\" needs \"forwardfor = true\"");
	expect_error(
	    "defaults: { forwardfor = true; forwardfor_replace = true; };\n"
	    "listeners = ( {\n"
	    "  name = \"web\"; bind = \"127.0.0.1:8080\"; forwardfor = false;\n"
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n",
	    2, "listener \"web\": \"forwardfor_replace\" needs \"forwardfor = true\"");
	expect_error(
	    "listeners = ( {\n"
	    "  name = \"web\"; bind = \"127.0.0.1:8080\"; forwardfor = true;\n"
	    "  forwardfor_replace = \"yes\";\n"		/* 3 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n",
	    3, "listener \"web\": \"forwardfor_replace\" must be true or false");
}

CONF_TEST(defaults_apply_even_when_written_after_the_listeners)
{
	struct fc_conf *c = load_ok(LISTENER "defaults: { retries = 9; };\n");

	cr_expect_eq(c->listeners[0].retries, 9);
	conf_free(c);
}

CONF_TEST(check_group_without_request_is_a_tcp_check)
{
	struct fc_conf *c = load_ok(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  check = { interval = 500; };\n"
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; check = true; } );\n"
	    "} );\n");

	cr_expect_null(OWN(c, 0)->check.request);
	cr_expect_eq(OWN(c, 0)->check.interval, 500);
	cr_expect_eq(OWN(c, 0)->check.rise, 2);
	cr_expect(OWN(c, 0)->servers[0].check);
	conf_free(c);
}

CONF_TEST(path_is_the_real_path_of_the_file)
{
	struct fc_conf *c;
	char *errors, rel[192], real[PATH_MAX];

	write_conf(LISTENER);
	snprintf(rel, sizeof(rel), "%s/sub", dir);
	cr_assert_eq(mkdir(rel, 0700), 0);
	snprintf(rel, sizeof(rel), "%s/sub/../fulcrum.conf", dir);
	c = conf_load(rel, &errors);
	cr_assert_not_null(c, "%s", errors);
	cr_assert_not_null(realpath(path, real));
	cr_expect_str_eq(c->path, real);
	conf_free(c);
}

CONF_TEST(include_is_relative_to_the_including_file)
{
	struct fc_conf *c;
	char inc[160];
	FILE *fp;

	snprintf(inc, sizeof(inc), "%s/servers.inc", dir);
	cr_assert_not_null(fp = fopen(inc, "w"));
	fputs("servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n", fp);
	fclose(fp);
	cr_assert_eq(chdir("/"), 0);
	c = load_ok("listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  @include \"servers.inc\"\n"
	    "} );\n");
	cr_expect_str_eq(OWN(c, 0)->servers[0].name, "s1");
	conf_free(c);
}

CONF_TEST(error_in_included_file_names_that_file)
{
	char *errors, inc[160];
	FILE *fp;

	snprintf(inc, sizeof(inc), "%s/servers.inc", dir);
	cr_assert_not_null(fp = fopen(inc, "w"));
	fputs("servers = (\n  { name = \"s1\"; address = \"127.0.0.1\"; } );\n", fp);
	fclose(fp);
	errors = load_bad("listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  @include \"servers.inc\"\n"
	    "} );\n");
	cr_expect(has_line(errors, inc, 2, "server \"s1\": invalid address \"127.0.0.1\""
	    " (expected HOST:PORT)"), "got:\n%s", errors);
	free(errors);
}

/* -------------------------------------------------------- sections, keys */

CONF_TEST(unknown_top_level_section_is_an_error)
{
	expect_error(
	    LISTENER
	    "backend: { x = 1; };\n",		/* 6 */
	    6, "unknown section \"backend\" (global, defaults, listeners, backends, ha)");
}

CONF_TEST(no_listeners_is_an_error)
{
	expect_error("global: { maxconn = 1; };\n", 0, "no \"listeners\" defined");
}

CONF_TEST(unknown_key_in_global_names_key_and_line)
{
	expect_error(
	    "global: {\n"
	    "  workers = 1;\n"
	    "  wokers = 2;\n"			/* 3 */
	    "};\n" LISTENER,
	    3, "unknown key \"wokers\" in global (did you mean \"workers\"?)");
}

CONF_TEST(unknown_key_in_global_log_names_key_and_line)
{
	expect_error(
	    "global: {\n"
	    "  log = { facility = \"local1\";\n"
	    "    level = \"info\"; };\n"		/* 3 */
	    "};\n" LISTENER,
	    3, "unknown key \"level\" in global log");
}

CONF_TEST(unknown_key_in_defaults_names_key_and_line)
{
	expect_error(
	    "defaults: {\n"
	    "  retries = 1;\n"
	    "  mode = \"http\";\n"		/* 3 */
	    "};\n" LISTENER,
	    3, "unknown key \"mode\" in defaults");
}

CONF_TEST(unknown_key_in_listener_names_key_and_line)
{
	expect_error(
	    "listeners = ( {\n"
	    "  name = \"webfarm\";\n"
	    "  bind = \"127.0.0.1:8080\";\n"
	    "  balanse = \"roundrobin\";\n"	/* 4 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n",
	    4, "unknown key \"balanse\" in listener \"webfarm\""
	    " (did you mean \"balance\"?)");
}

CONF_TEST(unknown_key_in_server_names_key_and_line)
{
	expect_error(
	    "listeners = ( {\n"
	    "  name = \"webfarm\";\n"
	    "  bind = \"127.0.0.1:8080\";\n"
	    "  servers = (\n"
	    "    { name = \"s1\"; address = \"127.0.0.1:8081\";\n"
	    "      wieght = 3; }\n"			/* 6 */
	    "  );\n"
	    "} );\n",
	    6, "unknown key \"wieght\" in server \"s1\" (did you mean \"weight\"?)");
}

CONF_TEST(unknown_key_in_timeout_names_key_and_line)
{
	expect_error(
	    "defaults: {\n"
	    "  timeout = {\n"
	    "    connect = 100;\n"
	    "    tunel = 100;\n"		/* 4 */
	    "  };\n"
	    "};\n" LISTENER,
	    4, "unknown key \"tunel\" in defaults timeout (did you mean \"tunnel\"?)");
}

CONF_TEST(unknown_key_in_listener_timeout_names_the_listener)
{
	expect_error(
	    "listeners = ( {\n"
	    "  name = \"webfarm\";\n"
	    "  bind = \"127.0.0.1:8080\";\n"
	    "  timeout = { conect = 1; };\n"	/* 4 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n",
	    4, "unknown key \"conect\" in listener \"webfarm\" timeout"
	    " (did you mean \"connect\"?)");
}

CONF_TEST(unknown_key_in_ha_names_key_and_line)
{
	expect_error(
	    LISTENER
	    "ha: {\n"				/* 6 */
	    "  interface = \"eth0\";\n"
	    "  vrid = 51;\n"
	    "  vips = [ \"192.0.2.1/24\" ];\n"
	    "  virtual_mac = true;\n"		/* 10 */
	    "};\n",
	    10, "unknown key \"virtual_mac\" in ha");
}

/* ------------------------------------------------------- types, ranges */

CONF_TEST(string_for_an_integer_is_a_type_error)
{
	expect_error(
	    "defaults: {\n"
	    "  retries = \"3\";\n"		/* 2 */
	    "};\n" LISTENER,
	    2, "defaults: \"retries\" must be an integer");
}

CONF_TEST(number_for_a_boolean_is_a_type_error)
{
	expect_error(
	    "listeners = ( {\n"
	    "  name = \"web\";\n"
	    "  bind = \"127.0.0.1:8080\";\n"
	    "  forwardfor = 1;\n"		/* 4 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n",
	    4, "listener \"web\": \"forwardfor\" must be true or false");
}

CONF_TEST(section_that_is_not_a_group_is_a_type_error)
{
	expect_error(
	    "global = 1;\n" LISTENER,
	    1, "\"global\" must be a group { ... }");
}

CONF_TEST(weight_out_of_range_is_an_error)
{
	expect_error(
	    "listeners = ( {\n"
	    "  name = \"web\";\n"
	    "  bind = \"127.0.0.1:8080\";\n"
	    "  servers = ( { name = \"webA\";\n"
	    "    address = \"127.0.0.1:8081\";\n"
	    "    weight = 257; } );\n"		/* 6 */
	    "} );\n",
	    6, "server \"webA\": \"weight\" must be between 0 and 256");
}

CONF_TEST(busy_poll_out_of_range_is_an_error)
{
	expect_error(
	    "global: { busy_poll_us = 10001; };\n" LISTENER,
	    1, "global: \"busy_poll_us\" must be between 0 and 10000");
}

CONF_TEST(stall_limits_take_zero_for_off)
{
	struct fc_conf *c = load_ok("global: { stall_ms = 0; watchdog_ms = 0; };\n" LISTENER);

	cr_expect_eq(c->stall_ms, 0);
	cr_expect_eq(c->watchdog_ms, 0);
	conf_free(c);
}

CONF_TEST(stall_ms_shorter_than_a_heartbeat_is_an_error)
{
	expect_error(
	    "global: {\n"
	    "  stall_ms = 10; };\n" LISTENER,
	    2, "global: \"stall_ms\" must be 0 (off) or at least 20 ms");
}

CONF_TEST(watchdog_ms_shorter_than_a_heartbeat_is_an_error)
{
	expect_error(
	    "global: { watchdog_ms = 19; };\n" LISTENER,
	    1, "global: \"watchdog_ms\" must be 0 (off) or at least 20 ms");
}

CONF_TEST(watchdog_ms_out_of_range_is_an_error)
{
	expect_error(
	    "global: { watchdog_ms = 3600001; };\n" LISTENER,
	    1, "global: \"watchdog_ms\" must be between 0 and 3600000 ms");
}

CONF_TEST(retries_out_of_range_is_an_error)
{
	expect_error(
	    "defaults: { retries = 101; };\n" LISTENER,
	    1, "defaults: \"retries\" must be between 0 and 100");
}

CONF_TEST(zero_timeout_is_an_error)
{
	expect_error(
	    "defaults: {\n"
	    "  timeout = {\n"
	    "    connect = 0;\n"		/* 3 */
	    "  };\n"
	    "};\n" LISTENER,
	    3, "defaults timeout: \"connect\" must be between 1 and 86400000 ms");
}

CONF_TEST(workers_above_the_maximum_is_an_error)
{
	expect_error(
	    "global: { workers = 65; };\n" LISTENER,
	    1, "global: \"workers\" must be between 0 and 64");
}

CONF_TEST(unknown_log_facility_is_an_error)
{
	expect_error(
	    "global: { log = { facility = \"kern\"; }; };\n" LISTENER,
	    1, "global log: \"facility\" must be one of: user, daemon, local0,"
	    " local1, local2, local3, local4, local5, local6, local7");
}

CONF_TEST(bad_balance_is_an_error)
{
	expect_error(
	    "defaults: { balance = \"random\"; };\n" LISTENER,
	    1, "defaults: \"balance\" must be one of: roundrobin, leastconn, source");
}

CONF_TEST(bad_listener_name_is_an_error)
{
	expect_error(
	    "listeners = ( {\n"
	    "  name = \"web farm\";\n"		/* 2 */
	    "  bind = \"127.0.0.1:8080\";\n"
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n",
	    2, "listener \"web farm\": \"name\" must be 1 to 63 characters of [A-Za-z0-9_.-]");
}

CONF_TEST(bad_check_request_is_an_error)
{
	expect_error(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  check = { request = \"HEAD check.txt\"; };\n"		/* 2 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n",
	    2, "listener \"web\" check: \"request\" must be \"METHOD URI"
	    " [HTTP/1.0|HTTP/1.1]\", for example \"HEAD /check.txt HTTP/1.0\"");
}

/* ---------------------------------------------------------- addresses */

CONF_TEST(bad_server_address_is_an_error)
{
	expect_error(
	    "listeners = ( {\n"
	    "  name = \"web\";\n"
	    "  bind = \"127.0.0.1:8080\";\n"
	    "  servers = ( { name = \"webA\";\n"
	    "    address = \"web_a:80\"; } );\n"		/* 5 */
	    "} );\n",
	    5, "server \"webA\": invalid address \"web_a:80\""
	    " (numeric IPv4 or [IPv6] expected)");
}

CONF_TEST(server_address_without_port_is_an_error)
{
	expect_error(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  servers = ( { name = \"webA\"; address = \"192.168.0.102\"; } );\n"	/* 2 */
	    "} );\n",
	    2, "server \"webA\": invalid address \"192.168.0.102\""
	    " (expected HOST:PORT)");
}

CONF_TEST(wildcard_server_address_is_an_error)
{
	expect_error(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  servers = ( { name = \"webA\"; address = \"*:80\"; } );\n"	/* 2 */
	    "} );\n",
	    2, "server \"webA\": invalid address \"*:80\" (a server needs a"
	    " specific address, not a wildcard)");
}

CONF_TEST(bad_bind_is_an_error_at_the_element_line)
{
	expect_error(
	    "listeners = ( {\n"
	    "  name = \"web\";\n"
	    "  bind = [ \"127.0.0.1:8080\",\n"
	    "    \"127.0.0.1:99999\" ];\n"		/* 4 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n",
	    4, "listener \"web\" bind: invalid address \"127.0.0.1:99999\":"
	    " invalid port \"99999\" (1-65535)");
}

CONF_TEST(bind_of_the_wrong_type_is_an_error)
{
	expect_error(
	    "listeners = ( { name = \"web\";\n"
	    "  bind = 8080;\n"			/* 2 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n",
	    2, "listener \"web\": \"bind\" must be a string or an array of strings"
	    " [ \"...\", ... ]");
}

/* --------------------------------------------------------- duplicates */

CONF_TEST(duplicate_listener_name_is_an_error)
{
	expect_error(
	    "listeners = (\n"
	    "  { name = \"web\"; bind = \"127.0.0.1:1\";\n"		/* 2 */
	    "    servers = ( { name = \"s\"; address = \"127.0.0.1:9\"; } ); },\n"
	    "  { name = \"web\"; bind = \"127.0.0.1:2\";\n"		/* 4 */
	    "    servers = ( { name = \"s\"; address = \"127.0.0.1:9\"; } ); }\n"
	    ");\n",
	    4, "duplicate listener name \"web\" (first at line 2)");
}

CONF_TEST(duplicate_server_name_is_an_error)
{
	expect_error(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  servers = (\n"
	    "    { name = \"webA\"; address = \"127.0.0.1:1\"; },\n"	/* 3 */
	    "    { name = \"webA\"; address = \"127.0.0.1:2\"; }\n"	/* 4 */
	    "  );\n"
	    "} );\n",
	    4, "listener \"web\": duplicate server name \"webA\" (first at line 3)");
}

CONF_TEST(duplicate_server_cookie_is_an_error)
{
	expect_error(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  servers = (\n"
	    "    { name = \"webA\"; address = \"127.0.0.1:1\"; cookie = \"A\"; },\n"
	    "    { name = \"webB\"; address = \"127.0.0.1:2\"; cookie = \"A\"; }\n"	/* 4 */
	    "  );\n"
	    "} );\n",
	    4, "listener \"web\": server \"webB\" has the same cookie \"A\" as"
	    " server \"webA\" (line 3)");
}

CONF_TEST(same_bind_in_two_listeners_is_an_error)
{
	expect_error(
	    "listeners = (\n"
	    "  { name = \"a\"; bind = \"127.0.0.1:80\";\n"		/* 2 */
	    "    servers = ( { name = \"s\"; address = \"127.0.0.1:9\"; } ); },\n"
	    "  { name = \"b\"; bind = [ \"127.0.0.1:81\",\n"
	    "      \"127.0.0.1:80\" ];\n"				/* 5 */
	    "    servers = ( { name = \"s\"; address = \"127.0.0.1:9\"; } ); }\n"
	    ");\n",
	    5, "listener \"b\": bind address \"127.0.0.1:80\" already used by"
	    " listener \"a\" (line 2)");
}

CONF_TEST(same_bind_twice_in_one_listener_is_an_error)
{
	expect_error(
	    "listeners = ( { name = \"a\";\n"
	    "  bind = [ \"*:80\", \"0.0.0.0:80\" ];\n"		/* 2 */
	    "  servers = ( { name = \"s\"; address = \"127.0.0.1:9\"; } );\n"
	    "} );\n",
	    2, "listener \"a\": duplicate bind address \"0.0.0.0:80\" (line 2)");
}

/* ---------------------------------------------------- missing pieces */

CONF_TEST(listener_without_servers_is_an_error)
{
	expect_error(
	    "listeners = (\n"
	    "  {\n"				/* 2 */
	    "    name = \"web\";\n"
	    "    bind = \"127.0.0.1:8080\";\n"
	    "  }\n"
	    ");\n",
	    2, "listener \"web\": missing \"servers\" or \"backend\"");
}

CONF_TEST(listener_with_empty_servers_is_an_error)
{
	expect_error(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  servers = ( );\n"		/* 2 */
	    "} );\n",
	    2, "listener \"web\": \"servers\" must hold at least one server");
}

CONF_TEST(listener_without_bind_is_an_error)
{
	expect_error(
	    "listeners = (\n"
	    "  {\n"				/* 2 */
	    "    name = \"web\";\n"
	    "    servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "  }\n"
	    ");\n",
	    2, "listener \"web\": missing \"bind\"");
}

CONF_TEST(listener_without_name_is_called_by_its_position)
{
	expect_error(
	    "listeners = ( { name = \"a\"; bind = \"127.0.0.1:1\";\n"
	    "    servers = ( { name = \"s\"; address = \"127.0.0.1:9\"; } ); },\n"
	    "  { bind = \"127.0.0.1:2\";\n"		/* 3 */
	    "    servers = ( { name = \"s\"; address = \"127.0.0.1:9\"; } ); } );\n",
	    3, "listener #2: missing \"name\"");
}

CONF_TEST(server_without_address_is_an_error)
{
	expect_error(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  servers = ( { name = \"webA\"; } );\n"		/* 2 */
	    "} );\n",
	    2, "server \"webA\": missing \"address\"");
}

/* ----------------------------------------------------------------- ha */

#define HA(extra) \
	LISTENER					/* 1-5 */ \
	"ha: {\n"					/* 6 */ \
	"  interface = \"eth0\";\n"			/* 7 */ \
	"  vips = [ \"192.0.2.1/24\" ];\n"		/* 8 */ \
	extra						/* 9 */ \
	"};\n"

CONF_TEST(advert_not_a_multiple_of_10_is_an_error)
{
	expect_error(HA("  vrid = 1; advert_ms = 105;\n"),
	    9, "ha: \"advert_ms\" must be a multiple of 10 (VRRP counts in centiseconds)");
}

CONF_TEST(advert_above_the_12_bit_field_is_an_error)
{
	expect_error(HA("  vrid = 1; advert_ms = 40960;\n"),
	    9, "ha: \"advert_ms\" must be between 10 and 40950 ms");
}

CONF_TEST(vrid_zero_is_an_error)
{
	expect_error(HA("  vrid = 0;\n"), 9, "ha: \"vrid\" must be between 1 and 255");
}

CONF_TEST(priority_255_is_an_error)
{
	expect_error(HA("  vrid = 1; priority = 255;\n"),
	    9, "ha: \"priority\" must be between 1 and 254");
}

CONF_TEST(missing_vrid_is_an_error_at_the_ha_line)
{
	expect_error(HA(""), 6, "ha: missing \"vrid\"");
}

CONF_TEST(long_interface_name_is_an_error)
{
	expect_error(
	    LISTENER
	    "ha: { vrid = 1; vips = [ \"192.0.2.1/24\" ];\n"
	    "  interface = \"a-very-long-ifname\"; };\n",	/* 7 */
	    7, "ha: \"interface\" must be a network interface name of 1 to 15 characters");
}

CONF_TEST(peer_with_a_prefix_is_an_error)
{
	expect_error(HA("  vrid = 1; peers = [ \"192.0.2.2/24\" ];\n"),
	    9, "ha peers: \"192.0.2.2/24\" must be a host address (no prefix, no port)");
}

CONF_TEST(bad_vip_is_an_error)
{
	expect_error(
	    LISTENER
	    "ha: { interface = \"eth0\"; vrid = 1;\n"
	    "  vips = [ \"192.0.2.1/33\" ]; };\n",		/* 7 */
	    7, "ha vips: invalid prefix length in \"192.0.2.1/33\" (1-32)");
}

CONF_TEST(empty_vips_is_an_error)
{
	expect_error(
	    LISTENER
	    "ha: { interface = \"eth0\"; vrid = 1;\n"
	    "  vips = [ ]; };\n",				/* 7 */
	    7, "ha: \"vips\" must hold at least one address");
}

CONF_TEST(more_than_16_vips_is_an_error)
{
	expect_error(
	    LISTENER
	    "ha: { interface = \"eth0\"; vrid = 1; vips = [\n"
	    "  \"192.0.2.1\", \"192.0.2.2\", \"192.0.2.3\", \"192.0.2.4\", \"192.0.2.5\",\n"
	    "  \"192.0.2.6\", \"192.0.2.7\", \"192.0.2.8\", \"192.0.2.9\", \"192.0.2.10\",\n"
	    "  \"192.0.2.11\", \"192.0.2.12\", \"192.0.2.13\", \"192.0.2.14\", \"192.0.2.15\",\n"
	    "  \"192.0.2.16\", \"192.0.2.17\" ]; };\n",
	    6, "ha: \"vips\" holds at most 16 addresses (one VRRP advert)");
}

CONF_TEST(ipv4_and_ipv6_vips_make_one_section)
{
	struct fc_conf *c = load_ok(
	    LISTENER
	    "ha: { interface = \"eth0\"; vrid = 51;\n"
	    "  vips = [ \"192.0.2.50/24\", \"2001:db8::50/64\" ]; };\n");

	cr_expect_eq(c->ha.nvips, 2);
	cr_expect_eq(c->ha.vips[0].addr.ss.ss_family, AF_INET);
	cr_expect_eq(c->ha.vips[1].addr.ss.ss_family, AF_INET6);
	cr_expect_eq(c->ha.vips[1].prefixlen, 64);
	conf_free(c);
}

/* An ha section with these vips and peers; the peers on line 8. */
#define HA_PEERS(vips, peers) \
	LISTENER					/* 1-5 */ \
	"ha: { interface = \"eth0\"; vrid = 1;\n"		/* 6 */ \
	"  vips = [ " vips " ];\n"			/* 7 */ \
	"  peers = [ " peers " ];\n"			/* 8 */ \
	"};\n"

CONF_TEST(unicast_peers_cover_each_vip_family)
{
	struct fc_conf *c = load_ok(HA_PEERS("\"192.0.2.1/24\", \"2001:db8::1/64\"",
	    "\"192.0.2.12\", \"fe80::12\""));

	cr_expect_eq(c->ha.npeers, 2);
	conf_free(c);
	expect_error(HA_PEERS("\"2001:db8::1/64\"", "\"192.0.2.12\", \"fe80::12\""),
	    8, "ha: \"peers\" must hold an IPv4 address when \"vips\" does not (one VRRP"
	    " instance per family)");
	expect_error(HA_PEERS("\"192.0.2.1/24\", \"2001:db8::1/64\"", "\"192.0.2.12\""),
	    8, "ha: \"peers\" must hold an IPv6 address when \"vips\" does (one VRRP"
	    " instance per family)");
	expect_error(HA_PEERS("\"2001:db8::1/64\"", "\"2001:db8::12\""),
	    8, "ha: an IPv6 peer must be the peer's link-local address (fe80::/10)");
}

CONF_TEST(garp_count_out_of_range_is_an_error)
{
	expect_error(HA("  vrid = 1; garp_count = 101;\n"),
	    9, "ha: \"garp_count\" must be between 0 and 100");
	expect_error(HA("  vrid = 1; garp_repeat_ms = 5;\n"),
	    9, "ha: \"garp_repeat_ms\" must be between 10 and 600000 ms");
}

CONF_TEST(relative_or_missing_notify_is_an_error)
{
	expect_error(HA("  vrid = 1; notify = \"notify.sh\";\n"),
	    9, "ha: \"notify\" must be an absolute path");
	expect_error(HA("  vrid = 1; notify = \"/nonexistent/notify.sh\";\n"),
	    9, "ha: \"notify\": /nonexistent/notify.sh is not an executable file"
	    " (No such file or directory)");
}

CONF_TEST(short_auth_key_is_an_error)
{
	expect_error(HA("  vrid = 1; auth_key = \"short\";\n"),
	    9, "ha: \"auth_key\" must be 16 to 64 characters long");
}

/* One error for one mistake: the refused key is not also "missing". */
CONF_TEST(short_auth_key_with_sync_is_one_error)
{
	expect_error(HA("  vrid = 1; peers = [ \"192.0.2.12\" ]; auth_key = \"short\";"
	    " sync = { };\n"), 9, "ha: \"auth_key\" must be 16 to 64 characters long");
}

CONF_TEST(sync_keys_are_read_with_their_defaults)
{
	struct fc_conf *c = load_ok(HA("  vrid = 1; peers = [ \"192.0.2.12\" ];"
	    " auth_key = \"0123456789abcdef\"; sync = { };\n"));

	cr_expect(c->ha.sync.enabled);
	cr_expect_eq(c->ha.sync.port, 7781);
	cr_expect_eq(c->ha.sync.interval_ms, 10);
	conf_free(c);
	c = load_ok(HA("  vrid = 1; peers = [ \"192.0.2.12\" ];"
	    " auth_key = \"0123456789abcdef\"; sync = { port = 9000; interval_ms = 50; };\n"));
	cr_expect_eq(c->ha.sync.port, 9000);
	cr_expect_eq(c->ha.sync.interval_ms, 50);
	conf_free(c);
	c = load_ok(HA("  vrid = 1;\n"));
	cr_expect_not(c->ha.sync.enabled);
	conf_free(c);
}

CONF_TEST(sync_without_auth_key_or_peer_is_an_error)
{
	expect_error(HA("  vrid = 1; peers = [ \"192.0.2.12\" ]; sync = { };\n"),
	    9, "ha: \"sync\" needs \"auth_key\" (the channel is authenticated with it)");
	expect_error(HA("  vrid = 1; auth_key = \"0123456789abcdef\"; sync = { };\n"),
	    9, "ha: \"sync\" needs an IPv4 unicast peer in \"peers\"");
	expect_error(HA("  vrid = 1; auth_key = \"0123456789abcdef\"; sync = { };"
	    " peers = [ \"192.0.2.1\", \"192.0.2.2\", \"192.0.2.3\", \"192.0.2.4\","
	    " \"192.0.2.5\", \"192.0.2.6\", \"192.0.2.7\", \"192.0.2.8\", \"192.0.2.9\" ];\n"),
	    9, "ha: \"sync\" joins at most 8 IPv4 peers, \"peers\" has 9");
	expect_error(HA("  vrid = 1; peers = [ \"192.0.2.12\" ];"
	    " auth_key = \"0123456789abcdef\"; sync = { port = 0; };\n"),
	    9, "ha sync: \"port\" must be between 1 and 65535");
}

/* Issue 21.2: the channel is a full mesh, in either mode. */
CONF_TEST(sync_joins_several_peers_in_anycast_too)
{
	struct fc_conf *c = load_ok(HA("  mode = \"anycast\"; auth_key = \"0123456789abcdef\";"
	    " peers = [ \"192.0.2.12\", \"192.0.2.13\" ]; sync = { };\n"));

	cr_expect(c->ha.sync.enabled);
	cr_expect_eq(c->ha.mode, FC_HA_ANYCAST);
	cr_expect_eq(c->ha.npeers, 2);
	conf_free(c);
}

CONF_TEST(unicast_src_must_be_an_ipv4_host)
{
	expect_error(HA("  vrid = 1; unicast_src = \"192.0.2.11/24\";\n"),
	    9, "ha: \"unicast_src\" must be an IPv4 host address");
}

/* ------------------------------------------------------ cookie, stats */

CONF_TEST(bad_cookie_mode_is_an_error)
{
	expect_error(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  cookie = { name = \"JSESSIONID\";\n"
	    "    mode = \"prepend\"; };\n"		/* 3 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n",
	    3, "listener \"web\" cookie: \"mode\" must be one of: prefix, insert, rewrite");
}

CONF_TEST(cookie_without_mode_is_an_error)
{
	expect_error(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  cookie = { name = \"JSESSIONID\"; };\n"		/* 2 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n",
	    2, "listener \"web\" cookie: missing \"mode\"");
}

CONF_TEST(cookie_domain_must_be_a_host_name)
{
	/* Copied into Set-Cookie: a ';' or a newline would add attributes or lines. */
	expect_error(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  cookie = { name = \"SERVERID\"; mode = \"insert\";\n"
	    "    domain = \"example.com; Secure\"; };\n"		/* 3 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n",
	    3, "listener \"web\" cookie: \"domain\" must be a host name of 1 to 253"
	    " characters (letters, digits, '.', '-')");
	expect_error(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  cookie = { name = \"SERVERID\"; mode = \"insert\";\n"
	    "    domain = \"a.example\\r\\nX-Evil: 1\"; };\n"		/* 3 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n",
	    3, "listener \"web\" cookie: \"domain\" must be a host name of 1 to 253"
	    " characters (letters, digits, '.', '-')");
}

CONF_TEST(stick_cookie_must_differ_from_the_persistence_cookie)
{
	expect_error(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"	/* 1 */
	    "  cookie = { name = \"JSESSIONID\"; mode = \"prefix\"; };\n"
	    "  stick = { cookie = \"JSESSIONID\"; };\n"
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n",
	    1, "listener \"web\": \"stick.cookie\" and \"cookie.name\" must differ"
	    " (both are \"JSESSIONID\")");
}

CONF_TEST(stats_auth_without_colon_is_an_error)
{
	expect_error(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  stats = { uri = \"/stats\";\n"
	    "    auth = [ \"a:b\",\n"
	    "      \"someuser\" ]; };\n"		/* 4 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n",
	    4, "listener \"web\" stats: \"auth\" entries must be \"user:password\"");
}

CONF_TEST(stats_auth_with_empty_user_is_an_error)
{
	expect_error(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  stats = { uri = \"/stats\"; auth = [ \":pw\" ]; };\n"	/* 2 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n",
	    2, "listener \"web\" stats: \"auth\" entries must be \"user:password\"");
}

CONF_TEST(stats_uri_must_start_with_a_slash)
{
	expect_error(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  stats = { uri = \"stats\"; };\n"		/* 2 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n",
	    2, "listener \"web\" stats: \"uri\" must start with '/' and hold no spaces");
}

/* -------------------------------------------------------------- stick */

CONF_TEST(stick_is_off_without_its_group)
{
	struct fc_conf *c = load_ok(LISTENER);

	cr_expect_str_eq(OWN(c, 0)->stick.cookie, "");
	conf_free(c);
}

CONF_TEST(stick_gets_its_defaults)
{
	struct fc_conf *c = load_ok(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  stick = { cookie = \"PHPSESSID\"; };\n"
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n");
	const struct fc_stick *st = &OWN(c, 0)->stick;

	cr_expect_str_eq(st->cookie, "PHPSESSID");
	cr_expect_eq(st->expire, 1800);
	cr_expect_eq(st->size, 100000);
	conf_free(c);
}

CONF_TEST(stick_takes_every_key_at_its_limits)
{
	struct fc_conf *c = load_ok(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  stick = { cookie = \"my!sess#id\"; expire = 31536000; size = 10000000; };\n"
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } ); },\n"
	    "  { name = \"api\"; bind = \"127.0.0.1:8090\";\n"
	    "  stick = { cookie = \"SID\"; expire = 1; size = 1; };\n"
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8091\"; } );\n"
	    "} );\n");

	cr_expect_str_eq(OWN(c, 0)->stick.cookie, "my!sess#id");
	cr_expect_eq(OWN(c, 0)->stick.expire, 31536000);
	cr_expect_eq(OWN(c, 0)->stick.size, 10000000);
	cr_expect_eq(OWN(c, 1)->stick.expire, 1);
	cr_expect_eq(OWN(c, 1)->stick.size, 1);
	conf_free(c);
}

CONF_TEST(stick_without_cookie_is_an_error)
{
	expect_error(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  stick = { expire = 60; };\n"		/* 2 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n",
	    2, "listener \"web\" stick: missing \"cookie\"");
}

CONF_TEST(stick_cookie_must_be_a_token)
{
	expect_error(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  stick = {\n"
	    "    cookie = \"PHP SESSID\"; };\n"		/* 3 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n",
	    3, "listener \"web\" stick: \"cookie\" must be 1 to 63 characters of a"
	    " cookie name (letters, digits, !#$%&'*+-.^_`|~)");
}

CONF_TEST(stick_expire_and_size_out_of_range_are_errors)
{
	char *errors = load_bad(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  stick = { cookie = \"PHPSESSID\";\n"
	    "    expire = 0;\n"				/* 3 */
	    "    size = 10000001; };\n"			/* 4 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n");

	cr_expect(has_line(errors, path, 3, "listener \"web\" stick: \"expire\" must be"
	    " between 1 and 31536000 seconds"), "%s", errors);
	cr_expect(has_line(errors, path, 4, "listener \"web\" stick: \"size\" must be"
	    " between 1 and 10000000"), "%s", errors);
	cr_expect_eq(count_lines(errors), 2, "%s", errors);
	free(errors);
}

CONF_TEST(stick_unknown_key_and_wrong_shape_are_errors)
{
	char *errors = load_bad(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  stick = { cookie = \"PHPSESSID\";\n"
	    "    expires = 60; };\n"			/* 3 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } ); },\n"
	    "  { name = \"api\"; bind = \"127.0.0.1:8090\";\n"
	    "  stick = \"PHPSESSID\";\n"			/* 6 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8091\"; } );\n"
	    "} );\n");

	cr_expect(has_line(errors, path, 3, "unknown key \"expires\" in listener \"web\""
	    " stick (did you mean \"expire\"?)"), "%s", errors);
	cr_expect(has_line(errors, path, 6, "listener \"api\": \"stick\" must be a"
	    " group { ... }"), "%s", errors);
	cr_expect_eq(count_lines(errors), 2, "%s", errors);
	free(errors);
}

/* ------------------------------------------------------- file level */

CONF_TEST(syntax_error_reports_its_line)
{
	/* libconfig lets ';' go, but not a missing ',' between two groups. */
	expect_error(
	    "listeners = (\n"
	    "  { name = \"a\"; }\n"
	    "  { name = \"b\"; }\n"		/* 3 */
	    ");\n",
	    3, "syntax error");
}

CONF_TEST(missing_value_is_a_syntax_error)
{
	expect_error(
	    "global: {\n"
	    "  workers = ;\n"			/* 2 */
	    "};\n",
	    2, "syntax error");
}

CONF_TEST(missing_file_cannot_be_opened)
{
	char *errors, missing[160];

	snprintf(missing, sizeof(missing), "%s/nope.conf", dir);
	cr_assert_null(conf_load(missing, &errors));
	cr_expect(has_line(errors, missing, 0, "cannot open: No such file or directory"),
	    "got:\n%s", errors);
	free(errors);
}

CONF_TEST(directory_cannot_be_opened)
{
	char *errors;

	cr_assert_null(conf_load(dir, &errors));
	cr_expect(has_line(errors, dir, 0, "cannot open: Is a directory"), "got:\n%s", errors);
	free(errors);
}

CONF_TEST(unreadable_file_cannot_be_opened)
{
	char *errors;

	if (geteuid() == 0) {
		teardown();	/* a skipped test skips .fini too */
		cr_skip_test("root reads any file");
	}
	write_conf(LISTENER);
	cr_assert_eq(chmod(path, 0), 0);
	cr_assert_null(conf_load(path, &errors));
	cr_expect(has_line(errors, path, 0, "cannot open: Permission denied"),
	    "got:\n%s", errors);
	free(errors);
}

CONF_TEST(every_error_is_reported_in_line_order)
{
	char *errors = load_bad(
	    "ha: { interface = \"eth0\"; vrid = 0;\n"			/* 1 */
	    "  vips = [ \"192.0.2.1/24\" ]; };\n"
	    "global: { workers = -1; };\n"				/* 3 */
	    "listeners = ( {\n"						/* 4 */
	    "  name = \"web\";\n"
	    "  balanse = \"roundrobin\";\n"				/* 6 */
	    "  servers = ( { name = \"s1\"; address = \"nowhere\"; weight = 300; } );\n" /* 7 */
	    "} );\n"
	    "frontend: { };\n");					/* 9 */
	const char *want[] = {
		"ha: \"vrid\" must be between 1 and 255",
		"global: \"workers\" must be between 0 and 64",
		"listener \"web\": missing \"bind\"",
		"unknown key \"balanse\" in listener \"web\" (did you mean \"balance\"?)",
		"server \"s1\": invalid address \"nowhere\" (expected HOST:PORT)",
		"server \"s1\": \"weight\" must be between 0 and 256",
		"unknown section \"frontend\" (global, defaults, listeners, backends, ha)",
	};
	const int lines[] = { 1, 3, 4, 6, 7, 7, 9 };
	char expected[2048];
	size_t off = 0, i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		off += (size_t)snprintf(expected + off, sizeof(expected) - off, "%s%s:%d: %s",
		    i ? "\n" : "", path, lines[i], want[i]);
	cr_expect_str_eq(errors, expected);
	free(errors);
}

/* ------------------------------------------------- installed samples */

static void contrib_path(char *file, size_t len, const char *name)
{
	const char *srcdir = getenv("FC_SRCDIR");

	/* make check sets FC_SRCDIR; by hand, run from the top or t/unit. */
	if (srcdir == NULL)
		srcdir = access("contrib", F_OK) == 0 ? "." : "../..";
	snprintf(file, len, "%s/contrib/%s", srcdir, name);
}

static struct fc_conf *load_contrib(const char *name)
{
	char file[PATH_MAX];
	struct fc_conf *c;
	char *errors;

	contrib_path(file, sizeof(file), name);
	c = conf_load(file, &errors);
	cr_assert_not_null(c, "%s does not load:\n%s", file, errors);
	return c;
}

/*
 * The sample runs as user and group "fulcrum", which the package creates;
 * a build machine may not have them, and the loader refuses an unknown
 * user: then the same file is loaded with "nobody" and "nogroup".
 */
static struct fc_conf *load_sample(const char **user, const char **group)
{
	char tmp[] = "/tmp/fc-sample-XXXXXX", sample[PATH_MAX], *errors, *text;
	struct fc_conf *c;
	FILE *in, *out;
	size_t n;
	int fd;

	if (getpwnam("fulcrum") != NULL && getgrnam("fulcrum") != NULL) {
		*user = *group = "fulcrum";
		return load_contrib("fulcrum.conf");
	}
	*user = "nobody";
	*group = "nogroup";
	contrib_path(sample, sizeof(sample), "fulcrum.conf");
	in = fopen(sample, "r");
	cr_assert_not_null(in, "%s", sample);
	text = calloc(1, 1 << 20);
	n = fread(text, 1, (1 << 20) - 1, in);
	fclose(in);
	cr_assert(n > 0 && strstr(text, "user = \"fulcrum\";") != NULL);
	fd = mkstemp(tmp);
	cr_assert(fd >= 0);
	out = fdopen(fd, "w");
	for (char *p = text; *p != '\0'; p++) {
		if (strncmp(p, "user = \"fulcrum\";", 17) == 0) {
			fputs("user = \"nobody\";", out);
			p += 16;
		} else if (strncmp(p, "group = \"fulcrum\";", 18) == 0) {
			fputs("group = \"nogroup\";", out);
			p += 17;
		} else {
			fputc(*p, out);
		}
	}
	fclose(out);
	free(text);
	c = conf_load(tmp, &errors);
	unlink(tmp);
	cr_assert_not_null(c, "the sample does not load:\n%s", errors);
	return c;
}

CONF_TEST(installed_sample_config_loads)
{
	const char *user, *group;
	struct fc_conf *c = load_sample(&user, &group);
	struct fc_listener *l;

	cr_expect_str_eq(c->user, user);
	cr_expect_str_eq(c->group, group);
	cr_expect_str_eq(c->pidfile, "/run/fulcrum.pid");
	cr_expect(c->log.enabled);
	cr_expect_eq(c->log.facility, LOG_LOCAL0);
	cr_assert_eq(c->nlisteners, 1);
	l = &c->listeners[0];
	cr_expect_str_eq(l->name, "webfarm");
	cr_expect_str_eq(l->bind_text[0], "192.168.0.99:80");
	cr_expect(l->forwardfor && l->httpclose);
	cr_expect_eq(LBE(c, l)->cookie.mode, FC_COOKIE_PREFIX);
	cr_expect_str_eq(LBE(c, l)->cookie.name, "JSESSIONID");
	cr_expect_str_eq(l->stats.uri, "/fulcrum?stats");
	cr_expect_str_eq(LBE(c, l)->check.request, "HEAD /check.txt HTTP/1.0");
	cr_expect_eq(LBE(c, l)->check.interval, 2000);
	cr_expect_eq(LBE(c, l)->check.rise, 2);
	cr_expect_eq(LBE(c, l)->check.fall, 3);
	cr_assert_eq(LBE(c, l)->nservers, 2);
	cr_expect_str_eq(LBE(c, l)->servers[0].name, "webA");
	cr_expect_str_eq(LBE(c, l)->servers[0].addr_text, "192.168.0.102:80");
	cr_expect_str_eq(LBE(c, l)->servers[0].cookie, "A");
	cr_expect(LBE(c, l)->servers[0].check);
	cr_expect_str_eq(LBE(c, l)->servers[1].name, "webB");
	cr_expect_str_eq(LBE(c, l)->servers[1].cookie, "B");
	cr_expect(c->ha.enabled);
	cr_expect_eq(c->ha.vrid, 51);
	cr_expect_eq(c->ha.advert_ms, 100);
	cr_expect_eq(c->ha.npeers, 0);
	conf_free(c);
}

CONF_TEST(demo_config_loads)
{
	struct fc_conf *c = load_contrib("demo.conf");
	struct fc_listener *l = &c->listeners[0];

	cr_expect_null(c->user);
	cr_expect_null(c->pidfile);
	cr_expect_eq(c->workers, 2);
	cr_expect(c->log.enabled);
	cr_expect_not(c->ha.enabled);
	cr_assert_eq(c->nlisteners, 1);
	cr_expect_str_eq(l->name, "demo");
	cr_expect_str_eq(l->bind_text[0], "127.0.0.1:8080");
	cr_expect(l->forwardfor);
	cr_assert_eq(LBE(c, l)->nservers, 2);
	cr_expect_str_eq(LBE(c, l)->servers[0].addr_text, "127.0.0.1:8081");
	cr_expect_str_eq(LBE(c, l)->servers[1].addr_text, "127.0.0.1:8082");
	conf_free(c);
}

/* ============================================================== limits */

CONF_TEST(limits_default_to_the_buffer_ceilings)
{
	struct fc_conf *c = load_ok(LISTENER);
	const struct fc_limits *lim = &c->listeners[0].limits;

	cr_expect_eq(lim->request_line, 8192);
	cr_expect_eq(lim->header_size, 15360);
	cr_expect_eq(lim->headers, 100);
	cr_expect_eq(lim->body, 0, "no body limit unless asked");
	conf_free(c);
}

CONF_TEST(limits_inherit_from_defaults_key_by_key)
{
	struct fc_conf *c = load_ok(
	    "defaults: { limits = { request_line = 100; body = 5000000000L; }; };\n"
	    "listeners = ( {\n"
	    "  name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  limits = { headers = 10; header_size = 1024; };\n"
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n");
	const struct fc_limits *lim = &c->listeners[0].limits;

	cr_expect_eq(lim->request_line, 100);
	cr_expect_eq(lim->header_size, 1024);
	cr_expect_eq(lim->headers, 10);
	cr_expect_eq(lim->body, 5000000000LL, "64-bit body sizes");
	conf_free(c);
}

CONF_TEST(limits_out_of_range_name_file_and_line)
{
	expect_error("listeners = ( {\n"
	    "  name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  limits = { header_size = 16384; };\n"
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n", 3,
	    "listener \"web\" limits: \"header_size\" must be between 1024 and 15360");
	expect_error("listeners = ( {\n"
	    "  name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  limits = { headers = 0; };\n"
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } );\n"
	    "} );\n", 3,
	    "listener \"web\" limits: \"headers\" must be between 1 and 100");
	expect_error("defaults: { limits = { requestline = 10; }; };\n" LISTENER, 1,
	    "unknown key \"requestline\" in defaults limits (did you mean \"request_line\"?)");
}

/* ------------------------------------------------- friendlier files */

CONF_TEST(times_take_a_unit_as_in_haproxy)
{
	struct fc_conf *c = load_ok(
	    "global: { drain_timeout = \"1m\"; watchdog_ms = \"3s\"; };\n"
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  timeout = { connect = \"5s\"; client = \"2m\"; server = \"100ms\";\n"
	    "              tunnel = \"1h\"; queue = 2500; };\n"
	    "  check = { interval = \"2s\"; timeout = \"1500ms\"; };\n"
	    "  cookie = { name = \"SRV\"; mode = \"insert\"; maxidle = \"1d\";"
	    " maxlife = 60; };\n"
	    "  stick = { cookie = \"PHPSESSID\"; expire = \"30m\"; };\n"
	    "  stats = { uri = \"/s\"; refresh = \"10s\"; };\n"
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\";"
	    " slowstart = \"30s\"; } ); } );\n");
	struct fc_listener *l = &c->listeners[0];
	struct fc_backend *b = LBE(c, l);

	cr_expect_eq(c->drain_timeout, 60000);
	cr_expect_eq(c->watchdog_ms, 3000);
	cr_expect_eq(l->timeout.connect, 5000);
	cr_expect_eq(l->timeout.client, 120000);
	cr_expect_eq(l->timeout.server, 100);
	cr_expect_eq(l->timeout.tunnel, 3600000);
	cr_expect_eq(l->timeout.queue, 2500);
	cr_expect_eq(b->check.interval, 2000);
	cr_expect_eq(b->check.timeout, 1500);
	cr_expect_eq(b->cookie.maxidle, 86400);		/* seconds */
	cr_expect_eq(b->cookie.maxlife, 60);
	cr_expect_eq(b->stick.expire, 1800);		/* seconds */
	cr_expect_eq(l->stats.refresh, 10);		/* seconds */
	cr_expect_eq(b->servers[0].slowstart, 30000);
	conf_free(c);
}

CONF_TEST(a_time_without_a_known_unit_is_an_error)
{
	char *errors = load_bad(
	    "defaults: { timeout = {\n"
	    "  connect = \"1.5s\";\n"					/* 2 */
	    "  client = \"5\";\n"					/* 3 */
	    "  server = \"5 s\";\n"					/* 4 */
	    "  queue = \"10us\"; }; };\n"				/* 5 */
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  stick = { cookie = \"PHPSESSID\"; expire = \"1500ms\"; };\n" /* 7 */
	    "  stats = { uri = \"/s\"; refresh = true; };\n"		/* 8 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } ); } );\n");
	const char *ms = "must be an integer (milliseconds), or a time with a unit:"
	    " \"100ms\", \"5s\", \"2m\", \"1h\", \"1d\"";
	char want[256];

	snprintf(want, sizeof(want), "defaults timeout: \"connect\" %s", ms);
	cr_expect(has_line(errors, path, 2, want), "%s", errors);
	snprintf(want, sizeof(want), "defaults timeout: \"client\" %s", ms);
	cr_expect(has_line(errors, path, 3, want), "%s", errors);
	snprintf(want, sizeof(want), "defaults timeout: \"server\" %s", ms);
	cr_expect(has_line(errors, path, 4, want), "%s", errors);
	snprintf(want, sizeof(want), "defaults timeout: \"queue\" %s", ms);
	cr_expect(has_line(errors, path, 5, want), "%s", errors);
	cr_expect(has_line(errors, path, 7, "listener \"web\" stick: \"expire\" must be an"
	    " integer (seconds), or a time with a unit: \"100ms\", \"5s\", \"2m\", \"1h\","
	    " \"1d\" (whole seconds)"), "%s", errors);
	cr_expect(has_line(errors, path, 8, "listener \"web\" stats: \"refresh\" must be an"
	    " integer (seconds) or a time (\"30m\")"), "%s", errors);
	cr_expect_eq(count_lines(errors), 6, "%s", errors);
	free(errors);
}

CONF_TEST(a_time_out_of_range_names_its_unit)
{
	expect_error("global: { drain_timeout = \"2h\"; };\n" LISTENER,
	    1, "global: \"drain_timeout\" must be between 0 and 3600000 ms");
}

CONF_TEST(an_unknown_key_far_from_every_key_gets_no_guess)
{
	/* One edit away: named.  Two edits in five letters: too far to guess. */
	expect_error("listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  cookie = { name = \"S\"; mode = \"insert\"; nocash = true; };\n"	/* 2 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } ); } );\n",
	    2, "unknown key \"nocash\" in listener \"web\" cookie (did you mean \"nocache\"?)");
	expect_error("global: { wrkrs = 1; };\n" LISTENER,
	    1, "unknown key \"wrkrs\" in global");
}

CONF_TEST(a_server_may_be_named_by_host_name)
{
	struct fc_conf *c = load_ok(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  servers = ( { name = \"s1\"; address = \"localhost:8081\"; } ); } );\n");
	const struct fc_server *s = &OWN(c, 0)->servers[0];
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&s->addr.ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&s->addr.ss;

	cr_expect_str_eq(s->addr_text, "localhost:8081");
	if (s->addr.ss.ss_family == AF_INET) {
		cr_expect_eq(ntohs(sin->sin_port), 8081);
		cr_expect_eq(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	} else {
		cr_assert_eq(s->addr.ss.ss_family, AF_INET6);
		cr_expect_eq(ntohs(sin6->sin6_port), 8081);
		cr_expect(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
	}
	conf_free(c);
}

CONF_TEST(a_server_name_that_does_not_resolve_is_an_error)
{
	/* RFC 6761: ".invalid" never resolves. */
	char *errors = load_bad(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  servers = ( { name = \"s1\"; address = \"web1.invalid:80\"; } ); } );\n");

	cr_expect(strstr(errors, ":2: server \"s1\": invalid address \"web1.invalid:80\":"
	    " cannot resolve \"web1.invalid\": ") != NULL, "%s", errors);
	cr_expect_eq(count_lines(errors), 1, "%s", errors);
	free(errors);
}

CONF_TEST(prometheus_uri_is_a_second_path_of_the_stats)
{
	struct fc_conf *c = load_ok(
	    "listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  stats = { uri = \"/s\"; prometheus_uri = \"/metrics\"; };\n"
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } ); } );\n");

	cr_expect_str_eq(c->listeners[0].stats.prometheus_uri, "/metrics");
	conf_free(c);
	expect_error("listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  stats = { uri = \"/s\";\n"
	    "    prometheus_uri = \"/s\"; };\n"				/* 3 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } ); } );\n",
	    3, "listener \"web\": stats \"prometheus_uri\" must differ from its \"uri\"");
	expect_error("listeners = ( { name = \"web\"; bind = \"127.0.0.1:8080\";\n"
	    "  stats = { uri = \"/s\"; prometheus_uri = \"metrics\"; };\n"	/* 2 */
	    "  servers = ( { name = \"s1\"; address = \"127.0.0.1:8081\"; } ); } );\n",
	    2, "listener \"web\" stats: \"prometheus_uri\" must start with '/' and hold no"
	    " spaces");
}

CONF_TEST(chroot_must_be_an_existing_absolute_directory)
{
	char text[512], want[256], *errors;
	struct fc_conf *c;

	snprintf(text, sizeof(text), "global: { chroot = \"%s\"; };\n" LISTENER, dir);
	c = load_ok(text);
	cr_expect_str_eq(c->chroot, dir);
	conf_free(c);
	expect_error("global: { chroot = \"var/empty\"; };\n" LISTENER,
	    1, "global: \"chroot\" must be an absolute path");
	expect_error("global: { chroot = \"/nonexistent/fulcrum\"; };\n" LISTENER,
	    1, "global: \"chroot\": /nonexistent/fulcrum is not a directory: No such"
	    " file or directory");
	/* The file itself: there, but no directory. */
	snprintf(text, sizeof(text), "global: { chroot = \"%s\"; };\n" LISTENER, path);
	errors = load_bad(text);
	snprintf(want, sizeof(want), "global: \"chroot\": %s is not a directory", path);
	cr_expect(has_line(errors, path, 1, want), "%s", errors);
	free(errors);
}

CONF_TEST(anycast_takes_no_vrid_and_vrrp_needs_one)
{
	struct fc_conf *c = load_ok(HA("  mode = \"anycast\";\n"));

	cr_expect_eq(c->ha.mode, FC_HA_ANYCAST);
	cr_expect_eq(c->ha.vrid, 0);
	conf_free(c);
	c = load_ok(HA("  vrid = 7;\n"));
	cr_expect_eq(c->ha.mode, FC_HA_VRRP);
	conf_free(c);
	expect_error(HA("  mode = \"anycast\"; vrid = 7;\n"), 9,
	    "ha: \"vrid\" belongs to mode \"vrrp\" (anycast elects no master)");
	expect_error(HA("  priority = 7;\n"), 6, "ha: missing \"vrid\"");
	expect_error(HA("  mode = \"bgp\"; vrid = 7;\n"), 9,
	    "ha: \"mode\" must be one of: vrrp, anycast");
}
