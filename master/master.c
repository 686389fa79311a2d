/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The master: binds one SO_REUSEPORT socket per (listener address, worker
 * slot) and keeps them open for its whole life, so that a crashed worker's
 * queued connections wait for its successor instead of being reset.
 *
 * A generation is one loaded configuration with its shared-memory segment
 * and its children (the workers and the health checker).  The ha process,
 * with an "ha" section, outlives reloads that leave that section alone:
 * it is handed the new segment over a socket instead of being restarted,
 * so the VIPs do not move.  A reload (USR2)
 * starts a new generation on the same sockets -- same address and slot,
 * same socket -- and retires the old one: its workers stop accepting,
 * finish what they have in flight (bounded by drain_timeout) and exit; its
 * checker follows them.  Children are rows of one table, each saying which
 * generation it belongs to and when it may be started again; only the
 * current generation's children are respawned.
 *
 * The master also reads the current workers' heartbeats, a few times per
 * global.stall_ms: a worker quiet that long gets no new connections
 * (master/steer.c), one quiet for global.watchdog_ms is killed.
 *
 * Signals are blocked and taken with sigtimedwait() in the main loop, so no
 * handler runs in an odd place, and a USR2 arriving during a reload stays
 * pending and starts one more reload after it (merged, never lost):
 *   CHLD  reap, log, schedule a respawn (back-off when a child keeps dying)
 *   TERM/INT  stop everything at once      QUIT  drain, then stop
 *   HUP   reopen logs                      USR2  reload
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/log.h"
#include "lib/net.h"
#include "lib/notify.h"
#include "lib/tls.h"
#include "ha/ha.h"
#include "health/health.h"
#include "master/master.h"
#include "shm/ctl.h"
#include "master/steer.h"
#include "shm/shm.h"
#include "worker/worker.h"

#define BACKLOG		65535		/* the kernel caps it at somaxconn */
#define STABLE_MS	5000		/* a child up this long is healthy again */
#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	10000
#define STOP_GRACE_MS	5000
#define HA_FIRST_MS	500		/* stop: the ha process leaves first, this long at most */
#define CHECKER_STALE_MS 5000		/* no heartbeat this long: the checker is wedged */
#define SUPERVISE_MS	1000
#define WATCH_MIN_MS	5		/* worker heartbeats: looked at this often at most */
#define WATCHDOG_GRACE_MS 5000		/* SIGABRT, then this long to dump core, then KILL */
#define SUCCESSOR_MS	100		/* worker deaths closer than this are one */
#define MIGRATE_SYSCTL	"/proc/sys/net/ipv4/tcp_migrate_req"

enum proc_kind { PROC_WORKER, PROC_CHECKER, PROC_HA };

/* Who the children run as. */
struct priv {
	bool drop;
	uid_t uid;
	gid_t gid;
	char *user;
};

/* One loaded configuration and what runs it. */
struct gen {
	struct gen *older, *newer;
	struct fc_conf *conf;
	struct fc_shm shm;
	struct priv priv;
	int nworkers;
	bool retiring;
	bool checker_told;		/* the checker got TERM: workers are gone */
	bool killed;			/* drain_timeout passed: SIGKILL sent */
	uint64_t retire_ms;
};

struct child {
	enum proc_kind kind;
	int slot;
	struct gen *gen;
	pid_t pid;			/* 0: not running */
	uint64_t started_ms;
	uint64_t respawn_ms;		/* when to start it again; 0: now */
	int fails;			/* quick deaths in a row */
	int ctl;			/* PROC_HA: the master's end of its socket, -1 */
	bool stalled;			/* PROC_WORKER: out of the steering, logged */
	uint64_t abort_ms;		/* PROC_WORKER: the watchdog's SIGABRT; 0: none */
	bool abort_killed;		/* ... and the SIGKILL that followed it */
};

/* A listening socket of one worker slot. */
struct msock {
	int fd;
	int listener;
	int slot;
	struct fc_addr addr;
};

static struct {
	struct gen *cur, *oldest;
	bool foreground;
	struct msock *socks;
	int nsocks;
	struct child *children;
	int nchildren, cap;
	bool stopping;
	pid_t pid;
	unsigned int reloads;
	struct fc_ctl ctl;		/* fulcrumctl's requests, for the checkers */
	uint64_t deaths_ms;		/* the first of the current workers' last deaths */
} m;

static const char *proc_name(enum proc_kind kind)
{
	switch (kind) {
	case PROC_WORKER:
		return "worker";
	case PROC_CHECKER:
		return "checker";
	case PROC_HA:
		return "ha";
	}
	return "child";
}

/* ---------------------------------------------------------- sockets */

static int sockets_count(const struct fc_conf *conf, int nworkers)
{
	int total = 0;

	for (int l = 0; l < conf->nlisteners; l++)
		total += conf->listeners[l].nbinds * nworkers;
	return total;
}

static bool addr_same(const struct fc_addr *a, const struct fc_addr *b)
{
	return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

/* The index of a current socket not yet taken, bound to addr for slot, or -1. */
static int socket_find(const struct fc_addr *addr, int slot, const bool *taken)
{
	for (int i = 0; i < m.nsocks; i++)
		if (!taken[i] && m.socks[i].slot == slot && addr_same(&m.socks[i].addr, addr))
			return i;
	return -1;
}

/* Closes the sockets of a planned table that are not current ones. */
static void sockets_discard(struct msock *t, int n)
{
	for (int k = 0; k < n; k++) {
		bool current = false;

		for (int i = 0; i < m.nsocks; i++)
			current |= m.socks[i].fd == t[k].fd;
		if (!current) {
			steer_leave(t[k].fd);
			close(t[k].fd);
		}
	}
	free(t);
}

/*
 * The socket table conf needs: the current socket where address and slot
 * are the same (its queue and its clients carry on), a new one elsewhere.
 * taken[i] says which current sockets are kept.  Returns NULL, having
 * closed what it opened, when an address cannot be bound.
 */
static struct msock *sockets_plan(const struct fc_conf *conf, int nworkers, bool *taken,
    int *count)
{
	struct msock *t = xcalloc((size_t)sockets_count(conf, nworkers) + 1, sizeof(*t));
	int n = 0;

	for (int l = 0; l < conf->nlisteners; l++) {
		const struct fc_listener *ls = &conf->listeners[l];

		for (int b = 0; b < ls->nbinds; b++) {
			for (int slot = 0; slot < nworkers; slot++) {
				int i = socket_find(&ls->binds[b], slot, taken), fd;

				if (i >= 0)
					taken[i] = true;
				fd = i >= 0 ? m.socks[i].fd : net_listen_reuseport(&ls->binds[b], BACKLOG);
				if (i < 0 && fd >= 0)
					steer_join(&ls->binds[b], fd);
				if (fd < 0) {
					log_warn("listener %s: cannot listen on %s", ls->name,
					    ls->bind_text[b]);
					goto fail;
				}
				t[n++] = (struct msock){ fd, l, slot, ls->binds[b] };
			}
		}
	}
	*count = n;
	return t;
fail:
	sockets_discard(t, n);
	return NULL;
}

static void sockets_close(void)
{
	for (int i = 0; i < m.nsocks; i++)
		if (m.socks[i].fd >= 0)
			close(m.socks[i].fd);
	m.nsocks = 0;
}

/*
 * Closing the last copy of a reuseport socket resets the connections in its
 * accept queue, unless net.ipv4.tcp_migrate_req hands them to another
 * socket of the same group (Linux 5.14).  Chosen over a reuseport BPF
 * program because it also moves the connections that are already queued,
 * in the kernel, at the moment of the close, with nothing racing it.
 */
static void migrate_enable(void)
{
	char v = '0';
	int fd = open(MIGRATE_SYSCTL, O_RDWR | O_CLOEXEC);

	if (fd >= 0 && read(fd, &v, 1) == 1 && v == '1') {
		close(fd);
		return;
	}
	if (fd >= 0 && pwrite(fd, "1\n", 2, 0) == 2)
		log_notice("set net.ipv4.tcp_migrate_req = 1: connections queued on a "
		    "closed listening socket move to its siblings");
	else
		log_warnx("cannot set net.ipv4.tcp_migrate_req (%s): connections queued "
		    "on the sockets this reload closes may be reset", strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* Takes the planned table; closes the current sockets it does not keep. */
static void sockets_commit(struct msock *t, int n, const bool *taken)
{
	bool closing = false;

	for (int i = 0; i < m.nsocks; i++)
		closing |= !taken[i];
	if (closing)
		migrate_enable();
	/* The old workers still hold copies: the queue moves when they close. */
	for (int i = 0; i < m.nsocks; i++) {
		if (!taken[i]) {
			steer_leave(m.socks[i].fd);
			close(m.socks[i].fd);
		}
	}
	free(m.socks);
	m.socks = t;
	m.nsocks = n;
}

static int sockets_open(const struct fc_conf *conf, int nworkers)
{
	int n;
	bool taken[1] = { false };
	struct msock *t = sockets_plan(conf, nworkers, taken, &n);

	if (t == NULL)
		return -1;
	m.socks = t;
	m.nsocks = n;
	return 0;
}

/* ------------------------------------------------------- privileges */

static int privileges_resolve(const struct fc_conf *conf, struct priv *p)
{
	struct passwd *pw;
	struct group *gr;

	memset(p, 0, sizeof(*p));
	if (conf->chroot != NULL && geteuid() != 0) {
		log_warnx("global.chroot: only root can chroot the workers to %s",
		    conf->chroot);
		return -1;
	}
	if (geteuid() != 0)
		return 0;
	if (conf->user == NULL) {
		log_warnx("running as root without global.user: workers keep root privileges");
		return 0;
	}
	if ((pw = getpwnam(conf->user)) == NULL) {
		log_warnx("global.user: unknown user \"%s\"", conf->user);
		return -1;
	}
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	if (conf->group != NULL) {
		if ((gr = getgrnam(conf->group)) == NULL) {
			log_warnx("global.group: unknown group \"%s\"", conf->group);
			return -1;
		}
		p->gid = gr->gr_gid;
	}
	p->drop = true;
	p->user = conf->user;
	return 0;
}

static void privileges_drop(const struct priv *p)
{
	if (!p->drop)
		return;
	if (setgroups(1, &p->gid) < 0 || setgid(p->gid) < 0 || setuid(p->uid) < 0)
		fatal("cannot drop privileges to %s", p->user);
	/* The kernel clears the parent-death signal on a uid or gid change:
	 * without this, a child of a killed master would live on. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != m.pid)
		_exit(0);
}

/*
 * The ha process becomes global.user like the others, but keeps
 * CAP_NET_RAW (VRRP and ARP sockets) and CAP_NET_ADMIN (the VIPs), and
 * nothing else: KEEPCAPS carries the permitted set over setuid(), then
 * capset() trims it to those two and makes them effective.
 */
static void privileges_drop_keep_net(const struct priv *p)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	uint32_t keep = 1u << CAP_NET_ADMIN | 1u << CAP_NET_RAW;

	if (!p->drop)
		return;
	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0)
		fatal("PR_SET_KEEPCAPS");
	privileges_drop(p);
	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = keep;
	if (syscall(SYS_capset, &hdr, data) < 0)
		fatal("cannot keep CAP_NET_RAW and CAP_NET_ADMIN");
	prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
}

/* ------------------------------------------------------ generations */

static struct gen *gen_new(struct fc_conf *conf)
{
	struct gen *g = xcalloc(1, sizeof(*g));

	g->conf = conf;
	g->nworkers = conf->workers;
	g->shm.fd = -1;
	return g;
}

/* The instance's group (global.group) may read the segment: fulcrum-stat, fulcrumctl. */
static void segment_group(const struct fc_shm *shm, const struct priv *p)
{
	if (p->gid != 0 && fchown(shm->fd, (uid_t)-1, p->gid) < 0)
		log_warn("chown of the shared segment to group %u", (unsigned int)p->gid);
}

static void gen_free(struct gen *g)
{
	if (g->shm.hdr != NULL)
		shm_destroy(&g->shm);	/* unlinks the name only if still ours */
	conf_free(g->conf);
	free(g);
}

/*
 * Folds what each generation counted into the next one's retired block,
 * oldest first, so the current segment's totals include everything.
 */
static void gens_fold(void)
{
	for (struct gen *g = m.oldest; g != NULL && g->newer != NULL; g = g->newer)
		shm_fold_retired(&g->newer->shm, &g->shm);
}

/*
 * Every connection costs a descriptor on the client side and one on the
 * server side, and the idle pools and listeners need some more: raise the
 * limit (the children inherit it) instead of failing accept() at 1024.
 */
static void fd_limit_raise(const struct fc_conf *conf)
{
	rlim_t want = 2 * (rlim_t)conf->maxconn + 1024;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return;
	if (rl.rlim_max < want && geteuid() == 0)
		rl.rlim_max = want;
	rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	/* What the kernel granted, not what was asked: setrlimit fails as a whole. */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < want)
		log_warnx("open files limited to %llu, global.maxconn %d needs about %llu",
		    (unsigned long long)rl.rlim_cur, conf->maxconn, (unsigned long long)want);
}

/* ------------------------------------------------------------ children */

static struct child *child_add(enum proc_kind kind, int slot, struct gen *g)
{
	if (m.nchildren == m.cap) {
		m.cap = m.cap ? 2 * m.cap : 16;
		m.children = xrealloc(m.children, (size_t)m.cap * sizeof(*m.children));
	}
	m.children[m.nchildren] = (struct child){ .kind = kind, .slot = slot, .gen = g,
	    .ctl = -1 };
	return &m.children[m.nchildren++];
}

static void children_add_gen(struct gen *g)
{
	for (int i = 0; i < g->nworkers; i++)
		child_add(PROC_WORKER, i, g);
	child_add(PROC_CHECKER, 0, g);
}

/* In the child: die with the master, take a name ps shows, drop the past. */
static void child_setup(const struct child *c)
{
	char comm[16];

	/* The master's signals stay blocked: the child takes them from a
	 * signalfd, and one arriving before it is set up waits there. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != m.pid)
		_exit(0);
	snprintf(comm, sizeof(comm), "fulcrum-%c%d", proc_name(c->kind)[0], c->slot);
	prctl(PR_SET_NAME, comm);
	for (int i = 0; i < m.nchildren; i++)
		if (m.children[i].ctl >= 0)
			close(m.children[i].ctl);
	/* Retiring generations' segments are not this child's business. */
	for (struct gen *g = m.oldest; g != NULL; g = g->newer) {
		if (g == c->gen)
			continue;
		munmap(g->shm.hdr, g->shm.size);
		close(g->shm.fd);
	}
}

/*
 * A worker reads no file once it runs: its configuration, certificates
 * and segment are in memory.  What the C library would read lazily (the
 * time zone) is read before, and the access log's socket pinned.
 */
static void chroot_enter(const char *root)
{
	tzset();
	log_access_pin(root);
	if (chroot(root) < 0 || chdir("/") < 0)
		fatal("cannot chroot to %s", root);
}

static int run_worker(const struct child *c)
{
	struct fc_worker_socket *mine = xcalloc((size_t)m.nsocks + 1, sizeof(*mine));
	struct gen *g = c->gen;
	int n = 0;

	/* Keep this slot's sockets; the others belong to the other workers. */
	for (int i = 0; i < m.nsocks; i++) {
		if (m.socks[i].slot == c->slot)
			mine[n++] = (struct fc_worker_socket){ m.socks[i].fd, m.socks[i].listener };
		else
			close(m.socks[i].fd);
	}
	if (shm_protect_worker(&g->shm, c->slot) < 0)
		fatal("mprotect of the shared segment");
	if (g->conf->chroot != NULL)
		chroot_enter(g->conf->chroot);
	privileges_drop(&g->priv);
	return worker_main(g->conf, &g->shm, c->slot, g->nworkers, mine, n);
}

static int run_checker(const struct child *c)
{
	sockets_close();
	if (shm_protect_checker(&c->gen->shm) < 0)
		fatal("mprotect of the shared segment");
	privileges_drop(&c->gen->priv);
	return health_main(c->gen->conf, &c->gen->shm, &m.ctl);
}

/* The ha process writes only the header page (its ha block). */
static int run_ha(const struct child *c, int ctl)
{
	sockets_close();
	if (shm_protect_ha(&c->gen->shm) < 0)
		fatal("mprotect of the shared segment");
	privileges_drop_keep_net(&c->gen->priv);
	return ha_main(c->gen->conf, &c->gen->shm, ctl);
}

static int run_child(const struct child *c, int ctl)
{
	switch (c->kind) {
	case PROC_WORKER:
		return run_worker(c);
	case PROC_CHECKER:
		return run_checker(c);
	case PROC_HA:
		return run_ha(c, ctl);
	}
	return 1;
}

static void child_start(struct child *c)
{
	int sv[2] = { -1, -1 };
	pid_t pid;

	/* The ha process learns about a reload's new segment on this socket. */
	if (c->kind == PROC_HA &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warn("socketpair for the ha process");
		sv[0] = sv[1] = -1;
	}
	pid = fork();

	if (pid < 0) {
		log_warn("cannot fork %s %d", proc_name(c->kind), c->slot);
		c->respawn_ms = clock_mono_ms() + BACKOFF_MAX_MS;
		if (sv[0] >= 0) {
			close(sv[0]);
			close(sv[1]);
		}
		return;
	}
	if (pid == 0) {
		if (sv[0] >= 0)
			close(sv[0]);
		child_setup(c);
		_exit(run_child(c, sv[1]));
	}
	if (sv[1] >= 0)
		close(sv[1]);
	c->ctl = sv[0];
	c->pid = pid;
	c->started_ms = clock_mono_ms();
	c->stalled = false;
	c->abort_ms = 0;
	c->abort_killed = false;
	log_debug("%s %d started, pid %d", proc_name(c->kind), c->slot, (int)pid);
}

static void describe_exit(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

/* A child died: log it and decide when it comes back. */
static void child_died(struct child *c, int status)
{
	uint64_t now = clock_mono_ms(), delay = 0;
	char how[96];

	describe_exit(status, how, sizeof(how));
	if (now - c->started_ms < STABLE_MS)
		c->fails++;
	else
		c->fails = 0;
	if (c->fails > 1) {
		delay = (uint64_t)BACKOFF_MIN_MS << (c->fails - 2 < 10 ? c->fails - 2 : 10);
		if (delay > BACKOFF_MAX_MS)
			delay = BACKOFF_MAX_MS;
	}
	c->respawn_ms = now + delay;
	if (c->ctl >= 0) {
		close(c->ctl);
		c->ctl = -1;
	}
	/* Nobody advertises for the VIPs any more: the peer takes them. */
	if (c->kind == PROC_HA && !m.stopping && WIFSIGNALED(status)) {
		log_warnx("the ha process died: removing the VIPs until it is back");
		ha_release_vips(c->gen->conf);
	}
	if (m.stopping || c->gen->retiring)
		log_info("%s %d (pid %d, generation %u) %s", proc_name(c->kind), c->slot,
		    (int)c->pid, c->gen->shm.hdr->generation, how);
	else
		log_warnx("%s %d (pid %d) %s; respawning in %llu ms", proc_name(c->kind),
		    c->slot, (int)c->pid, how, (unsigned long long)delay);
	c->pid = 0;
}

static struct child *current_checker(void)
{
	for (int i = 0; i < m.nchildren; i++)
		if (m.children[i].kind == PROC_CHECKER && m.children[i].gen == m.cur)
			return &m.children[i];
	return NULL;
}

/*
 * A checker that stopped beating (stopped, stuck in a blocking call) would
 * freeze every server's health: kill it, and it is respawned like a crash.
 */
static void checker_watch(void)
{
	struct child *c = current_checker();
	const struct fc_shm_header *h = m.cur->shm.hdr;
	uint64_t now = clock_mono_ms(), beat = shm_load(&h->checker_heartbeat_ms);

	if (c == NULL || c->pid == 0 || now - c->started_ms < CHECKER_STALE_MS ||
	    shm_load(&h->checker_pid) != c->pid || now - beat < CHECKER_STALE_MS)
		return;
	log_warnx("checker (pid %d) sent no heartbeat for %llu ms: killing it",
	    (int)c->pid, (unsigned long long)(now - beat));
	kill(c->pid, SIGKILL);
}

/* -------------------------------------------------- stalled workers */

/* What a process is doing, as /proc tells: its state and where it sleeps. */
static void proc_doing(pid_t pid, char *buf, size_t len)
{
	char path[64], stat[512], wchan[64] = "";
	const char *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "re")) == NULL || fgets(stat, sizeof(stat), f) == NULL ||
	    (p = strrchr(stat, ')')) == NULL || p[1] == '\0') {
		snprintf(buf, len, "state unknown");
		if (f != NULL)
			fclose(f);
		return;
	}
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%d/wchan", (int)pid);
	if ((f = fopen(path, "re")) != NULL) {
		if (fgets(wchan, sizeof(wchan), f) == NULL || strcmp(wchan, "0") == 0)
			wchan[0] = '\0';
		fclose(f);
	}
	/* R running, S sleeping, D in an uninterruptible wait (disk), T stopped */
	snprintf(buf, len, "state %c%s%s", p[2], wchan[0] ? ", in " : "", wchan);
}

static struct child *current_worker(int slot)
{
	for (int i = 0; i < m.nchildren; i++)
		if (m.children[i].kind == PROC_WORKER && m.children[i].gen == m.cur &&
		    m.children[i].slot == slot)
			return &m.children[i];
	return NULL;
}

/* Whether the worker in c has written its heartbeat since it started. */
static bool worker_beating(const struct child *c)
{
	const struct fc_shm_worker *w = shm_worker(&c->gen->shm, (uint32_t)c->slot);

	return c->pid != 0 && shm_load(&w->pid) == c->pid;
}

/* Milliseconds since the worker in c last beat (or started, if it has not yet). */
static uint64_t worker_quiet(const struct child *c, uint64_t now)
{
	uint64_t beat = shm_load(&shm_worker(&c->gen->shm, (uint32_t)c->slot)->heartbeat_ms);

	if (!worker_beating(c) || beat < c->started_ms)
		beat = c->started_ms;
	return now > beat ? now - beat : 0;
}

/* live[slot]: is the current worker of that slot beating within stall_ms? */
static bool socket_live(int fd, void *arg)
{
	const bool *live = arg;

	for (int i = 0; i < m.nsocks; i++)
		if (m.socks[i].fd == fd)
			return live[m.socks[i].slot];
	return false;
}

/* Logs a worker leaving or joining the steering set: changes only. */
static void worker_stall_log(struct child *c, bool stalled, uint64_t quiet)
{
	if (c->stalled == stalled)
		return;
	c->stalled = stalled;
	if (stalled)
		log_warnx("worker %d (pid %d) sent no heartbeat for %llu ms: %s", c->slot,
		    (int)c->pid, (unsigned long long)quiet, steer_works() ?
		    "new connections go to the other workers" : "stalled");
	else
		log_notice("worker %d (pid %d) beats again: it takes new connections", c->slot,
		    (int)c->pid);
}

/*
 * A worker quiet for global.watchdog_ms is stuck (stopped, a syscall that
 * does not return, a loop): SIGABRT leaves a core to say where, SIGCONT
 * lets a stopped one take it, SIGKILL follows if it does not die.  It is
 * respawned like a crash; its socket and queue wait for the successor.
 */
static void worker_watchdog(struct child *c, uint64_t quiet, uint64_t now)
{
	int limit = m.cur->conf->watchdog_ms;
	char doing[128];

	if (c->abort_ms != 0) {
		if (!c->abort_killed && now - c->abort_ms >= WATCHDOG_GRACE_MS) {
			log_warnx("worker %d (pid %d) still alive %d ms after SIGABRT: killing it",
			    c->slot, (int)c->pid, WATCHDOG_GRACE_MS);
			kill(c->pid, SIGKILL);
			c->abort_killed = true;
		}
		return;
	}
	if (limit == 0 || quiet < (uint64_t)limit)
		return;
	proc_doing(c->pid, doing, sizeof(doing));
	log_warnx("watchdog: worker %d (pid %d) sent no heartbeat for %llu ms (%s): "
	    "killing it with SIGABRT", c->slot, (int)c->pid, (unsigned long long)quiet, doing);
	kill(c->pid, SIGABRT);
	kill(c->pid, SIGCONT);
	c->abort_ms = now;
}

/*
 * Every WATCH tick: which current workers beat within stall_ms (steering)
 * and which have been quiet for watchdog_ms.  Retiring generations are
 * left alone: they stopped accepting, and drain_timeout bounds them.
 */
static void workers_watch(void)
{
	const struct fc_conf *conf = m.cur->conf;
	uint64_t now = clock_mono_ms();
	bool live[FC_WORKERS_MAX] = { false };

	for (int slot = 0; slot < m.cur->nworkers; slot++) {
		struct child *c = current_worker(slot);
		uint64_t quiet;

		if (c == NULL || c->pid == 0)
			continue;
		quiet = worker_quiet(c, now);
		live[slot] = worker_beating(c) && quiet < (uint64_t)conf->stall_ms;
		if (conf->stall_ms > 0 && worker_beating(c))
			worker_stall_log(c, !live[slot], quiet);
		worker_watchdog(c, quiet, now);
	}
	steer_update(conf->stall_ms > 0 ? socket_live : NULL, live);
}

/* How often workers_watch() runs: a quarter of the shorter limit. */
static int watch_tick(const struct fc_conf *conf)
{
	int ms = SUPERVISE_MS;

	if (conf->stall_ms > 0 && conf->stall_ms / 4 < ms)
		ms = conf->stall_ms / 4;
	if (conf->watchdog_ms > 0 && conf->watchdog_ms / 4 < ms)
		ms = conf->watchdog_ms / 4;
	return ms < WATCH_MIN_MS ? WATCH_MIN_MS : ms;
}

/* Drops the rows of retired children that have exited. */
static void children_compact(void)
{
	int n = 0;

	for (int i = 0; i < m.nchildren; i++)
		if (m.children[i].pid != 0 || !m.children[i].gen->retiring)
			m.children[n++] = m.children[i];
	m.nchildren = n;
}

/*
 * Is a worker of the current generation serving, one that was there when
 * the deaths being reaped began?  Deaths less than SUCCESSOR_MS apart are
 * one event: a kill -9 of every worker reaches the master as several
 * SIGCHLDs, and the first one's successor may be up and beating before
 * the last is reaped.  Workers a reload has just started do count.
 */
static bool workers_serving(uint64_t deaths_ms)
{
	for (int i = 0; i < m.nchildren; i++) {
		const struct child *c = &m.children[i];

		if (c->kind == PROC_WORKER && c->gen == m.cur && worker_beating(c) &&
		    c->started_ms < deaths_ms)
			return true;
	}
	return false;
}

/*
 * The last serving worker is gone: the ha process hears it now, not when
 * the heartbeats go stale 2 adverts later, and resigns.  One dead worker
 * among live ones costs nothing.
 */
static void workers_all_dead(uint64_t when_ms)
{
	for (int i = 0; i < m.nchildren; i++) {
		const struct child *c = &m.children[i];

		if (c->kind != PROC_HA || c->pid == 0 || c->ctl < 0)
			continue;
		log_warnx("every worker of generation %u died: telling the ha process",
		    m.cur->shm.hdr->generation);
		if (ha_tell_workers_dead(c->ctl, when_ms) < 0)
			log_warn("cannot tell the ha process");
	}
}

/* A worker of the current generation died at now: was it the last one? */
static void workers_check(uint64_t now)
{
	if (now - m.deaths_ms > SUCCESSOR_MS)
		m.deaths_ms = now;
	if (!m.stopping && !workers_serving(m.deaths_ms))
		workers_all_dead(now);
}

static void children_reap(void)
{
	bool worker_died = false;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < m.nchildren; i++) {
			if (m.children[i].pid == pid) {
				worker_died |= m.children[i].kind == PROC_WORKER &&
				    m.children[i].gen == m.cur;
				child_died(&m.children[i], status);
				break;
			}
		}
	}
	if (worker_died)
		workers_check(clock_mono_ms());
	children_compact();
}

/* Children of g (NULL: all) that are running, of kind (-1: any). */
static int children_alive(const struct gen *g, int kind)
{
	int n = 0;

	for (int i = 0; i < m.nchildren; i++)
		n += m.children[i].pid != 0 && (g == NULL || m.children[i].gen == g) &&
		    (kind < 0 || m.children[i].kind == (enum proc_kind)kind);
	return n;
}

/* Starts the current children that are due; returns ms until the next one is. */
static int children_respawn(void)
{
	uint64_t now = clock_mono_ms();
	int wait = -1;

	for (int i = 0; i < m.nchildren && !m.stopping; i++) {
		struct child *c = &m.children[i];

		if (c->pid != 0 || c->gen != m.cur)
			continue;
		/* A new ha process waits for the one whose config it replaces. */
		if (c->kind == PROC_HA && children_alive(NULL, PROC_HA) > 0)
			continue;
		if (c->respawn_ms <= now) {
			child_start(c);
			continue;
		}
		if (wait < 0 || c->respawn_ms - now < (uint64_t)wait)
			wait = (int)(c->respawn_ms - now);
	}
	return wait;
}

static void children_signal(const struct gen *g, int kind, int sig)
{
	for (int i = 0; i < m.nchildren; i++) {
		const struct child *c = &m.children[i];

		if (c->pid != 0 && (g == NULL || c->gen == g) &&
		    (kind < 0 || c->kind == (enum proc_kind)kind))
			kill(c->pid, sig);
	}
}

/* Waits for every child, at most timeout_ms, then kills what is left. */
static void children_wait(const sigset_t *set, uint64_t timeout_ms)
{
	uint64_t end = clock_mono_ms() + timeout_ms;

	for (;;) {
		uint64_t now = clock_mono_ms();
		struct timespec ts;
		siginfo_t si;
		int sig;

		children_reap();
		if (children_alive(NULL, -1) == 0)
			return;
		if (now >= end)
			break;
		ts.tv_sec = (time_t)((end - now) / 1000);
		ts.tv_nsec = (long)((end - now) % 1000) * 1000000;
		sig = sigtimedwait(set, &si, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			children_signal(NULL, -1, SIGTERM);	/* a second TERM hurries a drain */
	}
	log_warnx("%d children still alive after %llu ms: killing them",
	    children_alive(NULL, -1), (unsigned long long)timeout_ms);
	children_signal(NULL, -1, SIGKILL);
	while (children_alive(NULL, -1) > 0 && waitpid(-1, NULL, 0) > 0)
		children_reap();
	for (int i = 0; i < m.nchildren; i++)
		m.children[i].pid = 0;
}

/* ------------------------------------------------------ retiring */

/*
 * A retiring generation: its workers drain; once they are gone its checker
 * is stopped; past drain_timeout whatever is left is killed.  A generation
 * whose processes are all gone is freed once every older one is.
 */
static void gens_retire_step(void)
{
	uint64_t now = clock_mono_ms();
	struct gen *g;

	children_compact();		/* no row may point to a freed generation */
	for (g = m.oldest; g != NULL && g != m.cur; g = g->newer) {
		uint64_t limit = (uint64_t)g->conf->drain_timeout + STOP_GRACE_MS;

		if (!g->checker_told && children_alive(g, PROC_WORKER) == 0) {
			children_signal(g, PROC_CHECKER, SIGTERM);
			g->checker_told = true;
		}
		if (!g->killed && now - g->retire_ms > limit && children_alive(g, -1) > 0) {
			g->killed = true;
			log_warnx("generation %u: %d processes still alive %llu ms after the "
			    "reload: killing them", g->shm.hdr->generation,
			    children_alive(g, -1), (unsigned long long)limit);
			children_signal(g, -1, SIGKILL);
		}
	}
	gens_fold();
	while ((g = m.oldest) != m.cur && children_alive(g, -1) == 0) {
		log_info("generation %u: every process has exited", g->shm.hdr->generation);
		m.oldest = g->newer;
		m.oldest->older = NULL;
		gen_free(g);
	}
	/* Nobody else holds the sockets the reloads closed: they left their groups. */
	if (m.oldest == m.cur)
		steer_settle();
}

static void gen_retire(struct gen *g)
{
	g->retiring = true;
	g->retire_ms = clock_mono_ms();
	children_signal(g, PROC_WORKER, SIGQUIT);
	/* Still here: its ha section changed or went away.  It resigns. */
	children_signal(g, PROC_HA, SIGTERM);
}

static struct child *child_of(const struct gen *g, enum proc_kind kind)
{
	for (int i = 0; i < m.nchildren; i++)
		if (m.children[i].gen == g && m.children[i].kind == kind)
			return &m.children[i];
	return NULL;
}

/*
 * On reload: an ha process whose section did not change carries on with
 * the new generation (no VIP flap) and is handed the new segment; else it
 * retires with the old generation and a new one starts once it is gone.
 */
static void ha_reload(struct gen *old, struct gen *g)
{
	struct child *h = child_of(old, PROC_HA);
	bool want = g->conf->ha.enabled;

	if (h != NULL && want && conf_ha_equal(&old->conf->ha, &g->conf->ha)) {
		h->gen = g;
		if (h->pid != 0 && (h->ctl < 0 || shm_send(h->ctl, &g->shm) < 0)) {
			log_warn("cannot hand the new segment to the ha process: restarting it");
			kill(h->pid, SIGTERM);
		}
		return;
	}
	if (h != NULL)
		log_notice("the ha section changed: the ha process restarts");
	if (want)
		child_add(PROC_HA, 0, g);
}

/* -------------------------------------------------------- process */

static void logs_open(const struct fc_conf *conf)
{
	log_init("master", m.foreground ? FC_LOG_STDERR : FC_LOG_SYSLOG,
	    conf->log.enabled ? conf->log.facility : LOG_DAEMON);
	/* An explicit remote syslog is used in the foreground too. */
	if (conf->log.enabled && conf->log.udp)
		log_access_open_udp(conf->log.facility,
		    (const struct sockaddr *)&conf->log.udp_addr.ss, conf->log.udp_addr.len);
	else if (conf->log.enabled)
		log_access_open(m.foreground ? FC_LOG_STDERR : FC_LOG_SYSLOG,
		    conf->log.facility, conf->log.address ? conf->log.address : "/dev/log");
}

/*
 * The parent returns only once the daemon has written its pidfile, so a
 * service manager reading the pidfile when the command returns finds it.
 * Returns the pipe the daemon writes to when it is ready.
 */
static int daemonize(void)
{
	int p[2], fd;
	pid_t pid;
	char ok;

	if (pipe2(p, O_CLOEXEC) < 0 || (pid = fork()) < 0)
		fatal("fork");
	if (pid > 0) {
		close(p[1]);
		_exit(read(p[0], &ok, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	if (setsid() < 0)
		fatal("setsid");
	if (chdir("/") < 0)
		fatal("chdir /");
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return p[1];
}

static void ready(int fd)
{
	if (fd >= 0) {
		(void)!write(fd, "1", 1);
		close(fd);
	}
}

static void pidfile_write(const char *path)
{
	char buf[32];
	int fd, n;

	if (path == NULL)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (fd < 0 || write(fd, buf, (size_t)n) != n)
		fatal("cannot write pidfile %s", path);
	close(fd);
}

static void signals_block(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGQUIT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	sigprocmask(SIG_BLOCK, set, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * The ha process goes first: its addresses leave (VRRP resigns, anycast
 * withdraws) before a worker closes a connection, so that new clients go
 * to another node instead of meeting a closed port.  Bounded: a stuck ha
 * process only delays the stop by HA_FIRST_MS.
 */
static void ha_first(const sigset_t *set)
{
	uint64_t end = clock_mono_ms() + HA_FIRST_MS;

	if (children_alive(NULL, PROC_HA) == 0)
		return;
	children_signal(NULL, PROC_HA, SIGTERM);
	while (children_alive(NULL, PROC_HA) > 0 && clock_mono_ms() < end) {
		struct timespec ts = { 0, 10 * 1000000L };
		siginfo_t si;

		(void)sigtimedwait(set, &si, &ts);	/* SIGCHLD, or 10 ms */
		children_reap();
	}
}

static void stop(const sigset_t *set, bool graceful)
{
	m.stopping = true;
	notify_send("STOPPING=1");
	ha_first(set);
	if (graceful) {
		log_notice("QUIT: finishing in-flight requests (at most %d ms)",
		    m.cur->conf->drain_timeout);
		children_signal(NULL, -1, SIGQUIT);
		/* Refuse new connections now instead of queueing them. */
		sockets_close();
		children_wait(set, (uint64_t)m.cur->conf->drain_timeout + STOP_GRACE_MS);
	} else {
		log_notice("stopping");
		children_signal(NULL, -1, SIGTERM);
		children_wait(set, STOP_GRACE_MS);
	}
}

/* ---------------------------------------------------------- reload */

static void log_lines(const char *text)
{
	const char *p = text, *nl;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		log_warnx("%.*s", (int)(nl ? nl - p : (ptrdiff_t)strlen(p)), p);
		p = nl ? nl + 1 : p + strlen(p);
	}
}

/* What a reload cannot change without a restart: say so, keep the old. */
static void reload_warn_fixed(const struct fc_conf *old, const struct fc_conf *new)
{
	if ((old->pidfile == NULL) != (new->pidfile == NULL) ||
	    (old->pidfile != NULL && strcmp(old->pidfile, new->pidfile) != 0))
		log_warnx("global.pidfile changed: it takes effect at the next restart");
}

/*
 * The new generation: config, privileges, sockets, segment -- each may
 * fail, and then nothing has changed.  Returns NULL on failure.
 */
static struct gen *reload_prepare(void)
{
	struct fc_conf *conf;
	char *errors = NULL, err[256];
	struct msock *t;
	struct gen *g;
	bool *taken;
	int n;

	if ((conf = conf_load(m.cur->conf->path, &errors)) == NULL) {
		log_lines(errors);
		free(errors);
		return NULL;
	}
	g = gen_new(conf);
	if (privileges_resolve(conf, &g->priv) < 0) {
		gen_free(g);
		return NULL;
	}
	taken = xcalloc((size_t)m.nsocks + 1, sizeof(*taken));
	if ((t = sockets_plan(conf, g->nworkers, taken, &n)) == NULL) {
		free(taken);
		gen_free(g);
		return NULL;
	}
	if (shm_create_next(&g->shm, &m.cur->shm, conf, g->nworkers, err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		sockets_discard(t, n);
		free(taken);
		gen_free(g);
		return NULL;
	}
	g->shm.hdr->master_pid = m.pid;
	segment_group(&g->shm, &g->priv);
	sockets_commit(t, n, taken);
	free(taken);
	return g;
}

static void reload(void)
{
	struct gen *old = m.cur, *g;
	char status[64];

	m.reloads++;
	log_notice("USR2: reloading %s", old->conf->path);
	notify_send("RELOADING=1");
	if ((g = reload_prepare()) == NULL) {
		log_warnx("reload failed: generation %u keeps running unchanged",
		    old->shm.hdr->generation);
		notify_send("READY=1\nSTATUS=reload failed: see the log");
		return;
	}
	reload_warn_fixed(old->conf, g->conf);
	fd_limit_raise(g->conf);
	g->older = old;
	old->newer = g;
	m.cur = g;
	log_access_close();
	logs_open(g->conf);
	children_add_gen(g);
	ha_reload(old, g);
	children_respawn();		/* the new generation is up first */
	gen_retire(old);
	log_notice("generation %u started: %d workers, %d listeners; generation %u "
	    "finishing its requests (at most %d ms)", g->shm.hdr->generation, g->nworkers,
	    g->conf->nlisteners, old->shm.hdr->generation, old->conf->drain_timeout);
	snprintf(status, sizeof(status), "READY=1\nSTATUS=generation %u", g->shm.hdr->generation);
	notify_send(status);
}

/*
 * The session-ticket keys of the current generation's segment: a new one
 * every FC_TLS_TICKET_ROTATE_S, the one before still accepted.  A draining
 * generation keeps its copy; its tickets stay valid here for a period.
 */
static void tickets_rotate(void)
{
	struct fc_tls_tickets *t = &m.cur->shm.hdr->tickets;
	uint64_t now = clock_wall_us();

	if (!t->made || now - t->rotated_us < (uint64_t)FC_TLS_TICKET_ROTATE_S * 1000000)
		return;
	if (tls_tickets_rotate(t, now) < 0)
		log_warnx("TLS session-ticket keys: no randomness to rotate them");
}

static void main_loop(const sigset_t *set)
{
	for (;;) {
		int wait = children_respawn();
		struct timespec ts;
		siginfo_t si;
		int sig;

		if (wait < 0 || wait > watch_tick(m.cur->conf))
			wait = watch_tick(m.cur->conf);
		ts = (struct timespec){ wait / 1000, (long)(wait % 1000) * 1000000 };
		sig = sigtimedwait(set, &si, &ts);
		checker_watch();
		workers_watch();

		switch (sig) {
		case SIGCHLD:
			children_reap();
			break;
		case SIGTERM:
		case SIGINT:
			stop(set, false);
			return;
		case SIGQUIT:
			stop(set, true);
			return;
		case SIGHUP:
			log_notice("HUP: logs go to %s, nothing to reopen",
			    m.foreground ? "stderr" : "syslog");
			break;
		case SIGUSR2:
			reload();
			break;
		default:
			break;
		}
		gens_retire_step();
		tickets_rotate();
	}
}

static void master_exit(void)
{
	const char *pidfile = m.cur->conf->pidfile;

	sockets_close();
	/* The workers are gone: what an anycast stop left on lo goes too. */
	if (m.cur->conf->ha.enabled)
		ha_clear_vips(m.cur->conf);
	if (pidfile != NULL)
		unlink(pidfile);
	ctl_destroy(&m.ctl, m.cur->shm.name);	/* before the generations go */
	while (m.oldest != NULL) {
		struct gen *g = m.oldest;

		m.oldest = g->newer;
		gen_free(g);
	}
	free(m.children);
	free(m.socks);
}

int master_run(struct fc_conf *conf, bool foreground)
{
	struct gen *g = gen_new(conf);
	char err[256];
	sigset_t set;
	int readyfd = -1;

	m.cur = m.oldest = g;
	m.foreground = foreground;
	logs_open(conf);
	if (privileges_resolve(conf, &g->priv) < 0)
		exit(1);
	fd_limit_raise(conf);
	/* Before binding: a second instance of the same file is refused here. */
	if (shm_create(&g->shm, conf, g->nworkers, err, sizeof(err)) < 0)
		fatalx("%s", err);
	segment_group(&g->shm, &g->priv);
	/* Without it, fulcrumctl cannot reach this instance: nothing more. */
	if (ctl_create(&m.ctl, g->shm.name, g->priv.gid != 0 ? g->priv.gid : (gid_t)-1,
	    err, sizeof(err)) < 0)
		log_warnx("%s: fulcrumctl will not work", err);
	if (sockets_open(conf, g->nworkers) < 0)
		exit(1);
	if (!foreground)
		readyfd = daemonize();
	m.pid = getpid();
	g->shm.hdr->master_pid = m.pid;
	signals_block(&set);
	pidfile_write(conf->pidfile);
	children_add_gen(g);
	if (conf->ha.enabled)
		child_add(PROC_HA, 0, g);
	children_respawn();
	log_notice("fulcrum %s started: %d workers, %d listeners, config %s",
	    PACKAGE_VERSION, g->nworkers, conf->nlisteners, conf->path);
	ready(readyfd);
	notify_send("READY=1\nSTATUS=generation 1");
	main_loop(&set);
	master_exit();
	log_notice("stopped");
	return 0;
}
