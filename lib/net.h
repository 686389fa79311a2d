/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Network helpers.  They never log: on failure they return -1 and, where a
 * caller needs words, write a message into the caller's buffer.
 */
#ifndef FC_LIB_NET_H
#define FC_LIB_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define FC_ADDRSTRLEN 64	/* "[ffff:...:ffff]:65535" fits */

/* A client's address as accept() gives it: IPv4 or IPv6, no more room. */
union fc_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

struct fc_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/*
 * Parses "1.2.3.4:80", "[::1]:80" or "*:80" (any IPv4 address).  Numeric
 * addresses only: a load balancer must not depend on DNS at start-up.
 * Returns 0, or -1 with a reason in err.
 */
int net_parse_addr(const char *text, struct fc_addr *addr, char *err, size_t errlen);
/*
 * The same, and "NAME:PORT" as well: a host name is resolved now, with
 * getaddrinfo(), and the first address it gives is taken (the order of
 * /etc/gai.conf).  For servers, whose names are read again at each reload.
 * Blocks while the resolver works.
 */
int net_resolve_addr(const char *text, struct fc_addr *addr, char *err, size_t errlen);
/* Parses "192.0.2.50/24" (IPv4 or IPv6, prefix optional). */
int net_parse_prefix(const char *text, struct fc_addr *addr, int *prefixlen,
    char *err, size_t errlen);
/* Writes "1.2.3.4:80" or "[::1]:80" into buf (FC_ADDRSTRLEN bytes). */
const char *net_addr_str(const struct sockaddr *sa, char *buf, size_t buflen);
/* Writes the address only, without the port. */
const char *net_host_str(const struct sockaddr *sa, char *buf, size_t buflen);
int net_addr_port(const struct sockaddr *sa);
bool net_addr_equal(const struct fc_addr *a, const struct fc_addr *b);

int net_set_nonblock(int fd);
/* A non-blocking SO_REUSEPORT listening socket bound to addr; -1 with errno. */
int net_listen_reuseport(const struct fc_addr *addr, int backlog);
/*
 * Starts a non-blocking connect.  Returns the fd (connected or in progress)
 * or -1 with errno.
 */
int net_connect_nb(const struct fc_addr *addr);
/* The pending error of a non-blocking connect (0 when connected). */
int net_socket_error(int fd);
/* Bytes the peer sent that wait unread in fd's receive queue (0 on error). */
int net_unread(int fd);

#endif
