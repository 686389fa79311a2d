#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""websocket: a 101 to "Upgrade: websocket" turns the stream into a tunnel.

Real WebSocket servers and clients (python3-websockets, its asyncio API)
on both sides of fulcrum, two workers:

  ws      plain; servers a and b (WebSocket echo servers whose 101 carries
          "Set-Cookie: app=NAME"); cookie insert SRV; access log on stderr
  wss     the same over TLS (a test CA's certificate for www.test)
  both    TLS on both sides: server c is a WebSocket server over TLS
  stick   servers a and b, stick = { cookie = "app"; }
  idle    timeout.tunnel = 1500 ms (timeout.client 20 s), server a
  plain   fc-testbackend: its /echo shows the request head as forwarded,
          /bad?kind=101 and /bad?kind=101-websocket answer a 101

On ws, wss and both: 1,000 messages of 1 B to 1 MiB (sizes spread geometrically,
binary and text) each way over four tunnels, every echo compared with what
was sent; a ping from the client and one from the server each get their
pong; the close handshake ends with code 1000 and the reason on both sides,
and the TCP connection closes at once (the half-close is passed on both
ways).  fulcrum-stat counts the tunnels open (gauge) and opened (total) in
JSON, text and Prometheus, the stats page shows them, and one access-log
line with status 101 is written when a tunnel ends.  The 101 carries the
server's Set-Cookie and fulcrum's insert cookie; a request with SRV=b goes
to b every time; on stick, the session app=NAME that a 101 set sends
every later tunnel with it to NAME.  A tunnel open across kill -USR2 keeps working and closes
cleanly while the old worker waits for it; another one left open is cut
when global.drain_timeout ends.  An idle tunnel is closed after
timeout.tunnel, one with traffic every 250 ms is not.  An h2c upgrade
reaches the server without Upgrade (and is answered as plain HTTP); a
WebSocket request keeps Upgrade and "Connection: upgrade" but loses the
other hop-by-hop fields; a 101 to a request that did not ask for a
WebSocket, or a 101 naming another protocol, is a 502.
"""
import asyncio
import random
import re
import socket
import ssl
import subprocess
import time

import fctest as t
import tlslab as tl

# Debian's python3-websockets: the scenario may run again under /usr/bin/python3.
websockets = t.system_import("websockets")
if websockets is None:
    t.skip("python3-websockets is not installed (apt-get install python3-websockets)")
from websockets.exceptions import ConnectionClosed

tl.require_tools(curl=False)
t.require_fulcrum()
t.require_backend()

NMSG = 1000
MAX_MSG = 1 << 20
NCONN = 4
DRAIN_MS = 6000
TUNNEL_MS = 1500
STATS = "/st"

d = t.tmpdir("fctest-ws-certs-")
ca = tl.CA(d, "fulcrum test CA")
www = ca.issue("www", "www.test")
inner = ca.issue("inner", "c.internal")
CTX = tl.context(ca.cert)

plain_backend = t.Backend("plain")
P_WS, P_WSS, P_BOTH, P_STICK, P_IDLE, P_PLAIN, P_A, P_B, P_C = (
    t.free_port() for _ in range(9))

CONF = f"""
global: {{ workers = 2; drain_timeout = {DRAIN_MS}; log = {{ facility = "local0"; }}; }};
defaults: {{ retries = 1;
  timeout = {{ connect = 2000; client = 20000; server = 20000; http_request = 5000; }}; }};
listeners = ( {{
  name = "ws"; bind = [ "127.0.0.1:{P_WS}" ];
  cookie = {{ name = "SRV"; mode = "insert"; }};
  servers = ( {{ name = "a"; address = "127.0.0.1:{P_A}"; cookie = "a"; }},
              {{ name = "b"; address = "127.0.0.1:{P_B}"; cookie = "b"; }} );
}}, {{
  name = "wss"; bind = [ "127.0.0.1:{P_WSS}" ];
  tls = {{ certs = [ "{www.pem}" ]; }};
  servers = ( {{ name = "a"; address = "127.0.0.1:{P_A}"; }},
              {{ name = "b"; address = "127.0.0.1:{P_B}"; }} );
}}, {{
  name = "both"; bind = [ "127.0.0.1:{P_BOTH}" ];
  tls = {{ certs = [ "{www.pem}" ]; }};
  servers = ( {{ name = "c"; address = "127.0.0.1:{P_C}";
                tls = {{ ca = "{ca.cert}"; sni = "c.internal"; verify = true; }}; }} );
}}, {{
  name = "stick"; bind = [ "127.0.0.1:{P_STICK}" ];
  stick = {{ cookie = "app"; }};
  servers = ( {{ name = "a"; address = "127.0.0.1:{P_A}"; }},
              {{ name = "b"; address = "127.0.0.1:{P_B}"; }} );
}}, {{
  name = "idle"; bind = [ "127.0.0.1:{P_IDLE}" ];
  timeout = {{ tunnel = {TUNNEL_MS}; }};
  servers = ( {{ name = "a"; address = "127.0.0.1:{P_A}"; }} );
}}, {{
  name = "plain"; bind = [ "127.0.0.1:{P_PLAIN}" ]; forwardfor = true;
  stats = {{ uri = "{STATS}"; }};
  servers = ( {{ name = "p"; address = "{plain_backend.addr}"; }} );
}} );
"""

# ------------------------------------------------------------ the servers

SEEN = []            # (server name, path, request headers) per handshake
CLOSES = []          # (server name, path, close code, reason) per tunnel end


def make_handler(name):
    async def handler(ws, path=None):
        SEEN.append((name, ws.path, ws.request_headers))
        try:
            async for msg in ws:
                if msg == "who":
                    await ws.send(name)
                elif msg == "ping-me":
                    pong = await ws.ping(b"from-server")
                    await asyncio.wait_for(pong, 5)
                    await ws.send("ponged")
                else:
                    await ws.send(msg)
        except ConnectionClosed:
            pass
        CLOSES.append((name, ws.path, ws.close_code, ws.close_reason))
    return handler


async def start_servers():
    servers = []
    for name, port in (("a", P_A), ("b", P_B)):
        servers.append(await websockets.serve(
            make_handler(name), "127.0.0.1", port, max_size=2 * MAX_MSG,
            compression=None, ping_interval=None,
            extra_headers=[("Set-Cookie", f"app={name}; Path=/")]))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(inner.cert, inner.key)
    servers.append(await websockets.serve(
        make_handler("c"), "127.0.0.1", P_C, ssl=tls, max_size=2 * MAX_MSG,
        compression=None, ping_interval=None))
    return servers


def connect(port, path, tls=False, headers=None, close_timeout=10):
    scheme = "wss" if tls else "ws"
    # The name the certificate is for, at fulcrum's address.
    return websockets.connect(
        f"{scheme}://www.test:{port}{path}", host="127.0.0.1", port=port,
        ssl=CTX if tls else None, server_hostname="www.test" if tls else None,
        max_size=2 * MAX_MSG, compression=None, ping_interval=None,
        close_timeout=close_timeout, extra_headers=headers or [], open_timeout=10)


def message(i):
    """Message i of NMSG: 1 B to 1 MiB, geometrically; every 10th is text."""
    n = max(1, round(MAX_MSG ** (i / (NMSG - 1))))
    rnd = random.Random(i)
    if i % 10 == 3:
        return "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz\u00e9\u20ac ") for _ in
                       range(min(n, 4096)))
    return rnd.randbytes(n)


# ------------------------------------------------------------ the scenarios


def stat():
    return fc.stat_json()["totals"]


def access_lines(path, listener):
    return [ln for ln in fc.log_text().splitlines()
            if f'"GET {path} HTTP/1.1"' in ln and f" {listener} {listener}/" in ln]


async def one_tunnel(port, tls, k, bad):
    async with connect(port, f"/bulk{k}", tls) as ws:
        for i in range(k, NMSG, NCONN):
            m = message(i)
            await ws.send(m)
            got = await asyncio.wait_for(ws.recv(), 20)
            if got != m:
                bad.append(f"tunnel {k} message {i}: sent {len(m)}, got {len(got)} "
                           "different")
        return ws.response_headers


async def bulk(port, tls):
    bad = []
    t0 = time.monotonic()
    await asyncio.gather(*(one_tunnel(port, tls, k, bad) for k in range(NCONN)))
    total = sum(len(message(i)) for i in range(NMSG))
    t.note(f"{NMSG} messages, {total} bytes each way, in {time.monotonic() - t0:.1f} s")
    t.check(not bad, f"{NMSG} messages of 1 B to 1 MiB come back intact", "\n".join(bad[:5]))


def wait_for(cond, timeout):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def fc_totals_wait(cond, timeout=5):
    return wait_for(lambda: cond(stat()), timeout)


async def main_plain_and_tls():
    for port, tls, label in ((P_WS, False, "ws"), (P_WSS, True, "wss"),
                             (P_BOTH, True, "both")):
        with t.step(f"{label}: bulk through two workers"):
            before = stat()
            per = {w["slot"]: w["total_tunnels"] for w in fc.stat_json()["workers"]}
            await bulk(port, tls)
            t.note("tunnels per worker: " + ", ".join(
                f"w{w['slot']} +{w['total_tunnels'] - per[w['slot']]}"
                for w in fc.stat_json()["workers"]))
            after = await asyncio.to_thread(lambda: (fc_totals_wait(
                lambda c: c["cur_tunnels"] == 0), stat()))
            t.check(after[0], f"{label}: no tunnel left open", f"{after[1]}")
            t.check(after[1]["total_tunnels"] - before["total_tunnels"] == NCONN,
                    f"{label}: {NCONN} tunnels counted",
                    f"before {before['total_tunnels']}, after {after[1]['total_tunnels']}")
        with t.step(f"{label}: ping, pong and the close handshake"):
            await ping_close(port, tls, label)


async def ping_close(port, tls, label):
    # What blocks (fulcrum-stat, the log) runs in a thread: the servers
    # live in this loop.
    async with connect(port, "/pc", tls) as ws:
        pong = await ws.ping(b"from-client")
        await asyncio.wait_for(pong, 5)
        t.check(True, f"{label}: the client's ping gets its pong")
        await ws.send("ping-me")
        t.check(await asyncio.wait_for(ws.recv(), 5) == "ponged",
                f"{label}: the server's ping gets its pong")
        open_now = await asyncio.to_thread(fc_totals_wait, lambda c: c["cur_tunnels"] == 1)
        t.check(open_now, f"{label}: fulcrum-stat counts the open tunnel (cur_tunnels 1)",
                f"{stat()}")
        t.check(access_lines("/pc", label) == [],
                f"{label}: no access-log line while the tunnel is open", access_lines("/pc", label))
        t0 = time.monotonic()
        await ws.close(code=1000, reason="bye")
        took = time.monotonic() - t0
    t.check(ws.close_code == 1000, f"{label}: the client sees close code 1000",
            f"got {ws.close_code}")
    t.check(took < 3, f"{label}: the close handshake and the TCP close take no wait",
            f"{took:.2f} s (the client waits close_timeout = 10 s for the TCP close)")
    seen = await asyncio.to_thread(wait_for, lambda: any(c[1] == "/pc" for c in CLOSES), 5)
    ends = [c[2:] for c in CLOSES if c[1] == "/pc"]
    t.check(seen and ends[-1] == (1000, "bye"),
            f"{label}: the server sees close code 1000, reason \"bye\"", f"{CLOSES}")
    CLOSES[:] = [c for c in CLOSES if c[1] != "/pc"]
    logged = await asyncio.to_thread(wait_for, lambda: len(access_lines("/pc", label)) == 1, 5)
    line = (access_lines("/pc", label) or [""])[0]
    t.check(logged and re.search(r" 101 \d+ - - ---- ", line) is not None,
            f"{label}: one access-log line, status 101, once the tunnel ended", line)


async def main_cookie():
    with t.step("ws: cookie persistence on the upgrade request"):
        async with connect(P_WS, "/ck") as ws:
            cookies = ws.response_headers.get_all("Set-Cookie")
            await ws.send("who")
            first = await ws.recv()
        t.check(any(c.startswith("app=") for c in cookies),
                "the server's Set-Cookie reaches the client in the 101", f"{cookies}")
        t.check(f"SRV={first}" in "; ".join(cookies),
                "fulcrum's insert cookie is added to the 101", f"{cookies}, server {first}")
        whos = []
        for _ in range(4):
            async with connect(P_WS, "/ck", headers=[("Cookie", "SRV=b")]) as ws:
                await ws.send("who")
                whos.append(await ws.recv())
        t.check(whos == ["b"] * 4, "a tunnel asked with SRV=b goes to b every time",
                f"{whos}")
    with t.step("stick: the session a 101 sets is learned"):
        async with connect(P_STICK, "/st1") as ws:
            await ws.send("who")
            first = await ws.recv()
        await asyncio.sleep(0.5)            # the checker applies what workers learn
        whos = []
        for _ in range(8):
            async with connect(P_STICK, "/st2", headers=[("Cookie", f"app={first}")]) as ws:
                await ws.send("who")
                whos.append(await ws.recv())
        t.check(whos == [first] * 8, f"8 tunnels with app={first} all go to {first}",
                f"{whos}")


async def main_idle():
    with t.step("idle: timeout.tunnel closes an idle tunnel, not a busy one"):
        async with connect(P_IDLE, "/busy") as ws:
            for _ in range(8):
                await asyncio.sleep(0.25)
                await ws.send("x")
                await ws.recv()
            t.check(True, "a tunnel with traffic every 250 ms lives 2 s with "
                    f"timeout.tunnel {TUNNEL_MS} ms")
            t0 = time.monotonic()
            try:
                await asyncio.wait_for(ws.recv(), 15)
                closed = None
            except ConnectionClosed:
                closed = time.monotonic() - t0
            t.check(closed is not None and TUNNEL_MS / 1000 * 0.9 <= closed < 8,
                    f"then idle, it is closed after about {TUNNEL_MS} ms",
                    f"closed after {closed} s")


async def main_reload():
    with t.step("kill -USR2: an open tunnel lives on in the old worker"):
        kept = await connect(P_WS, "/kept")
        cut = await connect(P_WS, "/cut")
        await kept.send("before")
        t.check(await kept.recv() == "before", "a tunnel is open before the reload")
        old = set(fc.worker_pids())
        gen = await asyncio.to_thread(fc.reload)
        t.check(gen == 2, "the reload starts generation 2", f"{gen}")
        t0 = time.monotonic()
        await asyncio.sleep(0.5)
        t.check(old & set(fc.worker_pids()) != set(),
                "an old worker is still there for the open tunnels")
        for i in range(20):
            m = message(900 + i)
            await kept.send(m)
            if await kept.recv() != m:
                t.fail("the tunnel carries messages after the reload", f"message {i}")
                break
        else:
            t.check(True, "the tunnel carries 20 messages (up to 1 MiB) after the reload")
        await kept.close(code=1000, reason="done")
        t.check(kept.close_code == 1000, "then closes cleanly (code 1000)",
                f"{kept.close_code}")
        try:
            await asyncio.wait_for(cut.recv(), DRAIN_MS / 1000 + 10)
            ended = None
        except ConnectionClosed:
            ended = time.monotonic() - t0
        t.check(ended is not None and ended >= DRAIN_MS / 1000 * 0.8,
                f"the tunnel left open is cut when drain_timeout ({DRAIN_MS} ms) ends",
                f"after {ended} s")
        gone = await asyncio.to_thread(wait_for, lambda: not (old & set(fc.worker_pids())), 5)
        t.check(gone, "the old workers are gone then")
        again = await connect(P_WS, "/after")
        await again.send("new")
        t.check(await again.recv() == "new", "the new generation opens tunnels")
        await again.close()


async def main():
    servers = await start_servers()
    try:
        await main_plain_and_tls()
        await main_cookie()
        await main_idle()
        await main_reload()
    finally:
        for s in servers:
            s.close()
            await s.wait_closed()


def raw_request(port, head):
    return t.raw(port, head.encode(), timeout=5)


def plain_checks():
    with t.step("h2c and hop-by-hop on the plain listener"):
        st, hdrs, body = t.http(P_PLAIN, "GET", "/echo", {
            "Upgrade": "h2c", "Connection": "Upgrade, HTTP2-Settings",
            "HTTP2-Settings": "AAMAAABkAARAAAAAAAIAAAAA"})
        head = body.decode("latin-1").lower()
        t.check(st == 200, "an h2c upgrade is answered as plain HTTP (200)", f"{st}")
        t.check("upgrade:" not in head and "http2-settings" not in head and
                "connection: upgrade" not in head,
                "an h2c upgrade reaches the server without Upgrade", head)
        st, hdrs, body = t.http(P_PLAIN, "GET", "/echo", {
            "Upgrade": "WebSocket", "Connection": "keep-alive, Upgrade, X-Hop",
            "X-Hop": "secret", "Keep-Alive": "timeout=5",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"})
        head = body.decode("latin-1").lower()
        t.check("\r\nupgrade: websocket\r\n" in head and "\r\nconnection: upgrade\r\n" in head,
                "a WebSocket request keeps Upgrade: websocket and Connection: upgrade", head)
        t.check("x-hop" not in head and "keep-alive" not in head and
                "sec-websocket-key: dghliHNhbXBsZSBub25jZQ==".lower() in head,
                "other hop-by-hop fields go, the Sec-WebSocket fields stay", head)
        t.check(st == 200, "a WebSocket request answered 200 is plain HTTP", f"{st}")
    with t.step("a 101 that was not asked for is a 502"):
        st, _, _ = t.http(P_PLAIN, "GET", "/bad?kind=101-websocket")
        t.check(st == 502, "101 (Upgrade: websocket) to a plain GET: 502", f"{st}")
        st, _, _ = t.http(P_PLAIN, "GET", "/bad?kind=101", {
            "Upgrade": "websocket", "Connection": "Upgrade"})
        t.check(st == 502, "101 naming h2c to a WebSocket request: 502", f"{st}")
        st, _, _ = t.http(P_PLAIN, "GET", "/bad?kind=101-websocket", {
            "Upgrade": "h2c", "Connection": "Upgrade"})
        t.check(st == 502, "101 (Upgrade: websocket) to an h2c request: 502", f"{st}")
        st, _, _ = t.http(P_PLAIN, "GET", "/bad?kind=101-websocket", {
            "Upgrade": "websocket"})
        t.check(st == 502, "101 to a request without Connection: upgrade: 502", f"{st}")


def raw_tunnel():
    """After the 101 nothing is parsed, and a half-close goes through: the
    bytes after it reach the server as sent, and the client that shut its
    side still reads the answer."""
    with t.step("a raw tunnel: bytes as they are, and a half-close"):
        s = socket.create_connection(("127.0.0.1", P_PLAIN), timeout=5)
        try:
            s.sendall(b"GET /bad?kind=101-websocket HTTP/1.1\r\nHost: x\r\n"
                      b"Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
            got = b""
            while b"\r\n\r\n" not in got:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
            head = got.split(b"\r\n\r\n")[0].decode("latin-1")
            t.check(head.startswith("HTTP/1.1 101 ") and
                    "\r\nConnection: upgrade" in head and "\r\nUpgrade: websocket" in head,
                    "the 101 to a WebSocket request is relayed", head)
            inner = (b"GET /echo HTTP/1.1\r\nHost: y\r\nConnection: X-Hop\r\n"
                     b"X-Hop: kept\r\n\r\n")
            s.sendall(inner)
            s.shutdown(socket.SHUT_WR)
            rest = got.split(b"\r\n\r\n", 1)[1]
            eof = False
            t0 = time.monotonic()
            while not eof and time.monotonic() - t0 < 5:
                chunk = s.recv(65536)
                eof = chunk == b""
                rest += chunk
        finally:
            s.close()
        t.check(rest.startswith(b"HTTP/1.1 200") and rest.endswith(inner),
                "the server gets the bytes after the 101 untouched (no X-Forwarded-For, "
                "X-Hop kept) and answers after the client shut its side",
                rest[-400:])
        t.check(eof, "the server's close after the client's reaches the client "
                "(the half-close went through)")


def stat_outputs():
    with t.step("the tunnel counters in every output"):
        tot = stat()
        t.check(tot["cur_tunnels"] == 0 and tot["total_tunnels"] >= 3 * NCONN + 3,
                "JSON totals: cur_tunnels 0, total_tunnels counted",
                f"{tot}")
        workers = fc.stat_json()["workers"]
        t.check(all("cur_tunnels" in w and "total_tunnels" in w for w in workers),
                "JSON workers: each has cur_tunnels and total_tunnels", f"{workers}")
        prom = subprocess.run([t.FULCRUM_STAT, "-f", fc.conf_path, "--prometheus"],
                              capture_output=True, text=True, timeout=10).stdout
        m = re.search(r"^fulcrum_tunnels_total (\d+)$", prom, re.M)
        t.check(m is not None and int(m.group(1)) == tot["total_tunnels"] and
                re.search(r"^fulcrum_current_tunnels 0$", prom, re.M) is not None,
                "Prometheus: fulcrum_tunnels_total and fulcrum_current_tunnels",
                "\n".join(ln for ln in prom.splitlines() if "tunnel" in ln))
        text = subprocess.run([t.FULCRUM_STAT, "-f", fc.conf_path],
                              capture_output=True, text=True, timeout=10).stdout
        t.check(f"tunnels: 0 open, {tot['total_tunnels']} total" in text,
                "text: the tunnels line", text[-300:])
        st, _, body = t.http(P_PLAIN, "GET", STATS)
        t.check(st == 200 and b"Total tunnels" in body, "the stats page has the columns")


with t.Fulcrum(CONF) as fc:
    fc.wait_children(2)
    plain_checks()
    raw_tunnel()
    asyncio.run(main())
    stat_outputs()
t.finish()
