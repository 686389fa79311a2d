#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""close_more: the last response before a close leaves with the FIN.

fulcrum sends a response it closes after with MSG_MORE, so that the
response, TLS's close_notify and the FIN go out in one segment.  Held bytes
must never be lost: a close() on a socket with unread input resets the
connection and drops what is queued, so the FIN (shutdown) goes first.

  plain and TLS listeners, one worker, server a (fc-testbackend)
  1. GET /delay?ms=400 with Connection: close; 150 ms later, while the
     server is still thinking, the client sends bytes fulcrum never reads:
     the whole response still arrives (then EOF or a reset), both listeners
  2. 40 Connection: close requests in a row, and HTTP/1.0 ones: each
     complete, each connection ended by fulcrum, TLS with close_notify
  3. the segments the client receives after its request (TCP_INFO's
     tcpi_segs_in, read once the request is acknowledged and again at the
     EOF; the server takes 300 ms): one, the response with the FIN (and,
     over TLS, the close_notify); two and three before MSG_MORE
  4. TLS 1.3, the request sent with the client's Finished (one write, as
     a memory BIO lets us), the server takes 100 ms: one data segment
     (tcpi_data_segs_in) brings the session ticket, the response and the
     FIN; before, the ticket came at once, on a segment of its own
  5. TLS 1.3, Finished, the request and the FIN (no close_notify) sent at
     once, so that one read completes the handshake, brings the request
     and meets the end: the response comes whole, and the listener's
     counters (fulcrum-stat) count 5 handshakes and no abort (before: a
     handshake and an abort each, most of the time)
"""
import socket
import ssl
import statistics
import struct
import time

import fctest as t
import tlslab as tl

tl.require_tools(curl=False)
a = t.Backend("a")
d = t.tmpdir("fctest-close-more-")
cert = tl.self_signed(d, "www", "www.test")
plain, tls = t.free_port(), t.free_port()
conf = f"""
global: {{ workers = 1; }};
defaults: {{ timeout = {{ connect = 2000; client = 5000; server = 5000; http_request = 5000; }}; }};
listeners = (
  {{ name = "plain"; bind = [ "127.0.0.1:{plain}" ];
     servers = ( {{ name = "a"; address = "{a.addr}"; }} ); }},
  {{ name = "tls"; bind = [ "127.0.0.1:{tls}" ]; tls = {{ certs = [ "{cert.pem}" ]; }};
     servers = ( {{ name = "a"; address = "{a.addr}"; }} ); }} );
"""
CTX = tl.context()


def connect(port, use_tls):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return CTX.wrap_socket(s, server_hostname="www.test", suppress_ragged_eofs=False) \
        if use_tls else s


def read_all(s):
    """Everything until EOF or a reset: (bytes, how it ended)."""
    got = b""
    while True:
        try:
            b = s.recv(65536)
        except (ConnectionResetError, ssl.SSLError) as e:
            return got, f"reset ({e.__class__.__name__})"
        if not b:
            return got, "EOF"
        got += b


# struct tcp_info's byte offsets: tcpi_segs_in (Linux 4.2+), tcpi_data_segs_in (4.6+)
SEGS_IN, DATA_SEGS_IN = 140, 152


def tcp_info_u32(s, offset):
    """The 32-bit field of struct tcp_info at byte offset."""
    return struct.unpack_from("I", s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256),
                              offset)[0]


def segments_after_request(port, use_tls):
    s = connect(port, use_tls)
    s.sendall(tl.get("/delay?ms=300"))
    time.sleep(0.1)             # the handshake's last flight and the ACK are in
    before = tcp_info_u32(s, SEGS_IN)
    data, how = read_all(s)
    after = tcp_info_u32(s, SEGS_IN)
    s.close()
    return after - before if complete(data, b"a\n") and how == "EOF" else None


def finished_with_request(port, req):
    """A TLS 1.3 handshake through memory BIOs whose last flight, the
    client's Finished, leaves in one send() with req.  Returns the socket,
    the SSLObject, its incoming BIO and tcpi_data_segs_in before that send."""
    ctx = tl.context(version="1.3")
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="www.test")
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            if out.pending:
                s.sendall(out.read())
            b = s.recv(65536)
            if not b:
                raise ConnectionError("EOF during the handshake")
            inc.write(b)
    obj.write(req)
    before = tcp_info_u32(s, DATA_SEGS_IN)
    s.sendall(out.read())
    return s, obj, inc, before


def read_tls_to_end(s, obj, inc):
    """What the SSLObject obj decrypts of everything s brings until EOF."""
    got = b""
    while True:
        b = s.recv(65536)
        if not b:
            return got
        inc.write(b)
        try:
            while b:
                b = obj.read(65536)     # b"" after the close_notify
                got += b
        except (ssl.SSLWantReadError, ssl.SSLZeroReturnError):
            pass


def ticket_with_response(port):
    """(data segments after the request, response complete, a session
    ticket came)."""
    s, obj, inc, before = finished_with_request(port, tl.get("/delay?ms=100"))
    got = read_tls_to_end(s, obj, inc)
    segs = tcp_info_u32(s, DATA_SEGS_IN) - before
    s.close()
    return segs, complete(got, b"a\n"), obj.session is not None and \
        obj.session.has_ticket


def finished_request_fin(port):
    """Finished, a GET and the FIN together: is the response complete?"""
    s, obj, inc, _ = finished_with_request(port, tl.get("/bytes?n=10"))
    s.shutdown(socket.SHUT_WR)
    got = read_tls_to_end(s, obj, inc)
    s.close()
    return complete(got, t.pattern(10))


def tls_counters(fc):
    return {x["name"]: x for x in fc.stat_json()["listeners"]}["tls"]["tls_counters"]


def complete(data, body):
    rs, rest = t.parse_responses(data, eof=True)
    return len(rs) == 1 and not rest and rs[0][0] == 200 and rs[0][2] == body


with t.Fulcrum(conf, name="close_more") as fc:
    for port, use_tls, name in ((plain, False, "plain"), (tls, True, "TLS")):
        with t.step(f"{name}: unread client bytes when fulcrum closes"):
            s = connect(port, use_tls)
            s.sendall(tl.get("/delay?ms=400"))
            time.sleep(0.15)
            s.sendall(b"bytes after the last request, never read\r\n" * 4)
            data, how = read_all(s)
            s.close()
            t.note(f"{len(data)} bytes, then {how}")
            t.check(complete(data, b"a\n"), "the whole response arrived", repr(data[:200]))

        with t.step(f"{name}: 40 Connection: close requests, then 10 in HTTP/1.0"):
            bad = []
            for i in range(50):
                s = connect(port, use_tls)
                req = tl.get(f"/bytes?n={i * 97}") if i < 40 else \
                    f"GET /bytes?n={i * 97} HTTP/1.0\r\n\r\n".encode()
                s.sendall(req)
                data, how = read_all(s)
                s.close()
                if not complete(data, t.pattern(i * 97)) or how != "EOF":
                    bad.append((i, len(data), how))
            t.check(not bad, "every response whole, every connection ended by fulcrum"
                    + (" with close_notify" if use_tls else ""), repr(bad[:5]))

        with t.step(f"{name}: the response, its end and the FIN in one segment"):
            counts = [segments_after_request(port, use_tls) for _ in range(5)]
            t.note(f"segments after the request, 5 connections: {counts}")
            ok = [c for c in counts if c is not None]
            t.check(len(ok) == 5, "5 complete responses ended by fulcrum", repr(counts))
            t.check(ok and statistics.median(ok) <= 1,
                    "one segment (median): response" + (", close_notify" if use_tls else "")
                    + " and FIN together", repr(counts))
    with t.step("TLS 1.3: the session ticket waits for the response it came with"):
        runs = [ticket_with_response(tls) for _ in range(5)]
        t.note(f"(data segments, complete, ticket), 5 connections: {runs}")
        t.check(all(r[1] for r in runs), "5 complete responses", repr(runs))
        t.check(all(r[2] for r in runs), "each client got a session ticket", repr(runs))
        t.check(statistics.median([r[0] for r in runs]) <= 1,
                "one data segment (median): ticket, response, close_notify and FIN",
                repr(runs))
    with t.step("TLS 1.3: Finished, request and FIN at once: a handshake, not an abort"):
        before = tls_counters(fc)
        runs = [finished_request_fin(tls) for _ in range(5)]
        after = tls_counters(fc)
        hs = after["handshakes"] - before["handshakes"]
        aborts = after["failures"]["abort"] - before["failures"]["abort"]
        t.note(f"complete: {runs}; handshakes +{hs}, aborts +{aborts}")
        t.check(all(runs), "5 complete responses", repr(runs))
        t.check(hs == 5 and aborts == 0, "5 handshakes counted, no abort",
                f"handshakes +{hs}, aborts +{aborts}")
    t.check(fc.alive(), "fulcrum still runs")

t.finish()
