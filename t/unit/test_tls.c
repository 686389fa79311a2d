/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of lib/tls.c: certificate name matching (SNI) and the
 * session-ticket keys' rotation.  Names end right before a PROT_NONE page,
 * so reading past a name (it comes off the wire, without a NUL) crashes.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/tls.h"

/* name, copied to end at a PROT_NONE page; the mapping stays (a test's life). */
static const char *guarded(const char *name)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), len = strlen(name);
	char *map = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert(map != MAP_FAILED);
	cr_assert(mprotect(map + pg, pg, PROT_NONE) == 0);
	memcpy(map + pg - len, name, len);
	return map + pg - len;
}

static bool match(const char *pattern, const char *name)
{
	return tls_name_match(pattern, guarded(name), strlen(name));
}

Test(tls_name, exact_names_match_case_blind)
{
	cr_expect(match("www.example.com", "www.example.com"));
	cr_expect(match("www.example.com", "WWW.Example.COM"));
	cr_expect(match("www.example.com", "www.example.com."), "a final dot");
	cr_expect(!match("www.example.com", "www.example.co"));
	cr_expect(!match("www.example.com", "www.example.com.."));
	cr_expect(!match("www.example.com", "xwww.example.com"));
}

Test(tls_name, a_wildcard_stands_for_one_label)
{
	cr_expect(match("*.example.com", "a.example.com"));
	cr_expect(match("*.example.com", "API.EXAMPLE.com"));
	cr_expect(!match("*.example.com", "example.com"), "no label for the star");
	cr_expect(!match("*.example.com", "a.b.example.com"), "two labels");
	cr_expect(!match("*.example.com", ".example.com"), "an empty label");
	cr_expect(!match("*.example.com", "a.example.org"));
}

Test(tls_name, malformed_names_match_nothing)
{
	cr_expect(!tls_name_match("x", guarded("x"), 0), "empty");
	cr_expect(!match("a..b", "a..b"), "an empty label");
	cr_expect(!match("a b", "a b"), "a space");
	cr_expect(!match("*.x", "*.x"), "a star in the client's name");
	char big[300];
	const char *nul = guarded("a.b");

	((char *)nul)[1] = '\0';
	cr_expect(!tls_name_match("a.b", nul, 3), "a NUL");

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cr_expect(!match(big, big), "longer than 253 bytes");
	memset(big, 'a', 64);
	big[64] = '\0';
	cr_expect(!match(big, big), "a label longer than 63 bytes");
}

Test(tls_tickets, rotation_keeps_the_previous_key)
{
	static struct fc_tls_tickets t;
	struct fc_tls_ticket_key before;

	cr_assert(tls_tickets_make(&t, 1000) == 0);
	cr_expect(t.made == 1 && t.current == 0 && t.rotated_us == 1000);
	cr_expect(memcmp(t.key[0].name, t.key[1].name, 16) != 0, "keys differ");
	before = t.key[0];
	cr_assert(tls_tickets_rotate(&t, 2000) == 0);
	cr_expect(t.current == 1 && t.rotated_us == 2000);
	cr_expect(memcmp(&t.key[0], &before, sizeof(before)) == 0,
	    "the previous key stays as it was");
	cr_assert(tls_tickets_rotate(&t, 3000) == 0);
	cr_assert(tls_tickets_rotate(&t, 4000) == 0);
	cr_expect(t.current == 0, "three slots, round");
	cr_expect(memcmp(&t.key[0], &before, sizeof(before)) != 0,
	    "the oldest key is replaced");
}
