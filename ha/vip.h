/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Moving a virtual IPv4 or IPv6 address: add or remove it on an interface
 * with rtnetlink (the kernel's answer checked), and announce it with
 * gratuitous ARP (IPv4) or an unsolicited Neighbor Advertisement (IPv6) so
 * that the LAN's caches point at this node at once.  No logging: failures
 * come back as -1 with a message in the caller's buffer.
 */
#ifndef FC_HA_VIP_H
#define FC_HA_VIP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vip_link {
	int nl;			/* NETLINK_ROUTE socket */
	int arp;		/* AF_PACKET socket for gratuitous ARP */
	int na;			/* ICMPv6 socket for Neighbor Advertisements; -1 until used */
	int ifindex;
	uint8_t mac[6];
	uint32_t nlseq;
};

/* Opens both sockets for interface ifname.  Returns 0, or -1 with err set. */
int vip_open(struct vip_link *l, const char *ifname, char *err, size_t errlen);
void vip_close(struct vip_link *l);

/*
 * Adds (add) or removes addr/prefixlen (addr in network order).  Adding an
 * address already there and removing one that is not are successes.
 * lease_s > 0 adds it with that valid and preferred lifetime, so that it
 * expires by itself unless added again in time; 0: permanent.
 */
int vip_change(struct vip_link *l, uint32_t addr, int prefixlen, bool add,
    uint32_t lease_s, char *err, size_t errlen);

/* Broadcasts one gratuitous ARP request for addr (network order). */
int vip_garp(struct vip_link *l, uint32_t addr, char *err, size_t errlen);

/*
 * vip_change() for IPv6: the address is added without duplicate address
 * detection (IFA_F_NODAD), so that it answers at once instead of staying
 * "tentative" for a second or more: the peer it moves from has just lost
 * it, and VRRP is what keeps two nodes from holding it.
 */
int vip_change6(struct vip_link *l, const struct in6_addr *addr, int prefixlen, bool add,
    uint32_t lease_s, char *err, size_t errlen);

/*
 * Sends one unsolicited Neighbor Advertisement for addr to all nodes
 * (ff02::1), override flag set: the IPv6 gratuitous ARP (RFC 4861 7.2.6).
 */
int vip_na(struct vip_link *l, const struct in6_addr *addr, char *err, size_t errlen);

/*
 * The first IPv4 address of interface ifname that is not in skip[0..nskip),
 * network order, into *addr.  Returns 0, or -1 when there is none.
 */
int vip_primary_addr(const char *ifname, const uint32_t *skip, int nskip, uint32_t *addr);

/*
 * Anycast: interface ifname, up; created when missing, as a dummy
 * interface or, where the kernel has no dummy driver, a bridge without
 * ports (routing daemons export its addresses alike).  *made: the kind
 * created, NULL when it was there.  Returns 0, or -1 with err set.
 */
int vip_link_ensure(const char *ifname, const char **made, char *err, size_t errlen);

/*
 * The link-local IPv6 address of interface ifname (the source of IPv6
 * adverts, RFC 5798 5.1.2.1) into *addr.  Returns 0, or -1 when there is none.
 */
int vip_linklocal(const char *ifname, struct in6_addr *addr);

#endif
