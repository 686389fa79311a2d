#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""early_answer: a server that answers before it has read the request body
and then closes gets its answer to the client, not fulcrum's 502.

The server reads a POST's head, answers "413 ... Connection: close" with a
9-byte body, and closes at once without reading the body: with the body
unread its close is a reset, which fulcrum meets when it sends more of the
body.  The answer is already in fulcrum's socket by then, to be read.
30 POSTs of 150 KB to 1 MB (both body paths, buffered and spliced), each
client sending its whole body before it reads:
  every client gets the 413 and its body, then the end of the connection
  (before: about one in eight got "502 Bad Gateway" instead)
"""
import socket
import threading

import fctest as t

N = 30


SERVER_ERRORS = []


def answer_early(c):
    """413 after the request's head, then a close without reading."""
    try:
        c.settimeout(10)
        head = b""
        while b"\r\n\r\n" not in head:
            b = c.recv(65536)
            if not b:
                return
            head += b
        c.sendall(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 9\r\n"
                  b"Connection: close\r\n\r\ntoo big!\n")
    except OSError as e:
        SERVER_ERRORS.append(repr(e))   # noted; one connection never stops the rest
    finally:
        c.close()


def early_server(lsock):
    """Each connection in a thread of its own, as a real server's."""
    while True:
        try:
            c, _ = lsock.accept()
        except OSError:
            return
        threading.Thread(target=answer_early, args=(c,), daemon=True).start()


def post(port, size):
    """POSTs size bytes, all of them first, then reads to the end (the
    request says Connection: close: a body that all reached the server
    before it closed makes a whole request, and its connection would
    otherwise stay open for the next): the status line and the body."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
              b"Content-Length: %d\r\n\r\n" % size)
    try:
        s.sendall(b"x" * size)
    except OSError:
        pass                # fulcrum stopped reading: the answer is still there
    got = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += b
    except OSError:
        pass
    s.close()
    head, _, body = got.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode("latin-1"), body


lsock = socket.socket()
lsock.bind(("127.0.0.1", 0))
lsock.listen(16)
threading.Thread(target=early_server, args=(lsock,), daemon=True).start()
port = t.free_port()
conf = f"""
global: {{ workers = 1; }};
defaults: {{ retries = 1;
  timeout = {{ connect = 2000; client = 10000; server = 5000; http_request = 5000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  servers = ( {{ name = "early"; address = "127.0.0.1:{lsock.getsockname()[1]}"; }} );
}} );
"""

with t.Fulcrum(conf, name="early-answer") as fc:
    with t.step(f"{N} POSTs of 150 KB to 1 MB to a server that answers 413 and closes"):
        got = [post(port, 150000 + (i % 10) * 100000) for i in range(N)]
        lines = {}
        for line, _ in got:
            lines[line] = lines.get(line, 0) + 1
        t.note(f"status lines: {lines}; the server's errors: {SERVER_ERRORS or 'none'}")
        t.check(all(line.startswith("HTTP/1.1 413") and body == b"too big!\n"
                    for line, body in got),
                f"all {N} clients get the server's 413 and its body", str(lines))
    t.check(fc.alive(), "fulcrum is still up")
lsock.close()

t.finish()
