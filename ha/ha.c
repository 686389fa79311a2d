/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The ha process (ha.h): one VRRPv3 virtual router (RFC 5798 6.4) on
 * lib/ev timers, over IPv4, IPv6 or both.
 *
 *   INIT --healthy--> BACKUP --master down--> MASTER
 *                       ^  <--higher advert----'
 *   any --no worker heartbeat for 2 adverts--> FAULT --healthy--> BACKUP
 *   any --the master reaped the last worker--> FAULT
 *
 * MASTER adds the VIPs (rtnetlink) and sends gratuitous ARP, garp_count
 * rounds garp_repeat_ms apart; leaving MASTER removes them.  FAULT is
 * keepalived's word for a node that must not be master: its proxy is dead,
 * so it resigns with a priority-0 advert (the backup takes over after its
 * skew time, not after 3 adverts) and waits for a worker heartbeat.
 *
 * Two raw sockets: adverts leave from one bound to the node's own address
 * (the checksum and the HMAC cover the source, so it must be known), and
 * arrive on one bound to the interface and joined to 224.0.0.18.
 *
 * With mode = "anycast" there is no election (ha_anycast_*() below): every
 * node whose proxy is alive holds the VIPs, as MASTER, and gives them back
 * at once when its proxy dies (FAULT), stops or drains.  Its sync channels
 * (a full mesh) only replicate sessions.
 *
 * IPv6 VIPs make a second instance with the same VRID (as two keepalived
 * instances would): its adverts carry the IPv6 VIPs from the link-local
 * address to ff02::12 (ha6.c), its VIPs are announced with unsolicited
 * Neighbor Advertisements.  Both instances follow one state: an advert of
 * either family counts, and a transition moves every VIP.  With only IPv6
 * VIPs the IPv4 instance does not exist (no IPv4 address needed).
 *
 * This process is the single writer of the shm ha block.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/alloc.h"
#include "lib/clock.h"
#include "lib/ev.h"
#include "lib/log.h"
#include "ha/ha.h"
#include "ha/repl.h"
#include "ha/sync.h"
#include "ha/ha6.h"
#include "ha/vip.h"
#include "ha/vrrp.h"
#include "shm/report.h"

_Static_assert(FC_SHM_HA_PEERS == FC_SYNC_MAX_PEERS, "a shm slot per sync peer");

#define HEALTH_MIN_MS	10	/* worker heartbeats are looked at this often, at most */
#define STALE_MIN_MS	200	/* workers beat every 100 ms: never judge faster */
#define REFUSED_LOG_MS	5000
#define LEASE_ADVERTS	10	/* a VIP lives this many adverts unrenewed... */
#define LEASE_MIN_S	2	/* ...and at least this long */
#define ANYCAST_LEASE_S	2	/* anycast: a dead node's routes go within this */
#define ANYCAST_RENEW_MS 500	/* each renewal is a netlink event for the daemon */
#define ANYCAST_SETTLE_MS 300	/* stop: for the withdrawal to reach the routers */
#define ANYCAST_GRACE_S	5	/* the master's STOP_GRACE_MS, past a drain */

static struct {
	const struct fc_ha *cfg;
	struct fc_shm *shm;
	struct fc_shm_ha *blk;
	struct fc_shm *prev;		/* the segment before a reload, for a while */
	bool prev_owned;		/* prev was mapped here (not the master's) */
	bool shm_owned;
	uint64_t prev_until;
	struct fc_ev_io ctl;		/* the master's socket */
	struct fc_ev *ev;
	struct fc_ev_signals sigs;
	struct fc_ev_io rx;
	int tx;
	struct vip_link link;
	struct vip_link lo;		/* anycast: where a withdrawn address stays local */
	uint32_t src, dst;		/* network order; dst: group or first peer */
	struct vrrp_key key;
	struct vrrp_replay replay;
	uint64_t seq;
	uint32_t vips[VRRP_MAX_ADDRS];	/* the IPv4 ones; none: no IPv4 instance */
	int nvips;
	struct in6_addr vips6[VRRP_MAX_ADDRS];	/* the IPv6 ones */
	int nvips6;
	struct fc_ev_io rx6;		/* the IPv6 instance's socket (sends too) */
	struct in6_addr src6;		/* link-local */
	struct vrrp_replay replay6;
	enum fc_ha_state state;
	uint16_t adver_cs;		/* ours */
	uint16_t master_adver_cs;	/* the master's, as it advertises it */
	struct fc_ev_timer adver, down, garp, health;
	int garp_left;
	bool master_resigned;		/* its last advert had priority 0 */
	const char *resigned_how;	/* NULL: that advert; else the channel's word */
	uint64_t stale_ms;
	uint32_t lease_s;		/* VIP lifetime, renewed every advert */
	uint64_t started_ms;
	uint64_t renewed_ms;		/* anycast: the leases' last renewal */
	char label[16];			/* "VRID 51" or "anycast", in the log */
	bool send_failing;
	bool stopping;
	int peer_state[FC_SYNC_MAX_PEERS];	/* from each sync channel; -1: unknown */
	bool vips_held;			/* on the interface now */
	uint64_t vips_renewed_us;	/* wall clock of their last add or renewal */
	bool split;			/* two masters seen, not over yet */
	uint64_t master_since_ms;	/* our last move to MASTER */
	uint64_t split_start_ms, split_seen_ms;	/* began; last sign of it */
	uint64_t last_advert_ms;	/* the peer's last advert */
	uint64_t dead_ms;		/* the master reaped the last worker then; 0: no */
} ha;

static bool anycast(void)
{
	return ha.cfg->mode == FC_HA_ANYCAST;
}

/* ------------------------------------------------------------- adverts */

static void sent(bool ok)
{
	if (!ok) {
		/* Once per failing streak: a link down must not flood the log. */
		if (!ha.send_failing)
			log_warn("VRID %d: cannot send an advert", ha.cfg->vrid);
		ha.send_failing = true;
	} else if (ha.send_failing) {
		log_notice("VRID %d: adverts leave again", ha.cfg->vrid);
		ha.send_failing = false;
	}
}

/* A peers entry is of one family: each instance sends to its own. */
static const struct sockaddr *peer_of(int i, int family)
{
	const struct sockaddr *sa = (const struct sockaddr *)&ha.cfg->peers[i].ss;

	return sa->sa_family == family ? sa : NULL;
}

static void send_advert4(struct vrrp_advert *a)
{
	uint8_t msg[VRRP_MSG_MAX];
	int n = ha.cfg->npeers > 0 ? ha.cfg->npeers : 1;

	a->naddrs = (uint8_t)ha.nvips;
	memcpy(a->addrs, ha.vips, sizeof(uint32_t) * (size_t)ha.nvips);
	for (int i = 0; i < n; i++) {
		struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = ha.dst };
		size_t len;

		if (ha.cfg->npeers > 0 && peer_of(i, AF_INET) == NULL)
			continue;
		if (ha.cfg->npeers > 0)
			to = *(const struct sockaddr_in *)peer_of(i, AF_INET);
		len = vrrp_encode(a, ha.src, to.sin_addr.s_addr, &ha.key, msg);
		sent(sendto(ha.tx, msg, len, 0, (struct sockaddr *)&to, sizeof(to)) >= 0);
	}
}

static void send_advert6(struct vrrp_advert *a)
{
	static const struct in6_addr group = VRRP6_MCAST_GROUP;
	uint8_t msg[VRRP6_MSG_MAX];
	int n = ha.cfg->npeers > 0 ? ha.cfg->npeers : 1;

	a->naddrs = (uint8_t)ha.nvips6;
	memcpy(a->addrs6, ha.vips6, sizeof(ha.vips6[0]) * (size_t)ha.nvips6);
	for (int i = 0; i < n; i++) {
		const struct sockaddr_in6 *peer = NULL;
		size_t len;

		if (ha.cfg->npeers > 0 &&
		    (peer = (const struct sockaddr_in6 *)peer_of(i, AF_INET6)) == NULL)
			continue;
		len = vrrp6_encode(a, &ha.src6, peer ? &peer->sin6_addr : &group, &ha.key, msg);
		sent(ha6_send(ha.rx6.fd, ha.link.ifindex, &ha.src6,
		    peer ? &peer->sin6_addr : &group, msg, len) == 0);
	}
}

static void send_advert(uint8_t priority)
{
	struct vrrp_advert a = { .vrid = (uint8_t)ha.cfg->vrid, .priority = priority,
	    .interval_cs = ha.adver_cs };
	uint64_t now = clock_wall_us();

	/* Strictly increasing, and above anything a previous life of ours sent. */
	ha.seq = now > ha.seq ? now : ha.seq + 1;
	a.seq = ha.seq;
	if (ha.nvips > 0)
		send_advert4(&a);
	if (ha.nvips6 > 0)
		send_advert6(&a);
}

/* ------------------------------------------------------------- the VIPs */

/*
 * The VIPs are a lease: added with a lifetime of lease_s that every advert
 * renews, so that if every fulcrum process of the node dies (kill -9, OOM)
 * the kernel removes them by itself instead of answering ARP for them
 * beside the new master forever.
 */
static int vip_set_one(struct vip_link *l, const struct fc_vip *v, bool add,
    uint32_t lease_s, char *err, size_t errlen)
{
	if (v->addr.ss.ss_family == AF_INET6)
		return vip_change6(l, &((const struct sockaddr_in6 *)&v->addr.ss)->sin6_addr,
		    v->prefixlen, add, lease_s, err, errlen);
	return vip_change(l, ((const struct sockaddr_in *)&v->addr.ss)->sin_addr.s_addr,
	    v->prefixlen, add, lease_s, err, errlen);
}

static void vips_change(struct vip_link *l, bool add, uint32_t lease_s)
{
	char err[160];

	if (l == &ha.link) {	/* held: on the interface, announced; lo is neither */
		ha.vips_held = add;
		if (add)
			ha.vips_renewed_us = clock_wall_us();
	}
	for (int i = 0; i < ha.cfg->nvips && i < VRRP_MAX_ADDRS; i++)
		if (vip_set_one(l, &ha.cfg->vips[i], add, add ? lease_s : 0, err,
		    sizeof(err)) < 0)
			log_warnx("%s: %s", ha.label, err);
}

static void vips_set(bool add)
{
	vips_change(&ha.link, add, ha.lease_s);
}

/*
 * Anycast withdrawal: the addresses move from the interface to lo.  The
 * interface's route goes, so the routing daemon withdraws it, but the
 * kernel still takes the addresses as its own: connections already on
 * this node keep receiving and sending until the workers are done with
 * them (deleted, they would be cut: their answers could not leave).  On lo
 * they live lease_s unless the master deletes them first.
 */
static void anycast_withdraw(uint32_t lease_s)
{
	vips_change(&ha.lo, true, lease_s);
	vips_change(&ha.link, false, 0);
}

/* A round of announcements: gratuitous ARP for IPv4, unsolicited NA for IPv6. */
static void garp_cb(struct fc_ev *ev, struct fc_ev_timer *t)
{
	char err[160];

	for (int i = 0; i < ha.nvips; i++)
		if (vip_garp(&ha.link, ha.vips[i], err, sizeof(err)) < 0)
			log_warnx("VRID %d: %s", ha.cfg->vrid, err);
	for (int i = 0; i < ha.nvips6; i++)
		if (vip_na(&ha.link, &ha.vips6[i], err, sizeof(err)) < 0)
			log_warnx("VRID %d: %s", ha.cfg->vrid, err);
	if (--ha.garp_left > 0)
		ev_timer_arm(ev, t, ev_now(ev) + (uint64_t)ha.cfg->garp_repeat_ms);
}

/* ------------------------------------------------------------- notify */

/*
 * Runs "notify STATE VRID PRIORITY" without waiting for it: the child is
 * reaped by reap_notify() on a later health tick.
 */
static void run_notify(const char *state)
{
	char vrid[8], prio[8];
	sigset_t none;
	pid_t pid;

	if (ha.cfg->notify == NULL)
		return;
	snprintf(vrid, sizeof(vrid), "%d", ha.cfg->vrid);
	snprintf(prio, sizeof(prio), "%d", ha.cfg->priority);
	if ((pid = fork()) < 0) {
		log_warn("cannot fork the notify script");
		return;
	}
	if (pid == 0) {
		/* The script gets a clean signal state, not the master's mask. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		execl(ha.cfg->notify, ha.cfg->notify, state, vrid, prio, (char *)NULL);
		_exit(127);
	}
	log_debug("notify %s %s (pid %d)", ha.cfg->notify, state, (int)pid);
}

static void reap_notify(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			log_warnx("notify script (pid %d) failed: status 0x%x", (int)pid, status);
}

/* ---------------------------------------------------------- transitions */

static void split_over(const char *why);

static uint64_t adver_ms(uint16_t cs)
{
	return (uint64_t)cs * 10;
}

/* RFC 5798 6.1: Skew_Time = ((256 - Priority) * Master_Adver_Interval) / 256. */
static uint64_t skew_ms(void)
{
	return (uint64_t)(256 - ha.cfg->priority) * adver_ms(ha.master_adver_cs) / 256;
}

static uint64_t master_down_ms(void)
{
	return 3 * adver_ms(ha.master_adver_cs) + skew_ms();
}

static void set_state(enum fc_ha_state s, const char *why)
{
	if (s == ha.state)
		return;
	if (ha.state == FC_HA_MASTER)
		split_over("this node is no longer MASTER");
	log_notice("%s: %s -> %s (%s)", ha.label, report_ha_state_name(ha.state),
	    report_ha_state_name(s), why);
	ha.state = s;
	shm_store(&ha.blk->since_us, clock_wall_us());
	shm_store(&ha.blk->priority, s == FC_HA_FAULT ? 0u : (uint32_t)ha.cfg->priority);
	shm_store_rel(&ha.blk->state, (uint32_t)s);
	sync_send_state(s, s == FC_HA_FAULT ? 0 : ha.cfg->priority);
	run_notify(report_ha_state_name(s));
}

/* Leaving MASTER for any reason: stop advertising, give the VIPs back. */
static void leave_master(bool resign)
{
	if (ha.state != FC_HA_MASTER)
		return;
	if (resign && !anycast()) {
		send_advert(0);
		sync_resign();
	}
	ev_timer_stop(ha.ev, &ha.adver);
	ev_timer_stop(ha.ev, &ha.garp);
	if (anycast())
		anycast_withdraw(ha.lease_s);
	else
		vips_set(false);
}

static void to_backup(const char *why)
{
	leave_master(false);
	set_state(FC_HA_BACKUP, why);
	ev_timer_arm(ha.ev, &ha.down, ev_now(ha.ev) + master_down_ms());
}

static void to_master(const char *why)
{
	ha.master_since_ms = ev_now(ha.ev);
	ev_timer_stop(ha.ev, &ha.down);
	send_advert((uint8_t)ha.cfg->priority);
	vips_set(true);
	set_state(FC_HA_MASTER, why);
	ev_timer_arm(ha.ev, &ha.adver, ev_now(ha.ev) + adver_ms(ha.adver_cs));
	ha.garp_left = ha.cfg->garp_count;
	if (ha.garp_left > 0)
		garp_cb(ha.ev, &ha.garp);
}

static void to_fault(const char *why)
{
	leave_master(true);
	ev_timer_stop(ha.ev, &ha.down);
	set_state(FC_HA_FAULT, why);
}

static void adver_cb(struct fc_ev *ev, struct fc_ev_timer *t)
{
	send_advert((uint8_t)ha.cfg->priority);
	vips_set(true);		/* renews the lease */
	ev_timer_arm(ev, t, ev_now(ev) + adver_ms(ha.adver_cs));
}

static void down_cb(struct fc_ev *ev, struct fc_ev_timer *t)
{
	(void)ev;
	(void)t;
	to_master(ha.master_resigned && ha.resigned_how != NULL ? ha.resigned_how :
	    ha.master_resigned ? "the master resigned (priority 0)" :
	    "no advert from a master for the master down interval");
	ha.master_resigned = false;
	ha.resigned_how = NULL;
}

/* ------------------------------------------------------------- receive */

/* src4: NULL for an IPv6 advert (the block holds an IPv4 address only). */
static void publish_peer(const uint32_t *src4, const struct vrrp_advert *a)
{
	if (src4 != NULL)
		shm_store(&ha.blk->peer_addr, *src4);
	shm_store(&ha.blk->peer_priority, (uint32_t)a->priority);
	shm_store(&ha.blk->peer_seen_us, clock_wall_us());
	ha.last_advert_ms = ev_now(ha.ev);
}

/* RFC 5798 6.4.2. */
static void backup_got(const struct vrrp_advert *a)
{
	if (a->priority == 0) {
		ha.master_resigned = true;
		ha.resigned_how = NULL;
		ev_timer_arm(ha.ev, &ha.down, ev_now(ha.ev) + skew_ms());
		return;
	}
	ha.master_resigned = false;
	ha.resigned_how = NULL;
	if (!ha.cfg->preempt || a->priority >= ha.cfg->priority) {
		ha.master_adver_cs = a->interval_cs;
		ev_timer_arm(ha.ev, &ha.down, ev_now(ha.ev) + master_down_ms());
	}
	/* else: a lower master we preempt when the down timer fires */
}

/* ---------------------------------------------------------- split brain */

/* The state the sync channel from src last said; -1: unknown or no channel. */
static int peer_state_of(uint32_t src)
{
	struct sync_peer_info info;

	for (int i = 0; ha.cfg->sync.enabled && i < sync_npeers(); i++) {
		sync_peer_info(i, &info);
		if (info.addr == src)
			return ha.peer_state[i];
	}
	return -1;
}

/*
 * Two masters at once: logged once with both addresses, counted, timed
 * (ha.split_brain in fulcrum-stat --json), and told to notify as SPLIT.
 * It is over when this node leaves MASTER, or when no sign of the other
 * master (its MASTER advert or channel state) came for 3 adverts.
 */
/* The other master, for fulcrum-stat: family 0 while the address changes. */
static void publish_split_peer(int family, const void *peer)
{
	struct fc_shm_split_peer *p = &ha.shm->hdr->split_peer;

	shm_store_rel(&p->family, 0u);
	memset(p->addr, 0, sizeof(p->addr));
	memcpy(p->addr, peer, family == AF_INET6 ? 16 : 4);
	shm_store_rel(&p->family, family == AF_INET6 ? 6u : 4u);
}

/*
 * peer: the other master's address of family (AF_INET: network-order
 * uint32_t, AF_INET6: struct in6_addr), as its advert or the channel
 * came; an IPv6 split is told with our link-local address beside it.
 */
static void split_seen(int family, const void *peer, int priority, bool we_lose,
    const char *how)
{
	const void *self = family == AF_INET6 ? (const void *)&ha.src6 : &ha.src;
	char me[INET6_ADDRSTRLEN], other[INET6_ADDRSTRLEN];

	ha.split_seen_ms = ev_now(ha.ev);
	if (ha.split)
		return;
	ha.split = true;
	/* The loser has been MASTER beside the winner since it became MASTER. */
	ha.split_start_ms = we_lose ? ha.master_since_ms : ev_now(ha.ev);
	inet_ntop(family, self, me, sizeof(me));
	inet_ntop(family, peer, other, sizeof(other));
	publish_split_peer(family, peer);
	log_warnx("VRID %d: split brain: %s (priority %d, this node) and %s (priority %d)"
	    " are both MASTER (%s)", ha.cfg->vrid, me, ha.cfg->priority, other, priority, how);
	shm_store(&ha.blk->split_count, shm_load(&ha.blk->split_count) + 1);
	shm_store(&ha.blk->split_since_us, clock_wall_us());
	shm_store(&ha.blk->split_active, 1u);
	run_notify("SPLIT");
}

static void split_over(const char *why)
{
	uint64_t ms = ev_now(ha.ev) - ha.split_start_ms;

	if (!ha.split)
		return;
	ha.split = false;
	log_notice("VRID %d: split brain over after %llu ms (%s)", ha.cfg->vrid,
	    (unsigned long long)ms, why);
	shm_store(&ha.blk->split_ms, shm_load(&ha.blk->split_ms) + ms);
	shm_store(&ha.blk->split_active, 0u);
}

/*
 * A MASTER advert while MASTER.  Preemption makes two masters for an
 * instant by design (RFC 5798 6.4.2: the higher backup takes over, the old
 * master steps down at its advert): that is no split.  The loser knows it
 * from the channel (the peer said BACKUP before); without the channel it
 * cannot tell, and leaves the report to the winner.  The winner ignores
 * the loser's advert that crossed its own first one.
 */
static void split_advert(int family, const void *src, int priority, bool we_lose)
{
	uint32_t v4 = 0;
	int said = -1;		/* the sync channel speaks IPv4 */

	if (family == AF_INET) {
		memcpy(&v4, src, sizeof(v4));
		said = peer_state_of(v4);
	}

	if (we_lose && (!ha.cfg->sync.enabled || (said != -1 && said != FC_HA_MASTER)))
		return;
	if (!we_lose && ev_now(ha.ev) - ha.master_since_ms < adver_ms(ha.adver_cs))
		return;
	split_seen(family, src, priority, we_lose, "its advert");
}

/* From the health tick: the other master has been quiet long enough. */
static void split_expire(void)
{
	if (ha.split && ev_now(ha.ev) - ha.split_seen_ms > 3 * adver_ms(ha.adver_cs))
		split_over("the other master went quiet");
}

/* RFC 5798 6.4.3: the higher priority wins, then the higher address (IPv4). */
static bool peer_wins(uint32_t src, int priority)
{
	return priority > ha.cfg->priority ||
	    (priority == ha.cfg->priority && ntohl(src) > ntohl(ha.src));
}

/*
 * RFC 5798 6.4.3: the higher priority wins, then the higher address
 * (higher: the sender's address is above ours, in its family).  src: the
 * sender of family (split_seen()), for the split-brain report.
 */
static void master_got(const struct vrrp_advert *a, int family, const void *src,
    bool higher, const char *from)
{
	char why[96 + INET6_ADDRSTRLEN];

	if (a->priority == 0) {
		adver_cb(ha.ev, &ha.adver);
		return;
	}
	bool wins = a->priority > ha.cfg->priority ||
	    (a->priority == ha.cfg->priority && higher);

	split_advert(family, src, a->priority, wins);
	if (wins) {
		snprintf(why, sizeof(why), "advert from %s with priority %d", from, a->priority);
		ha.master_adver_cs = a->interval_cs;
		to_backup(why);
		return;
	}
	/*
	 * Another master below us: a healed split.  RFC 5798 just drops its
	 * advert; answering at once (as keepalived does) makes it step down
	 * now rather than at our next advert, and one round of gratuitous ARP
	 * takes back the caches it may have turned.
	 */
	adver_cb(ha.ev, &ha.adver);
	if (ha.garp_left <= 0 && ha.cfg->garp_count > 0) {
		ha.garp_left = 1;
		garp_cb(ha.ev, &ha.garp);
	}
}

static bool from_peer(uint32_t src)
{
	if (ha.cfg->npeers == 0)
		return true;
	for (int i = 0; i < ha.cfg->npeers; i++)
		if (peer_of(i, AF_INET) != NULL &&
		    ((const struct sockaddr_in *)peer_of(i, AF_INET))->sin_addr.s_addr == src)
			return true;
	return false;
}

static bool from_peer6(const struct in6_addr *src)
{
	if (ha.cfg->npeers == 0)
		return true;
	for (int i = 0; i < ha.cfg->npeers; i++)
		if (peer_of(i, AF_INET6) != NULL && IN6_ARE_ADDR_EQUAL(src,
		    &((const struct sockaddr_in6 *)peer_of(i, AF_INET6))->sin6_addr))
			return true;
	return false;
}

enum { REFUSED_PEER = VRRP_EMAX, REFUSED_REPLAY, REFUSED_MAX };

/*
 * A refused advert may be an attack: say so, per reason at most every
 * REFUSED_LOG_MS, so that a flood cannot fill the logs.
 */
static void refused(int family, const void *src, int why)
{
	static uint64_t last_ms[REFUSED_MAX];
	static unsigned quiet[REFUSED_MAX];
	char addr[INET6_ADDRSTRLEN];
	uint64_t now = clock_mono_ms();

	if (last_ms[why] != 0 && now - last_ms[why] < REFUSED_LOG_MS) {
		quiet[why]++;
		return;
	}
	inet_ntop(family, src, addr, sizeof(addr));
	log_warnx("VRID %d: advert from %s refused: %s (%u more refused since the last"
	    " message)", ha.cfg->vrid, addr, why == REFUSED_PEER ? "not from a peer" :
	    why == REFUSED_REPLAY ? "replayed" : vrrp_strerror(why), quiet[why]);
	last_ms[why] = now;
	quiet[why] = 0;
}

static void got_datagram(const uint8_t *pkt, size_t len)
{
	struct vrrp_advert a;
	uint32_t src = 0, dst;
	int err = vrrp_decode(pkt, len, &ha.key, &a, &src, &dst);

	size_t ihl = len > 0 ? (size_t)(pkt[0] & 0x0f) * 4 : 0;

	/* Another virtual router's (whatever it speaks), or ours looped back. */
	if ((len > ihl + 1 && pkt[ihl + 1] != ha.cfg->vrid) || (err == VRRP_OK && src == ha.src))
		return;
	if (err == VRRP_OK && !from_peer(src))
		err = REFUSED_PEER;
	if (err == VRRP_OK && ha.key.len > 0 && !vrrp_replay_accept(&ha.replay, src, a.seq))
		err = REFUSED_REPLAY;
	if (err != VRRP_OK) {
		refused(AF_INET, &src, err);
		return;
	}
	publish_peer(&src, &a);
	if (ha.state == FC_HA_BACKUP) {
		backup_got(&a);
	} else if (ha.state == FC_HA_MASTER) {
		char from[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &src, from, sizeof(from));
		master_got(&a, AF_INET, &src, ntohl(src) > ntohl(ha.src), from);
	}
}

/*
 * The replay window is keyed by a 32-bit source: an IPv6 one folded into
 * it.  A collision only makes two senders share a window, never accepts a
 * forged advert (the HMAC does not cover the window).
 */
static uint32_t fold6(const struct in6_addr *a)
{
	uint32_t w[4];

	memcpy(w, a, sizeof(w));
	return w[0] ^ w[1] ^ w[2] ^ w[3];
}

/* got_datagram() for the IPv6 instance. */
static void got_datagram6(const uint8_t *msg, size_t len, const struct in6_addr *src,
    const struct in6_addr *dst, int hoplimit)
{
	struct vrrp_advert a;
	int err = vrrp6_decode(msg, len, hoplimit, src, dst, &ha.key, &a);

	if ((len > 1 && msg[1] != ha.cfg->vrid) ||
	    (err == VRRP_OK && IN6_ARE_ADDR_EQUAL(src, &ha.src6)))
		return;
	if (err == VRRP_OK && !from_peer6(src))
		err = REFUSED_PEER;
	if (err == VRRP_OK && ha.key.len > 0 && !vrrp_replay_accept(&ha.replay6, fold6(src),
	    a.seq))
		err = REFUSED_REPLAY;
	if (err != VRRP_OK) {
		refused(AF_INET6, src, err);
		return;
	}
	publish_peer(NULL, &a);
	if (ha.state == FC_HA_BACKUP) {
		backup_got(&a);
	} else if (ha.state == FC_HA_MASTER) {
		char from[INET6_ADDRSTRLEN];

		inet_ntop(AF_INET6, src, from, sizeof(from));
		master_got(&a, AF_INET6, src, memcmp(src, &ha.src6, sizeof(*src)) > 0, from);
	}
}

static void rx_cb(struct fc_ev *ev, struct fc_ev_io *io, uint32_t events)
{
	uint8_t buf[2048];
	ssize_t n;

	(void)ev;
	(void)events;
	while ((n = recv(io->fd, buf, sizeof(buf), 0)) > 0)
		got_datagram(buf, (size_t)n);
}

/* --------------------------------------------------------- sync channel */

/*
 * With more than one peer, several backups hear the master's death at
 * once: taking over at once would make several masters.  The notice then
 * counts as the master's priority-0 advert (RFC 5798 6.4.2): each backup
 * waits its skew time, the highest priority goes first and its advert
 * keeps the others BACKUP.  With one peer the backup is the only
 * candidate: it takes over at once (issue 18.3).
 */
static void master_gone(const char *why)
{
	if (sync_npeers() == 1) {
		to_master(why);
		return;
	}
	ha.master_resigned = true;
	ha.resigned_how = why;
	if (!ev_timer_pending(&ha.down) || ev_now(ha.ev) + skew_ms() < ha.down.when)
		ev_timer_arm(ha.ev, &ha.down, ev_now(ha.ev) + skew_ms());
}

/*
 * The channel's news, in BACKUP with a MASTER peer.  A RESIGN or a close
 * without BYE means the master's fulcrum is gone: take over now (one
 * peer) or after the skew time (several, master_gone()).  Silence may be
 * a dead node or only a cut channel: the adverts decide, but one missed
 * advert is enough (a live master's next advert re-arms the timer as
 * usual, so the channel alone never makes a second master); with several
 * peers the skew time is added, as after a priority-0 advert.
 */
static void sync_lost(int peer, enum sync_loss why)
{
	/* The next advert is due at last + interval: a quarter more for jitter. */
	uint64_t when = ha.last_advert_ms + adver_ms(ha.master_adver_cs) * 5 / 4;
	bool master = ha.peer_state[peer] == FC_HA_MASTER;

	if (why != SYNC_LOST_RESIGN) {
		ha.peer_state[peer] = -1;
		repl_down(peer);
	}
	if (anycast() || ha.state != FC_HA_BACKUP || !master)
		return;
	if (why == SYNC_LOST_RESIGN || why == SYNC_LOST_CLOSED) {
		ha.peer_state[peer] = -1;
		master_gone(why == SYNC_LOST_RESIGN ?
		    "the master resigned (sync channel)" :
		    "the master's fulcrum died (sync channel closed)");
	} else if (why == SYNC_LOST_SILENT) {
		if (sync_npeers() > 1)
			when += skew_ms();
		if (when < ev_now(ha.ev))
			when = ev_now(ha.ev);
		if (!ev_timer_pending(&ha.down) || when < ha.down.when)
			ev_timer_arm(ha.ev, &ha.down, when);
	}
}

/* A channel says its peer is MASTER while we are: a split the adverts
 * may not show (they cannot cross, or are refused). */
static void sync_peer_state(int peer, int state, int priority)
{
	struct sync_peer_info info;
	char why[96], addr[INET_ADDRSTRLEN];
	bool preempts = ha.peer_state[peer] != -1 && ha.peer_state[peer] != FC_HA_MASTER;

	ha.peer_state[peer] = state;
	if (anycast())
		return;			/* every node holds the addresses: no split */
	if (state != FC_HA_MASTER) {
		split_over("the peer left MASTER");
		return;
	}
	if (ha.state != FC_HA_MASTER)
		return;
	sync_peer_info(peer, &info);
	/* A backup of ours becoming MASTER above us preempts: no split. */
	if (!(preempts && peer_wins(info.addr, priority)))
		split_seen(AF_INET, &info.addr, priority, peer_wins(info.addr, priority),
		    "the sync channel");
	if (peer_wins(info.addr, priority)) {
		inet_ntop(AF_INET, &info.addr, addr, sizeof(addr));
		snprintf(why, sizeof(why), "%s is MASTER with priority %d (sync channel)",
		    addr, priority);
		to_backup(why);
	}
}

static const struct sync_ops sync_ops = {
	.up = repl_up,
	.lost = sync_lost,
	.peer_state = sync_peer_state,
	.session = repl_got,
};

static void rx6_cb(struct fc_ev *ev, struct fc_ev_io *io, uint32_t events)
{
	struct in6_addr src, dst;
	uint8_t buf[2048];
	int hoplimit;
	ssize_t n;

	(void)ev;
	(void)events;
	while ((n = ha6_recv(io->fd, buf, sizeof(buf), &src, &dst, &hoplimit)) >= 0)
		got_datagram6(buf, (size_t)n, &src, &dst, hoplimit);
}

/* ------------------------------------------------------------ the mesh */

/* A CLOCK_MONOTONIC ms of this process as wall-clock us; 0 stays 0. */
static uint64_t wall_of(uint64_t mono_ms, uint64_t now_ms, uint64_t wall_us)
{
	if (mono_ms == 0)
		return 0;
	return wall_us - (now_ms > mono_ms ? now_ms - mono_ms : 0) * 1000;
}

static void publish_peers(struct fc_shm_ha_mesh *m)
{
	uint64_t now = ev_now(ha.ev), wall = clock_wall_us();
	int n = ha.cfg->sync.enabled ? sync_npeers() : 0;
	struct sync_peer_info info;

	for (int i = 0; i < n && i < FC_SHM_HA_PEERS; i++) {
		struct fc_shm_ha_peer *p = &m->peer[i];

		sync_peer_info(i, &info);
		shm_store(&p->addr, info.addr);
		shm_store(&p->since_us, wall_of(info.since_ms, now, wall));
		shm_store(&p->frame_us, wall_of(info.frame_ms, now, wall));
		shm_store(&p->sent, info.sent);
		shm_store(&p->received, info.received);
		shm_store(&p->ha_state, (uint32_t)ha.peer_state[i]);
		shm_store(&p->state, (uint32_t)info.state);
	}
	shm_store(&m->npeers, (uint32_t)(n < FC_SHM_HA_PEERS ? n : FC_SHM_HA_PEERS));
}

static void publish_leases(struct fc_shm_ha_mesh *m)
{
	int n = ha.cfg->nvips < FC_SHM_HA_LEASES ? ha.cfg->nvips : FC_SHM_HA_LEASES;

	for (int i = 0; i < n; i++) {
		const struct fc_vip *v = &ha.cfg->vips[i];
		struct fc_shm_ha_lease *l = &m->lease[i];
		const void *a = v->addr.ss.ss_family == AF_INET6 ?
		    (const void *)&((const struct sockaddr_in6 *)&v->addr.ss)->sin6_addr :
		    (const void *)&((const struct sockaddr_in *)&v->addr.ss)->sin_addr;

		/* Written once and never changed: plain stores are enough. */
		memcpy(l->addr, a, v->addr.ss.ss_family == AF_INET6 ? 16 : 4);
		l->family = (uint16_t)v->addr.ss.ss_family;
		l->prefixlen = (uint16_t)v->prefixlen;
		shm_store(&l->renewed_us, ha.vips_renewed_us);
		shm_store(&l->held, ha.vips_held ? 1u : 0u);
	}
	shm_store(&m->lease_s, ha.lease_s);
	shm_store(&m->nleases, (uint32_t)n);
}

/* fulcrum-stat's view of the peers and addresses, every health tick. */
static void publish_mesh(void)
{
	publish_peers(&ha.shm->hdr->ha_mesh);
	publish_leases(&ha.shm->hdr->ha_mesh);
}

/* ------------------------------------------------------- proxy tracking */

static bool segment_alive(const struct fc_shm *shm, uint64_t now)
{
	for (uint32_t k = 0; k < shm->hdr->nworkers; k++) {
		struct fc_shm_worker *w = shm_worker(shm, k);
		uint64_t beat = shm_load(&w->heartbeat_ms);

		if (shm_load(&w->pid) != 0 && beat + ha.stale_ms > now)
			return true;
	}
	return false;
}

/* Has a worker of the segment beaten after since (CLOCK_MONOTONIC ms)? */
static bool beat_since(const struct fc_shm *shm, uint64_t since)
{
	for (uint32_t k = 0; k < shm->hdr->nworkers; k++) {
		struct fc_shm_worker *w = shm_worker(shm, k);

		if (shm_load(&w->pid) != 0 && shm_load(&w->heartbeat_ms) > since)
			return true;
	}
	return false;
}

/*
 * Right after a reload the new workers may not have beaten yet while the
 * old ones still do: either generation alive is the proxy alive.  Once
 * the master said every worker died, the heartbeats they left are still
 * fresh for a while: only one beaten since then counts, from the current
 * generation (the old one's workers were draining, not accepting).
 */
static bool proxy_alive(void)
{
	uint64_t now = clock_mono_ms();

	if (!ha.cfg->track_proxy)
		return true;
	if (ha.dead_ms != 0 && !beat_since(ha.shm, ha.dead_ms))
		return false;
	ha.dead_ms = 0;
	return segment_alive(ha.shm, now) ||
	    (ha.prev != NULL && now < ha.prev_until && segment_alive(ha.prev, now));
}

/*
 * Anycast: a live proxy holds the VIPs, their lease renewed every
 * ANYCAST_RENEW_MS; a dead one gives them back at once.
 */
static void anycast_health(uint64_t now, bool alive)
{
	if (!alive && ha.state == FC_HA_INIT && now < ha.started_ms + ha.stale_ms)
		return;			/* the workers may not have beaten yet */
	if (!alive) {
		leave_master(false);
		set_state(FC_HA_FAULT, "no worker heartbeat: the proxy is down");
		return;
	}
	if (ha.state != FC_HA_MASTER || now >= ha.renewed_ms + ANYCAST_RENEW_MS) {
		vips_set(true);
		ha.renewed_ms = now;
	}
	if (ha.state != FC_HA_MASTER)
		vips_change(&ha.lo, false, 0);	/* a withdrawal's leftover */
	set_state(FC_HA_MASTER, "the proxy is alive: holding the addresses");
}

/*
 * Anycast, stopping (the master stops this process before the workers):
 * withdraw, then give the routers ANYCAST_SETTLE_MS to drop this node
 * while the workers still serve what reaches it, so that no connection
 * arrives just as they stop.  On lo the addresses outlive a whole drain;
 * the master deletes them once the workers are gone.
 */
static void anycast_stop(const struct fc_conf *conf)
{
	struct timespec settle = { 0, ANYCAST_SETTLE_MS * 1000000L };

	if (ha.state != FC_HA_MASTER)
		return;
	anycast_withdraw((uint32_t)(conf->drain_timeout + 999) / 1000 + ANYCAST_GRACE_S);
	while (nanosleep(&settle, &settle) < 0 && errno == EINTR)
		;
}

static void health_cb(struct fc_ev *ev, struct fc_ev_timer *t)
{
	bool alive = proxy_alive();

	publish_mesh();
	if (anycast()) {
		reap_notify();
		anycast_health(ev_now(ev), alive);
		ev_timer_arm(ev, t, ev_now(ev) + ha.stale_ms / 4);
		return;
	}

	reap_notify();
	split_expire();
	/* At start the workers may not have beaten yet: give them stale_ms. */
	if (!alive && ha.state == FC_HA_INIT && ev_now(ev) < ha.started_ms + ha.stale_ms)
		;
	else if (!alive && ha.state != FC_HA_FAULT)
		to_fault(ha.dead_ms != 0 ? "every worker died: the proxy is down" :
		    "no worker heartbeat: the proxy is down");
	else if (alive && (ha.state == FC_HA_FAULT || ha.state == FC_HA_INIT))
		to_backup(ha.state == FC_HA_INIT ? "started" : "a worker is alive again");
	ev_timer_arm(ev, t, ev_now(ev) + ha.stale_ms / 4);
}

/* ------------------------------------------------------------- set-up */

static int open_tx(void)
{
	struct ip_mreqn mif = { .imr_ifindex = ha.link.ifindex };
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_addr.s_addr = ha.src };
	int ttl = VRRP_TTL, off = 0, tos = 0xc0, rcvbuf = 0;	/* tos: internetwork control */
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, VRRP_PROTO);

	if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof(ttl)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &off, sizeof(off)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mif, sizeof(mif)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)) < 0 ||
	    /* Never read: adverts arrive on the receive socket. */
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) < 0)
		fatal("VRRP send socket on %s", ha.cfg->interface);
	return fd;
}

static int open_rx(void)
{
	struct ip_mreqn mreq = { .imr_ifindex = ha.link.ifindex };
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, VRRP_PROTO);

	mreq.imr_multiaddr.s_addr = htonl(VRRP_MCAST_GROUP);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ha.cfg->interface,
	    (socklen_t)strlen(ha.cfg->interface)) < 0)
		fatal("VRRP receive socket on %s", ha.cfg->interface);
	if (ha.cfg->npeers == 0 &&
	    setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) < 0)
		fatal("joining 224.0.0.18 on %s", ha.cfg->interface);
	return fd;
}

/* Anycast: the interface is ours to make; no advert source is needed. */
static void anycast_init(void)
{
	const char *made;
	char err[160];

	if (vip_link_ensure(ha.cfg->interface, &made, err, sizeof(err)) < 0)
		fatalx("ha interface: %s", err);
	if (made != NULL)
		log_notice("anycast: created interface %s (%s)", ha.cfg->interface, made);
	if (vip_open(&ha.link, ha.cfg->interface, err, sizeof(err)) < 0)
		fatalx("ha interface %s: %s", ha.cfg->interface, err);
	if (vip_open(&ha.lo, "lo", err, sizeof(err)) < 0)
		fatalx("lo: %s", err);
	ha.rx6.fd = -1;			/* no advert of either family */
	ha.lease_s = ANYCAST_LEASE_S;
	ha.stale_ms = STALE_MIN_MS;
	log_info("anycast on %s: %d address%s, leases of %d s", ha.cfg->interface,
	    ha.nvips, ha.nvips == 1 ? "" : "es", ANYCAST_LEASE_S);
}

/*
 * The IPv6 instance: its VIPs are already in vips6; the link-local source
 * and the socket.  Returns the log line's part about it.
 */
static const char *ipv6_init(char *text, size_t size)
{
	char addr[INET6_ADDRSTRLEN];

	ha.rx6.fd = -1;
	if (ha.nvips6 == 0)
		return "";
	if (vip_linklocal(ha.cfg->interface, &ha.src6) < 0)
		fatalx("ha interface %s has no IPv6 link-local address (IPv6 VIPs need one)",
		    ha.cfg->interface);
	ha.rx6.fd = ha6_open(ha.cfg->interface, ha.link.ifindex, ha.cfg->npeers == 0);
	if (ha.rx6.fd < 0)
		fatal("IPv6 VRRP socket on %s", ha.cfg->interface);
	ha.rx6.cb = rx6_cb;
	inet_ntop(AF_INET6, &ha.src6, addr, sizeof(addr));
	snprintf(text, size, ", IPv6 from %s", addr);
	return text;
}

static void addresses_init(void)
{
	char err[160], text[INET_ADDRSTRLEN], text6[INET6_ADDRSTRLEN + 16];
	const char *v6;

	for (int i = 0; i < ha.cfg->nvips && i < VRRP_MAX_ADDRS; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&ha.cfg->vips[i].addr.ss;

		if (sa->sa_family == AF_INET6)
			ha.vips6[ha.nvips6++] = ((const struct sockaddr_in6 *)sa)->sin6_addr;
		else
			ha.vips[ha.nvips++] = ((const struct sockaddr_in *)sa)->sin_addr.s_addr;
	}
	if (anycast()) {
		anycast_init();
		return;
	}
	if (vip_open(&ha.link, ha.cfg->interface, err, sizeof(err)) < 0)
		fatalx("ha interface %s: %s", ha.cfg->interface, err);
	v6 = ipv6_init(text6, sizeof(text6));
	if (ha.nvips == 0)
		;	/* IPv6 only: no IPv4 instance, no IPv4 address needed */
	else if (ha.cfg->has_unicast_src)
		ha.src = ((struct sockaddr_in *)&ha.cfg->unicast_src.ss)->sin_addr.s_addr;
	else if (vip_primary_addr(ha.cfg->interface, ha.vips, ha.nvips, &ha.src) < 0)
		fatalx("ha interface %s has no IPv4 address of its own", ha.cfg->interface);
	ha.dst = htonl(VRRP_MCAST_GROUP);
	if (ha.nvips > 0)
		inet_ntop(AF_INET, &ha.src, text, sizeof(text));
	log_info("VRID %d on %s%s%s%s, priority %d, advert %d ms, %s%s", ha.cfg->vrid,
	    ha.cfg->interface, ha.nvips > 0 ? " from " : "", ha.nvips > 0 ? text : "", v6,
	    ha.cfg->priority, ha.cfg->advert_ms,
	    ha.cfg->npeers > 0 ? "unicast" : "multicast",
	    ha.key.len > 0 ? ", authenticated" : "");
}

/*
 * The channels' own address: VRRP's advert source; in anycast mode (whose
 * interface holds only vips) unicast_src, or else, per peer, the source
 * of the route to it (0).
 */
static uint32_t sync_self(void)
{
	if (!anycast())
		return ha.src;
	if (ha.cfg->has_unicast_src)
		return ((const struct sockaddr_in *)&ha.cfg->unicast_src.ss)->sin_addr.s_addr;
	return 0;
}

static void ha_init(const struct fc_conf *conf, struct fc_shm *shm)
{
	ha.cfg = &conf->ha;
	ha.shm = shm;
	ha.blk = &shm->hdr->ha;
	ha.adver_cs = ha.master_adver_cs = (uint16_t)(conf->ha.advert_ms / 10);
	/* Many adverts of margin, whole seconds (the kernel's unit). */
	ha.lease_s = (uint32_t)(conf->ha.advert_ms * LEASE_ADVERTS / 1000);
	if (ha.lease_s < LEASE_MIN_S)
		ha.lease_s = LEASE_MIN_S;
	ha.stale_ms = 2 * (uint64_t)conf->ha.advert_ms;
	if (ha.stale_ms < STALE_MIN_MS)
		ha.stale_ms = STALE_MIN_MS;
	if (conf->ha.auth_key != NULL)
		ha.key = (struct vrrp_key){ (const uint8_t *)conf->ha.auth_key,
		    strlen(conf->ha.auth_key) };
	snprintf(ha.label, sizeof(ha.label), anycast() ? "anycast" : "VRID %d",
	    conf->ha.vrid);
	addresses_init();
	ha.tx = ha.rx.fd = -1;
	if (!anycast() && ha.nvips > 0) {
		ha.tx = open_tx();
		ha.rx.fd = open_rx();
	}
	for (int i = 0; i < FC_SYNC_MAX_PEERS; i++)
		ha.peer_state[i] = -1;
	if (ha.cfg->sync.enabled && sync_open(ha.ev, ha.cfg, sync_self(), &sync_ops) < 0)
		fatalx("sync channel on port %d", ha.cfg->sync.port);
	if (ha.cfg->sync.enabled)
		repl_open(ha.ev, shm, ha.cfg->sync.interval_ms, sync_npeers());
	ha.rx.cb = rx_cb;
	ha.adver.cb = adver_cb;
	ha.down.cb = down_cb;
	ha.garp.cb = garp_cb;
	ha.health.cb = health_cb;
}

/* Adds (with lease_s) or removes conf's VIPs on ifname, from the master. */
static void vips_on(const struct fc_conf *conf, const char *ifname, bool add,
    uint32_t lease_s)
{
	struct vip_link link;
	char err[160];

	if (vip_open(&link, ifname, err, sizeof(err)) < 0) {
		log_warnx("ha interface %s: %s", ifname, err);
		return;
	}
	for (int i = 0; i < conf->ha.nvips && i < VRRP_MAX_ADDRS; i++)
		if (vip_set_one(&link, &conf->ha.vips[i], add, lease_s, err, sizeof(err)) < 0)
			log_warnx("%s", err);
	vip_close(&link);
}

void ha_release_vips(const struct fc_conf *conf)
{
	/* Anycast: the route goes, the workers' connections stay (see above). */
	if (conf->ha.mode == FC_HA_ANYCAST)
		vips_on(conf, "lo", true, ANYCAST_LEASE_S);
	vips_on(conf, conf->ha.interface, false, 0);
}

void ha_clear_vips(const struct fc_conf *conf)
{
	if (conf->ha.mode == FC_HA_ANYCAST)
		vips_on(conf, "lo", false, 0);
}

/* ------------------------------------------------------------ reload */

static void drop_prev(void)
{
	if (ha.prev == NULL)
		return;
	shm_detach(ha.prev);
	if (ha.prev_owned)
		free(ha.prev);
	ha.prev = NULL;
}

/* The new segment gets the ha block as this process knows it. */
static void copy_block(struct fc_shm_ha *to, const struct fc_shm_ha *from)
{
	shm_store(&to->vrid, shm_load(&from->vrid));
	shm_store(&to->priority, shm_load(&from->priority));
	shm_store(&to->since_us, shm_load(&from->since_us));
	shm_store(&to->peer_addr, shm_load(&from->peer_addr));
	shm_store(&to->peer_priority, shm_load(&from->peer_priority));
	shm_store(&to->peer_seen_us, shm_load(&from->peer_seen_us));
	shm_store(&to->enabled, shm_load(&from->enabled));
	shm_store(&to->split_count, shm_load(&from->split_count));
	shm_store(&to->split_active, shm_load(&from->split_active));
	shm_store(&to->split_ms, shm_load(&from->split_ms));
	shm_store(&to->split_since_us, shm_load(&from->split_since_us));
	shm_store_rel(&to->state, shm_load(&from->state));
}

/* The last split's other master, beside the block (this process wrote both). */
static void copy_split_peer(struct fc_shm_split_peer *to,
    const struct fc_shm_split_peer *from)
{
	memcpy(to->addr, from->addr, sizeof(to->addr));
	shm_store_rel(&to->family, shm_load(&from->family));
}

/*
 * The master's news that every worker died (ha_tell_workers_dead()): one
 * datagram of this size, which no segment handover has.
 */
struct workers_dead {
	uint64_t when_ms;		/* CLOCK_MONOTONIC of the reap */
};

int ha_tell_workers_dead(int ctl, uint64_t when_ms)
{
	struct workers_dead msg = { when_ms };

	return send(ctl, &msg, sizeof(msg), MSG_NOSIGNAL | MSG_DONTWAIT) ==
	    (ssize_t)sizeof(msg) ? 0 : -1;
}

/*
 * Resign now rather than when the heartbeats go stale (2 adverts): the
 * peer takes over on our priority-0 advert or RESIGN frame, in ms.  Even
 * if a successor has already beaten (the master respawns at once, and
 * this process may be slower to run): what the dead ones held is lost,
 * and a master whose proxy flickers should hand over.  The next health
 * tick makes us BACKUP again, to compete per preempt.
 */
static void workers_dead(struct fc_ev *ev, int fd)
{
	struct workers_dead msg;

	if (recv(fd, &msg, sizeof(msg), MSG_DONTWAIT) != (ssize_t)sizeof(msg))
		return;
	if (!ha.cfg->track_proxy)
		return;
	if (msg.when_ms > ha.dead_ms)
		ha.dead_ms = msg.when_ms;
	if (!anycast() && (ha.state == FC_HA_MASTER || ha.state == FC_HA_BACKUP))
		to_fault("every worker died: the proxy is down");
	else
		health_cb(ev, &ha.health);
}

/* The size of the master's next message, or -1 (nothing, or the master is gone). */
static ssize_t ctl_peek(int fd)
{
	char byte;

	return recv(fd, &byte, 1, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
}

/* A reload (move to the new generation's segment; state and VIPs stay),
 * or the news that every worker died. */
static void ctl_cb(struct fc_ev *ev, struct fc_ev_io *io, uint32_t events)
{
	struct fc_shm *next;
	char err[160];

	if (ctl_peek(io->fd) == (ssize_t)sizeof(struct workers_dead)) {
		workers_dead(ev, io->fd);
		return;
	}
	next = xcalloc(1, sizeof(*next));
	if (shm_recv(io->fd, next, err, sizeof(err)) < 0) {
		free(next);
		if (events & (EPOLLHUP | EPOLLERR)) {
			ev_io_del(ev, io);	/* the master is gone: PDEATHSIG follows */
			close(io->fd);
			io->fd = -1;
		} else {
			log_warnx("%s", err);
		}
		return;
	}
	if (shm_protect_ha(next) < 0)
		log_warn("mprotect of the new segment");
	copy_block(&next->hdr->ha, ha.blk);
	copy_split_peer(&next->hdr->split_peer, &ha.shm->hdr->split_peer);
	shm_store(&next->hdr->ha_mode, (uint32_t)ha.cfg->mode);
	drop_prev();
	ha.prev = ha.shm;
	ha.prev_until = ev_now(ev) + 10 * ha.stale_ms;
	ha.shm = next;
	ha.blk = &next->hdr->ha;
	if (ha.cfg->sync.enabled)
		repl_set_shm(next);
	ha.prev_owned = ha.shm_owned;
	ha.shm_owned = true;
	publish_mesh();
	log_info("reload: following generation %u", next->hdr->generation);
}

static void on_signal(int signo)
{
	(void)signo;
	ha.stopping = true;
}

static void publish_init(void)
{
	shm_store(&ha.blk->vrid, (uint32_t)ha.cfg->vrid);
	shm_store(&ha.blk->priority, (uint32_t)ha.cfg->priority);
	shm_store(&ha.shm->hdr->ha_mode, (uint32_t)ha.cfg->mode);
	shm_store(&ha.blk->since_us, clock_wall_us());
	shm_store_rel(&ha.blk->state, (uint32_t)FC_HA_INIT);
	shm_store(&ha.blk->enabled, 1u);
}

int ha_main(const struct fc_conf *conf, struct fc_shm *shm, int ctl)
{
	log_set_ident("ha");
	if ((ha.ev = ev_new()) == NULL)
		fatal("epoll_create");
	if (ev_signals_open(ha.ev, &ha.sigs, on_signal) < 0)
		fatal("signalfd");
	ha_init(conf, shm);
	/*
	 * A previous life of ours may have died holding them.  Anycast: to lo,
	 * not deleted, in case its workers still have connections (this is a
	 * respawn); the health tick holds them again or lets the lease run out.
	 */
	if (anycast())
		anycast_withdraw(ha.lease_s);
	else
		vips_set(false);
	ha.state = FC_HA_INIT;
	ha.started_ms = ev_now(ha.ev);
	publish_init();
	if ((ha.rx.fd >= 0 && ev_io_add(ha.ev, &ha.rx, EPOLLIN) < 0) ||
	    (ha.rx6.fd >= 0 && ev_io_add(ha.ev, &ha.rx6, EPOLLIN) < 0))
		fatal("epoll_ctl");
	ha.ctl.fd = ctl;
	ha.ctl.cb = ctl_cb;
	if (ctl >= 0 && ev_io_add(ha.ev, &ha.ctl, EPOLLIN) < 0)
		fatal("epoll_ctl");
	health_cb(ha.ev, &ha.health);
	while (!ha.stopping)
		if (ev_run_once(ha.ev, -1) < 0)
			fatal("epoll_wait");
	/* A clean stop: priority 0 hands over at once (RFC 5798 6.4.3). */
	if (ha.state == FC_HA_MASTER)
		log_notice("%s: stopping: %s", ha.label, anycast() ?
		    "withdrawing the addresses" : "resigning mastership");
	if (anycast())
		anycast_stop(conf);
	else
		leave_master(true);
	set_state(FC_HA_INIT, "stopping");
	publish_mesh();
	if (ha.cfg->sync.enabled)
		sync_close();
	reap_notify();
	vip_close(&ha.link);
	if (anycast())
		vip_close(&ha.lo);
	if (ha.tx >= 0)
		close(ha.tx);
	if (ha.rx.fd >= 0)
		close(ha.rx.fd);
	if (ha.rx6.fd >= 0)
		close(ha.rx6.fd);
	close(ha.sigs.io.fd);
	ev_free(ha.ev);
	log_flush();
	return 0;
}
