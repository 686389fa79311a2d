#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""splice: Content-Length bodies of 64 KiB and more go from socket to socket
through a pipe (worker/splice.h), both ways, and arrive intact: downloads
read fast and slowly, uploads, keep-alive on both sides afterwards, a server
that closes in the middle of a body, clients that give up in the middle of
an upload -- and the worker's pipes stay bounded.
"""
import fcntl
import os
import socket
import struct
import termios
import threading
import time

import fctest as t

MIB = 1024 * 1024
SIZES = [64 * 1024, 3 * MIB + 12345]

s = t.Backend("s")
port = t.free_port()
conf = f"""
global: {{ workers = 1; }};
defaults: {{ retries = 3;
  timeout = {{ connect = 2000; client = 20000; server = 20000; http_request = 5000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  balance = "roundrobin"; forwardfor = true;
  servers = ( {{ name = "s"; address = "{s.addr}"; weight = 1; }} );
}} );
"""


def pipes_of(pid):
    return t.fds_of(pid, "pipe")


def upload_reply(body):
    fields = dict(f.split("=", 1) for f in body.decode().split())
    return int(fields["len"]), fields["sha256"]


def read_to_close(sock, pause=0.0):
    """Everything sock receives, in 64 KiB pieces pause seconds apart,
    until the peer closes; then sock is closed."""
    data = b""
    while True:
        b = sock.recv(65536)
        if not b:
            break
        data += b
        if pause:
            time.sleep(pause)
    sock.close()
    return data


def slow_get(port, n):
    """GET /bytes?n=N, read in 64 KiB pieces 5 ms apart: more than the
    sockets hold between server and client waits on the client.  (A tiny
    SO_RCVBUF would make loopback TCP itself crawl: window < MSS.)"""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.sendall(f"GET /bytes?n={n} HTTP/1.1\r\nHost: x\r\n"
                 "Connection: close\r\n\r\n".encode())
    resp, rest = t.parse_responses(read_to_close(sock, 0.005))
    return resp


def truncating_server(lsock, sizes):
    """Answers each connection with Content-Length 4 MiB and sends only
    1 MiB of it, then closes."""
    for _ in sizes:
        try:
            c, _ = lsock.accept()
        except OSError:
            return
        c.recv(65536)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (4 * MIB)
                  + b"x" * MIB)
        c.close()


def early_server(lsock, close):
    """Answers 200 with a 1 MiB body as soon as it has the request head,
    without reading the body; then keeps the connection open, or closes it
    once fulcrum has acknowledged the whole answer (with the body unread,
    the close is a reset: fulcrum's next write to it fails)."""
    try:
        c, _ = lsock.accept()
    except OSError:
        return
    head = b""
    while b"\r\n\r\n" not in head:
        head += c.recv(65536)
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % MIB
              + t.pattern(MIB))
    if close:
        while struct.unpack("i", fcntl.ioctl(c, termios.TIOCOUTQ, b"\0" * 4))[0]:
            time.sleep(0.01)
        c.close()
    else:
        time.sleep(15)
        c.close()


def early_answer(port):
    """POSTs 4 MiB (from a thread: the server reads none of it) while the
    answer is read 16 KiB at a time, 5 ms apart, so that some of it still
    waits in fulcrum's sockets when the server or fulcrum is done with it.  Returns the
    body that came before the connection ended."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.sendall(b"POST /early HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Length: %d\r\n\r\n" % (4 * MIB))

    def upload():
        try:
            for _ in range(32):
                sock.sendall(b"u" * (128 * 1024))
        except OSError:
            pass            # fulcrum may stop reading once it has answered
    threading.Thread(target=upload, daemon=True).start()
    data = b""
    try:
        while True:
            b = sock.recv(16384)
            if not b:
                break
            data += b
            time.sleep(0.005)
    except OSError as e:
        t.note(f"recv: {e!r}")
    sock.close()
    return data.partition(b"\r\n\r\n")[2]


with t.Fulcrum(conf, name="splice") as fc:
    wpid = fc.worker_pids()[0]
    base_pipes = pipes_of(wpid)

    with t.step("downloads over one keep-alive client connection"):
        c = t.Client(port, timeout=20)
        seen = []
        for n in SIZES + SIZES:
            st, h, body = c.request("GET", f"/bytes?n={n}")
            seen.append((int(h.get("x-conn-id", -1)), int(h.get("x-conn-seq", -1))))
            t.check(st == 200 and len(body) == n and t.sha256(body) == t.sha256(t.pattern(n)),
                    f"{n} bytes arrive intact", f"status {st}, {len(body)} bytes")
        still_open = not c.peer_closed(0.2)
        c.close()
        t.note(f"(X-Conn-Id, X-Conn-Seq): {seen}")
        t.check(c.connects == 1 and still_open, "one client connection, still open")
        t.check(len({i for i, _ in seen}) == 1 and
                [q for _, q in seen] == list(range(seen[0][1], seen[0][1] + len(seen))),
                "one server connection, reused after every spliced body", f"{seen}")
        t.check(pipes_of(wpid) > base_pipes,
                "the worker keeps a pipe for the next body (the bodies went by splice)",
                f"pipes {base_pipes} -> {pipes_of(wpid)}")

    with t.step("a slow reader: 8 MiB read 64 KiB at a time, 5 ms apart"):
        resp = slow_get(port, 8 * MIB)
        ok = len(resp) == 1 and resp[0][0] == 200 and \
            t.sha256(resp[0][2]) == t.sha256(t.pattern(8 * MIB))
        t.check(ok, "8 MiB arrive intact",
                f"{[(r[0], len(r[2])) for r in resp]}")

    with t.step("uploads with Content-Length, then a GET on the same connection"):
        c = t.Client(port, timeout=20)
        for n in SIZES:
            body = os.urandom(n)
            st, h, reply = c.request("POST", "/upload", body=body,
                                     headers={"Content-Length": str(n)})
            t.check(st == 200 and upload_reply(reply) == (n, t.sha256(body)),
                    f"the backend got the {n} bytes intact", reply[:100])
        st, h, body = c.request("GET", "/")
        t.check(st == 200 and body == b"s\n" and c.connects == 1,
                "the next request on the connection is answered", f"{st} {body!r}")
        c.close()

    with t.step("20 clients give up in the middle of a 4 MiB upload"):
        for _ in range(20):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Length: %d\r\n\r\n" % (4 * MIB))
            sock.sendall(os.urandom(MIB))
            sock.close()
        time.sleep(0.5)
        st, _, body = t.http(port, "GET", "/")
        t.check(st == 200, "fulcrum still serves")
        t.check(fc.alive() and fc.worker_pids() == [wpid], "the worker is the same one")
        t.check(pipes_of(wpid) <= base_pipes + 2 * 64,
                "the pipes of the abandoned bodies were closed or kept as spares (64 at most)",
                f"{pipes_of(wpid)} pipe descriptors")

# A client that stops reading for longer than timeout.server (but far less
# than timeout.client) while the body waits for it in the pipe: fulcrum is
# waiting on the client, whose timeout applies.
sport = t.free_port()
conf_slow = conf.replace("server = 20000", "server = 1000").replace(str(port), str(sport))
with t.Fulcrum(conf_slow, name="splice-pause") as fc, \
        t.step("a client pauses 3 s in a 16 MiB download (timeout.server 1 s, "
               "timeout.client 20 s)"):
    # A 256 KiB receive buffer: the sockets to the client cannot take in
    # the rest of the body while it pauses (fulcrum's send buffer grows to
    # 4 MiB at most).
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
    sock.settimeout(20)
    sock.connect(("127.0.0.1", sport))
    sock.sendall(f"GET /bytes?n={16 * MIB} HTTP/1.1\r\nHost: x\r\n"
                 "Connection: close\r\n\r\n".encode())
    data = b""
    while len(data) < MIB:
        data += sock.recv(65536)
    time.sleep(3)
    while True:
        b = sock.recv(65536)
        if not b:
            break
        data += b
    sock.close()
    resp, _ = t.parse_responses(data)
    got = len(resp[0][2]) if resp else len(data)
    t.check(len(resp) == 1 and resp[0][0] == 200 and
            t.sha256(resp[0][2]) == t.sha256(t.pattern(16 * MIB)),
            "the 16 MiB arrive intact", f"{got} bytes")

def own_server(serve, *args):
    """A listening socket served by serve(lsock, *args) in a thread, and a
    copy of conf on a port of its own with that socket as its server:
    (lsock, conf text, port)."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(8)
    fport = t.free_port()
    text = conf.replace(s.addr, f"127.0.0.1:{lsock.getsockname()[1]}").replace(
        str(port), str(fport))
    threading.Thread(target=serve, args=(lsock,) + args, daemon=True).start()
    return lsock, text, fport


# A server that closes 1 MiB into a 4 MiB body.
lsock, conf_trunc, tport = own_server(truncating_server, [1, 2])
with t.Fulcrum(conf_trunc, name="splice-trunc") as fc, \
        t.step("the server closes 1 MiB into a 4 MiB body"):
    sock = socket.create_connection(("127.0.0.1", tport), timeout=10)
    sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = read_to_close(sock).partition(b"\r\n\r\n")
    t.note(f"{len(body)} body bytes, then the connection closed")
    t.check(head.startswith(b"HTTP/1.1 200") and b"4194304" in head,
            "the client got the head with the full length")
    t.check(len(body) == MIB, "then exactly the 1 MiB that came, and the close",
            f"{len(body)} bytes")
    t.check(fc.alive(), "fulcrum is still up")
lsock.close()

# Servers that answer before the upload is over, while its body is spliced:
# the client must get the whole answer, whether the server keeps its
# connection or closes it once the answer is out (a reset, the body being
# unread, which fulcrum meets writing the body).
for close in (False, True):
    lsock, conf_early, eport = own_server(early_server, close)
    how = "closes" if close else "keeps its connection"
    with t.Fulcrum(conf_early, name="splice-early") as fc, \
            t.step(f"the server answers 1 MiB before reading a 4 MiB upload, "
                   f"then {how}"):
        body = early_answer(eport)
        t.check(len(body) == MIB and body == t.pattern(MIB),
                "the client gets the whole answer", f"{len(body)} bytes")
        t.check(fc.alive(), "fulcrum is still up")
    lsock.close()

t.finish()
