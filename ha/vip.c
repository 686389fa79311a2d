/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * VIPs on the interface (vip.h): RTM_NEWADDR / RTM_DELADDR on a raw
 * NETLINK_ROUTE socket, each request acknowledged by the kernel; gratuitous
 * ARP as a broadcast ARP request whose sender and target are the VIP
 * (RFC 5227 "ARP announcement"), which every Linux neighbour table updates;
 * for IPv6 an unsolicited Neighbor Advertisement with the override flag,
 * which updates the entries neighbours already have (RFC 4861 7.2.6: they
 * create none, and need none until they talk to the VIP).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "ha/vip.h"

#define NL_TIMEOUT_MS	1000

static int fail(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, strerror(errno));
	return -1;
}

static int read_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	rc = ioctl(fd, SIOCGIFHWADDR, &ifr);
	close(fd);
	if (rc == 0)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return rc;
}

int vip_open(struct vip_link *l, const char *ifname, char *err, size_t errlen)
{
	struct timeval tv = { NL_TIMEOUT_MS / 1000, NL_TIMEOUT_MS % 1000 * 1000 };

	memset(l, 0, sizeof(*l));
	l->nl = l->arp = l->na = -1;
	if ((l->ifindex = (int)if_nametoindex(ifname)) == 0)
		return fail(err, errlen, ifname);
	if (read_mac(ifname, l->mac) < 0)
		return fail(err, errlen, "SIOCGIFHWADDR");
	l->nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (l->nl < 0 || setsockopt(l->nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return fail(err, errlen, "netlink socket");
	l->arp = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ARP));
	if (l->arp < 0)
		return fail(err, errlen, "packet socket");
	return 0;
}

void vip_close(struct vip_link *l)
{
	if (l->nl >= 0)
		close(l->nl);
	if (l->arp >= 0)
		close(l->arp);
	if (l->na >= 0)
		close(l->na);
	l->nl = l->arp = l->na = -1;
}

static void put_attr(struct nlmsghdr *n, unsigned short type, const void *data, size_t len)
{
	char *base = (char *)n;
	struct rtattr *rta = (struct rtattr *)(base + NLMSG_ALIGN(n->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = (unsigned short)RTA_LENGTH(len);
	if (len > 0)
		memcpy(RTA_DATA(rta), data, len);
	n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

/* Waits for the ack of request seq; returns the kernel's errno (0: done). */
static int read_ack(int nl, uint32_t seq)
{
	char buf[4096];

	for (;;) {
		ssize_t n = recv(nl, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		for (; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq || h->nlmsg_type != NLMSG_ERROR)
				continue;
			return -((struct nlmsgerr *)NLMSG_DATA(h))->error;
		}
	}
}

/*
 * One RTM_NEWADDR (add) or RTM_DELADDR for addr (alen bytes of family),
 * acknowledged.  Returns the kernel's errno, 0 when done; -1 when the
 * request could not be sent (errno set).
 */
static int addr_request(struct vip_link *l, int family, const void *addr, size_t alen,
    int prefixlen, bool add, uint32_t lease_s, uint32_t flags)
{
	/* One buffer the attributes are appended to (the union keeps it aligned). */
	union {
		struct nlmsghdr n;
		char buf[NLMSG_SPACE(sizeof(struct ifaddrmsg)) + 128];
	} req;
	struct ifaddrmsg *ifa = NLMSG_DATA(&req.n);

	memset(&req, 0, sizeof(req));
	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(*ifa));
	req.n.nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	/* REPLACE: adding again renews a lease instead of failing. */
	req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
	req.n.nlmsg_seq = ++l->nlseq;
	ifa->ifa_family = (unsigned char)family;
	ifa->ifa_prefixlen = (unsigned char)prefixlen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)l->ifindex;
	ifa->ifa_flags = (unsigned char)flags;
	/* IPv4 wants both (local and peer); IPv6 reads IFA_LOCAL first too. */
	put_attr(&req.n, IFA_LOCAL, addr, alen);
	put_attr(&req.n, IFA_ADDRESS, addr, alen);
	if (flags != 0)
		put_attr(&req.n, IFA_FLAGS, &flags, sizeof(flags));
	if (add && lease_s > 0) {
		struct ifa_cacheinfo ci = { .ifa_prefered = lease_s, .ifa_valid = lease_s };

		put_attr(&req.n, IFA_CACHEINFO, &ci, sizeof(ci));
	}
	if (send(l->nl, &req, req.n.nlmsg_len, 0) < 0)
		return -1;
	return read_ack(l->nl, req.n.nlmsg_seq);
}

/* Adding an address already there and removing one that is not are successes. */
static int change_done(int e, int family, const void *addr, int prefixlen, bool add,
    char *err, size_t errlen)
{
	char text[INET6_ADDRSTRLEN];

	if (e < 0)
		return fail(err, errlen, "netlink send");
	if (e == 0 || (add && e == EEXIST) || (!add && e == EADDRNOTAVAIL))
		return 0;
	inet_ntop(family, addr, text, sizeof(text));
	snprintf(err, errlen, "%s %s/%d: %s", add ? "adding" : "removing", text, prefixlen,
	    strerror(e));
	return -1;
}

int vip_change(struct vip_link *l, uint32_t addr, int prefixlen, bool add,
    uint32_t lease_s, char *err, size_t errlen)
{
	int e = addr_request(l, AF_INET, &addr, 4, prefixlen, add, lease_s, 0);

	return change_done(e, AF_INET, &addr, prefixlen, add, err, errlen);
}

/*
 * No IFA_F_NOPREFIXROUTE: like an IPv4 VIP, the address brings its on-link
 * prefix route, without which a node with no other address in the VIP's
 * prefix could not answer the clients of that link.
 */
int vip_change6(struct vip_link *l, const struct in6_addr *addr, int prefixlen, bool add,
    uint32_t lease_s, char *err, size_t errlen)
{
	int e = addr_request(l, AF_INET6, addr, 16, prefixlen, add, lease_s,
	    add ? IFA_F_NODAD : 0);

	return change_done(e, AF_INET6, addr, prefixlen, add, err, errlen);
}

int vip_garp(struct vip_link *l, uint32_t addr, char *err, size_t errlen)
{
	struct sockaddr_ll to = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ARP),
		.sll_ifindex = l->ifindex,
		.sll_halen = 6,
		.sll_addr = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
	};
	uint8_t pkt[28];
	struct arphdr *ah = (struct arphdr *)pkt;

	ah->ar_hrd = htons(ARPHRD_ETHER);
	ah->ar_pro = htons(ETH_P_IP);
	ah->ar_hln = 6;
	ah->ar_pln = 4;
	ah->ar_op = htons(ARPOP_REQUEST);
	memcpy(pkt + 8, l->mac, 6);		/* sender: us, the VIP */
	memcpy(pkt + 14, &addr, 4);
	memset(pkt + 18, 0, 6);			/* target: the VIP, no MAC */
	memcpy(pkt + 24, &addr, 4);
	if (sendto(l->arp, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return fail(err, errlen, "gratuitous ARP");
	return 0;
}

/* The ICMPv6 socket of the NA: opened the first time one is sent. */
static int na_socket(struct vip_link *l)
{
	int hops = 255, ifindex = l->ifindex;

	if (l->na >= 0)
		return 0;
	l->na = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);
	/*
	 * RFC 4861 7.1.2: a receiver drops an NA whose hop limit is not 255.
	 * The kernel fills in the ICMPv6 checksum of a raw ICMPv6 socket.
	 */
	if (l->na < 0 ||
	    setsockopt(l->na, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)) < 0 ||
	    setsockopt(l->na, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof(ifindex)) < 0) {
		if (l->na >= 0)
			close(l->na);
		l->na = -1;
		return -1;
	}
	return 0;
}

int vip_na(struct vip_link *l, const struct in6_addr *addr, char *err, size_t errlen)
{
	struct sockaddr_in6 to = { .sin6_family = AF_INET6,
	    .sin6_scope_id = (uint32_t)l->ifindex };
	struct {
		struct nd_neighbor_advert na;
		struct nd_opt_hdr opt;
		uint8_t mac[6];
	} pkt;

	_Static_assert(sizeof(pkt) == 32, "an NA with one link-layer option is 32 bytes");
	if (na_socket(l) < 0)
		return fail(err, errlen, "ICMPv6 socket");
	inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
	memset(&pkt, 0, sizeof(pkt));
	pkt.na.nd_na_type = ND_NEIGHBOR_ADVERT;
	/* Not solicited, override: replace whatever MAC a cache holds. */
	pkt.na.nd_na_flags_reserved = ND_NA_FLAG_OVERRIDE;
	pkt.na.nd_na_target = *addr;
	pkt.opt.nd_opt_type = ND_OPT_TARGET_LINKADDR;
	pkt.opt.nd_opt_len = 1;			/* in units of 8 bytes */
	memcpy(pkt.mac, l->mac, 6);
	if (sendto(l->na, &pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return fail(err, errlen, "unsolicited neighbor advertisement");
	return 0;
}

int vip_primary_addr(const char *ifname, const uint32_t *skip, int nskip, uint32_t *addr)
{
	struct ifaddrs *all, *a;
	int rc = -1;

	if (getifaddrs(&all) < 0)
		return -1;
	for (a = all; a != NULL && rc < 0; a = a->ifa_next) {
		uint32_t v;
		int i;

		if (a->ifa_addr == NULL || a->ifa_addr->sa_family != AF_INET ||
		    strcmp(a->ifa_name, ifname) != 0)
			continue;
		v = ((struct sockaddr_in *)a->ifa_addr)->sin_addr.s_addr;
		for (i = 0; i < nskip && skip[i] != v; i++)
			;
		if (i == nskip) {
			*addr = v;
			rc = 0;
		}
	}
	freeifaddrs(all);
	return rc;
}

/* ---------------------------------------------------- anycast interface */

/* RTM_NEWLINK for a new interface ifname of this kind; the kernel's errno. */
static int link_add(int nl, const char *ifname, const char *kind, uint32_t seq)
{
	union {
		struct nlmsghdr n;
		char buf[NLMSG_SPACE(sizeof(struct ifinfomsg)) + 128];
	} req;
	struct ifinfomsg *ifi = NLMSG_DATA(&req.n);
	struct rtattr *info;

	memset(&req, 0, sizeof(req));
	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(*ifi));
	req.n.nlmsg_type = RTM_NEWLINK;
	req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	req.n.nlmsg_seq = seq;
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_flags = ifi->ifi_change = IFF_UP;
	put_attr(&req.n, IFLA_IFNAME, ifname, strlen(ifname) + 1);
	/* IFLA_LINKINFO nests IFLA_INFO_KIND: its length is set once it is in. */
	info = (struct rtattr *)((char *)&req.n + NLMSG_ALIGN(req.n.nlmsg_len));
	put_attr(&req.n, IFLA_LINKINFO, NULL, 0);
	put_attr(&req.n, IFLA_INFO_KIND, kind, strlen(kind));
	info->rta_len = (unsigned short)((char *)&req.n + req.n.nlmsg_len - (char *)info);
	if (send(nl, &req, req.n.nlmsg_len, 0) < 0)
		return errno;
	return read_ack(nl, seq);
}

/* RTM_NEWLINK on an existing interface: up. */
static int link_up(int nl, int ifindex, uint32_t seq)
{
	union {
		struct nlmsghdr n;
		char buf[NLMSG_SPACE(sizeof(struct ifinfomsg))];
	} req;
	struct ifinfomsg *ifi = NLMSG_DATA(&req.n);

	memset(&req, 0, sizeof(req));
	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(*ifi));
	req.n.nlmsg_type = RTM_NEWLINK;
	req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.n.nlmsg_seq = seq;
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = ifi->ifi_change = IFF_UP;
	if (send(nl, &req, req.n.nlmsg_len, 0) < 0)
		return errno;
	return read_ack(nl, seq);
}

int vip_link_ensure(const char *ifname, const char **made, char *err, size_t errlen)
{
	struct timeval tv = { NL_TIMEOUT_MS / 1000, NL_TIMEOUT_MS % 1000 * 1000 };
	static const char *const kinds[] = { "dummy", "bridge" };
	int nl, e = 0, ifindex = (int)if_nametoindex(ifname);

	*made = NULL;
	nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (nl < 0 || setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		if (nl >= 0)
			close(nl);
		return fail(err, errlen, "netlink socket");
	}
	if (ifindex > 0)
		e = link_up(nl, ifindex, 1);
	/* No dummy driver (some kernels): a bridge without ports will do. */
	for (size_t i = 0; ifindex == 0 && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		e = link_add(nl, ifname, kinds[i], (uint32_t)(2 + i));
		if (e == 0)
			*made = kinds[i];
		if (e != EOPNOTSUPP && e != ENOENT)
			break;
	}
	close(nl);
	if (e == 0)
		return 0;
	snprintf(err, errlen, "%s %s: %s", ifindex > 0 ? "setting up" : "creating", ifname,
	    strerror(e));
	return -1;
}

int vip_linklocal(const char *ifname, struct in6_addr *addr)
{
	struct ifaddrs *all, *a;
	int rc = -1;

	if (getifaddrs(&all) < 0)
		return -1;
	for (a = all; a != NULL && rc < 0; a = a->ifa_next) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)a->ifa_addr;

		if (a->ifa_addr == NULL || a->ifa_addr->sa_family != AF_INET6 ||
		    strcmp(a->ifa_name, ifname) != 0 || !IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr))
			continue;
		*addr = sin6->sin6_addr;
		rc = 0;
	}
	freeifaddrs(all);
	return rc;
}
