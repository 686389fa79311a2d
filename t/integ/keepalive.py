#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""keepalive: by default fulcrum keeps client connections open and reuses its
server connection (the backend's X-Conn-Id stays, X-Conn-Seq rises), answers
pipelined requests in order; httpclose = true closes both sides after every
response.
"""
import threading
import time

import fctest as t

WAVE = 150          # clients at once: more than any fixed per-server cap


def conf(port, backend, httpclose):
    return f"""
global: {{ workers = 1; }};
defaults: {{ retries = 3;
  timeout = {{ connect = 2000; client = 10000; server = 10000; http_request = 5000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  balance = "roundrobin"; forwardfor = true; httpclose = {str(httpclose).lower()};
  servers = ( {{ name = "k"; address = "{backend.addr}"; weight = 1; }} );
}} );
"""


def ids(results):
    return [(int(h.get("x-conn-id", -1)), int(h.get("x-conn-seq", -1)))
            for _, h, _ in results]


def rising(seqs):
    return all(seqs[i] == seqs[i - 1] + 1 for i in range(1, len(seqs)))


def wave(port):
    """WAVE clients connect, then all ask for a slow page at once; returns
    (status, X-Conn-Id) per client.  The barrier and the backend's 1.5 s
    delay put every request in flight together, even on a loaded box."""
    out, lock = [], threading.Lock()
    go = threading.Barrier(WAVE)

    def one():
        c = t.Client(port, timeout=20)
        try:
            go.wait(20)
            st, h, _ = c.request("GET", "/delay?ms=1500")
            with lock:
                out.append((st, int(h.get("x-conn-id", -1))))
        except Exception as e:
            with lock:
                out.append((repr(e), -1))
        finally:
            c.close()

    threads = [threading.Thread(target=one) for _ in range(WAVE)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return out


k = t.Backend("k")
port = t.free_port()
first_id, last_seq = None, None

with t.Fulcrum(conf(port, k, False), name="ka") as fc:
    # ---------------------------------------------------------------- 1
    with t.step("10 requests over ONE client keep-alive connection"):
        c = t.Client(port)
        res = [c.request("GET", f"/?n={i}") for i in range(10)]
        still_open = not c.peer_closed(0.3)
        c.close()
        seen = ids(res)
        t.note(f"(X-Conn-Id, X-Conn-Seq): {seen}")
        t.check(all(s == 200 for s, _, _ in res), "all 10 answered 200",
                f"{[s for s, _, _ in res]}")
        t.check(c.connects == 1 and len(set(c.local_ports)) == 1,
                "the client used one TCP connection",
                f"connects={c.connects} local ports={set(c.local_ports)}")
        t.check(still_open, "fulcrum kept the client connection open")
        t.check(not any("close" in h.get("connection", "").lower()
                        for _, h, _ in res),
                "no response carries Connection: close")
        t.check(len({i for i, _ in seen}) == 1,
                "the backend saw one connection (X-Conn-Id constant)",
                f"{seen}")
        t.check(rising([s for _, s in seen]),
                "X-Conn-Seq rises by 1 each time", f"{seen}")
        first_id = seen[0][0]
        last_seq = seen[-1][1]

    # ---------------------------------------------------------------- 2
    with t.step("10 requests on 10 fresh client connections"):
        res = [t.http(port, "GET", f"/?fresh={i}") for i in range(10)]
        seen = ids(res)
        t.note(f"(X-Conn-Id, X-Conn-Seq): {seen}")
        t.check(all(s == 200 for s, _, _ in res), "all 10 answered 200")
        t.check({i for i, _ in seen} == {first_id},
                f"the server connection is reused (X-Conn-Id stays "
                f"{first_id})", f"{seen}")
        seqs = [s for _, s in seen]
        t.check(rising(seqs) and last_seq is not None and
                seqs[0] == last_seq + 1,
                "X-Conn-Seq goes on rising from the last one", f"{seqs}")

    # ---------------------------------------------------------------- 3
    with t.step("pipelining: 3 requests written in one send()"):
        req = (b"GET /delay?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /check.txt HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /echo?third HTTP/1.1\r\nHost: x\r\n"
               b"Connection: close\r\n\r\n")
        t0 = time.monotonic()
        data, closed = t.raw_exchange(port, req, timeout=5)
        took = time.monotonic() - t0
        resp, rest = t.parse_responses(data)
        t.note(f"{len(data)} bytes in {took:.2f} s, {len(resp)} responses, "
               f"closed by fulcrum: {closed}")
        for st, h, body in resp:
            t.note(f"  {st} X-Conn-Seq={h.get('x-conn-seq')} "
                   f"body={body[:40]!r}")
        t.check(len(resp) == 3 and rest == b"", "3 complete responses",
                repr(data[:2000]))
        if len(resp) == 3:
            t.check([r[0] for r in resp] == [200, 200, 200], "all 200")
            t.check(resp[0][2] == b"k\n", "1st is /delay (body k)",
                    repr(resp[0][2]))
            t.check(resp[1][2] == b"OK\n", "2nd is /check.txt (body OK)",
                    repr(resp[1][2]))
            t.check(resp[2][2].startswith(b"GET /echo?third "),
                    "3rd is /echo?third", repr(resp[2][2][:60]))
        t.check(closed,
                "fulcrum closes after the request with Connection: close")

    # ---------------------------------------------------------------- 4
    with t.step(f"{WAVE} clients at once, twice: the second wave finds "
                f"its server connections in the pool"):
        first, second = wave(port), wave(port)
        old = {i for s, i in first}
        new = [i for s, i in second if i not in old]
        t.note(f"wave 1: {len(old)} server connections; wave 2: "
               f"{len({i for s, i in second})}, {len(set(new))} of them new")
        t.check(all(s == 200 for s, i in first + second),
                f"all {2 * WAVE} answered 200")
        t.check(len(old) == WAVE, f"wave 1 needed {WAVE} server connections "
                "(every request in flight at once)", f"{len(old)}")
        t.check(not new, "wave 2 opened no server connection: every one of "
                "wave 1 went back to the pool", f"{len(set(new))} new")

    with t.step("after all this: fulcrum still serves"):
        status, h, body = t.http(port, "GET", "/")
        t.note(f"X-Conn-Id={h.get('x-conn-id')} "
               f"X-Conn-Seq={h.get('x-conn-seq')}")
        t.check(status == 200, "GET / answers 200")

# -------------------------------------------------------------- httpclose
port = t.free_port()
with t.Fulcrum(conf(port, k, True), name="close") as fc, \
        t.step("httpclose = true: 5 keep-alive requests, each on its own "
               "connection"):
    rows = []
    for i in range(5):
        req = f"GET /?close={i} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        resp, rest, closed = t.exchange(port, req, count=1, linger=1.0)
        if len(resp) != 1:
            t.check(False, f"request {i} gets one response", repr(rest))
            continue
        st, h, body = resp[0]
        rows.append((st, h.get("connection", ""), int(h.get("x-conn-id", -1)),
                     int(h.get("x-conn-seq", -1)), closed))
    for r in rows:
        t.note(f"  {r[0]} Connection: {r[1]!r} X-Conn-Id={r[2]} "
               f"X-Conn-Seq={r[3]} client closed by fulcrum: {r[4]}")
    t.check(len(rows) == 5 and all(r[0] == 200 for r in rows), "all 200")
    t.check(all(r[1].lower() == "close" for r in rows),
            'every response carries "Connection: close"')
    t.check(all(r[4] for r in rows),
            "fulcrum closes the client connection after each response")
    t.check(all(r[3] == 1 for r in rows), "X-Conn-Seq is always 1",
            f"{[r[3] for r in rows]}")
    t.check(len({r[2] for r in rows}) == 5,
            "5 different server connections (X-Conn-Id)",
            f"{[r[2] for r in rows]}")

t.finish()
