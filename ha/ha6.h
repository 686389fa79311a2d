/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The socket of the IPv6 VRRP instance (RFC 5798 over IPv6): one raw
 * socket of protocol 112 on the interface, joined to ff02::12, that sends
 * adverts from the link-local address with hop limit 255 and receives
 * them with what the checks need (source, destination, hop limit).  No
 * logging: the caller decides.
 */
#ifndef FC_HA_HA6_H
#define FC_HA_HA6_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Opens it on ifname (index ifindex), joined to ff02::12 if join.  Returns the fd or -1. */
int ha6_open(const char *ifname, int ifindex, bool join);

/*
 * Sends msg[0..len) from src to to (ff02::12 or a peer) out of ifindex.
 * Returns 0 or -1 (errno set).
 */
int ha6_send(int fd, int ifindex, const struct in6_addr *src, const struct in6_addr *to,
    const uint8_t *msg, size_t len);

/*
 * Receives one datagram's VRRP message into buf; fills *src, *dst and
 * *hoplimit (-1 when the kernel did not say).  Returns its length, or -1
 * (errno EAGAIN: nothing more to read).
 */
ssize_t ha6_recv(int fd, uint8_t *buf, size_t size, struct in6_addr *src,
    struct in6_addr *dst, int *hoplimit);

#endif
