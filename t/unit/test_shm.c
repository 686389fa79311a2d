/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of shm/: the layout (sizes and offsets pinned, so that a change
 * without a version bump is noticed), real segments created and attached
 * (stale ones replaced, live ones refused, other versions refused), and the
 * reports rendered from a synthetic segment whose every counter is known
 * (and the stats page, worker/stats.c, which renders the same report as
 * HTML), and the next generation's segment a reload builds (shm_create_next):
 * health, counters and sessions carried by name, the name taken over.
 *
 * Each test loads its own config from a fresh temporary directory, so its
 * segment name (derived from the file's real path) is its own.  The JSON is
 * parsed by the small parser below: a report that is not valid JSON fails.
 */
#include "config.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/conf.h"
#include "lib/clock.h"
#include "lib/sbuf.h"
#include "shm/report.h"
#include "shm/session.h"
#include "shm/shm.h"
#include "worker/stats.h"

#define NWORKERS	3

static char dir[64];
static char path[128];
static struct fc_conf *conf;
static struct fc_shm seg;		/* the test's writable segment */

/* Listener 0 "web": webA, webB (checked); listener 1 "api": api1 (not). */
static const char conf_text[] =
	"global: { workers = 3; };\n"
	"listeners = (\n"
	"  { name = \"web\"; bind = \"127.0.0.1:18080\";\n"
	"    check = { request = \"HEAD /check.txt HTTP/1.0\"; };\n"
	"    servers = ( { name = \"webA\"; address = \"127.0.0.1:18081\"; check = true; },\n"
	"                { name = \"webB\"; address = \"127.0.0.1:18082\"; check = true;\n"
	"                  weight = 2; } ); },\n"
	"  { name = \"api\"; bind = \"127.0.0.1:18090\";\n"
	"    servers = ( { name = \"api1\"; address = \"127.0.0.1:18091\"; } ); }\n"
	");\n";

static void setup(void)
{
	char *errors = NULL;
	FILE *fp;

	snprintf(dir, sizeof(dir), "/tmp/fc-test-shm-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fulcrum.conf", dir);
	cr_assert_not_null(fp = fopen(path, "w"));
	fputs(conf_text, fp);
	fclose(fp);
	conf = conf_load(path, &errors);
	cr_assert_not_null(conf, "config refused:\n%s", errors ? errors : "");
	memset(&seg, 0, sizeof(seg));
}

static void teardown(void)
{
	char name[FC_SHM_NAME_LEN];

	if (conf != NULL) {
		shm_name_for(conf->path, name, sizeof(name));
		shm_unlink(name);
		conf_free(conf);
	}
	unlink(path);
	rmdir(dir);
}

TestSuite(shm, .init = setup, .fini = teardown);
TestSuite(report, .init = setup, .fini = teardown);

static void create_segment(void)
{
	char err[256] = "";

	cr_assert_eq(shm_create(&seg, conf, NWORKERS, err, sizeof(err)), 0, "%s", err);
}

/* A pid that existed and is gone: a child reaped at once. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return pid;
}

/* ================================================================ layout */

Test(shm, header_layout_is_pinned)
{
	cr_expect_eq(FC_SHM_VERSION, 6, "layout changed? bump the version and this test");
	cr_expect_eq(FC_SHM_MAGIC, UINT64_C(0x314d5552434c5546));
	cr_expect_eq(sizeof(struct fc_shm_header), 4096);
	cr_expect_eq(offsetof(struct fc_shm_header, magic), 0);
	cr_expect_eq(offsetof(struct fc_shm_header, version), 8);
	cr_expect_eq(offsetof(struct fc_shm_header, header_size), 12);
	cr_expect_eq(offsetof(struct fc_shm_header, size), 16);
	cr_expect_eq(offsetof(struct fc_shm_header, master_pid), 24);
	cr_expect_eq(offsetof(struct fc_shm_header, generation), 28);
	cr_expect_eq(offsetof(struct fc_shm_header, start_us), 32);
	cr_expect_eq(offsetof(struct fc_shm_header, fulcrum_version), 40);
	cr_expect_eq(offsetof(struct fc_shm_header, config_path), 56);
	cr_expect_eq(offsetof(struct fc_shm_header, nlisteners), 312);
	cr_expect_eq(offsetof(struct fc_shm_header, nservers), 316);
	cr_expect_eq(offsetof(struct fc_shm_header, nworkers), 320);
	cr_expect_eq(offsetof(struct fc_shm_header, worker_stride), 324);
	cr_expect_eq(offsetof(struct fc_shm_header, off_servers), 328);
	cr_expect_eq(offsetof(struct fc_shm_header, off_workers), 336);
	cr_expect_eq(offsetof(struct fc_shm_header, off_sessions), 344);
	cr_expect_eq(offsetof(struct fc_shm_header, nsessions), 352);
	cr_expect_eq(offsetof(struct fc_shm_header, checker_pid), 356);
	cr_expect_eq(offsetof(struct fc_shm_header, checker_heartbeat_ms), 360);
	cr_expect_eq(offsetof(struct fc_shm_header, ha), 368);
	cr_expect_eq(offsetof(struct fc_shm_header, off_retired), 432);
	cr_expect_eq(offsetof(struct fc_shm_header, off_listeners), 440);
	cr_expect_eq(offsetof(struct fc_shm_header, tickets), 448);
	cr_expect_eq(offsetof(struct fc_shm_header, nbackends), 704);
	cr_expect_eq(offsetof(struct fc_shm_header, nrate), 708);
	cr_expect_eq(offsetof(struct fc_shm_header, off_backends), 712);
	cr_expect_eq(offsetof(struct fc_shm_header, off_shared), 720);
	cr_expect_eq(offsetof(struct fc_shm_header, shared_size), 728);
	cr_expect_eq(offsetof(struct fc_shm_header, ha_rings), 736);
	cr_expect_eq(offsetof(struct fc_shm_header, ha_mode), 800);
	cr_expect_eq(offsetof(struct fc_shm_header, ha_mesh), 808);
	cr_expect_eq(offsetof(struct fc_shm_header, reserved), 1896);
	/* The reserved area's last 24 bytes (4008..4031): split_peer. */
	cr_expect_eq(offsetof(struct fc_shm_header, split_peer), 4008);
	cr_expect_eq(offsetof(struct fc_shm_header, sessions), 4032);
	cr_expect_eq(offsetof(struct fc_shm_split_peer, family), 0);
	cr_expect_eq(offsetof(struct fc_shm_split_peer, addr), 8);
}

Test(shm, ticket_keys_are_pinned)
{
	cr_expect_eq(sizeof(struct fc_tls_tickets), 256);
	cr_expect_eq(offsetof(struct fc_tls_tickets, current), 0);
	cr_expect_eq(offsetof(struct fc_tls_tickets, made), 4);
	cr_expect_eq(offsetof(struct fc_tls_tickets, rotated_us), 8);
	cr_expect_eq(offsetof(struct fc_tls_tickets, key), 16);
	cr_expect_eq(sizeof(struct fc_tls_ticket_key), 80);
}

Test(shm, ha_block_layout_is_pinned)
{
	cr_expect_eq(sizeof(struct fc_shm_ha), 64);
	cr_expect_eq(offsetof(struct fc_shm_ha, enabled), 0);
	cr_expect_eq(offsetof(struct fc_shm_ha, state), 4);
	cr_expect_eq(offsetof(struct fc_shm_ha, since_us), 8);
	cr_expect_eq(offsetof(struct fc_shm_ha, peer_addr), 16);
	cr_expect_eq(offsetof(struct fc_shm_ha, peer_priority), 20);
	cr_expect_eq(offsetof(struct fc_shm_ha, peer_seen_us), 24);
	cr_expect_eq(offsetof(struct fc_shm_ha, priority), 32);
	cr_expect_eq(offsetof(struct fc_shm_ha, vrid), 36);
	cr_expect_eq(offsetof(struct fc_shm_ha, split_count), 40);
	cr_expect_eq(offsetof(struct fc_shm_ha, split_active), 44);
	cr_expect_eq(offsetof(struct fc_shm_ha, split_ms), 48);
	cr_expect_eq(offsetof(struct fc_shm_ha, split_since_us), 56);
	cr_expect_eq(sizeof(struct fc_shm_ha_rings), 64);
	cr_expect_eq(offsetof(struct fc_shm_ha_rings, off), 0);
	cr_expect_eq(offsetof(struct fc_shm_ha_rings, in_tail), 8);
	cr_expect_eq(offsetof(struct fc_shm_ha_rings, out_tail), 16);
}

Test(shm, ha_mesh_layout_is_pinned)
{
	cr_expect_eq(sizeof(struct fc_shm_ha_mesh), 1088);
	cr_expect_eq(offsetof(struct fc_shm_ha_mesh, npeers), 0);
	cr_expect_eq(offsetof(struct fc_shm_ha_mesh, nleases), 4);
	cr_expect_eq(offsetof(struct fc_shm_ha_mesh, lease_s), 8);
	cr_expect_eq(offsetof(struct fc_shm_ha_mesh, peer), 64);
	cr_expect_eq(offsetof(struct fc_shm_ha_mesh, lease), 64 + 8 * 64);
	cr_expect_eq(FC_SHM_HA_PEERS, 8);
	cr_expect_eq(FC_SHM_HA_LEASES, 16);
	cr_expect_eq(sizeof(struct fc_shm_ha_peer), 64);
	cr_expect_eq(offsetof(struct fc_shm_ha_peer, addr), 0);
	cr_expect_eq(offsetof(struct fc_shm_ha_peer, state), 4);
	cr_expect_eq(offsetof(struct fc_shm_ha_peer, since_us), 8);
	cr_expect_eq(offsetof(struct fc_shm_ha_peer, frame_us), 16);
	cr_expect_eq(offsetof(struct fc_shm_ha_peer, sent), 24);
	cr_expect_eq(offsetof(struct fc_shm_ha_peer, received), 32);
	cr_expect_eq(offsetof(struct fc_shm_ha_peer, ha_state), 40);
	cr_expect_eq(sizeof(struct fc_shm_ha_lease), 32);
	cr_expect_eq(offsetof(struct fc_shm_ha_lease, addr), 0);
	cr_expect_eq(offsetof(struct fc_shm_ha_lease, family), 16);
	cr_expect_eq(offsetof(struct fc_shm_ha_lease, prefixlen), 18);
	cr_expect_eq(offsetof(struct fc_shm_ha_lease, held), 20);
	cr_expect_eq(offsetof(struct fc_shm_ha_lease, renewed_us), 24);
}

Test(shm, server_layout_is_pinned)
{
	cr_expect_eq(sizeof(struct fc_shm_server), 384);
	cr_expect_eq(offsetof(struct fc_shm_server, backend), 0);
	cr_expect_eq(offsetof(struct fc_shm_server, name), 64);
	cr_expect_eq(offsetof(struct fc_shm_server, address), 128);
	cr_expect_eq(offsetof(struct fc_shm_server, backend_index), 192);
	cr_expect_eq(offsetof(struct fc_shm_server, weight), 196);
	cr_expect_eq(offsetof(struct fc_shm_server, checked), 200);
	cr_expect_eq(offsetof(struct fc_shm_server, state), 204);
	cr_expect_eq(offsetof(struct fc_shm_server, check_result), 208);
	cr_expect_eq(offsetof(struct fc_shm_server, check_code), 212);
	cr_expect_eq(offsetof(struct fc_shm_server, check_duration_ms), 216);
	cr_expect_eq(offsetof(struct fc_shm_server, check_count), 220);
	cr_expect_eq(offsetof(struct fc_shm_server, last_check_us), 224);
	cr_expect_eq(offsetof(struct fc_shm_server, last_change_us), 232);
	cr_expect_eq(offsetof(struct fc_shm_server, checks), 240);
	cr_expect_eq(offsetof(struct fc_shm_server, check_failures), 248);
	cr_expect_eq(offsetof(struct fc_shm_server, check_desc), 256);
}

Test(shm, worker_layout_is_pinned)
{
	cr_expect_eq(sizeof(struct fc_shm_worker), 256);
	cr_expect_eq(offsetof(struct fc_shm_worker, heartbeat_ms), 0);
	cr_expect_eq(offsetof(struct fc_shm_worker, pid), 8);
	cr_expect_eq(offsetof(struct fc_shm_worker, generation), 12);
	cr_expect_eq(offsetof(struct fc_shm_worker, started_us), 16);
	cr_expect_eq(offsetof(struct fc_shm_worker, cur_conns), 24);
	cr_expect_eq(offsetof(struct fc_shm_worker, total_conns), 32);
	cr_expect_eq(offsetof(struct fc_shm_worker, requests), 40);
	cr_expect_eq(offsetof(struct fc_shm_worker, bytes_in), 48);
	cr_expect_eq(offsetof(struct fc_shm_worker, bytes_out), 56);
	cr_expect_eq(offsetof(struct fc_shm_worker, rate_limited), 64);
	cr_expect_eq(offsetof(struct fc_shm_worker, redirects), 72);
	cr_expect_eq(offsetof(struct fc_shm_worker, cur_tunnels), 80);
	cr_expect_eq(offsetof(struct fc_shm_worker, total_tunnels), 88);
	cr_expect_eq(offsetof(struct fc_shm_worker, errors), 96);
	cr_expect_eq(offsetof(struct fc_shm_worker, srv), 256);
	cr_expect_eq(sizeof(struct fc_shm_srv_counters), 64);
	cr_expect_eq(offsetof(struct fc_shm_srv_counters, cur_conns), 0);
	cr_expect_eq(offsetof(struct fc_shm_srv_counters, requests), 16);
	cr_expect_eq(offsetof(struct fc_shm_srv_counters, bytes_out), 32);
	cr_expect_eq(offsetof(struct fc_shm_srv_counters, retries), 56);
}

Test(shm, listener_and_tls_layout_is_pinned)
{
	cr_expect_eq(sizeof(struct fc_shm_listener), 128);
	cr_expect_eq(offsetof(struct fc_shm_listener, name), 0);
	cr_expect_eq(offsetof(struct fc_shm_listener, tls), 64);
	cr_expect_eq(sizeof(struct fc_shm_tls_counters), 64);
	cr_expect_eq(offsetof(struct fc_shm_tls_counters, handshakes), 0);
	cr_expect_eq(offsetof(struct fc_shm_tls_counters, resumed), 8);
	cr_expect_eq(offsetof(struct fc_shm_tls_counters, failures), 16);
}

/* Values stored in the segment are part of the layout too. */
Test(shm, stored_enum_values_are_pinned)
{
	cr_expect_eq(FC_SRV_MAINT, 0);
	cr_expect_eq(FC_SRV_DOWN, 1);
	cr_expect_eq(FC_SRV_UP, 2);
	cr_expect_eq(FC_CHK_NONE, 0);
	cr_expect_eq(FC_CHK_CONNECT, 1);
	cr_expect_eq(FC_CHK_HTTP_OK, 6);
	cr_expect_eq(FC_ERR_BADREQ, 0);
	cr_expect_eq(FC_ERR_INTERNAL, 9);
	cr_expect_eq(FC_ERR_MAX, 10);
	cr_expect_eq(FC_TLS_FAIL_PROTOCOL, 0);
	cr_expect_eq(FC_TLS_FAIL_VERSION, 1);
	cr_expect_eq(FC_TLS_FAIL_CERT, 2);
	cr_expect_eq(FC_TLS_FAIL_TIMEOUT, 3);
	cr_expect_eq(FC_TLS_FAIL_ABORT, 4);
	cr_expect_eq(FC_TLS_FAIL_OTHER, 5);
	cr_expect_eq(FC_TLS_FAIL_MAX, 6);
}

/* ================================================================ segments */

Test(shm, create_then_attach_ro_sees_the_same_segment)
{
	struct fc_shm ro;
	char err[256] = "", want[FC_SHM_NAME_LEN];
	const struct fc_shm_header *h;

	create_segment();
	shm_name_for(conf->path, want, sizeof(want));
	cr_expect_str_eq(seg.name, want);
	cr_expect_eq(strncmp(seg.name, "/fulcrum-", 9), 0);
	cr_expect_eq(strlen(seg.name), 9 + 16);

	cr_assert_eq(shm_attach_ro(&ro, seg.name + 1, err, sizeof(err)), 0, "%s", err);
	h = ro.hdr;
	cr_expect_eq(h->magic, FC_SHM_MAGIC);
	cr_expect_eq(h->version, FC_SHM_VERSION);
	cr_expect_eq(h->size, ro.size);
	cr_expect_eq(ro.size, seg.size);
	cr_expect_eq(h->master_pid, getpid());
	cr_expect_eq(h->generation, 1);
	cr_expect_str_eq(h->config_path, conf->path);
	cr_expect_str_eq(h->fulcrum_version, PACKAGE_VERSION);
	cr_expect_eq(h->nlisteners, 2);
	cr_expect_eq(h->nservers, 3);
	cr_expect_eq(h->nworkers, NWORKERS);
	cr_expect_eq(h->off_workers % FC_SHM_PAGE, 0, "worker blocks are page aligned");
	cr_expect_eq(h->worker_stride % FC_SHM_PAGE, 0);
	cr_expect_geq(h->worker_stride, sizeof(struct fc_shm_worker) +
	    3 * sizeof(struct fc_shm_srv_counters));
	cr_expect_leq(h->off_sessions, h->size);
	cr_expect(shm_instance_alive(&ro));

	/* The server table, in listener order, and empty worker blocks. */
	cr_expect_str_eq(shm_server(&ro, 0)->name, "webA");
	cr_expect_str_eq(shm_server(&ro, 1)->name, "webB");
	cr_expect_str_eq(shm_server(&ro, 1)->address, "127.0.0.1:18082");
	cr_expect_eq(shm_server(&ro, 1)->weight, 2);
	cr_expect_str_eq(shm_server(&ro, 2)->backend, "api");
	cr_expect_eq(shm_server(&ro, 2)->backend_index, 1);
	cr_expect_eq(shm_server(&ro, 0)->checked, 1);
	cr_expect_eq(shm_server(&ro, 2)->checked, 0);
	cr_expect_eq(shm_server(&ro, 0)->state, FC_SRV_UP, "checked servers start UP");
	cr_expect_eq(shm_server_index(conf, 1, 0), 2);

	/* What the master writes, the tool reads. */
	shm_store(&shm_worker(&seg, 2)->srv[1].requests, 42);
	cr_expect_eq(shm_load(&shm_worker(&ro, 2)->srv[1].requests), 42);
	cr_expect_eq(shm_load(&shm_worker(&ro, 0)->requests), 0);
	shm_detach(&ro);
	shm_destroy(&seg);
}

/* Listener 1, "api", terminates TLS (the config cannot say so yet). */
static void api_has_tls(void)
{
	conf->listeners[1].tls.enabled = true;
}

Test(shm, listener_table_names_each_listener_and_its_tls)
{
	const struct fc_shm_header *h;

	api_has_tls();
	create_segment();
	h = seg.hdr;
	cr_expect_eq(h->off_listeners, h->off_servers + 3 * sizeof(struct fc_shm_server),
	    "right after the servers");
	cr_expect_leq(h->off_listeners + 2 * sizeof(struct fc_shm_listener), h->off_workers);
	cr_expect_eq(h->off_workers % FC_SHM_PAGE, 0);
	cr_expect_str_eq(shm_listener(&seg, 0)->name, "web");
	cr_expect_eq(shm_listener(&seg, 0)->tls, 0);
	cr_expect_str_eq(shm_listener(&seg, 1)->name, "api");
	cr_expect_eq(shm_listener(&seg, 1)->tls, 1);
	shm_destroy(&seg);
}

/*
 * Every (worker, listener) has its own TLS counters, after the block's
 * servers and inside the block; the retired block has them too; and what
 * a worker writes through shm_worker_tls() is what a tool reads.
 */
Test(shm, tls_counters_are_per_worker_and_listener_inside_the_block)
{
	struct fc_shm_tls_counters *seen[(NWORKERS + 1) * 2];
	char err[256] = "";
	struct fc_shm ro;
	int n = 0;

	create_segment();
	for (int w = 0; w <= NWORKERS; w++) {
		struct fc_shm_worker *blk = w < NWORKERS ? shm_worker(&seg, (uint32_t)w) :
		    shm_retired(&seg);

		for (int l = 0; l < 2; l++) {
			struct fc_shm_tls_counters *c = shm_block_tls(&seg, blk, (uint32_t)l);

			if (w < NWORKERS)
				cr_expect_eq(shm_worker_tls(&seg, w, l), c, "worker %d", w);
			cr_expect_geq((char *)c, (char *)&blk->srv[3], "w%d l%d: after the "
			    "servers", w, l);
			cr_expect_leq((char *)(c + 1), (char *)blk + seg.hdr->worker_stride,
			    "w%d l%d: inside the block", w, l);
			cr_expect_eq((uintptr_t)c % 64, 0, "w%d l%d: cache-line aligned", w, l);
			for (int k = 0; k < n; k++)
				cr_expect_neq(seen[k], c, "w%d l%d shares counters", w, l);
			seen[n++] = c;
		}
	}
	cr_expect_leq((char *)(shm_block_tls(&seg, shm_retired(&seg), 1) + 1),
	    (char *)seg.hdr + seg.hdr->off_sessions);

	for (int w = 0; w < NWORKERS; w++)
		for (int l = 0; l < 2; l++)
			shm_store(&shm_worker_tls(&seg, w, l)->failures[FC_TLS_FAIL_CERT],
			    (uint64_t)(10 * w + l + 1));
	cr_assert_eq(shm_attach_ro(&ro, seg.name, err, sizeof(err)), 0, "%s", err);
	for (int w = 0; w < NWORKERS; w++)
		for (int l = 0; l < 2; l++)
			cr_expect_eq(shm_load(&shm_worker_tls(&ro, w, l)->failures[FC_TLS_FAIL_CERT]),
			    (uint64_t)(10 * w + l + 1), "w%d l%d", w, l);
	cr_expect_eq(shm_load(&shm_worker(&ro, 0)->srv[2].retries), 0, "a server's counters "
	    "untouched");
	shm_detach(&ro);
	shm_destroy(&seg);
}

/* Runs fn in a child; returns its wait status. */
static int in_child(void (*fn)(void))
{
	int status;
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* Die of the fault, even under AddressSanitizer's own handler. */
		signal(SIGSEGV, SIG_DFL);
		fn();
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/* Worker 1's last listener: the end of its block. */
static void worker1_counts_its_handshake(void)
{
	if (shm_protect_worker(&seg, 1) < 0)
		_exit(3);
	shm_add(&shm_worker_tls(&seg, 1, 1)->failures[FC_TLS_FAIL_OTHER], 1);
}

static void worker1_counts_worker0s_handshake(void)
{
	if (shm_protect_worker(&seg, 1) < 0)
		_exit(3);
	shm_add(&shm_worker_tls(&seg, 0, 1)->handshakes, 1);
}

Test(shm, a_worker_writes_its_own_tls_counters_only)
{
	int status;

	create_segment();
	status = in_child(worker1_counts_its_handshake);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	cr_expect_eq(shm_worker_tls(&seg, 1, 1)->failures[FC_TLS_FAIL_OTHER], 1);
	status = in_child(worker1_counts_worker0s_handshake);
	cr_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV, "status %d", status);
	cr_expect_eq(shm_worker_tls(&seg, 0, 1)->handshakes, 0);
	shm_destroy(&seg);
}

/* The tool's mapping must not be able to scribble on a live instance. */
Test(shm, attach_ro_maps_read_only)
{
	struct fc_shm ro;
	char err[256] = "", line[512], want[32];
	bool found = false;
	FILE *fp;

	create_segment();
	cr_assert_eq(shm_attach_ro(&ro, seg.name, err, sizeof(err)), 0, "%s", err);
	snprintf(want, sizeof(want), "%lx-", (unsigned long)(uintptr_t)ro.hdr);
	cr_assert_not_null(fp = fopen("/proc/self/maps", "r"));
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (strncmp(line, want, strlen(want)) != 0)
			continue;
		found = true;
		cr_expect_eq(strncmp(strchr(line, ' ') + 1, "r--s", 4), 0, "mapping: %s", line);
	}
	fclose(fp);
	cr_expect(found, "mapping at %s not in /proc/self/maps", want);
	shm_detach(&ro);
	shm_destroy(&seg);
}

Test(shm, destroy_removes_the_segment)
{
	struct fc_shm ro;
	char err[256] = "", name[FC_SHM_NAME_LEN];

	create_segment();
	snprintf(name, sizeof(name), "%s", seg.name);
	shm_destroy(&seg);
	cr_expect_null(seg.hdr);
	errno = 0;
	cr_expect_eq(shm_attach_ro(&ro, name, err, sizeof(err)), -1);
	cr_expect_eq(errno, ENOENT, "%s", err);
}

Test(shm, stale_segment_of_a_dead_master_is_replaced)
{
	char err[256] = "", names[16][FC_SHM_NAME_LEN];
	struct fc_shm ro;
	int n;

	create_segment();
	seg.hdr->master_pid = dead_pid();
	shm_worker(&seg, 0)->requests = 77;
	shm_detach(&seg);		/* a crash: mapped no more, not removed */

	cr_assert_eq(shm_attach_ro(&ro, seg.name, err, sizeof(err)), 0, "%s", err);
	cr_expect_not(shm_instance_alive(&ro), "master pid %d is dead", ro.hdr->master_pid);
	shm_detach(&ro);
	n = shm_list_live(names, 16);
	for (int i = 0; i < n && i < 16; i++)
		cr_expect_str_neq(names[i], seg.name, "a dead instance is listed as live");

	cr_assert_eq(shm_create(&seg, conf, NWORKERS, err, sizeof(err)), 0,
	    "stale segment not replaced: %s", err);
	cr_expect_eq(seg.hdr->master_pid, getpid());
	cr_expect_eq(shm_worker(&seg, 0)->requests, 0, "the new segment starts at zero");
	shm_destroy(&seg);
}

Test(shm, segment_of_a_live_master_is_refused)
{
	char err[256] = "", pidtext[32];
	struct fc_shm again;
	pid_t owner;
	int rc;

	create_segment();
	if ((owner = fork()) == 0) {
		pause();
		_exit(0);
	}
	cr_assert_gt(owner, 0);
	seg.hdr->master_pid = owner;		/* another process runs this config */
	rc = shm_create(&again, conf, NWORKERS, err, sizeof(err));
	kill(owner, SIGKILL);
	waitpid(owner, NULL, 0);

	cr_expect_eq(rc, -1, "a second master took over a live instance's segment");
	snprintf(pidtext, sizeof(pidtext), "master pid %d", (int)owner);
	cr_expect_not_null(strstr(err, pidtext), "error does not name the owner: %s", err);
	cr_expect_not_null(strstr(err, seg.name), "error does not name the segment: %s", err);
	cr_expect_eq(seg.hdr->master_pid, owner, "the live segment was touched");
	shm_destroy(&seg);
}

Test(shm, list_live_lists_a_live_instance)
{
	char names[64][FC_SHM_NAME_LEN];
	bool found = false;
	int n;

	create_segment();
	n = shm_list_live(names, 64);
	for (int i = 0; i < n && i < 64; i++)
		found |= strcmp(names[i], seg.name) == 0;
	cr_expect(found, "%s not among the %d live instances", seg.name, n);
	shm_destroy(&seg);
}

Test(shm, other_layout_version_is_refused_naming_both)
{
	char err[256] = "", theirs[32], ours[32];
	struct fc_shm ro;

	create_segment();
	seg.hdr->version = FC_SHM_VERSION + 1;
	cr_expect_eq(shm_attach_ro(&ro, seg.name, err, sizeof(err)), -1);
	snprintf(theirs, sizeof(theirs), "version %d", FC_SHM_VERSION + 1);
	snprintf(ours, sizeof(ours), "version %d", FC_SHM_VERSION);
	cr_expect_not_null(strstr(err, theirs), "segment's version not named: %s", err);
	cr_expect_not_null(strstr(err, ours), "tool's version not named: %s", err);
	shm_destroy(&seg);
}

Test(shm, not_a_segment_is_refused)
{
	char err[256] = "";
	struct fc_shm ro;

	create_segment();
	seg.hdr->magic = 0;
	cr_expect_eq(shm_attach_ro(&ro, seg.name, err, sizeof(err)), -1);
	cr_expect_not_null(strstr(err, "not a fulcrum segment"), "%s", err);
	shm_destroy(&seg);
}

/* ================================================================ JSON */

/* A JSON value: just enough of a parser to refuse what is not JSON. */
enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	enum jtype t;
	bool b;
	char *s;			/* J_STR: decoded; J_NUM: the text */
	int n;				/* J_ARR, J_OBJ: items */
	char **keys;			/* J_OBJ */
	struct jv *items;
};

static const char *jp;

static void jws(void)
{
	while (*jp == ' ' || *jp == '\t' || *jp == '\n' || *jp == '\r')
		jp++;
}

static bool jvalue(struct jv *v);

static bool jstring(char **out)
{
	struct fc_sbuf b = { 0 };

	if (*jp++ != '"')
		return false;
	sbuf_put(&b, "", 0);
	for (; *jp != '"'; jp++) {
		unsigned int u;
		char c;

		if ((unsigned char)*jp < 0x20)
			goto bad;		/* raw control characters, or the end */
		if (*jp != '\\') {
			sbuf_put(&b, jp, 1);
			continue;
		}
		switch (*++jp) {
		case '"': case '\\': case '/': c = *jp; break;
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'u':
			if (sscanf(jp + 1, "%4x", &u) != 1 || strspn(jp + 1,
			    "0123456789abcdefABCDEF") < 4)
				goto bad;
			jp += 4;
			c = u < 0x80 ? (char)u : '?';
			break;
		default:
			goto bad;
		}
		sbuf_put(&b, &c, 1);
	}
	jp++;
	*out = b.p;
	return true;
bad:
	sbuf_free(&b);
	return false;
}

static bool jnumber(struct jv *v)
{
	const char *start = jp;

	if (*jp == '-')
		jp++;
	if (*jp == '0')
		jp++;
	else if (*jp >= '1' && *jp <= '9')
		jp += strspn(jp, "0123456789");
	else
		return false;
	if (*jp == '.') {
		jp++;
		if (strspn(jp, "0123456789") == 0)
			return false;
		jp += strspn(jp, "0123456789");
	}
	if (*jp == 'e' || *jp == 'E') {
		jp++;
		jp += *jp == '+' || *jp == '-';
		if (strspn(jp, "0123456789") == 0)
			return false;
		jp += strspn(jp, "0123456789");
	}
	v->t = J_NUM;
	v->s = strndup(start, (size_t)(jp - start));
	return true;
}

static bool jlist(struct jv *v, bool obj)
{
	char close = obj ? '}' : ']';

	v->t = obj ? J_OBJ : J_ARR;
	jp++;
	jws();
	if (*jp == close) {
		jp++;
		return true;
	}
	for (;;) {
		v->items = realloc(v->items, (size_t)(v->n + 1) * sizeof(*v->items));
		v->keys = realloc(v->keys, (size_t)(v->n + 1) * sizeof(*v->keys));
		memset(&v->items[v->n], 0, sizeof(v->items[0]));
		v->keys[v->n] = NULL;
		v->n++;
		jws();
		if (obj) {
			if (!jstring(&v->keys[v->n - 1]))
				return false;
			jws();
			if (*jp++ != ':')
				return false;
		}
		if (!jvalue(&v->items[v->n - 1]))
			return false;
		jws();
		if (*jp == close) {
			jp++;
			return true;
		}
		if (*jp++ != ',')
			return false;
	}
}

static bool jvalue(struct jv *v)
{
	jws();
	if (*jp == '{' || *jp == '[')
		return jlist(v, *jp == '{');
	if (*jp == '"') {
		v->t = J_STR;
		return jstring(&v->s);
	}
	if (strncmp(jp, "true", 4) == 0 || strncmp(jp, "false", 5) == 0) {
		v->t = J_BOOL;
		v->b = *jp == 't';
		jp += v->b ? 4 : 5;
		return true;
	}
	if (strncmp(jp, "null", 4) == 0) {
		v->t = J_NULL;
		jp += 4;
		return true;
	}
	return jnumber(v);
}

static void jfree(struct jv *v)
{
	for (int i = 0; i < v->n; i++) {
		jfree(&v->items[i]);
		if (v->keys != NULL)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->s);
}

/* Parses text, which must be one JSON value and nothing else. */
static void jparse(struct jv *root, const char *text)
{
	memset(root, 0, sizeof(*root));
	jp = text;
	cr_assert(jvalue(root), "not JSON at offset %td: %.60s", jp - text, jp);
	jws();
	cr_assert_eq(*jp, '\0', "trailing bytes after the JSON value: %.60s", jp);
}

/* The value at "a.b.0.c" (array items by index), or NULL. */
static const struct jv *jget(const struct jv *v, const char *where)
{
	char p[128], *save = NULL;

	snprintf(p, sizeof(p), "%s", where);
	for (char *k = strtok_r(p, ".", &save); k != NULL && v != NULL;
	    k = strtok_r(NULL, ".", &save)) {
		const struct jv *next = NULL;

		if (v->t == J_ARR && atoi(k) < v->n)
			next = &v->items[atoi(k)];
		for (int i = 0; v->t == J_OBJ && i < v->n; i++)
			if (strcmp(v->keys[i], k) == 0)
				next = &v->items[i];
		v = next;
	}
	return v;
}

static uint64_t jnum(const struct jv *root, const char *where)
{
	const struct jv *v = jget(root, where);

	cr_assert_not_null(v, "%s: missing", where);
	cr_assert_eq(v->t, J_NUM, "%s: not a number", where);
	return strtoull(v->s, NULL, 10);
}

static const char *jstr(const struct jv *root, const char *where)
{
	const struct jv *v = jget(root, where);

	cr_assert_not_null(v, "%s: missing", where);
	cr_assert_eq(v->t, J_STR, "%s: not a string", where);
	return v->s;
}

static bool jbool(const struct jv *root, const char *where)
{
	const struct jv *v = jget(root, where);

	cr_assert_not_null(v, "%s: missing", where);
	cr_assert_eq(v->t, J_BOOL, "%s: not a boolean", where);
	return v->b;
}

static bool jnull(const struct jv *root, const char *where)
{
	const struct jv *v = jget(root, where);

	cr_assert_not_null(v, "%s: missing", where);
	return v->t == J_NULL;
}

/* The object at where has exactly these keys (comma-separated). */
static void expect_keys(const struct jv *root, const char *where, const char *keys)
{
	const struct jv *v = where[0] ? jget(root, where) : root;
	char k[256], *save = NULL;
	int n = 0;

	cr_assert(v != NULL && v->t == J_OBJ, "%s: not an object", where);
	snprintf(k, sizeof(k), "%s", keys);
	for (char *w = strtok_r(k, ",", &save); w != NULL; w = strtok_r(NULL, ",", &save)) {
		char at[160];

		snprintf(at, sizeof(at), "%s%s%s", where, where[0] ? "." : "", w);
		cr_expect_not_null(jget(root, at), "%s: missing", at);
		n++;
	}
	cr_expect_eq(v->n, n, "%s: %d keys, want exactly %s", where, v->n, keys);
}

/* ================================================================ a synthetic segment */

/*
 * Every counter is known.  Worker w's counter f (0 cur_conns ... 7 retries,
 * in struct order) for server i is 1000 (f + 1) + 10 (w + 1) + i + 1, so a
 * sum over the three workers is 3000 (f + 1) + 60 + 3 (i + 1): webA's
 * requests (f = 2, i = 0) sum to 9063.
 */
static uint64_t srv_value(int w, int i, int f)
{
	return 1000u * (unsigned)(f + 1) + 10u * (unsigned)(w + 1) + (unsigned)i + 1;
}

/* The counters of struct fc_shm_srv_counters, in order. */
static const size_t counter_off[8] = {
	offsetof(struct fc_shm_srv_counters, cur_conns),
	offsetof(struct fc_shm_srv_counters, total_conns),
	offsetof(struct fc_shm_srv_counters, requests),
	offsetof(struct fc_shm_srv_counters, bytes_in),
	offsetof(struct fc_shm_srv_counters, bytes_out),
	offsetof(struct fc_shm_srv_counters, conn_errors),
	offsetof(struct fc_shm_srv_counters, resp_errors),
	offsetof(struct fc_shm_srv_counters, retries),
};

static void fill_workers(uint64_t now_ms)
{
	/* Heartbeats 0, 1.5 and 2.5 s old: workers 0 and 1 alive. */
	static const uint64_t age[NWORKERS] = { 0, 1500, 2500 };

	for (int w = 0; w < NWORKERS; w++) {
		struct fc_shm_worker *wk = shm_worker(&seg, (uint32_t)w);

		wk->pid = getpid();	/* alive needs a live process too */
		wk->heartbeat_ms = now_ms - age[w];
		wk->cur_conns = (uint64_t)w + 1;			/* sum 6 */
		wk->total_conns = 100u * ((uint64_t)w + 1);		/* 600 */
		wk->requests = 1000u * ((uint64_t)w + 1) + 7;		/* 6021 */
		wk->bytes_in = (UINT64_C(1) << 60) + (uint64_t)w;	/* > 2^53 */
		wk->bytes_out = 5000u + (uint64_t)w;			/* 15003 */
		for (int k = 0; k < FC_ERR_MAX; k++)
			wk->errors[k] = (uint64_t)k * ((uint64_t)w + 1);	/* 6 k */
		for (int i = 0; i < 3; i++)
			for (int f = 0; f < 8; f++)
				*(uint64_t *)((char *)&wk->srv[i] + counter_off[f]) =
				    srv_value(w, i, f);
	}
}

static void fill_servers(uint64_t now_us)
{
	struct fc_shm_server *a = shm_server(&seg, 0), *b = shm_server(&seg, 1);

	a->state = FC_SRV_UP;
	a->check_result = FC_CHK_HTTP_OK;
	a->check_code = 200;
	a->check_duration_ms = 3;
	a->checks = 10;
	a->check_failures = 1;
	a->last_check_us = now_us - 500000;
	a->last_change_us = now_us - 65000000;
	snprintf(a->check_desc, sizeof(a->check_desc), "HTTP 200 in 3 ms");

	b->state = FC_SRV_DOWN;
	b->check_result = FC_CHK_CONNECT;
	b->check_code = -1;
	b->check_duration_ms = 1;
	b->checks = 10;
	b->check_failures = 4;
	b->last_check_us = now_us - 200000;
	b->last_change_us = now_us - 3000000;
	snprintf(b->check_desc, sizeof(b->check_desc), "connection refused");
}

static void fill_ha(uint64_t now_us)
{
	struct fc_shm_ha *ha = &seg.hdr->ha;

	ha->enabled = 1;
	ha->state = 2;
	ha->since_us = now_us - 10000000;
	ha->peer_addr = inet_addr("192.168.0.2");
	ha->peer_priority = 100;
	ha->peer_seen_us = now_us - 250000;
	ha->priority = 101;
	ha->vrid = 51;
}

static void synthetic(void)
{
	create_segment();
	fill_workers(clock_mono_ms());
	fill_servers(clock_wall_us());
	fill_ha(clock_wall_us());
}

/*
 * Worker w's TLS counters of listener l: handshakes 1000 (l + 1) + w + 1,
 * resumed 100 (l + 1) + w + 1, failures[k] 10 k + w + 1.  Summed over the
 * three workers, api's (l = 1): 6006 handshakes, 606 resumed, failures[k]
 * 30 k + 6, 486 in all.  Web's are counted too, but web has no TLS.
 */
static void fill_tls(void)
{
	for (int w = 0; w < NWORKERS; w++) {
		for (int l = 0; l < 2; l++) {
			struct fc_shm_tls_counters *c = shm_worker_tls(&seg, w, l);

			c->handshakes = 1000u * (unsigned)(l + 1) + (unsigned)w + 1;
			c->resumed = 100u * (unsigned)(l + 1) + (unsigned)w + 1;
			for (int k = 0; k < FC_TLS_FAIL_MAX; k++)
				c->failures[k] = 10u * (unsigned)k + (unsigned)w + 1;
		}
	}
}

/* The synthetic segment with api terminating TLS. */
static void synthetic_tls(void)
{
	api_has_tls();
	synthetic();
	fill_tls();
}

/* Renders the synthetic segment; the caller frees the text. */
static char *render(enum fc_report_fmt fmt, int listener)
{
	struct fc_report r;
	struct fc_sbuf b = { 0 };
	bool show[64] = { false };

	report_snapshot(&r, &seg);
	/* A listener's stats page: its own servers' backend. */
	for (uint32_t k = 0; k < r.nbackends && k < 64; k++)
		show[k] = shm_backend(&seg, k)->listener == listener;
	r.show_backend = show;
	report_render(&r, fmt, listener, &b);
	report_free(&r);
	cr_assert_not_null(b.p, "empty report");
	return b.p;
}

/* ================================================================ report */

Test(report, snapshot_sums_over_workers_exactly)
{
	struct fc_report r;

	synthetic();
	report_snapshot(&r, &seg);
	cr_expect_eq(r.nservers, 3);
	cr_expect_eq(r.nworkers, NWORKERS);
	cr_expect_eq(r.cur_conns, 6);
	cr_expect_eq(r.total_conns, 600);
	cr_expect_eq(r.requests, 6021);
	cr_expect_eq(r.bytes_in, 3 * (UINT64_C(1) << 60) + 3);
	cr_expect_eq(r.bytes_out, 15003);
	for (int k = 0; k < FC_ERR_MAX; k++)
		cr_expect_eq(r.errors[k], 6u * (uint64_t)k, "errors[%d]", k);
	cr_expect_eq(r.servers[0].sum.cur_conns, 3063);
	cr_expect_eq(r.servers[0].sum.requests, 9063);
	cr_expect_eq(r.servers[1].sum.bytes_in, 12066);
	cr_expect_eq(r.servers[2].sum.retries, 24069);
	cr_expect_eq(r.servers[1].state, FC_SRV_DOWN);
	cr_expect_eq(r.workers_alive, 2);
	report_free(&r);
	cr_expect_null(r.servers);
	shm_destroy(&seg);
}

Test(report, worker_alive_needs_a_pid_and_a_fresh_heartbeat)
{
	struct fc_report r;

	synthetic();
	shm_worker(&seg, 0)->pid = 0;		/* fresh heartbeat, no pid */
	report_snapshot(&r, &seg);
	cr_expect_not(report_worker_alive(&r, 0), "a block without pid is alive");
	cr_expect(report_worker_alive(&r, 1), "1.5 s old heartbeat: alive");
	cr_expect_not(report_worker_alive(&r, 2), "2.5 s old heartbeat: alive");
	cr_expect_not(report_worker_alive(&r, NWORKERS), "slot past the end: alive");
	cr_expect_eq(r.workers_alive, 1);
	report_free(&r);
	shm_worker(&seg, 1)->pid = dead_pid();	/* fresh heartbeat, process gone */
	report_snapshot(&r, &seg);
	cr_expect_not(report_worker_alive(&r, 1), "a killed worker is alive");
	/* worker 0 has no pid, worker 1 is gone: only worker 2 counts */
	cr_expect_eq(r.cur_conns, 3, "a killed worker's connections are counted");
	report_free(&r);
	shm_destroy(&seg);
}

Test(report, json_has_the_contract_shape)
{
	char *text;
	struct jv j;

	synthetic();
	text = render(FC_REPORT_JSON, -1);
	jparse(&j, text);
	expect_keys(&j, "", "instance,servers,backends,listeners,workers,totals,sessions,ha");
	expect_keys(&j, "backends.0", "name,balance,listener,servers,up,counters");
	expect_keys(&j, "instance", "pid,generation,start_time,start_time_us,uptime_s,"
	    "version,config,segment");
	expect_keys(&j, "servers.0", "backend,listener,name,address,state,last_change_ms,"
	    "check,weight,eweight,backup,counters");
	expect_keys(&j, "servers.0.check", "enabled,result,code,duration_ms,desc,checks,"
	    "failures,last_check_ms_ago");
	expect_keys(&j, "servers.0.counters", "cur_conns,total_conns,requests,bytes_in,"
	    "bytes_out,conn_errors,resp_errors,retries");
	expect_keys(&j, "listeners.0", "name,tls");
	expect_keys(&j, "listeners.1", "name,tls");
	expect_keys(&j, "workers.0", "slot,pid,alive,heartbeat_ms_ago,cur_conns,"
	    "total_conns,requests,bytes_in,bytes_out,rate_limited,redirects,cur_tunnels,"
	    "total_tunnels,errors");
	expect_keys(&j, "workers.0.errors", "bad_request,request_timeout,client_abort,"
	    "conn_refused,conn_timeout,bad_response,no_server,server_timeout,"
	    "server_abort,internal");
	expect_keys(&j, "totals", "cur_conns,total_conns,requests,bytes_in,bytes_out,"
	    "rate_limited,redirects,cur_tunnels,total_tunnels,errors,workers_alive,workers");
	expect_keys(&j, "sessions", "size,capacity");
	expect_keys(&j, "ha", "enabled,state,since_ms_ago,priority,vrid,mode,peer,"
	    "peer_priority,peer_seen_ms_ago,split_brain,peers,lease_s,vips");
	expect_keys(&j, "ha.split_brain", "count,ms,active,peer");
	cr_expect_eq(jget(&j, "servers")->n, 3);
	cr_expect_eq(jget(&j, "listeners")->n, 2);
	cr_expect_eq(jget(&j, "workers")->n, NWORKERS);
	jfree(&j);
	free(text);
	shm_destroy(&seg);
}

Test(report, snapshot_sums_tls_counters_per_listener)
{
	struct fc_report r;

	synthetic_tls();
	report_snapshot(&r, &seg);
	cr_assert_eq(r.nlisteners, 2);
	cr_expect_not(r.listeners[0].tls);
	cr_expect(r.listeners[1].tls);
	cr_expect_str_eq(r.listeners[1].shm->name, "api");
	cr_expect_eq(r.listeners[1].sum.handshakes, 6006);
	cr_expect_eq(r.listeners[1].sum.resumed, 606);
	for (int k = 0; k < FC_TLS_FAIL_MAX; k++)
		cr_expect_eq(r.listeners[1].sum.failures[k], 30u * (unsigned)k + 6, "[%d]", k);
	cr_expect_eq(report_tls_failures(&r.listeners[1].sum), 486);
	cr_expect_eq(r.listeners[0].sum.handshakes, 3006);
	report_free(&r);
	cr_expect_null(r.listeners);
	shm_destroy(&seg);
}

/* A listener without TLS is named, "tls":false, and has no counters. */
Test(report, json_lists_listeners_with_tls_counters_for_tls_ones_only)
{
	char *text;
	struct jv j;

	synthetic_tls();
	text = render(FC_REPORT_JSON, -1);
	jparse(&j, text);
	cr_assert_eq(jget(&j, "listeners")->n, 2);
	expect_keys(&j, "listeners.0", "name,tls");
	cr_expect_str_eq(jstr(&j, "listeners.0.name"), "web");
	cr_expect_not(jbool(&j, "listeners.0.tls"));
	expect_keys(&j, "listeners.1", "name,tls,tls_counters");
	expect_keys(&j, "listeners.1.tls_counters", "handshakes,resumed,failures");
	expect_keys(&j, "listeners.1.tls_counters.failures",
	    "protocol,version,cert,timeout,abort,other");
	cr_expect_str_eq(jstr(&j, "listeners.1.name"), "api");
	cr_expect(jbool(&j, "listeners.1.tls"));
	cr_expect_eq(jnum(&j, "listeners.1.tls_counters.handshakes"), 6006);
	cr_expect_eq(jnum(&j, "listeners.1.tls_counters.resumed"), 606);
	cr_expect_eq(jnum(&j, "listeners.1.tls_counters.failures.protocol"), 6);
	cr_expect_eq(jnum(&j, "listeners.1.tls_counters.failures.timeout"), 96);
	cr_expect_eq(jnum(&j, "listeners.1.tls_counters.failures.other"), 156);
	jfree(&j);
	free(text);

	text = render(FC_REPORT_JSON, 0);
	jparse(&j, text);
	cr_assert_eq(jget(&j, "listeners")->n, 1, "the filter keeps one listener");
	cr_expect_str_eq(jstr(&j, "listeners.0.name"), "web");
	jfree(&j);
	free(text);
	text = render(FC_REPORT_JSON, 1);
	jparse(&j, text);
	cr_assert_eq(jget(&j, "listeners")->n, 1);
	cr_expect_eq(jnum(&j, "listeners.0.tls_counters.handshakes"), 6006);
	jfree(&j);
	free(text);
	shm_destroy(&seg);
}

Test(report, json_instance_and_servers)
{
	const char *when;
	char *text;
	struct jv j;

	synthetic();
	text = render(FC_REPORT_JSON, -1);
	jparse(&j, text);
	cr_expect_eq(jnum(&j, "instance.pid"), (uint64_t)getpid());
	cr_expect_eq(jnum(&j, "instance.generation"), 1);
	cr_expect_eq(jnum(&j, "instance.start_time_us"), seg.hdr->start_us);
	when = jstr(&j, "instance.start_time");
	cr_expect(strlen(when) == 20 && when[4] == '-' && when[10] == 'T' &&
	    when[19] == 'Z', "start_time %s is not ISO 8601 UTC", when);
	cr_expect_leq(jnum(&j, "instance.uptime_s"), 5);
	cr_expect_str_eq(jstr(&j, "instance.version"), PACKAGE_VERSION);
	cr_expect_str_eq(jstr(&j, "instance.config"), conf->path);
	cr_expect_str_eq(jstr(&j, "instance.segment"), seg.name);

	cr_expect_str_eq(jstr(&j, "servers.0.listener"), "web");
	cr_expect_str_eq(jstr(&j, "servers.0.name"), "webA");
	cr_expect_str_eq(jstr(&j, "servers.0.address"), "127.0.0.1:18081");
	cr_expect_str_eq(jstr(&j, "servers.0.state"), "UP");
	cr_expect_geq(jnum(&j, "servers.0.last_change_ms"), 65000);
	cr_expect_lt(jnum(&j, "servers.0.last_change_ms"), 70000);
	cr_expect(jbool(&j, "servers.0.check.enabled"));
	cr_expect_str_eq(jstr(&j, "servers.0.check.result"), "L7OK");
	cr_expect_eq(jnum(&j, "servers.0.check.code"), 200);
	cr_expect_eq(jnum(&j, "servers.0.check.duration_ms"), 3);
	cr_expect_str_eq(jstr(&j, "servers.0.check.desc"), "HTTP 200 in 3 ms");
	cr_expect_eq(jnum(&j, "servers.0.check.checks"), 10);
	cr_expect_eq(jnum(&j, "servers.0.check.failures"), 1);
	cr_expect_geq(jnum(&j, "servers.0.check.last_check_ms_ago"), 500);
	cr_expect_eq(jnum(&j, "servers.0.weight"), 1);

	cr_expect_str_eq(jstr(&j, "servers.1.state"), "DOWN");
	cr_expect_str_eq(jstr(&j, "servers.1.check.result"), "L4CON");
	cr_expect(jnull(&j, "servers.1.check.code"), "no HTTP status: code is null");
	cr_expect_eq(jnum(&j, "servers.1.weight"), 2);

	/* Not checked: every check result is null, not a made-up value. */
	cr_expect_not(jbool(&j, "servers.2.check.enabled"));
	cr_expect(jnull(&j, "servers.2.check.result"));
	cr_expect(jnull(&j, "servers.2.check.code"));
	cr_expect(jnull(&j, "servers.2.check.duration_ms"));
	cr_expect(jnull(&j, "servers.2.check.desc"));
	cr_expect(jnull(&j, "servers.2.check.last_check_ms_ago"));
	cr_expect_str_eq(jstr(&j, "servers.2.state"), "UP");
	jfree(&j);
	free(text);
	shm_destroy(&seg);
}

Test(report, json_counters_sum_exactly)
{
	static const char *const fields[] = { "cur_conns", "total_conns", "requests",
	    "bytes_in", "bytes_out", "conn_errors", "resp_errors", "retries" };
	char *text, at[96];
	struct jv j;

	synthetic();
	text = render(FC_REPORT_JSON, -1);
	jparse(&j, text);
	for (int i = 0; i < 3; i++) {
		for (int f = 0; f < 8; f++) {
			snprintf(at, sizeof(at), "servers.%d.counters.%s", i, fields[f]);
			cr_expect_eq(jnum(&j, at), 3000u * (unsigned)(f + 1) + 60 +
			    3u * (unsigned)(i + 1), "%s", at);
		}
	}
	cr_expect_eq(jnum(&j, "totals.cur_conns"), 6);
	cr_expect_eq(jnum(&j, "totals.total_conns"), 600);
	cr_expect_eq(jnum(&j, "totals.requests"), 6021);
	cr_expect_eq(jnum(&j, "totals.bytes_in"), 3 * (UINT64_C(1) << 60) + 3,
	    "64-bit counters are printed exactly");
	cr_expect_eq(jnum(&j, "totals.bytes_out"), 15003);
	cr_expect_eq(jnum(&j, "totals.errors.bad_request"), 0);
	cr_expect_eq(jnum(&j, "totals.errors.request_timeout"), 6);
	cr_expect_eq(jnum(&j, "totals.errors.conn_refused"), 18);
	cr_expect_eq(jnum(&j, "totals.errors.internal"), 54);
	cr_expect_eq(jnum(&j, "totals.workers_alive"), 2);
	cr_expect_eq(jnum(&j, "totals.workers"), NWORKERS);
	cr_expect_eq(jnum(&j, "sessions.size"), 0);
	cr_expect_eq(jnum(&j, "sessions.capacity"), 0);
	jfree(&j);
	free(text);
	shm_destroy(&seg);
}

Test(report, json_workers_and_ha)
{
	char *text;
	struct jv j;

	synthetic();
	text = render(FC_REPORT_JSON, -1);
	jparse(&j, text);
	cr_expect_eq(jnum(&j, "workers.1.slot"), 1);
	cr_expect_eq(jnum(&j, "workers.1.pid"), (uint64_t)getpid());
	cr_expect(jbool(&j, "workers.0.alive"));
	cr_expect(jbool(&j, "workers.1.alive"));
	cr_expect_not(jbool(&j, "workers.2.alive"));
	cr_expect_geq(jnum(&j, "workers.2.heartbeat_ms_ago"), 2500);
	cr_expect_eq(jnum(&j, "workers.2.requests"), 3007);
	cr_expect_eq(jnum(&j, "workers.2.errors.internal"), 27);

	cr_expect(jbool(&j, "ha.enabled"));
	cr_expect_str_eq(jstr(&j, "ha.state"), "MASTER");
	cr_expect_geq(jnum(&j, "ha.since_ms_ago"), 10000);
	cr_expect_eq(jnum(&j, "ha.priority"), 101);
	cr_expect_eq(jnum(&j, "ha.vrid"), 51);
	cr_expect_str_eq(jstr(&j, "ha.peer"), "192.168.0.2");
	cr_expect_eq(jnum(&j, "ha.peer_priority"), 100);
	cr_expect_geq(jnum(&j, "ha.peer_seen_ms_ago"), 250);
	jfree(&j);
	free(text);

	memset(&seg.hdr->ha, 0, sizeof(seg.hdr->ha));	/* no ha process */
	text = render(FC_REPORT_JSON, -1);
	jparse(&j, text);
	cr_expect_not(jbool(&j, "ha.enabled"));
	cr_expect_str_eq(jstr(&j, "ha.state"), "DISABLED");
	cr_expect(jnull(&j, "ha.peer"));
	cr_expect(jnull(&j, "ha.since_ms_ago"));
	cr_expect(jnull(&j, "ha.peer_seen_ms_ago"));
	jfree(&j);
	free(text);
	shm_destroy(&seg);
}

/* Two sync peers (one up, one lost) and a held lease, as the ha process writes them. */
static void fill_mesh(uint64_t now_us)
{
	struct fc_shm_ha_mesh *m = &seg.hdr->ha_mesh;

	seg.hdr->ha_mode = FC_HA_ANYCAST;
	m->npeers = 2;
	m->nleases = 1;
	m->lease_s = 2;
	m->peer[0] = (struct fc_shm_ha_peer){ .addr = inet_addr("192.168.0.3"),
	    .state = FC_SYNC_UP, .since_us = now_us - 5000000, .frame_us = now_us - 7000,
	    .sent = 42, .received = 17, .ha_state = FC_HA_MASTER };
	m->peer[1] = (struct fc_shm_ha_peer){ .addr = inet_addr("192.168.0.4"),
	    .state = FC_SYNC_DOWN, .since_us = now_us - 1000000, .ha_state = UINT32_MAX };
	m->lease[0] = (struct fc_shm_ha_lease){ .family = AF_INET, .prefixlen = 32,
	    .held = 1, .renewed_us = now_us - 100000 };
	memcpy(m->lease[0].addr, &(uint32_t){ inet_addr("198.51.100.10") }, 4);
}

/* Issue 21.2: each peer's channel, age, sessions; the addresses and if held. */
Test(report, every_output_shows_the_peers_and_leases)
{
	char *text;
	struct jv j;

	synthetic();
	fill_mesh(clock_wall_us());
	text = render(FC_REPORT_JSON, -1);
	jparse(&j, text);
	cr_expect_str_eq(jstr(&j, "ha.mode"), "anycast");
	cr_assert_not_null(jget(&j, "ha.peers"));
	cr_assert_not_null(jget(&j, "ha.vips"));
	cr_expect_eq(jget(&j, "ha.peers")->n, 2);
	expect_keys(&j, "ha.peers.0", "address,channel,since_ms_ago,last_frame_ms_ago,"
	    "sessions_sent,sessions_received,state");
	cr_expect_str_eq(jstr(&j, "ha.peers.0.address"), "192.168.0.3");
	cr_expect_str_eq(jstr(&j, "ha.peers.0.channel"), "up");
	cr_expect_geq(jnum(&j, "ha.peers.0.since_ms_ago"), 5000);
	cr_expect_geq(jnum(&j, "ha.peers.0.last_frame_ms_ago"), 7);
	cr_expect_lt(jnum(&j, "ha.peers.0.last_frame_ms_ago"), 5000);
	cr_expect_eq(jnum(&j, "ha.peers.0.sessions_sent"), 42);
	cr_expect_eq(jnum(&j, "ha.peers.0.sessions_received"), 17);
	cr_expect_str_eq(jstr(&j, "ha.peers.0.state"), "MASTER");
	cr_expect_str_eq(jstr(&j, "ha.peers.1.channel"), "down");
	cr_expect(jnull(&j, "ha.peers.1.last_frame_ms_ago"));
	cr_expect(jnull(&j, "ha.peers.1.state"));
	cr_expect_eq(jnum(&j, "ha.lease_s"), 2);
	cr_expect_eq(jget(&j, "ha.vips")->n, 1);
	cr_expect_str_eq(jstr(&j, "ha.vips.0.address"), "198.51.100.10/32");
	cr_expect(jbool(&j, "ha.vips.0.held"));
	jfree(&j);
	free(text);

	text = render(FC_REPORT_TEXT, -1);
	cr_expect_not_null(strstr(text, "HA mode anycast  lease 2 s  vips 198.51.100.10/32 (held)"),
	    "%s", text);
	cr_expect_not_null(strstr(text, "192.168.0.3     up"), "%s", text);
	cr_expect_not_null(strstr(text, "192.168.0.4     down"), "%s", text);
	free(text);

	text = render(FC_REPORT_PROMETHEUS, -1);
	cr_expect_not_null(strstr(text, "fulcrum_ha_peer_up{peer=\"192.168.0.3\"} 1\n"));
	cr_expect_not_null(strstr(text, "fulcrum_ha_peer_up{peer=\"192.168.0.4\"} 0\n"));
	cr_expect_not_null(strstr(text,
	    "fulcrum_ha_peer_sessions_sent_total{peer=\"192.168.0.3\"} 42\n"));
	free(text);

	seg.hdr->ha_mesh.npeers = 1000;		/* scribbled: bounded by the array */
	text = render(FC_REPORT_JSON, -1);
	jparse(&j, text);
	cr_expect_eq(jget(&j, "ha.peers")->n, FC_SHM_HA_PEERS);
	jfree(&j);
	free(text);
	shm_destroy(&seg);
}

/* Whatever bytes the segment holds, the JSON stays JSON. */
Test(report, json_escapes_strings)
{
	static const char nasty[] = "q\"b\\s\n\t\x01end";
	char *text;
	struct jv j;

	synthetic();
	snprintf(shm_server(&seg, 0)->name, FC_SHM_NAME_LEN, "%s", nasty);
	snprintf(shm_server(&seg, 0)->check_desc, 64, "%s", nasty);
	memset(shm_server(&seg, 1)->address, 'x', FC_SHM_NAME_LEN);	/* no NUL */
	text = render(FC_REPORT_JSON, -1);
	jparse(&j, text);
	cr_expect_str_eq(jstr(&j, "servers.0.name"), nasty);
	cr_expect_str_eq(jstr(&j, "servers.0.check.desc"), nasty);
	cr_expect_eq(strlen(jstr(&j, "servers.1.address")), FC_SHM_NAME_LEN,
	    "an unterminated field is cut at its size");
	jfree(&j);
	free(text);
	shm_destroy(&seg);
}

/* A damaged header must not send the report outside the mapping. */
Test(report, header_counts_are_bounded_by_the_mapping)
{
	struct fc_report r;
	char *text;
	struct jv j;

	synthetic();
	seg.hdr->nservers = 1u << 30;
	report_snapshot(&r, &seg);
	cr_expect_eq(r.nservers, 0);
	cr_expect_eq(r.nworkers, 0);
	report_free(&r);
	text = render(FC_REPORT_JSON, -1);
	jparse(&j, text);
	cr_expect_eq(jget(&j, "servers")->n, 0);
	jfree(&j);
	free(text);

	seg.hdr->nservers = 3;
	seg.hdr->nworkers = 1000;
	report_snapshot(&r, &seg);
	cr_expect_eq(r.nservers, 3);
	cr_expect_eq(r.nworkers, 0);
	report_free(&r);
	seg.hdr->nworkers = NWORKERS;
	seg.hdr->worker_stride = 0;
	report_snapshot(&r, &seg);
	cr_expect_eq(r.nworkers, 0);
	report_free(&r);
	seg.hdr->worker_stride = FC_SHM_PAGE;

	/* Listeners past the table's room: none shown, the rest as before. */
	seg.hdr->nlisteners = 1u << 30;
	report_snapshot(&r, &seg);
	cr_expect_eq(r.nlisteners, 0);
	cr_expect_eq(r.nworkers, NWORKERS);
	report_free(&r);
	seg.hdr->nlisteners = 2;
	seg.hdr->off_listeners = seg.hdr->off_workers;
	report_snapshot(&r, &seg);
	cr_expect_eq(r.nlisteners, 0, "a table that is not there");
	report_free(&r);
	seg.hdr->off_listeners = 0;
	report_snapshot(&r, &seg);
	cr_expect_eq(r.nlisteners, 0, "a table over the header");
	report_free(&r);
	shm_destroy(&seg);
}

/* ================================================================ CSV */

#define CSV_HEADER "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq," \
	"dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown," \
	"lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate," \
	"rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx," \
	"hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max," \
	"req_tot,cli_abrt,srv_abrt,"

/* HAProxy's ssl stats module's, after ours, when a TLS listener is shown. */
#define CSV_SSL "ssl_sess,ssl_reused_sess,ssl_failed_handshake,"

#define CSV_MAXROWS	8
#define CSV_MAXCOLS	64

struct csv {
	char *text;
	int nrows;			/* without the header */
	int ncols[CSV_MAXROWS];
	char *cell[CSV_MAXROWS][CSV_MAXCOLS];
	char *names[CSV_MAXCOLS];
	int nnames;
};

/* Splits an unquoted CSV (our names never need quotes) in place. */
static void csv_split(struct csv *c, char *text)
{
	char *line, *save = NULL;
	int row = -1;

	memset(c, 0, sizeof(*c));
	c->text = text;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save), row++) {
		char *p = line + (row < 0 ? 2 : 0), *comma;
		int n = 0;

		cr_assert_lt(row, CSV_MAXROWS);
		while ((comma = strchr(p, ',')) != NULL && n < CSV_MAXCOLS) {
			*comma = '\0';
			if (row < 0)
				c->names[n++] = p;
			else
				c->cell[row][n++] = p;
			p = comma + 1;
		}
		cr_assert_str_empty(p, "a row ends with a comma, as HAProxy's do");
		if (row < 0)
			c->nnames = n;
		else
			c->ncols[row] = n;
	}
	c->nrows = row;
}

static const char *csv_get(const struct csv *c, int row, const char *col)
{
	cr_assert_lt(row, c->nrows);
	for (int i = 0; i < c->nnames; i++)
		if (strcmp(c->names[i], col) == 0)
			return c->cell[row][i];
	cr_assert_fail("no column %s", col);
	return NULL;
}

Test(report, csv_has_haproxys_columns)
{
	char *text;
	struct csv c;

	synthetic();
	text = render(FC_REPORT_CSV, -1);
	cr_expect_eq(strncmp(text, CSV_HEADER "\n", strlen(CSV_HEADER) + 1), 0,
	    "header differs:\n%.*s", (int)strcspn(text, "\n"), text);
	csv_split(&c, text);
	cr_assert_eq(c.nrows, 5, "3 servers and 2 BACKEND rows, got %d rows", c.nrows);
	for (int r = 0; r < c.nrows; r++)
		cr_expect_eq(c.ncols[r], c.nnames, "row %d: %d fields for %d columns", r,
		    c.ncols[r], c.nnames);
	cr_expect_str_eq(csv_get(&c, 0, "svname"), "webA");
	cr_expect_str_eq(csv_get(&c, 1, "svname"), "webB");
	cr_expect_str_eq(csv_get(&c, 2, "svname"), "BACKEND");
	cr_expect_str_eq(csv_get(&c, 2, "pxname"), "web");
	cr_expect_str_eq(csv_get(&c, 3, "svname"), "api1");
	cr_expect_str_eq(csv_get(&c, 4, "svname"), "BACKEND");
	cr_expect_str_eq(csv_get(&c, 4, "pxname"), "api");
	free(text);
	shm_destroy(&seg);
}

Test(report, csv_fields_mean_what_haproxys_do)
{
	char *text;
	struct csv c;

	synthetic();
	text = render(FC_REPORT_CSV, -1);
	csv_split(&c, text);
	/* webA */
	cr_expect_str_eq(csv_get(&c, 0, "pxname"), "web");
	cr_expect_str_eq(csv_get(&c, 0, "scur"), "3063");
	cr_expect_str_eq(csv_get(&c, 0, "stot"), "6063");
	cr_expect_str_eq(csv_get(&c, 0, "bin"), "15063", "bin: request bytes, to the server");
	cr_expect_str_eq(csv_get(&c, 0, "bout"), "12063", "bout: response bytes");
	cr_expect_str_eq(csv_get(&c, 0, "econ"), "18063");
	cr_expect_str_eq(csv_get(&c, 0, "eresp"), "21063");
	cr_expect_str_eq(csv_get(&c, 0, "wretr"), "24063");
	cr_expect_str_eq(csv_get(&c, 0, "req_tot"), "9063");
	cr_expect_str_eq(csv_get(&c, 0, "status"), "UP");
	cr_expect_str_eq(csv_get(&c, 0, "weight"), "1");
	cr_expect_str_eq(csv_get(&c, 0, "act"), "1");
	cr_expect_str_eq(csv_get(&c, 0, "bck"), "0");
	cr_expect_str_eq(csv_get(&c, 0, "chkfail"), "1");
	cr_expect_str_eq(csv_get(&c, 0, "lastchg"), "65");
	cr_expect_str_eq(csv_get(&c, 0, "iid"), "1");
	cr_expect_str_eq(csv_get(&c, 0, "sid"), "1");
	cr_expect_str_eq(csv_get(&c, 0, "type"), "2");
	cr_expect_str_eq(csv_get(&c, 0, "check_status"), "L7OK");
	cr_expect_str_eq(csv_get(&c, 0, "check_code"), "200");
	cr_expect_str_eq(csv_get(&c, 0, "check_duration"), "3");
	cr_expect_str_empty(csv_get(&c, 0, "qcur"), "fields we lack stay empty");
	cr_expect_str_empty(csv_get(&c, 0, "hrsp_2xx"));
	/* webB: down, refused, no HTTP code */
	cr_expect_str_eq(csv_get(&c, 1, "status"), "DOWN");
	cr_expect_str_eq(csv_get(&c, 1, "sid"), "2");
	cr_expect_str_eq(csv_get(&c, 1, "check_status"), "L4CON");
	cr_expect_str_empty(csv_get(&c, 1, "check_code"));
	cr_expect_str_eq(csv_get(&c, 1, "chkfail"), "4");
	/* web BACKEND: sums; weight and act count the servers up only */
	cr_expect_str_eq(csv_get(&c, 2, "scur"), "6129");
	cr_expect_str_eq(csv_get(&c, 2, "req_tot"), "18129");
	cr_expect_str_eq(csv_get(&c, 2, "bin"), "30129");
	cr_expect_str_eq(csv_get(&c, 2, "status"), "UP");
	cr_expect_str_eq(csv_get(&c, 2, "act"), "1");
	cr_expect_str_eq(csv_get(&c, 2, "weight"), "1");
	cr_expect_str_eq(csv_get(&c, 2, "type"), "1");
	cr_expect_str_eq(csv_get(&c, 2, "sid"), "0");
	/* api1: not checked */
	cr_expect_str_empty(csv_get(&c, 3, "check_status"));
	cr_expect_str_empty(csv_get(&c, 3, "chkfail"));
	cr_expect_str_eq(csv_get(&c, 3, "iid"), "2");
	cr_expect_str_eq(csv_get(&c, 3, "sid"), "1");
	cr_expect_str_eq(csv_get(&c, 4, "req_tot"), "9069");
	free(text);
	shm_destroy(&seg);
}

Test(report, csv_backend_is_down_when_every_server_is)
{
	char *text;
	struct csv c;

	synthetic();
	shm_server(&seg, 0)->state = FC_SRV_DOWN;
	text = render(FC_REPORT_CSV, 0);
	csv_split(&c, text);
	cr_assert_eq(c.nrows, 3);
	cr_expect_str_eq(csv_get(&c, 2, "status"), "DOWN");
	cr_expect_str_eq(csv_get(&c, 2, "act"), "0");
	free(text);
	shm_destroy(&seg);
}

/*
 * With a TLS listener shown: HAProxy's three ssl columns after ours, and
 * that listener's FRONTEND row (before its servers, as HAProxy orders a
 * proxy) carrying them and nothing but names and ids.
 */
Test(report, csv_has_ssl_columns_and_a_frontend_row_only_with_tls)
{
	char *text;
	struct csv c;

	synthetic_tls();
	text = render(FC_REPORT_CSV, -1);
	cr_expect_eq(strncmp(text, CSV_HEADER CSV_SSL "\n", strlen(CSV_HEADER CSV_SSL "\n")), 0,
	    "header differs:\n%.*s", (int)strcspn(text, "\n"), text);
	csv_split(&c, text);
	cr_assert_eq(c.nrows, 6, "3 servers, 2 BACKEND rows, 1 FRONTEND row: %d", c.nrows);
	for (int r = 0; r < c.nrows; r++)
		cr_expect_eq(c.ncols[r], c.nnames, "row %d: %d fields for %d columns", r,
		    c.ncols[r], c.nnames);
	cr_expect_str_eq(csv_get(&c, 2, "svname"), "BACKEND");
	cr_expect_str_eq(csv_get(&c, 3, "pxname"), "api");
	cr_expect_str_eq(csv_get(&c, 3, "svname"), "FRONTEND");
	cr_expect_str_eq(csv_get(&c, 3, "type"), "0");
	cr_expect_str_eq(csv_get(&c, 3, "iid"), "2");
	cr_expect_str_eq(csv_get(&c, 3, "sid"), "0");
	cr_expect_str_eq(csv_get(&c, 3, "ssl_sess"), "6006");
	cr_expect_str_eq(csv_get(&c, 3, "ssl_reused_sess"), "606");
	cr_expect_str_eq(csv_get(&c, 3, "ssl_failed_handshake"), "486");
	cr_expect_str_empty(csv_get(&c, 3, "scur"), "no traffic figures per listener");
	cr_expect_str_empty(csv_get(&c, 3, "req_tot"));
	cr_expect_str_eq(csv_get(&c, 4, "svname"), "api1");
	cr_expect_str_empty(csv_get(&c, 4, "ssl_sess"), "a server row has no TLS figure");
	cr_expect_str_eq(csv_get(&c, 5, "svname"), "BACKEND");
	free(text);

	text = render(FC_REPORT_CSV, 0);	/* web only: no TLS, the CSV of old */
	cr_expect_eq(strncmp(text, CSV_HEADER "\n", strlen(CSV_HEADER) + 1), 0,
	    "header differs:\n%.*s", (int)strcspn(text, "\n"), text);
	csv_split(&c, text);
	cr_expect_eq(c.nrows, 3);
	free(text);
	shm_destroy(&seg);
}

/* ================================================================ listener filter */

Test(report, listener_filter_keeps_one_listener)
{
	char *text;
	struct csv c;
	struct jv j;

	synthetic();
	text = render(FC_REPORT_JSON, 1);
	jparse(&j, text);
	cr_assert_eq(jget(&j, "servers")->n, 1);
	cr_expect_str_eq(jstr(&j, "servers.0.name"), "api1");
	cr_expect_eq(jnum(&j, "totals.requests"), 6021, "totals stay the instance's");
	jfree(&j);
	free(text);

	text = render(FC_REPORT_CSV, 1);
	csv_split(&c, text);
	cr_assert_eq(c.nrows, 2);
	cr_expect_str_eq(csv_get(&c, 0, "svname"), "api1");
	cr_expect_str_eq(csv_get(&c, 1, "svname"), "BACKEND");
	cr_expect_str_eq(csv_get(&c, 1, "pxname"), "api");
	free(text);

	text = render(FC_REPORT_PROMETHEUS, 0);
	cr_expect_null(strstr(text, "api1"), "listener 1 in listener 0's metrics");
	cr_expect_not_null(strstr(text, "server=\"webB\""));
	free(text);

	text = render(FC_REPORT_TEXT, 0);
	cr_expect_null(strstr(text, "api1"));
	cr_expect_not_null(strstr(text, "web/webA"));
	free(text);
	shm_destroy(&seg);
}

/* ================================================================ Prometheus */

static bool metric_char(int c, bool first)
{
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (!first && c >= '0' && c <= '9');
}

/* Every sample line is NAME[{labels}] VALUE, after a # TYPE for NAME. */
static void expect_exposition_format(char *text)
{
	char *line, *save = NULL, typed[8192] = " ";

	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char name[128], *p = line, *end;
		size_t n = 0;

		if (strncmp(line, "# TYPE ", 7) == 0) {
			snprintf(typed + strlen(typed), sizeof(typed) - strlen(typed), "%.*s ",
			    (int)strcspn(line + 7, " "), line + 7);
			continue;
		}
		if (strncmp(line, "# HELP ", 7) == 0)
			continue;
		while (metric_char((unsigned char)*p, p == line))
			p++;
		n = (size_t)(p - line);
		cr_expect_gt(n, 0, "bad line: %s", line);
		snprintf(name, sizeof(name), " %.*s ", (int)n, line);
		cr_expect_not_null(strstr(typed, name), "no # TYPE before: %s", line);
		if (*p == '{')
			p = strstr(p, "} ") ? strstr(p, "} ") + 1 : p + strlen(p);
		cr_expect_eq(*p, ' ', "bad line: %s", line);
		strtod(p, &end);
		cr_expect(end != p && *end == '\0', "bad value: %s", line);
	}
}

Test(report, prometheus_metrics)
{
	char *text;

	synthetic();
	text = render(FC_REPORT_PROMETHEUS, -1);
	cr_expect_not_null(strstr(text, "# TYPE fulcrum_requests_total counter\n"
	    "fulcrum_requests_total 6021\n"), "%s", text);
	cr_expect_not_null(strstr(text, "# HELP fulcrum_requests_total "));
	cr_expect_not_null(strstr(text, "\nfulcrum_current_connections 6\n"));
	cr_expect_not_null(strstr(text, "\nfulcrum_workers_alive 2\n"));
	cr_expect_not_null(strstr(text, "\nfulcrum_errors_total{kind=\"internal\"} 54\n"));
	cr_expect_not_null(strstr(text, "\nfulcrum_errors_total{kind=\"bad_request\"} 0\n"));
	cr_expect_not_null(strstr(text, "\nfulcrum_uptime_seconds "));
	cr_expect_not_null(strstr(text, "\nfulcrum_ha_state{state=\"MASTER\"} 1\n"));
	cr_expect_not_null(strstr(text, "\nfulcrum_ha_state{state=\"BACKUP\"} 0\n"));
	cr_expect_not_null(strstr(text,
	    "\nfulcrum_server_up{listener=\"web\",server=\"webA\"} 1\n"));
	cr_expect_not_null(strstr(text,
	    "\nfulcrum_server_up{listener=\"web\",server=\"webB\"} 0\n"));
	cr_expect_not_null(strstr(text,
	    "\nfulcrum_server_requests_total{listener=\"web\",server=\"webA\"} 9063\n"));
	cr_expect_not_null(strstr(text,
	    "\nfulcrum_server_bytes_in_total{listener=\"api\",server=\"api1\"} 12069\n"));
	cr_expect_not_null(strstr(text,
	    "\nfulcrum_server_bytes_out_total{listener=\"web\",server=\"webB\"} 15066\n"));
	cr_expect_not_null(strstr(text,
	    "\nfulcrum_server_current_connections{listener=\"web\",server=\"webA\"} 3063\n"));
	cr_expect_not_null(strstr(text,
	    "\nfulcrum_server_connection_errors_total{listener=\"web\",server=\"webA\"} "
	    "18063\n"));
	cr_expect_not_null(strstr(text,
	    "\nfulcrum_server_check_duration_seconds{listener=\"web\",server=\"webA\"} "
	    "0.003\n"));
	cr_expect_null(strstr(text,
	    "fulcrum_server_check_duration_seconds{listener=\"api\""),
	    "an unchecked server has no check duration");
	expect_exposition_format(text);
	free(text);
	shm_destroy(&seg);
}

Test(report, prometheus_tls_series_for_tls_listeners_only)
{
	char *text;

	synthetic();
	fill_tls();
	text = render(FC_REPORT_PROMETHEUS, -1);
	cr_expect_null(strstr(text, "fulcrum_tls_"), "no TLS listener, no TLS metric");
	free(text);
	shm_destroy(&seg);

	synthetic_tls();
	text = render(FC_REPORT_PROMETHEUS, -1);
	cr_expect_not_null(strstr(text, "# TYPE fulcrum_tls_handshakes_total counter\n"
	    "fulcrum_tls_handshakes_total{listener=\"api\"} 6006\n"), "%s", text);
	cr_expect_not_null(strstr(text, "\nfulcrum_tls_resumed_total{listener=\"api\"} 606\n"));
	cr_expect_not_null(strstr(text, "# TYPE fulcrum_tls_failures_total counter\n"));
	cr_expect_not_null(strstr(text,
	    "\nfulcrum_tls_failures_total{listener=\"api\",reason=\"protocol\"} 6\n"));
	cr_expect_not_null(strstr(text,
	    "\nfulcrum_tls_failures_total{listener=\"api\",reason=\"timeout\"} 96\n"));
	cr_expect_not_null(strstr(text,
	    "\nfulcrum_tls_failures_total{listener=\"api\",reason=\"other\"} 156\n"));
	cr_expect_null(strstr(text, "fulcrum_tls_handshakes_total{listener=\"web\"}"),
	    "web has no TLS");
	expect_exposition_format(text);
	free(text);

	text = render(FC_REPORT_PROMETHEUS, 0);
	cr_expect_null(strstr(text, "fulcrum_tls_"), "listener 0 has no TLS");
	free(text);
	shm_destroy(&seg);
}

Test(report, prometheus_escapes_label_values)
{
	char *text;

	synthetic();
	snprintf(shm_server(&seg, 2)->name, FC_SHM_NAME_LEN, "a\"b\\c\nd");
	text = render(FC_REPORT_PROMETHEUS, -1);
	cr_expect_not_null(strstr(text, "server=\"a\\\"b\\\\c\\nd\""), "%s", text);
	expect_exposition_format(text);
	free(text);
	shm_destroy(&seg);
}

/* ================================================================ text */

Test(report, text_names_every_server_and_worker)
{
	char *text, want[320];

	synthetic();
	text = render(FC_REPORT_TEXT, -1);
	cr_expect_not_null(strstr(text, "web/webA"), "%s", text);
	cr_expect_not_null(strstr(text, "web/webB"));
	cr_expect_not_null(strstr(text, "api/api1"));
	cr_expect_not_null(strstr(text, "127.0.0.1:18082"));
	cr_expect_not_null(strstr(text, "L7OK HTTP 200 in 3 ms"));
	cr_expect_not_null(strstr(text, "L4CON connection refused"));
	cr_expect_not_null(strstr(text, "no check"));
	cr_expect_not_null(strstr(text, "workers alive 2/3"));
	cr_expect_not_null(strstr(text, "HA MASTER"));
	cr_expect_not_null(strstr(text, "sessions 0/0"));
	cr_expect_not_null(strstr(text, PACKAGE_VERSION));
	snprintf(want, sizeof(want), "config %s", conf->path);
	cr_expect_not_null(strstr(text, want));
	snprintf(want, sizeof(want), "pid %d", (int)getpid());
	cr_expect_not_null(strstr(text, want));
	snprintf(want, sizeof(want), " %d yes", (int)getpid());
	cr_expect_not_null(strstr(text, want));
	snprintf(want, sizeof(want), " %d no", (int)getpid());
	cr_expect_not_null(strstr(text, want));
	cr_expect_not_null(strstr(text, "TOTAL"));
	cr_expect_not_null(strstr(text, " 6021 "), "total requests");
	cr_expect_not_null(strstr(text, "request_timeout 6"));
	free(text);
	shm_destroy(&seg);
}

Test(report, text_has_a_tls_row_per_tls_listener)
{
	char *text, *row;
	uint64_t hs, res, failed, by[FC_TLS_FAIL_MAX];

	synthetic();
	text = render(FC_REPORT_TEXT, -1);
	cr_expect_null(strstr(text, "TLS LISTENER"), "no TLS listener, no TLS table:\n%s",
	    text);
	free(text);
	shm_destroy(&seg);

	synthetic_tls();
	text = render(FC_REPORT_TEXT, -1);
	cr_expect_not_null(strstr(text, "TLS LISTENER"), "%s", text);
	cr_expect_not_null(strstr(text, "HANDSHAKES"));
	cr_expect_not_null(strstr(text, "PROTOCOL"));
	cr_assert_not_null(row = strstr(text, "\napi "), "no row for api:\n%s", text);
	cr_assert_eq(sscanf(row, " api %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %"
	    SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64, &hs, &res, &failed,
	    &by[0], &by[1], &by[2], &by[3], &by[4], &by[5]), 9, "%s", row);
	cr_expect_eq(hs, 6006);
	cr_expect_eq(res, 606);
	cr_expect_eq(failed, 486);
	for (int k = 0; k < FC_TLS_FAIL_MAX; k++)
		cr_expect_eq(by[k], 30u * (unsigned)k + 6, "[%d]", k);
	cr_expect_null(strstr(text, "\nweb "), "a row for web");
	free(text);

	text = render(FC_REPORT_TEXT, 0);
	cr_expect_null(strstr(text, "TLS LISTENER"), "listener 0 has no TLS");
	free(text);
	shm_destroy(&seg);
}

/* The stats page of listener li (worker/stats.c renders the report as HTML). */
static char *stats_page(int li)
{
	static struct fc_http_msg req;
	struct fc_listener *l = &conf->listeners[li];
	struct fc_sbuf out = { 0 };

	if (l->stats.uri == NULL)
		cr_assert_not_null(l->stats.uri = strdup("/stats"));	/* conf_free() frees it */
	memset(&req, 0, sizeof(req));
	req.method = "GET";
	req.method_len = 3;
	req.version_minor = 1;
	static bool show[64];

	memset(show, 0, sizeof(show));
	if (l->backend >= 0)
		show[l->backend] = true;
	cr_assert_eq(stats_respond(l, li, show, conf->backends, &seg, FC_STATS_HTML, &req,
	    true, &out), 200);
	cr_assert_not_null(out.p);
	return out.p;
}

Test(report, stats_page_has_a_tls_table_for_a_tls_listener_only)
{
	char *page, *tls;

	synthetic_tls();
	page = stats_page(1);
	cr_assert_not_null(tls = strstr(page, "<h2>TLS</h2>"), "%s", page);
	cr_expect_not_null(strstr(tls, ">Handshakes</th>"));
	cr_expect_not_null(strstr(tls, "<th>timeout</th>"));
	cr_expect_not_null(strstr(tls, "<td class=\"n\">6006</td><td class=\"n\">606</td>"
	    "<td class=\"n\">486</td><td class=\"n\">6</td>"), "%s", tls);
	free(page);
	page = stats_page(0);
	cr_expect_null(strstr(page, "<h2>TLS</h2>"), "web has no TLS");
	free(page);
	shm_destroy(&seg);
}

/* ================================================================ names */

Test(report, names)
{
	cr_expect_str_eq(report_state_name(FC_SRV_UP), "UP");
	cr_expect_str_eq(report_state_name(FC_SRV_DOWN), "DOWN");
	cr_expect_str_eq(report_state_name(FC_SRV_MAINT), "MAINT");
	cr_expect_str_eq(report_check_name(FC_CHK_HTTP_OK), "L7OK");
	cr_expect_str_eq(report_check_name(FC_CHK_BADSTATUS), "L7STS");
	cr_expect_str_eq(report_check_name(FC_CHK_BADRESP), "L7RSP");
	cr_expect_str_eq(report_check_name(FC_CHK_CONNECT), "L4CON");
	cr_expect_str_eq(report_check_name(FC_CHK_TIMEOUT), "L4TOUT");
	cr_expect_str_eq(report_check_name(FC_CHK_PASSED), "L4OK");
	cr_expect_str_eq(report_check_name(99), "UNK");
	cr_expect_str_eq(report_error_name(FC_ERR_BADREQ), "bad_request");
	cr_expect_str_eq(report_error_name(FC_ERR_MAX), "unknown");
	cr_expect_str_eq(report_ha_name(0, 2), "DISABLED");
	cr_expect_str_eq(report_ha_name(1, 1), "BACKUP");
	cr_expect_str_eq(report_ha_name(1, FC_HA_FAULT), "FAULT");
	cr_expect_str_eq(report_ha_name(1, 4), "UNKNOWN");
	for (int k = 0; k < FC_ERR_MAX; k++)
		cr_expect_neq(strcmp(report_error_name(k), "unknown"), 0, "kind %d", k);
	cr_expect_str_eq(report_tls_fail_name(FC_TLS_FAIL_PROTOCOL), "protocol");
	cr_expect_str_eq(report_tls_fail_name(FC_TLS_FAIL_VERSION), "version");
	cr_expect_str_eq(report_tls_fail_name(FC_TLS_FAIL_CERT), "cert");
	cr_expect_str_eq(report_tls_fail_name(FC_TLS_FAIL_TIMEOUT), "timeout");
	cr_expect_str_eq(report_tls_fail_name(FC_TLS_FAIL_ABORT), "abort");
	cr_expect_str_eq(report_tls_fail_name(FC_TLS_FAIL_OTHER), "other");
	cr_expect_str_eq(report_tls_fail_name(FC_TLS_FAIL_MAX), "unknown");
	cr_expect_str_eq(report_tls_fail_name(-1), "unknown");
}

/* ================================================================ reload */

/*
 * shm_create_next(): the segment of conf_text (3 workers) followed by the
 * one of next_text (2 workers).  Listener "web" is reordered: webA stays as
 * it was, webB moves to another address, webC is new.  Listener "api" lost
 * api1 and gained api2, and a "webA" that shares only its name with web's.
 * Indices in next: webC 0, webB 1, webA 2, api2 3, api/webA 4.
 */
static const char next_text[] =
	"global: { workers = 2; };\n"
	"listeners = (\n"
	"  { name = \"web\"; bind = \"127.0.0.1:18080\";\n"
	"    check = { request = \"HEAD /check.txt HTTP/1.0\"; };\n"
	"    servers = ( { name = \"webC\"; address = \"127.0.0.1:18083\"; check = true; },\n"
	"                { name = \"webB\"; address = \"127.0.0.1:18092\"; check = true; },\n"
	"                { name = \"webA\"; address = \"127.0.0.1:18081\"; check = true; } ); },\n"
	"  { name = \"api\"; bind = \"127.0.0.1:18090\";\n"
	"    servers = ( { name = \"api2\"; address = \"127.0.0.1:18093\"; },\n"
	"                { name = \"webA\"; address = \"127.0.0.1:18081\"; } ); }\n"
	");\n";

#define NEXT_WEBC	0
#define NEXT_WEBB	1
#define NEXT_WEBA	2
#define NEXT_API2	3
#define NEXT_API_WEBA	4

static struct fc_conf *next_conf, *third_conf;
static struct fc_shm next, third;	/* generations 2 and 3 */

static void reload_teardown(void)
{
	shm_destroy(&third);
	shm_destroy(&next);
	shm_destroy(&seg);
	conf_free(third_conf);
	conf_free(next_conf);
	third_conf = next_conf = NULL;
	teardown();
}

TestSuite(reload, .init = setup, .fini = reload_teardown);

/* The test's config file rewritten with text, and loaded: what USR2 does. */
static struct fc_conf *load_text(const char *text)
{
	char *errors = NULL;
	struct fc_conf *c;
	FILE *fp;

	cr_assert_not_null(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
	c = conf_load(path, &errors);
	cr_assert_not_null(c, "config refused:\n%s", errors ? errors : "");
	return c;
}

/*
 * Listener "a" has 59 servers, "b" one: their counters fill a worker
 * block's first page exactly, so the TLS counters need a second one.
 */
Test(shm, tls_counters_get_room_when_the_servers_fill_a_page)
{
	struct fc_sbuf text = { 0 };
	int status;

	sbuf_printf(&text, "global: { workers = 3; };\nlisteners = (\n"
	    "  { name = \"a\"; bind = \"127.0.0.1:18080\"; servers = (");
	for (int i = 0; i < 59; i++)
		sbuf_printf(&text, "%s{ name = \"s%d\"; address = \"127.0.0.1:%d\"; }",
		    i == 0 ? "" : ", ", i, 20000 + i);
	sbuf_printf(&text, " ); },\n  { name = \"b\"; bind = \"127.0.0.1:18090\"; servers = "
	    "( { name = \"t\"; address = \"127.0.0.1:18091\"; } ); }\n);\n");
	conf_free(conf);
	conf = load_text(text.p);
	sbuf_free(&text);
	create_segment();
	cr_assert_eq(sizeof(struct fc_shm_worker) + 60 * sizeof(struct fc_shm_srv_counters),
	    FC_SHM_PAGE);
	cr_expect_eq(seg.hdr->worker_stride, 2 * FC_SHM_PAGE);
	for (int w = 0; w < NWORKERS; w++)
		cr_expect_leq((char *)(shm_worker_tls(&seg, w, 1) + 1),
		    (char *)shm_worker(&seg, (uint32_t)w) + seg.hdr->worker_stride, "w%d", w);
	status = in_child(worker1_counts_its_handshake);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	cr_expect_eq(shm_worker_tls(&seg, 1, 1)->failures[FC_TLS_FAIL_OTHER], 1);
	cr_expect_eq(shm_worker(&seg, 2)->heartbeat_ms, 0, "worker 2's block untouched");
	shm_destroy(&seg);
}

/* The next generation of seg, for text; listener l has TLS if bit l of tls is set. */
static void reload_with_tls(const char *text, int nworkers, unsigned int tls)
{
	char err[256] = "";

	next_conf = load_text(text);
	for (int l = 0; l < next_conf->nlisteners; l++)
		next_conf->listeners[l].tls.enabled = (tls >> l) & 1;
	cr_assert_eq(shm_create_next(&next, &seg, next_conf, nworkers, err, sizeof(err)), 0,
	    "%s", err);
}

static void reload_to(const char *text, int nworkers)
{
	reload_with_tls(text, nworkers, 0);
}

/* What an earlier reload left in seg's retired block: counter f of server i. */
static uint64_t retired_value(int i, int f)
{
	return 100000u * (unsigned)(f + 1) + (unsigned)i + 1;
}

static void fill_retired(void)
{
	struct fc_shm_worker *r = shm_retired(&seg);

	r->total_conns = 700;
	r->requests = 50000;
	r->bytes_in = 1u << 20;
	r->bytes_out = 2u << 20;
	for (int k = 0; k < FC_ERR_MAX; k++)
		r->errors[k] = 100u + (uint64_t)k;
	for (int i = 0; i < 3; i++)
		for (int f = 1; f < 8; f++)	/* no gauge in a retired block */
			*(uint64_t *)((char *)&r->srv[i] + counter_off[f]) = retired_value(i, f);
	for (uint32_t l = 0; l < 2; l++) {
		struct fc_shm_tls_counters *c = shm_block_tls(&seg, r, l);

		c->handshakes = 50000u * (l + 1);
		c->resumed = 5000u * (l + 1);
		for (int k = 0; k < FC_TLS_FAIL_MAX; k++)
			c->failures[k] = 500u * (l + 1) + (unsigned)k;
	}
}

static uint64_t counter(const struct fc_shm_srv_counters *c, int f)
{
	return *(const uint64_t *)((const char *)c + counter_off[f]);
}

/* Prev's server i, counter f: its three workers' and its retired block's. */
static uint64_t prev_sum(int i, int f)
{
	return 3000u * (unsigned)(f + 1) + 60 + 3u * (unsigned)(i + 1) + retired_value(i, f);
}

static void mark_down(struct fc_shm_server *sv, uint64_t changed_us)
{
	sv->state = FC_SRV_DOWN;
	sv->check_result = FC_CHK_CONNECT;
	sv->check_code = -1;
	sv->check_count = 5;
	sv->checks = 40;
	sv->check_failures = 9;
	sv->last_check_us = changed_us + 1000;
	sv->last_change_us = changed_us;
	snprintf(sv->check_desc, sizeof(sv->check_desc), "connection refused");
}

Test(reload, health_is_carried_by_listener_name_and_address)
{
	uint64_t changed = clock_wall_us() - 60000000, before;
	const struct fc_shm_server *sv;

	create_segment();
	mark_down(shm_server(&seg, 0), changed);	/* webA */
	mark_down(shm_server(&seg, 1), changed);	/* webB */
	before = clock_wall_us();
	reload_to(next_text, 2);
	cr_assert_eq(next.hdr->nservers, 5);

	sv = shm_server(&next, NEXT_WEBA);
	cr_assert_str_eq(sv->name, "webA");
	cr_expect_eq(sv->state, FC_SRV_DOWN, "same name and address: stays DOWN");
	cr_expect_eq(sv->check_count, 5, "its count towards rise carries on");
	cr_expect_eq(sv->last_change_us, changed, "last change not reset");
	cr_expect_eq(sv->check_result, FC_CHK_CONNECT);
	cr_expect_eq(sv->checks, 40);
	cr_expect_eq(sv->check_failures, 9);
	cr_expect_str_eq(sv->check_desc, "connection refused");

	sv = shm_server(&next, NEXT_WEBB);
	cr_assert_str_eq(sv->name, "webB");
	cr_expect_str_eq(sv->address, "127.0.0.1:18092");
	cr_expect_eq(sv->state, FC_SRV_UP, "another address: another server, starts UP");
	cr_expect_eq(sv->check_count, 0);
	cr_expect_eq(sv->check_result, FC_CHK_NONE);
	cr_expect_eq(sv->checks, 0);
	cr_expect_geq(sv->last_change_us, before);

	sv = shm_server(&next, NEXT_WEBC);
	cr_assert_str_eq(sv->name, "webC");
	cr_expect_eq(sv->state, FC_SRV_UP, "a new server starts UP");
	cr_expect_eq(sv->check_count, 0);

	sv = shm_server(&next, NEXT_API_WEBA);
	cr_assert_str_eq(sv->backend, "api");
	cr_expect_eq(sv->state, FC_SRV_UP, "web/webA's state went to api/webA");
	cr_expect_eq(sv->checks, 0);

	for (uint32_t i = 0; i < next.hdr->nservers; i++)
		cr_expect_str_neq(shm_server(&next, i)->name, "api1", "a removed server is kept");
}

/* A server no longer checked is UP: its past checks do not apply. */
Test(reload, health_is_not_carried_when_check_is_turned_off)
{
	const char *unchecked = strstr(next_text, "\"127.0.0.1:18081\"; check = true;");
	char text[sizeof(next_text) + 8];

	cr_assert_not_null(unchecked);
	snprintf(text, sizeof(text), "%.*s\"127.0.0.1:18081\"; check = false;%s",
	    (int)(unchecked - next_text), next_text,
	    unchecked + strlen("\"127.0.0.1:18081\"; check = true;"));
	create_segment();
	mark_down(shm_server(&seg, 0), clock_wall_us() - 60000000);
	reload_to(text, 2);
	cr_expect_eq(shm_server(&next, NEXT_WEBA)->checked, 0);
	cr_expect_eq(shm_server(&next, NEXT_WEBA)->state, FC_SRV_UP,
	    "an unchecked server is UP, whatever its past");
}

Test(reload, counters_are_folded_into_retired_by_name)
{
	const struct fc_shm_worker *r;
	uint64_t kept = 0;

	create_segment();
	fill_workers(clock_mono_ms());
	fill_retired();
	reload_to(next_text, 2);
	r = shm_retired(&next);

	/* Totals: everything the old segment knew, removed servers' too. */
	cr_expect_eq(r->requests, 6021 + 50000);
	cr_expect_eq(r->total_conns, 600 + 700);
	cr_expect_eq(r->bytes_in, 3 * (UINT64_C(1) << 60) + 3 + (1u << 20));
	cr_expect_eq(r->bytes_out, 15003 + (2u << 20));
	for (int k = 0; k < FC_ERR_MAX; k++)
		cr_expect_eq(r->errors[k], 6u * (uint64_t)k + 100 + (uint64_t)k, "errors[%d]", k);
	cr_expect_eq(r->cur_conns, 0, "gauges stay with the old processes");

	/* Per server: by listener and name, whatever the new index. */
	for (int f = 1; f < 8; f++) {
		cr_expect_eq(counter(&r->srv[NEXT_WEBA], f), prev_sum(0, f), "webA field %d", f);
		cr_expect_eq(counter(&r->srv[NEXT_WEBB], f), prev_sum(1, f), "webB field %d", f);
		cr_expect_eq(counter(&r->srv[NEXT_WEBC], f), 0, "new webC field %d", f);
		cr_expect_eq(counter(&r->srv[NEXT_API2], f), 0, "new api2 field %d", f);
		cr_expect_eq(counter(&r->srv[NEXT_API_WEBA], f), 0, "api/webA field %d", f);
	}
	for (int i = 0; i < 5; i++) {
		cr_expect_eq(r->srv[i].cur_conns, 0, "server %d: gauge carried", i);
		kept += r->srv[i].requests;
	}
	cr_expect_eq(kept, prev_sum(0, 2) + prev_sum(1, 2), "api1's requests are gone "
	    "from the servers (they stay in the totals)");
	for (uint32_t w = 0; w < next.hdr->nworkers; w++)
		cr_expect_eq(shm_worker(&next, w)->requests, 0, "the new workers start at 0");
}

Test(reload, refolding_adds_what_the_old_workers_counted_since)
{
	struct fc_shm_worker *r, *w1;
	uint64_t requests, webA;

	create_segment();
	fill_workers(clock_mono_ms());
	reload_to(next_text, 2);
	r = shm_retired(&next);
	requests = r->requests;
	webA = r->srv[NEXT_WEBA].requests;

	shm_fold_retired(&next, &seg);
	cr_expect_eq(r->requests, requests, "a fold with nothing new changes nothing");
	cr_expect_eq(r->srv[NEXT_WEBA].requests, webA);

	/* The old worker 1 finishes 5 requests to webA and 3 to api1. */
	w1 = shm_worker(&seg, 1);
	w1->requests += 8;
	w1->srv[0].requests += 5;
	w1->srv[2].requests += 3;
	shm_fold_retired(&next, &seg);
	cr_expect_eq(r->requests, requests + 8);
	cr_expect_eq(r->srv[NEXT_WEBA].requests, webA + 5);
	cr_expect_eq(r->srv[NEXT_WEBB].requests, 9066, "webB: nothing new");
}

/* Reloaded twice while generation 1 still drains: 1 -> 2 -> 3. */
Test(reload, a_second_reload_folds_through_the_chain)
{
	char err[256] = "";
	uint64_t requests;

	create_segment();
	fill_workers(clock_mono_ms());
	reload_to(next_text, 2);
	shm_worker(&next, 0)->requests = 11;
	shm_worker(&next, 0)->srv[NEXT_WEBA].requests = 4;
	third_conf = load_text(conf_text);
	cr_assert_eq(shm_create_next(&third, &next, third_conf, 3, err, sizeof(err)), 0,
	    "%s", err);
	cr_expect_eq(third.hdr->generation, 3);
	requests = shm_retired(&third)->requests;
	cr_expect_eq(requests, 6021 + 11);
	cr_expect_eq(shm_retired(&third)->srv[0].requests, 9063 + 4, "webA, index 0 again");
	cr_expect_eq(shm_retired(&third)->srv[2].requests, 0, "api1 is new again");

	/* Generation 1 counts more: the master folds oldest first. */
	shm_worker(&seg, 2)->requests += 7;
	shm_worker(&seg, 2)->srv[0].requests += 7;
	shm_fold_retired(&next, &seg);
	shm_fold_retired(&third, &next);
	cr_expect_eq(shm_retired(&third)->requests, requests + 7);
	cr_expect_eq(shm_retired(&third)->srv[0].requests, 9063 + 4 + 7);
}

Test(reload, next_generation_takes_the_name_and_the_old_mapping_stays)
{
	char err[256] = "", tmp[FC_SHM_NAME_LEN + 16];
	struct fc_shm ro;

	create_segment();
	seg.hdr->start_us = 123456789;
	shm_server(&seg, 2)->checks = 12;
	shm_worker(&seg, 1)->requests = 99;
	reload_to(next_text, 2);

	cr_expect_eq(next.hdr->generation, seg.hdr->generation + 1);
	cr_expect_eq(next.hdr->generation, 2);
	cr_expect_str_eq(next.name, seg.name, "the instance keeps its segment name");
	cr_expect_eq(next.hdr->start_us, 123456789, "the instance's start time");
	cr_expect_eq(next.hdr->master_pid, seg.hdr->master_pid);
	cr_expect_eq(next.hdr->nworkers, 2);
	cr_expect_eq(next.hdr->nservers, 5);
	cr_expect_eq(next.hdr->off_retired, next.hdr->off_workers +
	    2 * (uint64_t)next.hdr->worker_stride);

	/* The old generation still works in its own mapping. */
	cr_expect_eq(seg.hdr->magic, FC_SHM_MAGIC);
	cr_expect_eq(seg.hdr->generation, 1);
	cr_expect_eq(seg.hdr->nworkers, NWORKERS);
	cr_expect_str_eq(shm_server(&seg, 2)->name, "api1");
	cr_expect_eq(shm_server(&seg, 2)->checks, 12);
	cr_expect_eq(shm_worker(&seg, 1)->requests, 99);
	shm_worker(&seg, 1)->requests = 100;	/* and writable for it */

	/* A reader opening the name finds the new one, alive; no .next is left. */
	cr_assert_eq(shm_attach_ro(&ro, seg.name, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(ro.hdr->generation, 2);
	cr_expect_eq(ro.size, next.size);
	cr_expect(shm_instance_alive(&ro));
	shm_detach(&ro);
	snprintf(tmp, sizeof(tmp), "/dev/shm%s.next", seg.name);
	cr_expect_neq(access(tmp, F_OK), 0, "%s left behind", tmp);
}

/*
 * The listeners of conf_text, both with TLS, become: "api" first, "web"
 * renamed "www", "admin" new.  TLS counters follow the listener's name.
 */
static const char tls_next_text[] =
	"global: { workers = 2; };\n"
	"listeners = (\n"
	"  { name = \"api\"; bind = \"127.0.0.1:18090\";\n"
	"    servers = ( { name = \"api1\"; address = \"127.0.0.1:18091\"; } ); },\n"
	"  { name = \"www\"; bind = \"127.0.0.1:18080\";\n"
	"    servers = ( { name = \"webA\"; address = \"127.0.0.1:18081\"; } ); },\n"
	"  { name = \"admin\"; bind = \"127.0.0.1:18070\";\n"
	"    servers = ( { name = \"adm\"; address = \"127.0.0.1:18071\"; } ); }\n"
	");\n";

#define TLS_NEXT_API	0
#define TLS_NEXT_WWW	1
#define TLS_NEXT_ADMIN	2

/* Prev's TLS counters of its listener l: three workers (fill_tls) and retired. */
static uint64_t prev_tls(uint32_t l, int field)
{
	uint64_t workers[3] = { 3000u * (l + 1) + 6, 300u * (l + 1) + 6, 0 };
	uint64_t retired[3] = { 50000u * (l + 1), 5000u * (l + 1), 0 };

	if (field < 2)
		return workers[field] + retired[field];
	return 30u * (unsigned)(field - 2) + 6 + 500u * (l + 1) + (unsigned)(field - 2);
}

/* Field 0 handshakes, 1 resumed, 2 + k failures[k]. */
static uint64_t tls_field(const struct fc_shm_tls_counters *c, int field)
{
	if (field == 0)
		return c->handshakes;
	return field == 1 ? c->resumed : c->failures[field - 2];
}

Test(reload, tls_counters_are_folded_into_retired_by_listener_name)
{
	struct fc_shm_worker *r;

	conf->listeners[0].tls.enabled = true;
	api_has_tls();
	create_segment();
	fill_workers(clock_mono_ms());
	fill_tls();
	fill_retired();
	reload_with_tls(tls_next_text, 2, 7);
	cr_assert_eq(next.hdr->nlisteners, 3);
	cr_expect_str_eq(shm_listener(&next, TLS_NEXT_API)->name, "api");
	r = shm_retired(&next);
	for (int f = 0; f < 2 + FC_TLS_FAIL_MAX; f++) {
		cr_expect_eq(tls_field(shm_block_tls(&next, r, TLS_NEXT_API), f), prev_tls(1, f),
		    "api, moved to index 0: field %d", f);
		cr_expect_eq(tls_field(shm_block_tls(&next, r, TLS_NEXT_WWW), f), 0,
		    "www is not web: field %d", f);
		cr_expect_eq(tls_field(shm_block_tls(&next, r, TLS_NEXT_ADMIN), f), 0,
		    "admin is new: field %d", f);
	}
	for (int w = 0; w < 2; w++)
		for (int l = 0; l < 3; l++)
			cr_expect_eq(shm_worker_tls(&next, w, l)->handshakes, 0,
			    "new worker %d starts at 0 (listener %d)", w, l);

	/* The old worker 2 completes 4 more handshakes on api: folded once. */
	shm_worker_tls(&seg, 2, 1)->handshakes += 4;
	shm_fold_retired(&next, &seg);
	shm_fold_retired(&next, &seg);
	cr_expect_eq(shm_block_tls(&next, r, TLS_NEXT_API)->handshakes, prev_tls(1, 0) + 4);
	cr_expect_eq(shm_block_tls(&next, r, TLS_NEXT_WWW)->handshakes, 0);
}

/*
 * A generation where api has no TLS shows none of it, but keeps its
 * counters: when TLS comes back, its totals have not gone back.
 */
Test(reload, tls_counters_survive_a_generation_without_tls)
{
	struct fc_report rep;
	char err[256] = "";

	api_has_tls();
	create_segment();
	fill_tls();
	reload_with_tls(tls_next_text, 2, 0);
	report_snapshot(&rep, &next);
	cr_expect_not(rep.listeners[TLS_NEXT_API].tls);
	cr_expect_eq(rep.listeners[TLS_NEXT_API].sum.handshakes, 6006);
	report_free(&rep);

	third_conf = load_text(conf_text);
	third_conf->listeners[1].tls.enabled = true;
	cr_assert_eq(shm_create_next(&third, &next, third_conf, 3, err, sizeof(err)), 0,
	    "%s", err);
	report_snapshot(&rep, &third);
	cr_expect(rep.listeners[1].tls);
	cr_expect_eq(rep.listeners[1].sum.handshakes, 6006, "api's handshakes went back");
	cr_expect_eq(rep.listeners[1].sum.failures[FC_TLS_FAIL_OTHER], 156);
	cr_expect_eq(rep.listeners[0].sum.handshakes, 0, "web was www in between");
	report_free(&rep);
}

/* web: s1, s2, s3.  Next: "api" first (web's listener index becomes 1),
 * s2 gone, s3 before s1, s4 new; 3 workers instead of 2. */
static const char stick_text[] =
	"global: { workers = 2; };\n"
	"listeners = (\n"
	"  { name = \"web\"; bind = \"127.0.0.1:18080\";\n"
	"    stick = { cookie = \"SID\"; size = 64; expire = 60; };\n"
	"    servers = ( { name = \"s1\"; address = \"127.0.0.1:18081\"; },\n"
	"                { name = \"s2\"; address = \"127.0.0.1:18082\"; },\n"
	"                { name = \"s3\"; address = \"127.0.0.1:18083\"; } ); }\n"
	");\n";

static const char stick_next_text[] =
	"global: { workers = 3; };\n"
	"listeners = (\n"
	"  { name = \"api\"; bind = \"127.0.0.1:18090\";\n"
	"    stick = { cookie = \"SID\"; size = 64; };\n"
	"    servers = ( { name = \"s1\"; address = \"127.0.0.1:18091\"; } ); },\n"
	"  { name = \"web\"; bind = \"127.0.0.1:18080\";\n"
	"    stick = { cookie = \"SID\"; size = 64; expire = 60; };\n"
	"    servers = ( { name = \"s3\"; address = \"127.0.0.1:18083\"; },\n"
	"                { name = \"s1\"; address = \"127.0.0.1:18081\"; },\n"
	"                { name = \"s4\"; address = \"127.0.0.1:18084\"; } ); }\n"
	");\n";

static int lookup_in(const struct fc_shm *shm, uint32_t listener, const char *key,
    uint64_t now_ms)
{
	return session_lookup(shm, listener, key, strlen(key), now_ms);
}

Test(reload, learned_sessions_follow_their_server)
{
	uint64_t t0;

	conf_free(conf);
	conf = load_text(stick_text);
	create_segment();
	/* The import reads the real clock: so do the sessions here. */
	t0 = clock_mono_ms();
	cr_assert_gt(t0, 20000);
	cr_assert_eq(session_push(&seg, 0, "k1", 2, 0, 60, t0 - 1000), 0);	/* s1 */
	cr_assert_eq(session_push(&seg, 1, "k2", 2, 1, 60, t0 - 1000), 0);	/* s2 */
	cr_assert_eq(session_push(&seg, 1, "k3", 2, 2, 60, t0 - 1000), 0);	/* s3 */
	cr_assert_eq(session_push(&seg, 0, "old", 3, 0, 5, t0 - 10000), 0);	/* expired */
	session_drain(&seg, t0);
	cr_assert_eq(session_count(&seg), 4);
	cr_assert_eq(lookup_in(&seg, 0, "k1", t0), 0);

	reload_to(stick_next_text, 3);
	cr_assert_eq(next.hdr->nsessions, 128);
	cr_expect_eq(lookup_in(&next, 1, "k1", t0), 2, "k1 -> s1, now web's server 2");
	cr_expect_eq(lookup_in(&next, 1, "k3", t0), 1, "k3 -> s3, now web's server 1");
	cr_expect_eq(lookup_in(&next, 1, "k2", t0), -1, "s2 is gone: its session too");
	cr_expect_eq(lookup_in(&next, 0, "k1", t0), -1, "api never learned k1");
	cr_expect_eq(session_count(&next), 2, "only k1 and k3: expired and orphaned "
	    "sessions are not carried");
	/* It keeps its last use: it expires when it would have. */
	cr_expect_eq(lookup_in(&next, 1, "k1", t0 + 58000), 2);
	cr_expect_eq(lookup_in(&next, 1, "k1", t0 + 59000), -1, "expiry moved by the reload");
	/* The new generation's workers push into fresh rings. */
	cr_expect_eq(session_push(&next, 2, "k4", 2, 3, 60, t0), 0);
	session_drain(&next, t0);
	cr_expect_eq(lookup_in(&next, 1, "k4", t0), 3);
}

Test(reload, report_of_next_adds_the_retired_block)
{
	struct fc_report r;
	struct fc_sbuf b = { 0 };
	struct fc_shm_worker *w;
	struct jv j;

	create_segment();
	fill_workers(clock_mono_ms());
	reload_to(next_text, 2);
	w = shm_worker(&next, 0);
	w->pid = getpid();
	w->heartbeat_ms = clock_mono_ms();
	w->cur_conns = 2;
	w->requests = 11;
	w->total_conns = 10;
	w->srv[NEXT_WEBA].requests = 4;
	w->srv[NEXT_WEBC].requests = 7;

	report_snapshot(&r, &next);
	cr_expect(r.has_retired);
	cr_expect_eq(r.nworkers, 2);
	cr_expect_eq(r.requests, 6021 + 11, "the old generation's requests, then ours");
	cr_expect_eq(r.total_conns, 600 + 10);
	cr_expect_eq(r.cur_conns, 2, "gauges: only the live workers'");
	cr_expect_eq(r.servers[NEXT_WEBA].sum.requests, 9063 + 4);
	cr_expect_eq(r.servers[NEXT_WEBB].sum.requests, 9066);
	cr_expect_eq(r.servers[NEXT_WEBC].sum.requests, 7);
	cr_expect_eq(r.servers[NEXT_API2].sum.requests, 0);
	report_render(&r, FC_REPORT_JSON, -1, &b);
	report_free(&r);
	cr_assert_not_null(b.p);
	jparse(&j, b.p);
	cr_expect_eq(jnum(&j, "instance.generation"), 2);
	cr_expect_eq(jnum(&j, "totals.requests"), 6032);
	cr_expect_str_eq(jstr(&j, "servers.2.name"), "webA");
	cr_expect_eq(jnum(&j, "servers.2.counters.requests"), 9067);
	jfree(&j);
	free(b.p);
}

/* fulcrum-stat -w holds a mapping across reloads: it must see the rename. */
Test(reload, a_reader_sees_its_segment_replaced)
{
	char err[256] = "";
	struct fc_shm ro, again;

	create_segment();
	cr_assert_eq(shm_attach_ro(&ro, seg.name, err, sizeof(err)), 0, "%s", err);
	cr_expect(shm_name_is_ours(&ro), "just attached");
	reload_to(next_text, 2);
	cr_expect_not(shm_name_is_ours(&ro), "the name is generation 2's now");
	cr_expect(shm_instance_alive(&ro), "the master still holds generation 1");
	cr_assert_eq(shm_attach_ro(&again, seg.name, err, sizeof(err)), 0, "%s", err);
	cr_expect(shm_name_is_ours(&again));
	cr_expect_eq(again.hdr->generation, 2);
	shm_detach(&again);
	shm_detach(&ro);
}
