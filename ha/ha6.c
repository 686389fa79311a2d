/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * IPv6 VRRP socket (ha6.h).  The kernel adds the IPv6 header; the advert
 * carries its own checksum (computed by ha/vrrp.c over the IPv6
 * pseudo-header), so IPV6_CHECKSUM stays off.  The source is chosen per
 * datagram (IPV6_PKTINFO) rather than by bind(): an interface that has just
 * come up holds its link-local address as "tentative" for a second, and a
 * bind() would fail where a later send succeeds.
 */
#include "config.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ha/ha6.h"
#include "ha/vrrp.h"

int ha6_open(const char *ifname, int ifindex, bool join)
{
	struct ipv6_mreq mreq = { .ipv6mr_multiaddr = VRRP6_MCAST_GROUP,
	    .ipv6mr_interface = (unsigned)ifindex };
	int hops = VRRP_TTL, off = 0, on = 1, tclass = 0xc0;	/* internetwork control */
	int fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, VRRP_PROTO);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof(hops)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &off, sizeof(off)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof(ifindex)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tclass, sizeof(tclass)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof(on)) < 0 ||
	    (join && setsockopt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) < 0)) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int ha6_send(int fd, int ifindex, const struct in6_addr *src, const struct in6_addr *to,
    const uint8_t *msg, size_t len)
{
	struct sockaddr_in6 dst = { .sin6_family = AF_INET6, .sin6_addr = *to };
	struct iovec iov = { (void *)msg, len };
	union {
		struct cmsghdr c;
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	} ctl;
	struct msghdr mh = { .msg_name = &dst, .msg_namelen = sizeof(dst), .msg_iov = &iov,
	    .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	struct in6_pktinfo pi = { .ipi6_addr = *src, .ipi6_ifindex = (unsigned)ifindex };

	/* A link-local peer is only known on our link. */
	if (IN6_IS_ADDR_LINKLOCAL(to) || IN6_IS_ADDR_MC_LINKLOCAL(to))
		dst.sin6_scope_id = (uint32_t)ifindex;
	memset(ctl.buf, 0, sizeof(ctl.buf));
	c->cmsg_level = IPPROTO_IPV6;
	c->cmsg_type = IPV6_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(pi));
	memcpy(CMSG_DATA(c), &pi, sizeof(pi));
	return sendmsg(fd, &mh, 0) < 0 ? -1 : 0;
}

ssize_t ha6_recv(int fd, uint8_t *buf, size_t size, struct in6_addr *src,
    struct in6_addr *dst, int *hoplimit)
{
	struct sockaddr_in6 from;
	struct iovec iov = { buf, size };
	union {
		struct cmsghdr c;
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
	    .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf) };
	ssize_t n = recvmsg(fd, &mh, 0);

	if (n < 0)
		return -1;
	*src = from.sin6_addr;
	memset(dst, 0, sizeof(*dst));
	*hoplimit = -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != IPPROTO_IPV6)
			continue;
		if (c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			*dst = pi.ipi6_addr;
		} else if (c->cmsg_type == IPV6_HOPLIMIT) {
			memcpy(hoplimit, CMSG_DATA(c), sizeof(int));
		}
	}
	return n;
}
