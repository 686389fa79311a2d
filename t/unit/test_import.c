/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fulcrum-import's line tokenizer and HAProxy time units (tools/import_util.c).
 * Lines end, with their NUL, right before a PROT_NONE page: a read past
 * the terminator crashes the test.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tools/import.h"

/* A writable copy of s whose NUL is the last byte before a PROT_NONE page. */
static char *guarded(const char *s)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), len = strlen(s) + 1;
	size_t data = (len + pg - 1) / pg * pg;
	char *map = mmap(NULL, data + pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(map, MAP_FAILED);
	cr_assert_eq(mprotect(map + data, pg, PROT_NONE), 0);
	memcpy(map + data - len, s, len);
	return map + data - len;
}

static int split(const char *line, char **w, int max)
{
	return imp_split(guarded(line), w, max);
}

Test(import, split_cuts_on_blanks_and_stops_at_comments)
{
	char *w[8];

	cr_assert_eq(split("  server\twebA 10.0.0.1:80   check # a comment", w, 8), 4);
	cr_assert_str_eq(w[0], "server");
	cr_assert_str_eq(w[1], "webA");
	cr_assert_str_eq(w[2], "10.0.0.1:80");
	cr_assert_str_eq(w[3], "check");
	cr_assert_eq(split("bind :80#comment", w, 8), 2);
	cr_assert_str_eq(w[1], ":80");
	cr_assert_eq(split("# only a comment", w, 8), 0);
	cr_assert_eq(split("", w, 8), 0);
	cr_assert_eq(split("   \t  ", w, 8), 0);
}

Test(import, split_honours_quotes_and_escapes)
{
	char *w[8];

	cr_assert_eq(split("stats realm Haproxy\\ Statistics", w, 8), 3);
	cr_assert_str_eq(w[2], "Haproxy Statistics");
	cr_assert_eq(split("reqadd \"X-A: b # c\" 'd\\e'", w, 8), 3);
	cr_assert_str_eq(w[1], "X-A: b # c");
	cr_assert_str_eq(w[2], "d\\e");	/* no escapes between single quotes */
	cr_assert_eq(split("option httpchk HEAD / HTTP/1.1\\r\\nHost:\\ x", w, 8), 5);
	cr_assert_str_eq(w[4], "HTTP/1.1\r\nHost: x");
	cr_assert_eq(split("a\\x41\\#b", w, 8), 1);
	cr_assert_str_eq(w[0], "aA#b");
	cr_assert_eq(split("trailing\\", w, 8), 1);
	cr_assert_str_eq(w[0], "trailing\\");
}

Test(import, split_refuses_bad_lines)
{
	char *w[2];

	cr_assert_eq(split("a \"unterminated", w, 2), -2);
	cr_assert_eq(split("a 'unterminated", w, 2), -2);
	cr_assert_eq(split("bad \\xZZ", w, 2), -2);
	cr_assert_eq(split("one two three", w, 2), -1);
	cr_assert_eq(split("one two", w, 2), 2);
}

Test(import, time_units_are_haproxys)
{
	const struct {
		const char *text;
		long long unit, ms;	/* unit: the ms of a bare number */
	} good[] = {
		{ "5000", 1, 5000 },
		{ "5s", 1, 5000 },
		{ "2m", 1, 120000 },
		{ "1h", 1, 3600000 },
		{ "1d", 1, 86400000 },
		{ "100ms", 1, 100 },
		{ "1500us", 1, 2 },		/* rounded up to whole ms */
		{ "30", 1000, 30000 },		/* seconds by default */
	};
	long long ms;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cr_assert_eq(imp_parse_time(good[i].text, good[i].unit, &ms), 0, "\"%s\"",
		    good[i].text);
		cr_assert_eq(ms, good[i].ms, "\"%s\"", good[i].text);
	}
}

Test(import, time_refuses_what_is_no_time)
{
	long long ms;
	const char *bad[] = { "", "s", "-5", "5 s", "5sec", "1.5s", "5x", "99999999999999999999",
	    "100000000000000", NULL };

	for (int i = 0; bad[i] != NULL; i++)
		cr_assert_eq(imp_parse_time(guarded(bad[i]), 1, &ms), -1, "\"%s\"", bad[i]);
}

Test(import, names_become_fulcrum_names)
{
	char out[IMP_NAME_MAX];

	cr_assert(imp_name(out, "web-A_1.x"));
	cr_assert_str_eq(out, "web-A_1.x");
	cr_assert_not(imp_name(out, "my:backend"));
	cr_assert_str_eq(out, "my_backend");
	cr_assert_not(imp_name(out, ""));
	cr_assert_str_eq(out, "unnamed");
}
