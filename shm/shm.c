/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Creating, attaching and protecting the shared-memory segment (shm.h).
 * Nothing here logs: errors go back in the caller's buffer.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/clock.h"
#include "shm/session.h"
#include "shm/shm.h"

#define SHM_DIR		"/dev/shm"
#define SHM_PREFIX	"fulcrum-"

static size_t page_round(size_t n)
{
	return (n + FC_SHM_PAGE - 1) & ~(size_t)(FC_SHM_PAGE - 1);
}

void shm_name_for(const char *real_path, char *name, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	EVP_Digest(real_path, strlen(real_path), md, &mdlen, EVP_sha256(), NULL);
	snprintf(name, len, "/" SHM_PREFIX "%02x%02x%02x%02x%02x%02x%02x%02x",
	    md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7]);
}

uint32_t shm_server_index(const struct fc_conf *conf, int b, int s)
{
	uint32_t i = 0;

	for (int k = 0; k < b; k++)
		i += (uint32_t)conf->backends[k].nservers;
	return i + (uint32_t)s;
}

/* Entries of the rate-limit table: a fixed size when a listener limits. */
static uint32_t rate_entries(const struct fc_conf *conf)
{
	for (int l = 0; l < conf->nlisteners; l++)
		if (conf->listeners[l].rate_limit.enabled)
			return FC_RATE_ENTRIES;
	return 0;
}

/* The region every worker writes: rr positions, the rate-limit table. */
static size_t shared_size(const struct fc_conf *conf)
{
	return page_round((size_t)conf->nbackends * sizeof(struct fc_shm_rr) +
	    (size_t)rate_entries(conf) * sizeof(struct fc_shm_rate));
}

bool shm_instance_alive(const struct fc_shm *shm)
{
	if (shm->fd < 0)
		return false;
	if (flock(shm->fd, LOCK_SH | LOCK_NB) == 0) {
		flock(shm->fd, LOCK_UN);
		return false;
	}
	return errno == EWOULDBLOCK;
}

/*
 * /dev/shm is world-writable: a file there is read only if it is a regular
 * file that root or we own and nobody else may write, so that a FIFO, a
 * device or a forged header planted by another user is never trusted.
 */
static int open_trusted(const char *name, struct stat *st, char *err, size_t errlen)
{
	int fd = shm_open(name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		return -1;
	}
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode) ||
	    (st->st_uid != 0 && st->st_uid != geteuid()) ||
	    (st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(err, errlen, "%s: not a fulcrum segment (type, owner or mode)", name);
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/*
 * Is an instance using this name alive?  Returns its master pid (-1 when the
 * header cannot tell), or 0.  Judged by the lock alone, so that a running
 * fulcrum of another layout version is not mistaken for a stale segment.
 */
static pid_t live_owner(const char *name)
{
	struct stat st;
	char err[128];
	int32_t pid = -1;
	int fd;

	if ((fd = open_trusted(name, &st, err, sizeof(err))) < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK) {
		close(fd);
		return 0;
	}
	if ((size_t)st.st_size >= sizeof(struct fc_shm_header) &&
	    pread(fd, &pid, sizeof(pid), offsetof(struct fc_shm_header, master_pid)) !=
	    (ssize_t)sizeof(pid))
		pid = -1;
	close(fd);
	return pid > 0 ? pid : -1;
}

static void init_servers(struct fc_shm *shm, const struct fc_conf *conf)
{
	uint64_t now = clock_wall_us();

	for (int b = 0; b < conf->nbackends; b++) {
		const struct fc_backend *be = &conf->backends[b];
		struct fc_shm_backend *sb = shm_backend(shm, (uint32_t)b);

		snprintf(sb->name, sizeof(sb->name), "%s", be->name);
		sb->srv_base = shm_server_index(conf, b, 0);
		sb->nservers = (uint32_t)be->nservers;
		sb->balance = (uint32_t)be->balance;
		sb->listener = be->listener;
		for (int s = 0; s < be->nservers; s++) {
			const struct fc_server *cs = &be->servers[s];
			struct fc_shm_server *sv = shm_server(shm, sb->srv_base + (uint32_t)s);

			snprintf(sv->backend, sizeof(sv->backend), "%s", be->name);
			snprintf(sv->name, sizeof(sv->name), "%s", cs->name);
			snprintf(sv->address, sizeof(sv->address), "%s", cs->addr_text);
			sv->backend_index = (uint32_t)b;
			sv->weight = sv->eweight = (uint32_t)cs->weight;
			sv->backup = cs->backup;
			sv->slowstart_ms = (uint32_t)cs->slowstart;
			sv->checked = cs->check;
			sv->state = FC_SRV_UP;	/* checked servers start UP, as in HAProxy */
			sv->check_code = -1;
			sv->last_change_us = now;
		}
	}
}

static void init_listeners(struct fc_shm *shm, const struct fc_conf *conf)
{
	for (int l = 0; l < conf->nlisteners; l++) {
		struct fc_shm_listener *ls = shm_listener(shm, (uint32_t)l);

		snprintf(ls->name, sizeof(ls->name), "%s", conf->listeners[l].name);
		ls->tls = conf->listeners[l].tls.enabled;
	}
}

/* Bytes of one worker's session ring: its head line and its records. */
static size_t ring_stride(void)
{
	return page_round(sizeof(struct fc_shm_ring) +
	    FC_SESSION_RING_SLOTS * sizeof(struct fc_shm_ring_rec));
}

/* The ha process's two rings: only when the sync channel can use them. */
static int ha_rings(const struct fc_conf *conf)
{
	return conf->ha.sync.enabled && session_capacity(conf) > 0 ? 2 : 0;
}

/*
 * Table, the page of read indices, one ring per worker and the ha rings;
 * nothing without stick.
 */
static size_t sessions_size(const struct fc_conf *conf, int nworkers)
{
	uint32_t nsessions = session_capacity(conf);

	if (nsessions == 0)
		return 0;
	return page_round((size_t)nsessions * sizeof(struct fc_shm_session)) +
	    FC_SHM_PAGE + ring_stride() * (size_t)(nworkers + ha_rings(conf));
}

static void init_sessions(struct fc_shm *shm, const struct fc_conf *conf)
{
	struct fc_shm_header *h = shm->hdr;
	struct fc_shm_sessions *st = &h->sessions;
	uint32_t nsessions = session_capacity(conf);

	h->nsessions = nsessions;
	st->off_cons = st->off_rings = h->size;
	if (nsessions == 0)
		return;
	st->off_cons = h->off_sessions +
	    page_round((size_t)nsessions * sizeof(struct fc_shm_session));
	st->off_rings = st->off_cons + FC_SHM_PAGE;
	st->ring_stride = (uint32_t)ring_stride();
	st->ring_slots = FC_SESSION_RING_SLOTS;
	if (ha_rings(conf) > 0)
		h->ha_rings.off = st->off_rings + (uint64_t)st->ring_stride * h->nworkers;
}

static void init_header(struct fc_shm *shm, const struct fc_conf *conf, int nworkers,
    size_t tables_size, size_t stride)
{
	struct fc_shm_header *h = shm->hdr;

	h->magic = FC_SHM_MAGIC;
	h->version = FC_SHM_VERSION;
	h->header_size = sizeof(*h);
	h->size = shm->size;
	h->master_pid = getpid();
	h->generation = 1;
	h->start_us = clock_wall_us();
	snprintf(h->fulcrum_version, sizeof(h->fulcrum_version), "%s", PACKAGE_VERSION);
	snprintf(h->config_path, sizeof(h->config_path), "%s", conf->path);
	h->nlisteners = (uint32_t)conf->nlisteners;
	h->nbackends = (uint32_t)conf->nbackends;
	h->nservers = shm_server_index(conf, conf->nbackends, 0);
	h->nworkers = (uint32_t)nworkers;
	h->worker_stride = (uint32_t)stride;
	h->off_servers = sizeof(*h);
	h->off_listeners = h->off_servers + h->nservers * sizeof(struct fc_shm_server);
	h->off_backends = h->off_listeners + h->nlisteners * sizeof(struct fc_shm_listener);
	h->off_workers = page_round(sizeof(*h) + tables_size);
	h->off_retired = h->off_workers + (uint64_t)stride * (uint64_t)nworkers;
	h->off_shared = h->off_retired + stride;
	h->shared_size = shared_size(conf);
	h->nrate = rate_entries(conf);
	h->off_sessions = h->off_shared + h->shared_size;
	init_sessions(shm, conf);
}

/*
 * Removes the segments of instances that died without cleaning up (kill -9,
 * a crash): nobody holds their lock.  A file younger than a few seconds is
 * left alone: its master may be between creating it and locking it.
 */
static void sweep_stale(void)
{
	DIR *d = opendir(SHM_DIR);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char name[FC_SHM_NAME_LEN + 1], err[128];
		struct stat st;
		int fd;

		if (strncmp(e->d_name, SHM_PREFIX, strlen(SHM_PREFIX)) != 0 ||
		    strlen(e->d_name) >= FC_SHM_NAME_LEN - 1)
			continue;
		snprintf(name, sizeof(name), "/%s", e->d_name);
		if ((fd = open_trusted(name, &st, err, sizeof(err))) < 0)
			continue;
		if (time(NULL) - st.st_mtime > 5 && flock(fd, LOCK_EX | LOCK_NB) == 0)
			shm_unlink(name);
		close(fd);
	}
	closedir(d);
}

/*
 * Bytes of the segment for conf: header, servers and listeners (tables_size),
 * workers (stride each), retired, sessions.
 */
static size_t segment_size(const struct fc_conf *conf, int nworkers, size_t *tables_size,
    size_t *stride)
{
	uint32_t nservers = shm_server_index(conf, conf->nbackends, 0);
	size_t nlisteners = (size_t)conf->nlisteners;

	*tables_size = (size_t)nservers * sizeof(struct fc_shm_server) +
	    nlisteners * sizeof(struct fc_shm_listener) +
	    (size_t)conf->nbackends * sizeof(struct fc_shm_backend);
	*stride = page_round(sizeof(struct fc_shm_worker) +
	    (size_t)nservers * sizeof(struct fc_shm_srv_counters) +
	    nlisteners * sizeof(struct fc_shm_tls_counters));
	return page_round(sizeof(struct fc_shm_header) + *tables_size) +
	    *stride * ((size_t)nworkers + 1) + shared_size(conf) +
	    sessions_size(conf, nworkers);
}

/*
 * Creates name (which must not exist), locks it for the instance's life,
 * reserves shm->size bytes and maps them.  On failure nothing is left.
 */
static int segment_open(struct fc_shm *shm, const char *name, char *err, size_t errlen)
{
	struct stat st;
	void *p;
	int fd, rc;

	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "shared memory %s: %s", name, strerror(errno));
		goto fail;
	}
	/* Reserve the memory now: a sparse file on a full /dev/shm would
	 * kill the first process that touches an unbacked page (SIGBUS). */
	if ((rc = posix_fallocate(fd, 0, (off_t)shm->size)) != 0) {
		snprintf(err, errlen, "shared memory %s: cannot reserve %zu bytes: %s%s",
		    name, shm->size, strerror(rc), rc == ENOSPC ?
		    " (/dev/shm is too small: lower stick.size or grow it)" : "");
		goto fail;
	}
	p = mmap(NULL, shm->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "mmap %s: %s", name, strerror(errno));
		goto fail;
	}
	shm->hdr = p;
	shm->fd = fd;
	shm->dev = st.st_dev;
	shm->ino = st.st_ino;
	return 0;
fail:
	if (fd >= 0) {
		close(fd);
		shm_unlink(name);
	}
	return -1;
}

int shm_create(struct fc_shm *shm, const struct fc_conf *conf, int nworkers,
    char *err, size_t errlen)
{
	size_t tables_size, stride;
	pid_t owner;

	memset(shm, 0, sizeof(*shm));
	shm->fd = -1;
	shm_name_for(conf->path, shm->name, sizeof(shm->name));
	if ((owner = live_owner(shm->name)) != 0) {
		snprintf(err, errlen, "an instance with this configuration already runs "
		    "(master pid %d, segment %s)", (int)owner, shm->name);
		return -1;
	}
	shm_unlink(shm->name);		/* a stale segment of a dead master */
	sweep_stale();
	shm->size = segment_size(conf, nworkers, &tables_size, &stride);
	if (segment_open(shm, shm->name, err, errlen) < 0)
		return -1;
	init_header(shm, conf, nworkers, tables_size, stride);
	init_servers(shm, conf);
	init_listeners(shm, conf);
	/* Without randomness no ticket is issued: full handshakes only. */
	tls_tickets_make(&shm->hdr->tickets, clock_wall_us());
	return 0;
}

/*
 * Reload: the new generation's segment is built aside under NAME.next and
 * renamed over NAME, so a reader finds either the old or the new segment,
 * never none.  Processes of the old generation keep their mapping.
 */
int shm_create_next(struct fc_shm *next, const struct fc_shm *prev,
    const struct fc_conf *conf, int nworkers, char *err, size_t errlen)
{
	char tmp[FC_SHM_NAME_LEN + 8], from[sizeof(tmp) + 16], to[sizeof(from)];
	size_t tables_size, stride;

	memset(next, 0, sizeof(*next));
	next->fd = -1;
	snprintf(next->name, sizeof(next->name), "%s", prev->name);
	snprintf(tmp, sizeof(tmp), "%s.next", prev->name);
	shm_unlink(tmp);		/* left by a reload that died half-way */
	next->size = segment_size(conf, nworkers, &tables_size, &stride);
	if (segment_open(next, tmp, err, errlen) < 0)
		return -1;
	init_header(next, conf, nworkers, tables_size, stride);
	init_servers(next, conf);
	init_listeners(next, conf);
	next->hdr->generation = prev->hdr->generation + 1;
	next->hdr->start_us = prev->hdr->start_us;
	next->hdr->master_pid = prev->hdr->master_pid;
	shm_carry(next, prev, clock_mono_ms());
	snprintf(from, sizeof(from), SHM_DIR "%s", tmp);
	snprintf(to, sizeof(to), SHM_DIR "%s", next->name);
	if (rename(from, to) < 0) {
		snprintf(err, errlen, "rename %s to %s: %s", from, to, strerror(errno));
		munmap(next->hdr, next->size);
		close(next->fd);
		shm_unlink(tmp);
		return -1;
	}
	return 0;
}

bool shm_name_is_ours(const struct fc_shm *shm)
{
	struct stat st;
	bool ours;
	int fd = shm_open(shm->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0);

	if (fd < 0)
		return false;
	ours = fstat(fd, &st) == 0 && st.st_dev == shm->dev && st.st_ino == shm->ino;
	close(fd);
	return ours;
}

void shm_destroy(struct fc_shm *shm)
{
	if (shm->hdr == NULL)
		return;
	munmap(shm->hdr, shm->size);
	/* Our own segment only: another instance may have replaced the name. */
	if (shm_name_is_ours(shm))
		shm_unlink(shm->name);
	close(shm->fd);
	shm->fd = -1;
	shm->hdr = NULL;
}

static int check_header(const struct fc_shm_header *h, size_t size, char *err, size_t errlen)
{
	if (size < sizeof(*h) || h->magic != FC_SHM_MAGIC) {
		snprintf(err, errlen, "not a fulcrum segment");
		return -1;
	}
	if (h->version != FC_SHM_VERSION) {
		snprintf(err, errlen, "segment layout version %u, this tool reads version %u: "
		    "use the fulcrum-stat of the running fulcrum (%.16s)", h->version,
		    FC_SHM_VERSION, h->fulcrum_version);
		return -1;
	}
	if (h->size != size || h->header_size != sizeof(*h) ||
	    h->off_sessions > size || h->sessions.off_cons > size ||
	    h->off_retired < h->off_workers ||
	    h->off_retired + h->worker_stride > h->off_shared ||
	    h->off_shared + h->shared_size > h->off_sessions ||
	    h->off_backends + (uint64_t)h->nbackends * sizeof(struct fc_shm_backend) >
	    h->off_workers ||
	    (uint64_t)h->nbackends * sizeof(struct fc_shm_rr) +
	    (uint64_t)h->nrate * sizeof(struct fc_shm_rate) > h->shared_size ||
	    h->sessions.off_rings + (uint64_t)h->sessions.ring_stride * h->nworkers > size ||
	    (h->ha_rings.off != 0 &&
	    h->ha_rings.off + 2 * (uint64_t)h->sessions.ring_stride > size)) {
		snprintf(err, errlen, "segment size mismatch (truncated or corrupt)");
		return -1;
	}
	return 0;
}

int shm_attach_ro(struct fc_shm *shm, const char *name, char *err, size_t errlen)
{
	struct stat st;
	void *p;
	int fd;

	memset(shm, 0, sizeof(*shm));
	shm->fd = -1;
	snprintf(shm->name, sizeof(shm->name), "%s%s", name[0] == '/' ? "" : "/", name);
	if ((fd = open_trusted(shm->name, &st, err, errlen)) < 0)
		return -1;
	if ((size_t)st.st_size < sizeof(struct fc_shm_header)) {
		snprintf(err, errlen, "%s: not a fulcrum segment", shm->name);
		close(fd);
		return -1;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "%s: %s", shm->name, strerror(errno));
		close(fd);
		return -1;
	}
	shm->hdr = p;
	shm->fd = fd;			/* kept for shm_instance_alive() */
	shm->size = (size_t)st.st_size;
	shm->dev = st.st_dev;		/* for shm_name_is_ours() */
	shm->ino = st.st_ino;
	if (check_header(shm->hdr, shm->size, err, errlen) < 0) {
		shm_detach(shm);
		return -1;
	}
	return 0;
}

void shm_detach(struct fc_shm *shm)
{
	if (shm->hdr != NULL)
		munmap(shm->hdr, shm->size);
	if (shm->fd >= 0)
		close(shm->fd);
	shm->fd = -1;
	shm->hdr = NULL;
}

int shm_list_live(char names[][FC_SHM_NAME_LEN], int max)
{
	DIR *d = opendir(SHM_DIR);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		struct fc_shm shm;
		char err[128];

		if (strncmp(e->d_name, SHM_PREFIX, strlen(SHM_PREFIX)) != 0 ||
		    strlen(e->d_name) >= FC_SHM_NAME_LEN - 1 || strchr(e->d_name, '.'))
			continue;	/* ".next": a reload building its segment */
		if (shm_attach_ro(&shm, e->d_name, err, sizeof(err)) < 0)
			continue;
		if (shm_instance_alive(&shm)) {
			if (n < max)
				snprintf(names[n], FC_SHM_NAME_LEN, "/%.*s",
				    FC_SHM_NAME_LEN - 2, e->d_name);
			n++;
		}
		shm_detach(&shm);
	}
	closedir(d);
	return n;
}

/*
 * A worker writes its own block, its own session ring and the region all
 * workers share (rr positions, rate limits), nothing else: all read-only
 * first, then those writable again.
 */
int shm_protect_worker(struct fc_shm *shm, int slot)
{
	const struct fc_shm_header *h = shm->hdr;
	char *base = (char *)shm->hdr;
	size_t own = h->off_workers + (size_t)slot * h->worker_stride;
	size_t ring = h->sessions.off_rings + (size_t)slot * h->sessions.ring_stride;

	if (mprotect(base, shm->size, PROT_READ) < 0 ||
	    mprotect(base + own, h->worker_stride, PROT_READ | PROT_WRITE) < 0)
		return -1;
	if (h->shared_size > 0 &&
	    mprotect(base + h->off_shared, h->shared_size, PROT_READ | PROT_WRITE) < 0)
		return -1;
	if (h->nsessions > 0 &&
	    mprotect(base + ring, h->sessions.ring_stride, PROT_READ | PROT_WRITE) < 0)
		return -1;
	return 0;
}

/*
 * The checker writes the header, the servers, the session table and the
 * rings' read indices; the worker blocks and the rings themselves are
 * read-only to it.
 */
int shm_protect_checker(struct fc_shm *shm)
{
	char *base = (char *)shm->hdr;
	size_t off = shm->hdr->off_workers, table = shm->hdr->off_sessions;
	size_t rings = shm->hdr->sessions.off_rings;

	if (off < table && mprotect(base + off, table - off, PROT_READ) < 0)
		return -1;
	if (rings < shm->size && mprotect(base + rings, shm->size - rings, PROT_READ) < 0)
		return -1;
	/* The ha "out" ring: the checker is its producer. */
	if (shm->hdr->ha_rings.off != 0 && mprotect(base + shm->hdr->ha_rings.off +
	    shm->hdr->sessions.ring_stride, shm->hdr->sessions.ring_stride,
	    PROT_READ | PROT_WRITE) < 0)
		return -1;
	return 0;
}

int shm_protect_ha(struct fc_shm *shm)
{
	char *base = (char *)shm->hdr;

	if (mprotect(base + FC_SHM_PAGE, shm->size - FC_SHM_PAGE, PROT_READ) < 0)
		return -1;
	/* The ha "in" ring: the ha process is its producer. */
	if (shm->hdr->ha_rings.off != 0 && mprotect(base + shm->hdr->ha_rings.off,
	    shm->hdr->sessions.ring_stride, PROT_READ | PROT_WRITE) < 0)
		return -1;
	return 0;
}

struct handover {
	uint64_t size;
	char name[FC_SHM_NAME_LEN];
};

int shm_send(int sock, const struct fc_shm *shm)
{
	struct handover h = { .size = shm->size };
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &h, sizeof(h) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct cmsghdr *c;

	memset(ctl, 0, sizeof(ctl));
	snprintf(h.name, sizeof(h.name), "%s", shm->name);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &shm->fd, sizeof(int));
	return sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof(h) ? 0 : -1;
}

/* The descriptor a message carried, or -1. */
static int received_fd(struct msghdr *msg)
{
	struct cmsghdr *c = CMSG_FIRSTHDR(msg);
	int fd = -1;

	if (c != NULL && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

int shm_recv(int sock, struct fc_shm *shm, char *err, size_t errlen)
{
	struct handover h;
	char ctl[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &h, sizeof(h) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
	    .msg_control = ctl, .msg_controllen = sizeof(ctl) };
	struct stat st;
	ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	int fd = n > 0 ? received_fd(&msg) : -1;
	void *p;

	memset(shm, 0, sizeof(*shm));
	shm->fd = -1;
	if (n != (ssize_t)sizeof(h) || fd < 0 || fstat(fd, &st) < 0 ||
	    (uint64_t)st.st_size < h.size || h.size < sizeof(struct fc_shm_header)) {
		snprintf(err, errlen, "bad segment handover (%zd bytes)", n);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	p = mmap(NULL, h.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "mmap of the handed-over segment: %s", strerror(errno));
		close(fd);
		return -1;
	}
	shm->hdr = p;
	shm->size = h.size;
	shm->fd = fd;
	shm->dev = st.st_dev;
	shm->ino = st.st_ino;
	h.name[sizeof(h.name) - 1] = '\0';
	snprintf(shm->name, sizeof(shm->name), "%s", h.name);
	if (check_header(shm->hdr, shm->size, err, errlen) < 0) {
		shm_detach(shm);
		return -1;
	}
	return 0;
}
