/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The PROXY protocol (HAProxy's doc/proxy-protocol.txt), versions 1 and 2:
 * a header a load balancer puts in front of a TCP stream to say whose
 * connection it carries.  A pure codec, as ha/vrrp.c is for VRRP: bytes in,
 * addresses out, and the reverse; no socket, no log.  The worker reads it
 * on listeners with accept_proxy; the worker and the checker write it to
 * servers with send_proxy.
 *
 * Strict on purpose: a header is trusted only because the peer is, so
 * anything off the spec's shapes is refused rather than guessed at.
 */
#ifndef FC_LIB_PROXYPROTO_H
#define FC_LIB_PROXYPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/net.h"

#define FC_PROXY_INCOMPLETE	(-2)	/* a valid start: more bytes needed */
#define FC_PROXY_ERROR		(-1)	/* not a PROXY header */

#define FC_PROXY_V1_MAX		107	/* the spec's bound, CRLF included */
#define FC_PROXY_V2_HEAD	16	/* signature, command, family, length */
/*
 * Our bound on a whole v2 header (the field allows 16 + 65535).  TLVs
 * from AWS, GCP or HAProxy take a few hundred bytes; a header is read
 * before anything else, so a longer one is refused, not buffered.
 */
#define FC_PROXY_MAX		2048
/* What the writer needs at most: v1's bound, v2 with IPv6 and no TLV. */
#define FC_PROXY_WRITE_MAX	FC_PROXY_V1_MAX

enum fc_proxy_version { FC_PROXY_NONE = 0, FC_PROXY_V1 = 1, FC_PROXY_V2 = 2 };

struct fc_proxy_hdr {
	int version;			/* 1 or 2 */
	/*
	 * true: the header names no client (v2 LOCAL, v2 AF_UNSPEC, v1
	 * UNKNOWN): the connection's own endpoints stand.  false: src and
	 * dst hold the client and the address it connected to.
	 */
	bool local;
	union fc_sockaddr src, dst;
};

/*
 * Parses the header at the start of buf (len bytes).  Returns its length
 * (> 0: the stream's own bytes start there), FC_PROXY_INCOMPLETE when buf
 * is a valid beginning (never once len reaches the bound of the header's
 * version), or FC_PROXY_ERROR with *why set to a static reason.
 * Reads nothing past buf + len.
 */
int proxyproto_parse(const void *buf, size_t len, struct fc_proxy_hdr *h,
    const char **why);

/*
 * Writes a header of `version` (1 or 2) saying src connected to dst; src
 * NULL: a health check's, naming no client (v1 UNKNOWN, v2 LOCAL).  An
 * IPv4 address beside an IPv6 one is written IPv4-mapped (both must be of
 * one family).  Returns its length (<= FC_PROXY_WRITE_MAX), or -1 when
 * len is too short or a family is neither AF_INET nor AF_INET6.
 */
int proxyproto_write(int version, const struct sockaddr *src,
    const struct sockaddr *dst, void *buf, size_t len);

#endif
