/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * VIPs on the interface (vip.h): RTM_NEWADDR / RTM_DELADDR on a raw
 * NETLINK_ROUTE socket, each request acknowledged by the kernel; gratuitous
 * ARP as a broadcast ARP request whose sender and target are the VIP
 * (RFC 5227 "ARP announcement"), which every Linux neighbour table updates.
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
	l->nl = l->arp = -1;
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
	l->nl = l->arp = -1;
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

int vip_change(struct vip_link *l, uint32_t addr, int prefixlen, bool add,
    uint32_t lease_s, char *err, size_t errlen)
{
	/* One buffer the attributes are appended to (the union keeps it aligned). */
	union {
		struct nlmsghdr n;
		char buf[NLMSG_SPACE(sizeof(struct ifaddrmsg)) + 128];
	} req;
	struct ifaddrmsg *ifa = NLMSG_DATA(&req.n);
	char text[INET_ADDRSTRLEN];
	int e;

	memset(&req, 0, sizeof(req));
	req.n.nlmsg_len = NLMSG_LENGTH(sizeof(*ifa));
	req.n.nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
	/* REPLACE: adding again renews a lease instead of failing. */
	req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0);
	req.n.nlmsg_seq = ++l->nlseq;
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)prefixlen;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned)l->ifindex;
	put_attr(&req.n, IFA_LOCAL, &addr, 4);
	put_attr(&req.n, IFA_ADDRESS, &addr, 4);
	if (add && lease_s > 0) {
		struct ifa_cacheinfo ci = { .ifa_prefered = lease_s, .ifa_valid = lease_s };

		put_attr(&req.n, IFA_CACHEINFO, &ci, sizeof(ci));
	}
	if (send(l->nl, &req, req.n.nlmsg_len, 0) < 0)
		return fail(err, errlen, "netlink send");
	e = read_ack(l->nl, req.n.nlmsg_seq);
	if (e == 0 || (add && e == EEXIST) || (!add && e == EADDRNOTAVAIL))
		return 0;
	inet_ntop(AF_INET, &addr, text, sizeof(text));
	snprintf(err, errlen, "%s %s/%d: %s", add ? "adding" : "removing", text, prefixlen,
	    strerror(e));
	return -1;
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
