/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of shm/session.c: the learned-session table and its rings,
 * on real segments made by shm_create().  The test process plays the
 * master and the checker; forked children play workers (and a reader that
 * races the checker), each behind the mprotect() of its role, so that a
 * write outside its region kills it.
 *
 * Times are made up (T0 and up): the module never reads a clock itself.
 */
#include "config.h"

#include <criterion/criterion.h>
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
#include "shm/session.h"
#include "shm/shm.h"

#define T0		UINT64_C(1000000)
#define NWORKERS	2
#define WEB		0	/* listener indices */
#define API		1
#define API0		8	/* the api listener's server, after web's 8 */

static char dir[64];
static char path[128];
static struct fc_conf *conf;
static struct fc_shm seg;

/*
 * web: servers 0..7, stick size 6; api: server 8, stick size 2.  The table
 * holds 8 entries: one bucket, so eviction is deterministic.
 */
static const char conf_stick[] =
	"global: { workers = 2; };\n"
	"listeners = (\n"
	"  { name = \"web\"; bind = \"127.0.0.1:18180\";\n"
	"    stick = { cookie = \"PHPSESSID\"; size = 6; expire = 60; };\n"
	"    servers = ( { name = \"w0\"; address = \"127.0.0.1:18181\"; },\n"
	"      { name = \"w1\"; address = \"127.0.0.1:18182\"; },\n"
	"      { name = \"w2\"; address = \"127.0.0.1:18183\"; },\n"
	"      { name = \"w3\"; address = \"127.0.0.1:18184\"; },\n"
	"      { name = \"w4\"; address = \"127.0.0.1:18185\"; },\n"
	"      { name = \"w5\"; address = \"127.0.0.1:18186\"; },\n"
	"      { name = \"w6\"; address = \"127.0.0.1:18187\"; },\n"
	"      { name = \"w7\"; address = \"127.0.0.1:18188\"; } ); },\n"
	"  { name = \"api\"; bind = \"127.0.0.1:18190\";\n"
	"    stick = { cookie = \"SID\"; size = 2; };\n"
	"    servers = ( { name = \"a0\"; address = \"127.0.0.1:18191\"; } ); }\n"
	");\n";

static const char conf_plain[] =
	"global: { workers = 2; };\n"
	"listeners = ( { name = \"web\"; bind = \"127.0.0.1:18180\";\n"
	"    servers = ( { name = \"w0\"; address = \"127.0.0.1:18181\"; } ); } );\n";

static const char conf_big[] =
	"global: { workers = 2; };\n"
	"listeners = ( { name = \"web\"; bind = \"127.0.0.1:18180\";\n"
	"    stick = { cookie = \"PHPSESSID\"; size = 100000; };\n"
	"    servers = ( { name = \"w0\"; address = \"127.0.0.1:18181\"; } ); } );\n";

/* conf_stick's web listener alone, with an ha section that has the sync channel. */
static const char conf_sync[] =
	"global: { workers = 2; };\n"
	"listeners = ( { name = \"web\"; bind = \"127.0.0.1:18180\";\n"
	"    stick = { cookie = \"PHPSESSID\"; size = 6; expire = 60; };\n"
	"    servers = ( { name = \"w0\"; address = \"127.0.0.1:18181\"; },\n"
	"      { name = \"w1\"; address = \"127.0.0.1:18182\"; } ); } );\n"
	"ha: { interface = \"lo\"; vrid = 1; vips = [ \"192.0.2.1/24\" ];\n"
	"  peers = [ \"192.0.2.12\" ]; auth_key = \"0123456789abcdef\"; sync = { }; };\n";

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/fc-test-session-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fulcrum.conf", dir);
	conf = NULL;
	memset(&seg, 0, sizeof(seg));
}

static void teardown(void)
{
	shm_destroy(&seg);
	conf_free(conf);
	unlink(path);
	rmdir(dir);
}

TestSuite(session, .init = setup, .fini = teardown);

/* Loads text and creates its segment. */
static void start(const char *text)
{
	char *errors = NULL, err[256] = "";
	FILE *fp;

	cr_assert_not_null(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
	conf = conf_load(path, &errors);
	cr_assert_not_null(conf, "config refused:\n%s", errors ? errors : "");
	cr_assert_eq(shm_create(&seg, conf, NWORKERS, err, sizeof(err)), 0, "%s", err);
}

static int push(int slot, const char *key, uint32_t server, uint32_t ttl_s, uint64_t now)
{
	return session_push(&seg, slot, key, strlen(key), server, ttl_s, now);
}

static int lookup(uint32_t listener, const char *key, uint64_t now)
{
	return session_lookup(&seg, listener, key, strlen(key), now);
}

static struct fc_shm_ring *ring_of(int slot)
{
	return (struct fc_shm_ring *)((char *)seg.hdr + seg.hdr->sessions.off_rings +
	    (size_t)slot * seg.hdr->sessions.ring_stride);
}

static struct fc_shm_session *entry(uint32_t i)
{
	return (struct fc_shm_session *)((char *)seg.hdr + seg.hdr->off_sessions) + i;
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

static bool killed_by_segv(int status)
{
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV;
}

/* ================================================================ layout */

Test(session, layout_is_pinned)
{
	cr_expect_eq(offsetof(struct fc_shm_header, ha_rings), 736, "older fields stay");
	cr_expect_eq(offsetof(struct fc_shm_header, sessions), 4032);
	cr_expect_eq(sizeof(struct fc_shm_sessions), 64);
	cr_expect_eq(offsetof(struct fc_shm_sessions, off_cons), 0);
	cr_expect_eq(offsetof(struct fc_shm_sessions, off_rings), 8);
	cr_expect_eq(offsetof(struct fc_shm_sessions, ring_stride), 16);
	cr_expect_eq(offsetof(struct fc_shm_sessions, ring_slots), 20);
	cr_expect_eq(offsetof(struct fc_shm_sessions, used), 24);
	cr_expect_eq(offsetof(struct fc_shm_sessions, learned), 32);
	cr_expect_eq(offsetof(struct fc_shm_sessions, bad), 56);
	cr_expect_eq(sizeof(struct fc_shm_session), 192);
	cr_expect_eq(offsetof(struct fc_shm_session, seq), 0);
	cr_expect_eq(offsetof(struct fc_shm_session, hash), 8);
	cr_expect_eq(offsetof(struct fc_shm_session, expires_ms), 24);
	cr_expect_eq(offsetof(struct fc_shm_session, key), 64);
	cr_expect_eq(sizeof(struct fc_shm_ring_rec), 152);
	cr_expect_eq(offsetof(struct fc_shm_ring_rec, when_ms), 16);
	cr_expect_eq(sizeof(struct fc_shm_ring), 64);
	cr_expect_eq(offsetof(struct fc_shm_ring, rec), 64);
	cr_expect_eq(FC_SESSION_KEY_MAX, 128);
	cr_expect_eq(FC_SESS_LEARN, 1);
	cr_expect_eq(FC_SESS_TOUCH, 2);
}

Test(session, no_stick_means_no_table_and_no_ring)
{
	start(conf_plain);
	cr_expect_eq(session_capacity(conf), 0);
	cr_expect_eq(seg.hdr->nsessions, 0);
	cr_expect_eq(seg.hdr->off_sessions, seg.size);
	cr_expect_eq(seg.hdr->sessions.off_cons, seg.size);
	cr_expect_eq(seg.hdr->sessions.off_rings, seg.size);
	cr_expect_eq(push(0, "abc", 0, 60, T0), -1);
	session_drain(&seg, T0);
	cr_expect_eq(session_expire(&seg, T0, 0), 0);
	cr_expect_eq(lookup(WEB, "abc", T0), -1);
	cr_expect_eq(session_count(&seg), 0);
	cr_expect_eq(session_dropped(&seg), 0);
	cr_expect_eq(shm_protect_checker(&seg), 0);
}

Test(session, segment_places_table_then_read_indices_then_rings)
{
	const struct fc_shm_header *h;

	start(conf_stick);
	h = seg.hdr;
	cr_expect_eq(session_capacity(conf), 8, "the sum of the listeners' sizes");
	cr_expect_eq(h->nsessions, 8);
	cr_expect_eq(h->off_sessions % FC_SHM_PAGE, 0);
	cr_expect_eq(h->sessions.off_cons, h->off_sessions + FC_SHM_PAGE);
	cr_expect_eq(h->sessions.off_rings, h->sessions.off_cons + FC_SHM_PAGE);
	cr_expect_eq(h->sessions.ring_stride % FC_SHM_PAGE, 0, "each ring page aligned");
	cr_expect_geq(h->sessions.ring_stride, sizeof(struct fc_shm_ring) +
	    FC_SESSION_RING_SLOTS * sizeof(struct fc_shm_ring_rec));
	cr_expect_eq(h->sessions.ring_slots, FC_SESSION_RING_SLOTS);
	cr_expect_eq(h->size, h->sessions.off_rings +
	    (uint64_t)NWORKERS * h->sessions.ring_stride);
	cr_expect_eq(session_count(&seg), 0);
}

/* ================================================================ learning */

Test(session, pushed_session_is_found_once_drained)
{
	start(conf_stick);
	cr_assert_eq(push(1, "abc123", 5, 60, T0), 0);
	cr_expect_eq(lookup(WEB, "abc123", T0), -1, "the checker has not applied it");
	session_drain(&seg, T0);
	cr_expect_eq(lookup(WEB, "abc123", T0 + 1), 5);
	cr_expect_eq(session_count(&seg), 1);
	cr_expect_eq(seg.hdr->sessions.learned, 1);
	cr_expect_eq(lookup(WEB, "abc12", T0), -1, "a prefix is another id");
	cr_expect_eq(lookup(WEB, "abc1234", T0), -1);
	cr_expect_eq(lookup(API, "abc123", T0), -1, "listeners never share sessions");

	/* The same id in the other listener is its own session. */
	cr_assert_eq(push(0, "abc123", API0, 60, T0), 0);
	session_drain(&seg, T0);
	cr_expect_eq(lookup(API, "abc123", T0), API0);
	cr_expect_eq(lookup(WEB, "abc123", T0), 5);
	cr_expect_eq(session_count(&seg), 2);
}

Test(session, a_new_learn_moves_the_session_an_older_one_does_not)
{
	start(conf_stick);
	push(0, "s", 1, 60, T0);
	session_drain(&seg, T0);
	push(1, "s", 2, 60, T0 + 10);
	session_drain(&seg, T0 + 10);
	cr_expect_eq(lookup(WEB, "s", T0 + 10), 2, "redispatched: the new server");
	cr_expect_eq(session_count(&seg), 1);

	/* Worker 0 learned it at T0 + 20, worker 1 at T0 + 15: the later wins,
	 * although ring 1 is drained after ring 0. */
	push(0, "s", 3, 60, T0 + 20);
	push(1, "s", 4, 60, T0 + 15);
	session_drain(&seg, T0 + 30);
	cr_expect_eq(lookup(WEB, "s", T0 + 30), 3);
}

Test(session, entries_expire_ttl_after_last_seen)
{
	start(conf_stick);
	push(0, "short", 1, 2, T0);
	push(0, "long", 2, 60, T0);
	session_drain(&seg, T0 + 50);
	cr_expect_eq(lookup(WEB, "short", T0 + 1999), 1);
	cr_expect_eq(lookup(WEB, "short", T0 + 2000), -1, "expired: a miss at once");
	cr_expect_eq(session_count(&seg), 2, "until the sweep frees it");
	cr_expect_eq(session_expire(&seg, T0 + 2000, 0), 1);
	cr_expect_eq(session_count(&seg), 1);
	cr_expect_eq(seg.hdr->sessions.expired, 1);
	cr_expect_eq(lookup(WEB, "long", T0 + 2000), 2);
	cr_expect_eq(session_expire(&seg, T0 + 60000, 0), 1);
	cr_expect_eq(session_count(&seg), 0);
	cr_expect_eq(lookup(WEB, "long", T0 + 60000), -1);
}

Test(session, expiry_sweep_resumes_where_it_stopped)
{
	start(conf_stick);
	for (int i = 0; i < 8; i++) {
		char key[16];

		snprintf(key, sizeof(key), "k%d", i);
		push(0, key, 0, 1, T0);
	}
	session_drain(&seg, T0);
	cr_assert_eq(session_count(&seg), 8);
	cr_expect_eq(session_expire(&seg, T0 + 1000, 3), 3);
	cr_expect_eq(session_expire(&seg, T0 + 1000, 3), 3);
	cr_expect_eq(session_expire(&seg, T0 + 1000, 3), 2, "wrapped: 2 left");
	cr_expect_eq(session_count(&seg), 0);
}

/* ================================================================ touch */

Test(session, use_touches_at_most_once_per_interval_and_extends)
{
	struct fc_shm_ring *r;

	start(conf_stick);
	r = ring_of(1);
	push(1, "t", 4, 8, T0);		/* ttl 8 s: touch interval 1 s */
	session_drain(&seg, T0);
	cr_assert_eq(r->pushed, 1);
	cr_expect_eq(session_use(&seg, 1, WEB, "t", 1, T0 + 500), 4);
	cr_expect_eq(r->pushed, 1, "seen 0.5 s ago: no touch yet");
	cr_expect_eq(session_use(&seg, 1, WEB, "t", 1, T0 + 1500), 4);
	cr_expect_eq(r->pushed, 2, "1.5 s: touched");
	cr_expect_eq(session_use(&seg, 1, WEB, "t", 1, T0 + 1600), 4);
	cr_expect_eq(r->pushed, 2, "not twice before the checker applies it");
	session_drain(&seg, T0 + 1700);
	cr_expect_eq(lookup(WEB, "t", T0 + 8500), 4, "alive 8 s after the touch");
	cr_expect_eq(lookup(WEB, "t", T0 + 9500), -1, "8 s after the last use");
	cr_expect_eq(session_use(&seg, 1, WEB, "nope", 4, T0), -1);
}

Test(session, a_touch_never_changes_the_server)
{
	start(conf_stick);
	push(0, "t", 4, 8, T0);
	session_drain(&seg, T0);
	cr_assert_eq(session_use(&seg, 0, WEB, "t", 1, T0 + 2000), 4);
	push(1, "t", 6, 8, T0 + 1000);	/* learned meanwhile, older than the touch */
	session_drain(&seg, T0 + 2100);
	/* Ring 0 (the touch of server 4) went first, then the learn of 6. */
	cr_expect_eq(lookup(WEB, "t", T0 + 2100), 4, "the touch is the newest");
	push(1, "t", 6, 8, T0 + 3000);
	session_drain(&seg, T0 + 3000);
	cr_assert_eq(lookup(WEB, "t", T0 + 3000), 6);
	/* Worker 1 touches it on server 6 as worker 0 learns server 7: ring 0
	 * is drained first, so the touch arrives stale and is ignored. */
	cr_assert_eq(session_use(&seg, 1, WEB, "t", 1, T0 + 5000), 6);
	push(0, "t", 7, 8, T0 + 4000);
	session_drain(&seg, T0 + 5000);
	cr_expect_eq(lookup(WEB, "t", T0 + 5000), 7);
	cr_expect_eq(lookup(WEB, "t", T0 + 12500), -1, "not extended by the stale touch");
}

/* ================================================================ eviction */

/* Learns "k0".."k<n-1>" on servers i % 8, k0 seen first. */
static void fill(uint64_t t, int n)
{
	for (int i = 0; i < n; i++) {
		char key[32];

		snprintf(key, sizeof(key), "k%d", i);
		cr_assert_eq(push(0, key, (uint32_t)i % 8, 60, t + (uint64_t)i), 0);
	}
	session_drain(&seg, t + (uint64_t)n);
}

Test(session, full_table_evicts_the_least_recently_seen)
{
	start(conf_stick);
	fill(T0, 8);			/* k0 seen first, k7 last */
	cr_assert_eq(session_count(&seg), 8);
	cr_assert_eq(lookup(WEB, "k0", T0 + 100), 0);
	push(0, "k0", 0, 60, T0 + 100);		/* k0 seen again: k1 is the oldest */
	push(0, "new", 3, 60, T0 + 200);
	session_drain(&seg, T0 + 200);
	cr_expect_eq(lookup(WEB, "new", T0 + 200), 3);
	cr_expect_eq(lookup(WEB, "k1", T0 + 200), -1, "the least recently seen went");
	cr_expect_eq(lookup(WEB, "k0", T0 + 200), 0);
	for (int i = 2; i < 8; i++) {
		char key[8];

		snprintf(key, sizeof(key), "k%d", i);
		cr_expect_eq(lookup(WEB, key, T0 + 200), i);
	}
	cr_expect_eq(session_count(&seg), 8, "still full, never more");
	cr_expect_eq(seg.hdr->sessions.evicted, 1);
}

Test(session, an_expired_entry_goes_before_a_live_one)
{
	start(conf_stick);
	fill(T0, 7);
	push(0, "brief", 7, 1, T0 + 50);	/* the newest, but expires first */
	session_drain(&seg, T0 + 50);
	push(0, "new", 3, 60, T0 + 2000);
	session_drain(&seg, T0 + 2000);
	cr_expect_eq(lookup(WEB, "new", T0 + 2000), 3);
	cr_expect_eq(lookup(WEB, "k0", T0 + 2000), 0, "the oldest live one stays");
	cr_expect_eq(seg.hdr->sessions.evicted, 0);
	cr_expect_eq(session_count(&seg), 8);
}

/*
 * The documented price of bucket-local LRU: how full the table gets before
 * the first eviction, with ids that look like PHP's.
 */
Test(session, buckets_fill_before_the_table)
{
	uint32_t n, first = 0;

	start(conf_big);
	n = seg.hdr->nsessions;
	for (uint32_t i = 0; i < n; i++) {
		char key[40];

		snprintf(key, sizeof(key), "%08x%08xphp%u", i * 2654435761u, ~i, i);
		cr_assert_eq(push(0, key, 0, 600, T0 + i), 0);
		if (i % 1000 == 999)
			session_drain(&seg, T0 + i);
		if (first == 0 && seg.hdr->sessions.evicted > 0)
			first = session_count(&seg);
	}
	session_drain(&seg, T0 + n);
	cr_log_info("first eviction at %u of %u (%.0f%%), %u held at the end", first, n,
	    100.0 * first / n, session_count(&seg));
	cr_expect_geq(first, n * 6 / 10, "evictions started at %u of %u", first, n);
	cr_expect_geq(session_count(&seg), n * 93 / 100);
	cr_expect_leq(session_count(&seg), n);
}

/* ================================================================ rings */

Test(session, full_ring_drops_and_counts)
{
	struct fc_shm_ring *r;
	char key[16];

	start(conf_stick);
	r = ring_of(0);
	for (int i = 0; i < FC_SESSION_RING_SLOTS; i++) {
		snprintf(key, sizeof(key), "r%d", i);
		cr_assert_eq(push(0, key, 1, 60, T0), 0, "push %d", i);
	}
	cr_expect_eq(push(0, "one-more", 2, 60, T0), -1, "never waits for the checker");
	cr_expect_eq(r->dropped, 1);
	cr_expect_eq(session_dropped(&seg), 1);
	cr_expect_eq(push(1, "other-ring", 2, 60, T0), 0, "worker 1 has its own");
	session_drain(&seg, T0);
	cr_expect_eq(lookup(WEB, "other-ring", T0), 2);
	cr_expect_eq(push(0, "one-more", 2, 60, T0 + 1), 0, "room again once drained");
	session_drain(&seg, T0 + 1);
	cr_expect_eq(lookup(WEB, "one-more", T0 + 1), 2);
	cr_expect_eq(r->pushed, FC_SESSION_RING_SLOTS + 1);
	cr_expect_eq(push(NWORKERS, "x", 1, 60, T0), -1, "no such worker");
	cr_expect_eq(push(-1, "x", 1, 60, T0), -1);
}

Test(session, keys_of_max_length_work_longer_ones_are_refused)
{
	char max[FC_SESSION_KEY_MAX + 1], over[FC_SESSION_KEY_MAX + 2];

	start(conf_stick);
	memset(max, 'm', FC_SESSION_KEY_MAX);
	max[FC_SESSION_KEY_MAX] = '\0';
	memset(over, 'm', FC_SESSION_KEY_MAX + 1);
	over[FC_SESSION_KEY_MAX + 1] = '\0';
	cr_expect_eq(push(0, max, 3, 60, T0), 0);
	cr_expect_eq(push(0, over, 4, 60, T0), -1, "not truncated: refused");
	cr_expect_eq(push(0, "", 5, 60, T0), -1);
	cr_expect_eq(session_push(&seg, 0, NULL, 0, 5, 60, T0), -1);
	cr_expect_eq(ring_of(0)->rejected, 3);
	session_drain(&seg, T0);
	cr_expect_eq(lookup(WEB, max, T0), 3);
	cr_expect_eq(lookup(WEB, over, T0), -1, "its first 128 bytes are another id");
	cr_expect_eq(lookup(WEB, "", T0), -1);
	cr_expect_eq(session_lookup(&seg, WEB, NULL, 0, T0), -1);
	cr_expect_eq(session_count(&seg), 1);
	/* Bytes that are not text are still just bytes. */
	cr_expect_eq(session_push(&seg, 0, "a\0b", 3, 6, 60, T0), 0);
	session_drain(&seg, T0);
	cr_expect_eq(session_lookup(&seg, WEB, "a\0b", 3, T0), 6);
	cr_expect_eq(session_lookup(&seg, WEB, "a\0c", 3, T0), -1);
	cr_expect_eq(session_lookup(&seg, WEB, "a", 1, T0), -1);
}

Test(session, corrupt_records_are_refused)
{
	struct fc_shm_ring *r;

	start(conf_stick);
	r = ring_of(0);
	push(0, "bad-server", 9, 60, T0);	/* there are 9 servers: 0..8 */
	push(0, "good", 1, 60, T0);
	r->rec[1].keylen = FC_SESSION_KEY_MAX + 1;
	push(0, "bad-kind", 1, 60, T0);
	r->rec[2].kind = 7;
	session_drain(&seg, T0);
	cr_expect_eq(seg.hdr->sessions.bad, 3);
	cr_expect_eq(session_count(&seg), 0);
	cr_expect_eq(lookup(WEB, "bad-server", T0), -1);

	/* A scribbled head is skipped, not read as a million records. */
	r->head += 1000000;
	session_drain(&seg, T0);
	cr_expect_eq(seg.hdr->sessions.bad, 3 + 1000000);
	cr_expect_eq(push(0, "after", 2, 60, T0), 0);
	session_drain(&seg, T0);
	cr_expect_eq(lookup(WEB, "after", T0), 2);
}

/* ================================================================ processes */

/* Worker 1: learns three sessions, then dies without a word. */
static void worker1_learns_and_dies(void)
{
	if (shm_protect_worker(&seg, 1) < 0)
		_exit(3);
	push(1, "w1-a", 1, 60, T0);
	push(1, "w1-b", 2, 60, T0);
	push(1, "w1-c", 3, 60, T0);
	raise(SIGKILL);
}

/* Its successor in slot 1 continues where the ring stands. */
static void worker1_respawned(void)
{
	if (shm_protect_worker(&seg, 1) < 0)
		_exit(3);
	if (push(1, "w1-d", 4, 60, T0) < 0)
		_exit(4);
}

Test(session, a_ring_outlives_its_worker)
{
	int status;

	start(conf_stick);
	status = in_child(worker1_learns_and_dies);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "status %d", status);
	status = in_child(worker1_respawned);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	session_drain(&seg, T0);
	cr_expect_eq(lookup(WEB, "w1-a", T0), 1);
	cr_expect_eq(lookup(WEB, "w1-b", T0), 2);
	cr_expect_eq(lookup(WEB, "w1-c", T0), 3);
	cr_expect_eq(lookup(WEB, "w1-d", T0), 4);
	cr_expect_eq(ring_of(1)->pushed, 4);
}

static void worker0_writes_own_ring(void)
{
	if (shm_protect_worker(&seg, 0) < 0)
		_exit(3);
	_exit(push(0, "mine", 1, 60, T0) == 0 && lookup(WEB, "known", T0) == 2 ? 0 : 4);
}

static void worker0_writes_ring1(void)
{
	if (shm_protect_worker(&seg, 0) < 0)
		_exit(3);
	push(1, "not-mine", 1, 60, T0);
}

static void worker0_writes_table(void)
{
	if (shm_protect_worker(&seg, 0) < 0)
		_exit(3);
	session_drain(&seg, T0);
}

static void worker0_writes_read_index(void)
{
	struct fc_shm_ring_cons *c;

	if (shm_protect_worker(&seg, 0) < 0)
		_exit(3);
	c = (struct fc_shm_ring_cons *)((char *)seg.hdr + seg.hdr->sessions.off_cons);
	shm_store(&c->tail, 0);
}

Test(session, a_worker_writes_only_its_own_ring)
{
	int status;

	start(conf_stick);
	push(1, "known", 2, 60, T0);
	session_drain(&seg, T0);
	push(1, "pending", 3, 60, T0);	/* worker0_writes_table would apply it */
	status = in_child(worker0_writes_own_ring);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	cr_expect(killed_by_segv(in_child(worker0_writes_ring1)));
	cr_expect(killed_by_segv(in_child(worker0_writes_table)));
	cr_expect(killed_by_segv(in_child(worker0_writes_read_index)));
}

static void checker_drains(void)
{
	if (shm_protect_checker(&seg) < 0)
		_exit(3);
	session_recover(&seg);
	session_drain(&seg, T0);
	session_expire(&seg, T0 + 1000, 0);
	session_drain(&seg, T0);
}

static void checker_writes_a_ring(void)
{
	if (shm_protect_checker(&seg) < 0)
		_exit(3);
	shm_store(&ring_of(0)->head, 0);
}

Test(session, the_checker_writes_table_and_read_indices_not_rings)
{
	int status;

	start(conf_stick);
	push(0, "a", 1, 60, T0);
	push(1, "b", 2, 1, T0);
	status = in_child(checker_drains);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
	cr_expect_eq(lookup(WEB, "a", T0), 1, "applied in the checker's process");
	cr_expect_eq(lookup(WEB, "b", T0), -1, "and expired there");
	cr_expect_eq(session_count(&seg), 1);
	cr_expect(killed_by_segv(in_child(checker_writes_a_ring)));
}

Test(session, recover_frees_an_entry_a_dead_checker_left_half_written)
{
	struct fc_shm_session *e;

	start(conf_stick);
	fill(T0, 3);
	for (e = entry(0); e->hash == 0; e++)
		;
	e->seq++;			/* the checker died inside entry_set() */
	e->server = 7;
	cr_expect_eq(session_count(&seg), 3);
	session_recover(&seg);
	cr_expect_eq(e->seq % 2, 0);
	cr_expect_eq(e->hash, 0);
	cr_expect_eq(session_count(&seg), 2, "recounted");
}

/*
 * A reader racing the writer.  The checker (this process) keeps rewriting
 * the one bucket with 32 ids for 8 entries, each id alternating between
 * two servers derived from it: id n on server n % 8 or (n + 1) % 8.  A
 * reader that mixed two versions of an entry would find an id with the
 * server of another one.  The child reports wrong answers in its status.
 */
#define RACE_IDS	32
#define RACE_MS		1500

static int race_ok(int n, int srv)
{
	return srv == -1 || srv == n % 8 || srv == (n + 1) % 8;
}

static void race_reader(void)
{
	uint64_t hits = 0, reads = 0, end = clock_mono_ms() + RACE_MS;
	char key[16];

	if (shm_protect_worker(&seg, 1) < 0)
		_exit(3);
	for (;;) {
		for (int n = 0; n < RACE_IDS; n++) {
			int srv;

			snprintf(key, sizeof(key), "race-%02d", n);
			srv = lookup(WEB, key, T0);
			if (!race_ok(n, srv))
				_exit(1);
			hits += srv >= 0;
			reads++;
		}
		if (clock_mono_ms() > end)
			break;
	}
	_exit(hits > reads / 100 ? 0 : 2);
}

Test(session, a_reader_racing_the_writer_never_sees_a_wrong_server, .timeout = 30)
{
	uint64_t it = 0;
	pid_t pid;
	int status;

	start(conf_stick);
	cr_assert_geq(pid = fork(), 0);
	if (pid == 0)
		race_reader();
	while (waitpid(pid, &status, WNOHANG) == 0) {
		for (int i = 0; i < 64; i++, it++) {
			int n = (int)(it * 7 % RACE_IDS);
			char key[16];

			snprintf(key, sizeof(key), "race-%02d", n);
			push(0, key, (uint32_t)(n + (int)(it / RACE_IDS % 2)) % 8, 60, T0);
		}
		session_drain(&seg, T0);
	}
	cr_log_info("%" PRIu64 " updates while the reader ran", it);
	cr_expect(WIFEXITED(status), "reader status %d", status);
	cr_expect_neq(WEXITSTATUS(status), 1, "a reader saw a wrong server");
	cr_expect_neq(WEXITSTATUS(status), 2, "the reader found nothing: the test is void");
	cr_expect_eq(WEXITSTATUS(status), 0);
	cr_expect_gt(it, 10000);
}

/* ======================================================= the ha rings */

Test(session, no_sync_means_no_ha_rings)
{
	struct fc_shm_ring_rec r = { .kind = FC_SESS_LEARN, .server = 0, .ttl_s = 60,
	    .keylen = 3, .when_ms = T0 };

	start(conf_stick);
	cr_expect_eq(seg.hdr->ha_rings.off, 0);
	cr_expect_eq(session_ha_push(&seg, &r), -1);
	cr_expect_eq(session_ha_next(&seg, &r), 0);
}

Test(session, what_workers_learn_goes_out_to_the_ha_process)
{
	struct fc_shm_ring_rec r;

	start(conf_sync);
	cr_assert_neq(seg.hdr->ha_rings.off, 0);
	cr_assert_eq(push(1, "abc", 1, 60, T0), 0);
	cr_expect_eq(session_ha_next(&seg, &r), 0, "nothing before the checker applies it");
	session_drain(&seg, T0);
	cr_assert_eq(session_ha_next(&seg, &r), 1);
	cr_expect_eq(r.kind, FC_SESS_LEARN);
	cr_expect_eq(r.server, 1);
	cr_expect_eq(r.keylen, 3);
	cr_expect(memcmp(r.key, "abc", 3) == 0);
	cr_expect_eq(session_ha_next(&seg, &r), 0);
}

Test(session, what_the_peer_learned_is_applied_and_never_sent_back)
{
	struct fc_shm_ring_rec r = { .kind = FC_SESS_LEARN, .server = 1, .ttl_s = 60,
	    .keylen = 3, .when_ms = T0 };

	start(conf_sync);
	memcpy(r.key, "xyz", 3);
	cr_assert_eq(session_ha_push(&seg, &r), 0);
	session_drain(&seg, T0);
	cr_expect_eq(lookup(WEB, "xyz", T0 + 1), 1);
	cr_expect_eq(session_ha_next(&seg, &r), 0, "no echo to the peer");
}

Test(session, a_scan_returns_every_live_entry_once)
{
	struct fc_shm_ring_rec r[8];
	uint32_t cursor = 0, got = 0;

	start(conf_sync);
	push(0, "s1", 0, 60, T0);
	push(0, "s2", 1, 60, T0);
	push(1, "s3", 1, 1, T0);
	session_drain(&seg, T0);
	while (cursor < seg.hdr->nsessions)
		got += session_scan(&seg, &cursor, r + got, 1, T0 + 2000);
	cr_expect_eq(got, 2, "s3 expired");
}

Test(session, the_ha_process_can_fill_its_in_ring_once_protected)
{
	start(conf_sync);
	cr_assert_eq(shm_protect_ha(&seg), 0);
	cr_expect_eq(session_ha_push(&seg, &(struct fc_shm_ring_rec){ .kind = FC_SESS_LEARN,
	    .server = 0, .ttl_s = 60, .keylen = 1, .when_ms = T0 }), 0);
}
