/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Moving a virtual IPv4 address: add or remove it on an interface with
 * rtnetlink (the kernel's answer checked), and announce it with gratuitous
 * ARP so that the LAN's caches point at this node at once.  No logging:
 * failures come back as -1 with a message in the caller's buffer.
 */
#ifndef FC_HA_VIP_H
#define FC_HA_VIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vip_link {
	int nl;			/* NETLINK_ROUTE socket */
	int arp;		/* AF_PACKET socket for gratuitous ARP */
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

#endif
