#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""cookie_malformed: forged, truncated, oversized and repeated persistence
cookies, 4 workers.  Each is answered by a sane server (the one it names if
that is a real one, else any), never crashes a worker, and never lets the
"X~" prefix (prefix mode) or SERVERID (insert mode, indirect) reach the
server, which /echo proves.  A response whose Set-Cookie headers would
grow past the buffer once prefixed is answered 502, never overflowed.
"""
import fctest as t

NAMES = ("webA", "webB", "webC")
COOKIE = {"webA": "A", "webB": "B", "webC": "webC"}
LONG = "L" * 63


def rows(servers):
    return ",\n              ".join(
        f'{{ name = "{n}"; address = "{a}";' + (f' cookie = "{c}";' if c else "") + " }"
        for n, a, c in servers)


def conf(web, ins, long_):
    farm = rows([(n, backends[n].addr, COOKIE[n] if n != "webC" else None)
                 for n in NAMES])
    return f"""
global: {{ workers = 4; }};
defaults: {{ timeout = {{ connect = 1000; client = 10000; server = 10000;
                          http_request = 5000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{web}" ]; balance = "roundrobin";
  cookie = {{ name = "JSESSIONID"; mode = "prefix"; }};
  servers = ( {farm} );
}}, {{
  name = "ins"; bind = [ "127.0.0.1:{ins}" ]; balance = "roundrobin";
  cookie = {{ name = "SERVERID"; mode = "insert"; indirect = true; }};
  servers = ( {farm} );
}}, {{
  name = "long"; bind = [ "127.0.0.1:{long_}" ];
  cookie = {{ name = "JSESSIONID"; mode = "prefix"; }};
  servers = ( {rows([("webA", backends["webA"].addr, LONG)])} );
}} );
"""


def raw_get(port, path, cookie_lines):
    """One request with these Cookie header lines, on a fresh connection.
    Returns (status, headers dict, body, Set-Cookie values)."""
    head = f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
    head += "".join(f"Cookie: {c}\r\n" for c in cookie_lines) + "\r\n"
    data, closed = t.raw_exchange(port, head.encode("latin-1"), timeout=10)
    resp, rest = t.parse_responses(data)
    if not resp:
        return None, {}, data, []
    st, hdrs, body = resp[0]
    sets = [l.split(":", 1)[1].strip() for l in
            data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            if l.lower().startswith("set-cookie:")]
    return st, hdrs, body, sets


def received(body):
    return [line[len("Cookie: "):] for line in body.decode("latin-1").split("\r\n")
            if line.lower().startswith("cookie:")]


def case(port, title, cookies, want_srv=None, want_rcv=None, want_set=None, times=20):
    """Sends the case `times` times on fresh connections; checks each."""
    bad = []
    for i in range(times):
        st, hdrs, body, sets = raw_get(port, f"/echo?i={i}", cookies)
        srv = hdrs.get("x-backend")
        rcv = received(body)
        ok = st == 200 and srv in NAMES
        ok = ok and (want_srv is None or srv == want_srv)
        ok = ok and (want_rcv is None or rcv == want_rcv)
        exp = want_set(srv) if callable(want_set) else want_set
        ok = ok and (exp is None or sets == exp)
        if not ok:
            bad.append((st, srv, [r[:60] for r in rcv][:3], sets))
    t.check(not bad, f"{title}: {times} x 200 from "
            f"{want_srv or 'a server'}" + (f", server got {[r[:40] for r in want_rcv][:2]}"
                                          if want_rcv is not None else ""),
            f"{bad[:3]}")


backends = {n: t.Backend(n) for n in NAMES}
web, ins, long_ = t.free_port(), t.free_port(), t.free_port()
with t.Fulcrum(conf(web, ins, long_), name="malformed") as fc:
    workers = fc.wait_children(4)
    t.note(f"workers {workers}")
    V = "v" * 8192

    with t.step("prefix mode: forged and malformed JSESSIONID"):
        case(web, "empty value", ["JSESSIONID="], want_rcv=["JSESSIONID="], want_set=[])
        case(web, "Z~x (no such server)", ["JSESSIONID=Z~x"], want_rcv=["JSESSIONID=x"],
             want_set=lambda s: [f"JSESSIONID={COOKIE[s]}~x; Path=/"])
        case(web, "~x (no server part)", ["a=1; JSESSIONID=~x"],
             want_rcv=["a=1; JSESSIONID=x"])
        case(web, "A~ (truncated)", ["JSESSIONID=A~"], want_srv="webA",
             want_rcv=["JSESSIONID="], want_set=[])
        case(web, "quoted \"B~q\"", ['JSESSIONID="B~q"'], want_srv="webB",
             want_rcv=['JSESSIONID="q"'], want_set=[])
        case(web, "no prefix at all", ["JSESSIONID=plain"],
             want_rcv=["JSESSIONID=plain"],
             want_set=lambda s: [f"JSESSIONID={COOKIE[s]}~plain; Path=/"])
        case(web, "8 KiB value after B~", [f"a=1; JSESSIONID=B~{V}; b=2"],
             want_srv="webB", want_rcv=[f"a=1; JSESSIONID={V}; b=2"], want_set=[])
        case(web, "8 KiB forged server part", ["JSESSIONID=" + "Q" * 8192 + "~x"],
             want_rcv=["JSESSIONID=x"])
        forged = [f"JSESSIONID=Z~f{i}" for i in range(50)]
        forged[30] = "JSESSIONID=webC~real"
        case(web, "50 Cookie headers, the 31st names webC", forged, want_srv="webC",
             want_rcv=[f"JSESSIONID=f{i}" if i != 30 else "JSESSIONID=real"
                       for i in range(50)], want_set=[])
        many = "; ".join(f"c{i}=v{i}" for i in range(300))
        case(web, "300 cookies in one header, ours in the middle",
             [many + "; JSESSIONID=B~m; " + many], want_srv="webB",
             want_rcv=[many + "; JSESSIONID=m; " + many])
        case(web, "JSESSIONID repeated in one header, the first forged",
             ["JSESSIONID=Z~1; JSESSIONID=A~2; JSESSIONID=B~3"], want_srv="webA",
             want_rcv=["JSESSIONID=1; JSESSIONID=2; JSESSIONID=3"])
        st, hdrs, body, sets = raw_get(web, "/echo", ["JSESSIONID=A~" + "w" * 20000])
        t.check(st == 431, "a 20 KiB cookie: 431", f"{st}")

    with t.step("insert mode (indirect): forged SERVERID never reaches the server"):
        case(ins, "SERVERID=Z", ["SERVERID=Z"], want_rcv=[],
             want_set=lambda s: [f"SERVERID={COOKIE[s]}; Path=/"])
        case(ins, "SERVERID= (empty)", ["a=1; SERVERID="], want_rcv=["a=1"],
             want_set=lambda s: [f"SERVERID={COOKIE[s]}; Path=/"])
        case(ins, "SERVERID=A~x", ["SERVERID=A~x; b=2"], want_rcv=["b=2"],
             want_set=lambda s: [f"SERVERID={COOKIE[s]}; Path=/"])
        case(ins, "8 KiB SERVERID", ["SERVERID=" + "A" * 8192], want_rcv=[],
             want_set=lambda s: [f"SERVERID={COOKIE[s]}; Path=/"])
        forged = [f"SERVERID=Z{i}" for i in range(50)]
        forged[30] = "SERVERID=B"
        case(ins, "50 Cookie headers, the 31st names webB", forged, want_srv="webB",
             want_rcv=[], want_set=[])

    with t.step("Set-Cookie growth past the buffer: 502, never an overflow"):
        value = "x" * 120
        st, hdrs, body, sets = raw_get(long_, f"/setcookie?name=JSESSIONID&value={value}&n=10",
                                       [])
        t.check(st == 200 and sets == [f"JSESSIONID={LONG}~{value}; Path=/"] * 10,
                "10 Set-Cookie headers, each prefixed with a 63-byte server cookie",
                f"{st} {len(sets)}")
        st, hdrs, body, sets = raw_get(long_, f"/setcookie?name=JSESSIONID&value={value}&n=80",
                                       [])
        t.check(st == 502, "80 of them (a 12 KB head growing by 5 KB): 502", f"{st}")

    with t.step("no worker died"):
        st, hdrs, body, sets = raw_get(web, "/", ["JSESSIONID=A~ok"])
        t.check(st == 200 and hdrs.get("x-backend") == "webA", "still serving")
        t.check(fc.worker_pids() == workers, "the same 4 workers as at the start",
                f"{workers} -> {fc.worker_pids()}")

t.finish()
