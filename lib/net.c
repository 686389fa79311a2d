/* SPDX-License-Identifier: BSD-2-Clause */
/* Address parsing and socket helpers (see net.h).  Nothing here logs. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "lib/net.h"
#include "lib/str.h"

static int parse_port(const char *s, char *err, size_t errlen)
{
	char *end;
	long port;

	if (*s < '0' || *s > '9') {
		snprintf(err, errlen, "missing port");
		return -1;
	}
	errno = 0;
	port = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || port < 1 || port > 65535) {
		snprintf(err, errlen, "invalid port \"%s\" (1-65535)", s);
		return -1;
	}
	return (int)port;
}

/* Fills addr from a numeric host (IPv4, IPv6 without brackets, or "*"). */
static int parse_host(const char *host, int port, struct fc_addr *addr)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&addr->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&addr->ss;

	memset(addr, 0, sizeof(*addr));
	if (strcmp(host, "*") == 0 || inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		addr->len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		addr->len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

int net_parse_addr(const char *text, struct fc_addr *addr, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *hs = text;
	size_t hlen;
	int port;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || close[1] != ':') {
			snprintf(err, errlen, "invalid address \"%s\" (expected [IPv6]:PORT)", text);
			return -1;
		}
		hs = text + 1;
		hlen = (size_t)(close - hs);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL || memchr(text, ':', (size_t)(colon - text)) != NULL) {
			snprintf(err, errlen, "invalid address \"%s\" (expected HOST:PORT)", text);
			return -1;
		}
		hlen = (size_t)(colon - text);
	}
	if (hlen == 0 || hlen >= sizeof(host)) {
		snprintf(err, errlen, "invalid address \"%s\"", text);
		return -1;
	}
	memcpy(host, hs, hlen);
	host[hlen] = '\0';
	if ((port = parse_port(colon + 1, err, errlen)) < 0)
		return -1;
	if (parse_host(host, port, addr) < 0 || (text[0] == '[' && addr->ss.ss_family != AF_INET6)) {
		snprintf(err, errlen, "invalid address \"%s\" (numeric IPv4 or [IPv6] expected)", text);
		return -1;
	}
	return 0;
}

/* Letters, digits, '-' and '.', one letter at least: "1.2.3.999" is no name. */
static bool is_host_name(const char *s, size_t len)
{
	bool letter = false;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
			letter = true;
		else if (!(c >= '0' && c <= '9') && c != '-' && c != '.')
			return false;
	}
	return letter && len > 0 && len < NI_MAXHOST;
}

int net_resolve_addr(const char *text, struct fc_addr *addr, char *err, size_t errlen)
{
	const struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	const char *colon = strrchr(text, ':');
	char host[NI_MAXHOST];
	struct addrinfo *res;
	int port, rc;

	if (net_parse_addr(text, addr, err, errlen) == 0)
		return 0;
	if (colon == NULL || !is_host_name(text, (size_t)(colon - text)))
		return -1;		/* with net_parse_addr()'s reason */
	if ((port = parse_port(colon + 1, err, errlen)) < 0)
		return -1;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	if ((rc = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		snprintf(err, errlen, "cannot resolve \"%s\": %s", host,
		    rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -1;
	}
	memset(addr, 0, sizeof(*addr));
	memcpy(&addr->ss, res->ai_addr, res->ai_addrlen);
	addr->len = res->ai_addrlen;
	if (addr->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&addr->ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&addr->ss)->sin6_port = htons((uint16_t)port);
	freeaddrinfo(res);
	return 0;
}

int net_parse_prefix(const char *text, struct fc_addr *addr, int *prefixlen,
    char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	size_t hlen = slash ? (size_t)(slash - text) : strlen(text);
	int max;

	if (hlen == 0 || hlen >= sizeof(host))
		goto bad;
	memcpy(host, text, hlen);
	host[hlen] = '\0';
	if (strcmp(host, "*") == 0 || parse_host(host, 0, addr) < 0)
		goto bad;
	max = addr->ss.ss_family == AF_INET ? 32 : 128;
	*prefixlen = max;
	if (slash != NULL) {
		char *end;
		long n;

		errno = 0;
		n = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || errno != 0 || n < 1 || n > max) {
			snprintf(err, errlen, "invalid prefix length in \"%s\" (1-%d)", text, max);
			return -1;
		}
		*prefixlen = (int)n;
	}
	return 0;
bad:
	snprintf(err, errlen, "invalid address \"%s\" (expected ADDRESS[/PREFIX])", text);
	return -1;
}

/* Dotted quad of the 4 bytes at a, NUL-terminated (16 bytes at most). */
static void ipv4_str(const void *a, char *buf)
{
	const unsigned char *b = a;
	size_t n = 0;

	for (int i = 0; i < 4; i++) {
		if (i > 0)
			buf[n++] = '.';
		n += str_u64(buf + n, b[i]);
	}
	buf[n] = '\0';
}

const char *net_host_str(const struct sockaddr *sa, char *buf, size_t buflen)
{
	const void *a = sa->sa_family == AF_INET6 ?
	    (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr :
	    (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

	if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) {
		snprintf(buf, buflen, "unix");
		return buf;
	}
	if (sa->sa_family == AF_INET && buflen >= INET_ADDRSTRLEN) {
		ipv4_str(a, buf);	/* per request (X-Forwarded-For): no sprintf */
		return buf;
	}
	if (inet_ntop(sa->sa_family, a, buf, (socklen_t)buflen) == NULL)
		snprintf(buf, buflen, "?");
	return buf;
}

int net_addr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	return 0;
}

const char *net_addr_str(const struct sockaddr *sa, char *buf, size_t buflen)
{
	char host[INET6_ADDRSTRLEN];

	net_host_str(sa, host, sizeof(host));
	if (sa->sa_family == AF_INET6)
		snprintf(buf, buflen, "[%s]:%d", host, net_addr_port(sa));
	else
		snprintf(buf, buflen, "%s:%d", host, net_addr_port(sa));
	return buf;
}

bool net_addr_equal(const struct fc_addr *a, const struct fc_addr *b)
{
	return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

int net_set_nonblock(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -1;
	return 0;
}

int net_listen_reuseport(const struct fc_addr *addr, int backlog)
{
	int fd, one = 1;

	fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* IP_FREEBIND: a backup node listens on a VIP it does not hold yet. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, addr->ss.ss_family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP,
	    addr->ss.ss_family == AF_INET6 ? IPV6_FREEBIND : IP_FREEBIND, &one, sizeof(one)) < 0 ||
	    (addr->ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 ||
	    listen(fd, backlog) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int net_connect_nb(const struct fc_addr *addr)
{
	int fd, one = 1;

	fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 &&
	    errno != EINPROGRESS) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int net_socket_error(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return errno;
	return err;
}

int net_unread(int fd)
{
	int n = 0;

	return ioctl(fd, FIONREAD, &n) == 0 ? n : 0;
}
