#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""config_check: `fulcrum -c -f FILE` accepts a valid file and points at the
right FILE:LINE for an unknown key (naming the key meant when one is close),
a bad server address or a name that does not resolve, a missing chroot, and
a syntax error,
and for what only a start used to find: an unknown global.user or
global.group, a pid file in a directory that is not there; and for values
that once got through or crashed the check: a timeout of "213503982335d"
(its milliseconds overflowed to 9.5 hours and passed), a tls.alpn listing
"http/1.1" 30 times (the wire list overran its 256 bytes: SIGSEGV, and a
reload with it took the running master down).  And an error found once
every section is read (a listener's unknown backend), in a file that the
main one @includes, names the included file and its line (before: the
main file with the included file's line).  A bind address "[::ffff:a.b.c.d]"
is refused at its line (before: valid to -c, then a start failing without
FILE:LINE, as listening sockets are IPv6-only), and so is a route's host
"example.com." (before: accepted, and it never matched: requests' trailing
dots are dropped before the comparison).
"""
import os
import re
import time

import fctest as t
import tlslab as tl

t.require_fulcrum()
d = t.tmpdir("fctest-config-")


def write(name, lines):
    """Writes the lines to d/name; returns the path."""
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def line_of(lines, marker):
    """1-based number of the line holding marker."""
    for i, line in enumerate(lines, 1):
        if marker in line:
            return i
    raise ValueError(marker)


def base(port_a, port_b, port_l):
    return [
        '# fulcrum -c test file',
        'global: { workers = 2; };',
        'defaults: {',
        '  retries = 3;',
        '  timeout = { connect = 5000; client = 50000; server = 50000;',
        '              http_request = 10000; };',
        '};',
        'listeners = ( {',
        '  name = "web";',
        f'  bind = [ "127.0.0.1:{port_l}" ];',
        '  balance = "roundrobin";',
        '  forwardfor = true;',
        '  httpclose = false;',
        '  servers = (',
        f'    {{ name = "a"; address = "127.0.0.1:{port_a}"; weight = 1; }},',
        f'    {{ name = "b"; address = "127.0.0.1:{port_b}"; weight = 1; }}',
        '  );',
        '} );',
    ]


def run_check(path):
    t0 = time.monotonic()
    status, out = t.run([t.FULCRUM, "-c", "-f", path])
    took = time.monotonic() - t0
    t.note(f"$ fulcrum -c -f {os.path.basename(path)}  -> exit {status} "
           f"in {took:.2f} s")
    t.note("  | " + "\n  | ".join(out.rstrip().splitlines() or
                                 ["(no output)"]))
    return status, out


def expect_error(title, path, line):
    t.step(title)
    status, out = run_check(path)
    name = os.path.basename(path)
    t.check(status == 1, "exit status 1", f"got {status}")
    t.check(re.search(rf"{re.escape(name)}:{line}(?!\d)", out) is not None,
            f"output names {name}:{line}", out)
    t.check("configuration valid" not in out,
            "output does not claim the file is valid", out)
    return out


pa, pb, pl = t.free_port(), t.free_port(), t.free_port()

# ---------------------------------------------------------------- valid
t.step("a valid file is accepted")
lines = base(pa, pb, pl)
status, out = run_check(write("valid.conf", lines))
t.check(status == 0, "exit status 0", f"got {status}")
t.check("configuration valid" in out, 'prints "configuration valid"', out)
t.check(t.port_bindable(pl), f"-c bound nothing (port {pl} still free)")

# ---------------------------------------------------------------- (a)
lines = base(pa, pb, pl)
lines.insert(line_of(lines, "forwardfor"), "  frobnicate = true;")
expect_error("(a) an unknown key in a listener is refused",
             write("unknown_key.conf", lines), line_of(lines, "frobnicate"))

lines = base(pa, pb, pl)
lines[1:2] = ["global: {", "  workers = 2;", "  wrokers = 4;", "};"]
out = expect_error("(a') an unknown key in global is refused",
                   write("unknown_global.conf", lines), line_of(lines, "wrokers"))
t.check('(did you mean "workers"?)' in out, "and the key meant is named", out)

lines = base(pa, pb, pl)
i = line_of(lines, 'name = "a"')
lines[i - 1] = '    { name = "a"; address = "web1.invalid:80"; weight = 1; },'
out = expect_error("(a2) a server name that does not resolve is refused",
                   write("bad_name.conf", lines), i)
t.check('cannot resolve "web1.invalid"' in out, "the output says which name", out)

lines = base(pa, pb, pl)
lines[1:2] = ['global: { workers = 2; chroot = "/nonexistent/jail"; };']
expect_error("(a3) a chroot that is not there is refused",
             write("bad_chroot.conf", lines), line_of(lines, "chroot"))

# ---------------------------------------------------------------- (b)
lines = base(pa, pb, pl)
i = line_of(lines, 'name = "b"')
lines[i - 1] = '    { name = "b"; address = "127.0.0.1:99999"; weight = 1; }'
expect_error("(b) a server address with port 99999 is refused",
             write("bad_port.conf", lines), i)

lines = base(pa, pb, pl)
i = line_of(lines, 'name = "a"')
lines[i - 1] = '    { name = "a"; address = "300.1.2.3:80"; weight = 1; },'
expect_error("(b') a server address 300.1.2.3 is refused",
             write("bad_addr.conf", lines), i)

# ---------------------------------------------------------------- (c)
lines = base(pa, pb, pl)
i = line_of(lines, "retries")
lines[i - 1] = "  retries = = 3;"
expect_error("(c) a syntax error is refused at its line",
             write("syntax.conf", lines), i)

lines = base(pa, pb, pl)
i = line_of(lines, "balance")
lines[i - 1] = '  balance = "roundrobin;'        # unterminated string
t.step("(c') an unterminated string is refused")
status, out = run_check(write("syntax2.conf", lines))
t.check(status == 1, "exit status 1", f"got {status}")
t.check(re.search(r"syntax2\.conf:\d+", out) is not None,
        "output names syntax2.conf:LINE", out)

# ---------------------------------------------------------------- overflows
lines = base(pa, pb, pl)
i = line_of(lines, "timeout")
lines[i - 1] = '  timeout = { connect = 5000; client = "213503982335d"; server = 50000;'
out = expect_error("(d) a timeout whose milliseconds overflow is refused",
                   write("time_overflow.conf", lines), i)
t.check("must be between" in out, "the output gives the range", out)

cert = tl.self_signed(d, "www", "www.test")
lines = base(pa, pb, pl)
i = line_of(lines, "forwardfor")
lines[i:i] = [f'  tls = {{ certs = [ "{cert.pem}" ];',
              '          alpn = [ ' + ", ".join(['"http/1.1"'] * 30) + ' ]; };']
out = expect_error("(e) a tls.alpn listing a name 30 times is refused, no crash",
                   write("alpn30.conf", lines), line_of(lines, "alpn"))
t.check('lists "http/1.1" twice' in out, "the output says what is wrong", out)

lines = base(pa, pb, pl)
i = line_of(lines, "bind")
lines[i - 1] = f'  bind = [ "[::ffff:127.0.0.1]:{pl}" ];'
out = expect_error("(g) an IPv4-mapped IPv6 bind address, which cannot be bound, is refused",
                   write("v4mapped.conf", lines), i)
t.check("write it as IPv4" in out, "the output says how to write it", out)

lines = base(pa, pb, pl)
i = line_of(lines, "forwardfor")
lines[i:i] = ['  routes = ( { host = "example.com."; backend = "web"; } );']
out = expect_error("(h) a route host with a trailing dot, which could never match, "
                   "is refused", write("route_dot.conf", lines), i + 1)
t.check("no trailing dot" in out, "the output says why", out)

# ---------------------------------------------------------------- @include
inc = [
    'listeners = ( {',
    '  name = "web";',
    f'  bind = [ "127.0.0.1:{pl}" ];',
    '  backend = "nope";',
    '} );',
]
write("listeners.inc", inc)
main = base(pa, pb, pl)[:line_of(base(pa, pb, pl), "listeners") - 1] + [
    '@include "listeners.inc"']
t.step("(f) an unknown backend named in an @included file: that file's line")
status, out = run_check(write("main_inc.conf", main))
t.check(status == 1, "exit status 1", f"got {status}")
t.check(re.search(r"listeners\.inc:1(?!\d): listener \"web\": \"backend\" names an unknown",
                  out) is not None, "output names listeners.inc:1", out)
t.check("main_inc.conf:" not in out, "and not the main file", out)

# ---------------------------------------------------------------- several
lines = base(pa, pb, pl)
lines.insert(line_of(lines, "forwardfor"), "  frobnicate = true;")
i_bad = line_of(lines, 'name = "b"')
lines[i_bad - 1] = '    { name = "b"; address = "127.0.0.1:99999"; weight = 1; }'
t.step("every error of a file is reported, not only the first")
path = write("two_errors.conf", lines)
status, out = run_check(path)
t.check(status == 1, "exit status 1", f"got {status}")
for ln in (line_of(lines, "frobnicate"), i_bad):
    t.check(re.search(rf"two_errors\.conf:{ln}(?!\d)", out) is not None,
            f"output names two_errors.conf:{ln}", out)

# ---------------------------------------------------------------- start-time checks
lines = base(pa, pb, pl)
lines = lines[:1] + ['global: {', '  workers = 2;', '  user = "no-such-user-fc";',
                     '};'] + lines[2:]
out = expect_error("an unknown global.user is refused, as a start would",
                   write("unknown_user.conf", lines),
                   line_of(lines, "no-such-user-fc"))
t.check('unknown user "no-such-user-fc"' in out, "the message names the user", out)

lines = base(pa, pb, pl)
lines = lines[:1] + ['global: {', '  workers = 2;', '  user = "nobody";',
                     '  group = "no-such-group-fc";', '};'] + lines[2:]
out = expect_error("an unknown global.group is refused, as a start would",
                   write("unknown_group.conf", lines),
                   line_of(lines, "no-such-group-fc"))
t.check('unknown group "no-such-group-fc"' in out, "the message names the group",
        out)

lines = base(pa, pb, pl)
lines = lines[:1] + ['global: {', '  workers = 2;',
                     f'  pidfile = "{d}/no-such-dir/fulcrum.pid";', '};'] + lines[2:]
expect_error("a pid file in a missing directory is refused",
             write("pid_dir.conf", lines), line_of(lines, "pidfile"))

t.step("existing user and group pass")
lines = base(pa, pb, pl)
lines = lines[:1] + ['global: {', '  workers = 2;', '  user = "nobody";',
                     '  group = "nogroup";', f'  pidfile = "{d}/fulcrum.pid";',
                     '};'] + lines[2:]
status, out = run_check(write("users_ok.conf", lines))
t.check(status == 0, "exit status 0", f"got {status}: {out}")

# ---------------------------------------------------------------- missing
t.step("a missing file is refused")
status, out = run_check(os.path.join(d, "does-not-exist.conf"))
t.check(status == 1, "exit status 1", f"got {status}")
t.check("does-not-exist.conf" in out, "output names the file", out)

t.finish()
