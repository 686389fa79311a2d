/*
 * The master: binds one SO_REUSEPORT socket per (listener address, worker
 * slot) and keeps them all open for its whole life, so that a crashed
 * worker's queued connections wait for its successor instead of being reset.
 *
 * Children are rows of one table -- the workers, the health checker and,
 * with an "ha" section, the VRRP process --
 * each saying what the child runs and when it may be started again.  The
 * shared-memory segment is created before the first fork and inherited.  Signals are blocked and taken with
 * sigtimedwait() in the main loop, so no handler runs in an odd place:
 *   CHLD  reap, log, schedule a respawn (back-off when a child keeps dying)
 *   TERM/INT  stop everything at once      QUIT  drain, then stop
 *   HUP   reopen logs                      USR2  reload (not yet: logged)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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
#include "ha/ha.h"
#include "health/health.h"
#include "master/master.h"
#include "shm/shm.h"
#include "worker/worker.h"

#define BACKLOG		65535		/* the kernel caps it at somaxconn */
#define STABLE_MS	5000		/* a child up this long is healthy again */
#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	10000
#define STOP_GRACE_MS	5000
#define CHECKER_STALE_MS 5000		/* no heartbeat this long: the checker is wedged */
#define SUPERVISE_MS	1000

enum proc_kind { PROC_WORKER, PROC_CHECKER, PROC_HA };

struct child {
	enum proc_kind kind;
	int slot;
	pid_t pid;			/* 0: not running */
	uint64_t started_ms;
	uint64_t respawn_ms;		/* when to start it again; 0: now */
	int fails;			/* quick deaths in a row */
};

/* A listening socket of one worker slot. */
struct msock {
	int fd;
	int listener;
	int slot;
};

static struct {
	struct fc_conf *conf;
	bool foreground;
	int nworkers;
	struct msock *socks;
	int nsocks;
	struct child *children;
	int nchildren;
	uid_t uid;
	gid_t gid;
	bool drop;
	bool stopping;
	pid_t pid;
	struct fc_shm shm;
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

static void sockets_open(void)
{
	const struct fc_conf *conf = m.conf;
	int total = 0;

	for (int l = 0; l < conf->nlisteners; l++)
		total += conf->listeners[l].nbinds * m.nworkers;
	m.socks = xcalloc((size_t)total, sizeof(*m.socks));
	for (int l = 0; l < conf->nlisteners; l++) {
		const struct fc_listener *ls = &conf->listeners[l];

		for (int b = 0; b < ls->nbinds; b++) {
			for (int slot = 0; slot < m.nworkers; slot++) {
				int fd = net_listen_reuseport(&ls->binds[b], BACKLOG);

				if (fd < 0)
					fatal("listener %s: cannot listen on %s",
					    ls->name, ls->bind_text[b]);
				m.socks[m.nsocks++] = (struct msock){ fd, l, slot };
			}
		}
	}
}

static void sockets_close(void)
{
	for (int i = 0; i < m.nsocks; i++)
		if (m.socks[i].fd >= 0)
			close(m.socks[i].fd);
	m.nsocks = 0;
}

/* ------------------------------------------------------- privileges */

static void privileges_resolve(void)
{
	const struct fc_conf *conf = m.conf;
	struct passwd *pw;
	struct group *gr;

	if (geteuid() != 0)
		return;
	if (conf->user == NULL) {
		log_warnx("running as root without global.user: workers keep root privileges");
		return;
	}
	if ((pw = getpwnam(conf->user)) == NULL)
		fatalx("global.user: unknown user \"%s\"", conf->user);
	m.uid = pw->pw_uid;
	m.gid = pw->pw_gid;
	if (conf->group != NULL) {
		if ((gr = getgrnam(conf->group)) == NULL)
			fatalx("global.group: unknown group \"%s\"", conf->group);
		m.gid = gr->gr_gid;
	}
	m.drop = true;
}

static void privileges_drop(void)
{
	if (!m.drop)
		return;
	if (setgroups(1, &m.gid) < 0 || setgid(m.gid) < 0 || setuid(m.uid) < 0)
		fatal("cannot drop privileges to %s", m.conf->user);
	/* The kernel clears the parent-death signal on a uid or gid change:
	 * without this, a child of a killed master would live on. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != m.pid)
		_exit(0);
}

/* ------------------------------------------------------------ children */

/* In the child: die with the master, take a name ps shows. */
static void child_setup(const struct child *c)
{
	char comm[16];

	/* The master's signals stay blocked: the child takes them from a
	 * signalfd, and one arriving before it is set up waits there. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != m.pid)
		_exit(0);
	snprintf(comm, sizeof(comm), "fulcrum-%c%d", proc_name(c->kind)[0], c->slot);
	prctl(PR_SET_NAME, comm);
}

static int run_worker(const struct child *c)
{
	struct fc_worker_socket *mine = xcalloc((size_t)m.nsocks, sizeof(*mine));
	int n = 0;

	/* Keep this slot's sockets; the others belong to the other workers. */
	for (int i = 0; i < m.nsocks; i++) {
		if (m.socks[i].slot == c->slot)
			mine[n++] = (struct fc_worker_socket){ m.socks[i].fd, m.socks[i].listener };
		else
			close(m.socks[i].fd);
	}
	if (shm_protect_worker(&m.shm, c->slot) < 0)
		fatal("mprotect of the shared segment");
	privileges_drop();
	return worker_main(m.conf, &m.shm, c->slot, m.nworkers, mine, n);
}

static int run_checker(void)
{
	sockets_close();
	if (shm_protect_checker(&m.shm) < 0)
		fatal("mprotect of the shared segment");
	privileges_drop();
	return health_main(m.conf, &m.shm);
}

/*
 * The ha process becomes global.user like the others, but keeps
 * CAP_NET_RAW (VRRP and ARP sockets) and CAP_NET_ADMIN (the VIPs), and
 * nothing else: KEEPCAPS carries the permitted set over setuid(), then
 * capset() trims it to those two and makes them effective.
 */
static void privileges_drop_keep_net(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	uint32_t keep = 1u << CAP_NET_ADMIN | 1u << CAP_NET_RAW;

	if (!m.drop)
		return;
	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0)
		fatal("PR_SET_KEEPCAPS");
	privileges_drop();
	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = keep;
	if (syscall(SYS_capset, &hdr, data) < 0)
		fatal("cannot keep CAP_NET_RAW and CAP_NET_ADMIN");
	prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
}

/* The ha process writes only the header page (its ha block). */
static int run_ha(void)
{
	sockets_close();
	if (shm_protect_ha(&m.shm) < 0)
		fatal("mprotect of the shared segment");
	privileges_drop_keep_net();
	return ha_main(m.conf, &m.shm);
}

static int run_child(const struct child *c)
{
	switch (c->kind) {
	case PROC_WORKER:
		return run_worker(c);
	case PROC_CHECKER:
		return run_checker();
	case PROC_HA:
		return run_ha();
	}
	return 1;
}

static void child_start(struct child *c)
{
	pid_t pid = fork();

	if (pid < 0) {
		log_warn("cannot fork %s %d", proc_name(c->kind), c->slot);
		c->respawn_ms = clock_mono_ms() + BACKOFF_MAX_MS;
		return;
	}
	if (pid == 0) {
		child_setup(c);
		_exit(run_child(c));
	}
	c->pid = pid;
	c->started_ms = clock_mono_ms();
	log_debug("%s %d started, pid %d", proc_name(c->kind), c->slot, (int)pid);
}

static void children_init(void)
{
	m.nchildren = m.nworkers + 1 + (m.conf->ha.enabled ? 1 : 0);
	m.children = xcalloc((size_t)m.nchildren, sizeof(*m.children));
	for (int i = 0; i < m.nworkers; i++)
		m.children[i] = (struct child){ .kind = PROC_WORKER, .slot = i };
	m.children[m.nworkers] = (struct child){ .kind = PROC_CHECKER, .slot = 0 };
	if (m.conf->ha.enabled)
		m.children[m.nworkers + 1] = (struct child){ .kind = PROC_HA, .slot = 0 };
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
	/* Nobody advertises for the VIPs any more: the peer takes them. */
	if (c->kind == PROC_HA && !m.stopping && WIFSIGNALED(status)) {
		log_warnx("the ha process died: removing the VIPs until it is back");
		ha_release_vips(m.conf);
	}
	if (m.stopping)
		log_info("%s %d (pid %d) %s", proc_name(c->kind), c->slot, (int)c->pid, how);
	else
		log_warnx("%s %d (pid %d) %s; respawning in %llu ms", proc_name(c->kind),
		    c->slot, (int)c->pid, how, (unsigned long long)delay);
	c->pid = 0;
}

/*
 * A checker that stopped beating (stopped, stuck in a blocking call) would
 * freeze every server's health: kill it, and it is respawned like a crash.
 */
static void checker_watch(void)
{
	struct child *c = &m.children[m.nworkers];
	uint64_t now = clock_mono_ms(), beat = shm_load(&m.shm.hdr->checker_heartbeat_ms);

	if (c->pid == 0 || now - c->started_ms < CHECKER_STALE_MS ||
	    shm_load(&m.shm.hdr->checker_pid) != c->pid || now - beat < CHECKER_STALE_MS)
		return;
	log_warnx("checker (pid %d) sent no heartbeat for %llu ms: killing it",
	    (int)c->pid, (unsigned long long)(now - beat));
	kill(c->pid, SIGKILL);
}

static void children_reap(void)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (int i = 0; i < m.nchildren; i++) {
			if (m.children[i].pid == pid) {
				child_died(&m.children[i], status);
				break;
			}
		}
	}
}

/* Starts the children that are due; returns ms until the next one is. */
static int children_respawn(void)
{
	uint64_t now = clock_mono_ms();
	int wait = -1;

	for (int i = 0; i < m.nchildren && !m.stopping; i++) {
		struct child *c = &m.children[i];

		if (c->pid != 0)
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

static int children_alive(void)
{
	int n = 0;

	for (int i = 0; i < m.nchildren; i++)
		n += m.children[i].pid != 0;
	return n;
}

static void children_signal(int sig)
{
	for (int i = 0; i < m.nchildren; i++)
		if (m.children[i].pid != 0)
			kill(m.children[i].pid, sig);
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
		if (children_alive() == 0)
			return;
		if (now >= end)
			break;
		ts.tv_sec = (time_t)((end - now) / 1000);
		ts.tv_nsec = (long)((end - now) % 1000) * 1000000;
		sig = sigtimedwait(set, &si, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			children_signal(SIGTERM);	/* a second TERM hurries a drain */
	}
	log_warnx("%d children still alive after %llu ms: killing them",
	    children_alive(), (unsigned long long)timeout_ms);
	children_signal(SIGKILL);
	while (children_alive() > 0 && waitpid(-1, NULL, 0) > 0)
		children_reap();
	for (int i = 0; i < m.nchildren; i++)
		m.children[i].pid = 0;
}

/* -------------------------------------------------------- process */

static void daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		fatal("fork");
	if (pid > 0)
		_exit(0);
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
}

static void pidfile_write(void)
{
	const char *path = m.conf->pidfile;
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

static void logs_open(void)
{
	const struct fc_conf *conf = m.conf;

	log_init("master", m.foreground ? FC_LOG_STDERR : FC_LOG_SYSLOG,
	    conf->log.enabled ? conf->log.facility : LOG_DAEMON);
	if (conf->log.enabled)
		log_access_open(m.foreground ? FC_LOG_STDERR : FC_LOG_SYSLOG,
		    conf->log.facility, conf->log.address ? conf->log.address : "/dev/log");
}

/* Say what the file asks for that this version does not do yet. */
static void warn_unsupported(const struct fc_conf *conf)
{
	for (int i = 0; i < conf->nlisteners; i++) {
		const struct fc_listener *l = &conf->listeners[i];

		if (l->cookie.mode != FC_COOKIE_NONE)
			log_warnx("listener %s: cookie persistence is not implemented in "
			    "this version: \"cookie\" is ignored", l->name);
		if (l->stick.cookie[0] != '\0')
			log_warnx("listener %s: learned sessions are not wired to requests "
			    "in this version: \"stick\" only sizes the table", l->name);
	}
}

/* Before binding: a second instance of the same file is refused here. */
static void segment_create(void)
{
	char err[256];

	if (shm_create(&m.shm, m.conf, m.nworkers, err, sizeof(err)) < 0)
		fatalx("%s", err);
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

static void stop(const sigset_t *set, bool graceful)
{
	m.stopping = true;
	if (graceful) {
		log_notice("QUIT: finishing in-flight requests (at most %d ms)",
		    m.conf->drain_timeout);
		children_signal(SIGQUIT);
		/* Refuse new connections now instead of queueing them. */
		sockets_close();
		children_wait(set, (uint64_t)m.conf->drain_timeout + STOP_GRACE_MS);
	} else {
		log_notice("stopping");
		children_signal(SIGTERM);
		children_wait(set, STOP_GRACE_MS);
	}
}

static void main_loop(const sigset_t *set)
{
	for (;;) {
		int wait = children_respawn();
		struct timespec ts;
		siginfo_t si;
		int sig;

		if (wait < 0 || wait > SUPERVISE_MS)
			wait = SUPERVISE_MS;
		ts = (struct timespec){ wait / 1000, (long)(wait % 1000) * 1000000 };
		sig = sigtimedwait(set, &si, &ts);
		checker_watch();

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
			log_warnx("USR2: reload is not implemented yet; configuration unchanged");
			break;
		default:
			break;
		}
	}
}

int master_run(struct fc_conf *conf, bool foreground)
{
	sigset_t set;

	m.conf = conf;
	m.foreground = foreground;
	m.nworkers = conf->workers;
	logs_open();
	privileges_resolve();
	warn_unsupported(conf);
	segment_create();
	sockets_open();
	if (!foreground)
		daemonize();
	m.pid = getpid();
	m.shm.hdr->master_pid = m.pid;
	signals_block(&set);
	pidfile_write();
	children_init();
	log_notice("fulcrum %s started: %d workers, %d listeners, config %s",
	    PACKAGE_VERSION, m.nworkers, conf->nlisteners, conf->path);
	main_loop(&set);
	sockets_close();
	shm_destroy(&m.shm);
	if (conf->pidfile != NULL)
		unlink(conf->pidfile);
	log_notice("stopped");
	conf_free(conf);
	return 0;
}
