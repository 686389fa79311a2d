/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer harness for the certificate name matching of lib/tls.c: the
 * name comes from any client's ClientHello (SNI), the pattern from a
 * certificate.
 *
 * Input: a pattern, then after its first '\n' the name (each copied to an
 * exact-size buffer, the name without a NUL, as it comes off the wire).
 * The answer is checked against a reference written here, label by label,
 * apart from lib/tls.c's single pass.
 */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/tls.h"
#include "t/fuzz/fuzz.h"

/* Labels of 1..63 bytes of [A-Za-z0-9_-], 253 bytes at most. */
static bool ref_valid(const char *n, size_t len)
{
	size_t start = 0;

	if (len == 0 || len > FC_TLS_NAME_MAX)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || n[i] == '.') {
			if (i == start || i - start > 63)
				return false;
			start = i + 1;
			continue;
		}
		if (!isalnum((unsigned char)n[i]) && n[i] != '-' && n[i] != '_')
			return false;
		if ((unsigned char)n[i] >= 0x80)
			return false;
	}
	return true;
}

static bool ref_match(const char *pat, const char *name, size_t len)
{
	size_t plen = strlen(pat);
	const char *dot;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (!ref_valid(name, len))
		return false;
	if (plen >= 2 && pat[0] == '*' && pat[1] == '.') {
		/* The first label goes, the rest must equal the pattern's. */
		dot = memchr(name, '.', len);
		if (dot == NULL)
			return false;
		return (size_t)(name + len - dot) == plen - 1 &&
		    strncasecmp(dot, pat + 1, plen - 1) == 0;
	}
	return plen == len && strncasecmp(pat, name, len) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t plen = nl != NULL ? (size_t)(nl - data) : size;
	size_t nlen = nl != NULL ? size - plen - 1 : 0;
	char *pat, *name;
	bool got;

	if (memchr(data, '\0', plen) != NULL)
		return 0;		/* a pattern is a C string */
	pat = malloc(plen + 1);
	FUZZ_CHECK(pat != NULL);
	memcpy(pat, data, plen);
	pat[plen] = '\0';
	if (nlen == 0) {		/* no name matches nothing */
		FUZZ_CHECK(!tls_name_match(pat, "", 0));
		free(pat);
		return 0;
	}
	name = fuzz_dup(nl + 1, nlen);
	got = tls_name_match(pat, name, nlen);
	FUZZ_CHECK(got == ref_match(pat, name, nlen));
	/* A match is case-blind: the name upper-cased still matches. */
	if (got) {
		for (size_t i = 0; i < nlen; i++)
			name[i] = (char)toupper((unsigned char)name[i]);
		FUZZ_CHECK(tls_name_match(pat, name, nlen));
	}
	free(pat);
	free(name);
	return 0;
}
