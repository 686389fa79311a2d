#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""response_strict: responses from the server are held to the rules of
requests (RFC 9112 sections 2-7).  The recording backend sends a canned
response (/bad?kind=K, see t/lib/testbackend.c) and keeps its connection
open; each case states exactly what the client gets and what becomes of
that server connection:

  closed  fulcrum closed it (it is not reused: whatever the server sent
          after the bad response can never be read as another answer)
  reused  the next request, from another client, goes over it

A malformed head becomes fulcrum's own 502 and closes the client
connection.  A body found malformed once its head went out cannot be
turned into a 502: the client gets a strict prefix of the message and the
connection closes (RFC 9112 section 8: an incomplete message).  Responses
to HEAD, 204 and 1xx have no content whatever they say (section 6.3): the
bytes a server sends after them are never passed on.
doc/http-strictness.md is the table in prose.
"""
import collections

import fctest as t
from strictcase import check_alive, check_doc, Prefix, conf, show

OK = b"HTTP/1.1 200 OK\r\n"
TE = b"Transfer-Encoding: chunked\r\n"
HELLO = OK + b"Content-Length: 5\r\n\r\nhello"
_BODY502 = (b"<html><body><h1>502 Bad Gateway</h1>\n"
            b"The server returned an invalid or incomplete response.\n</body></html>\n")
E502 = (b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\n"
        b"Cache-Control: no-cache\r\nConnection: close\r\n"
        b"Content-Length: %d\r\n\r\n" % len(_BODY502) + _BODY502)
AFTER = b"GET /after HTTP/1.1\r\nHost: x\r\n\r\n"

RCase = collections.namedtuple("RCase", "name send expect closed server after")


def req(kind, method=b"GET", version=b"HTTP/1.1"):
    host = b"Host: x\r\n" if version == b"HTTP/1.1" else b""
    return method + b" /bad?kind=" + kind.encode() + b" " + version + b"\r\n" + host + b"\r\n"


def case(kind, expect, closed, server, method=b"GET", version=b"HTTP/1.1", name=None,
         after=False):
    send = req(kind, method, version) + (AFTER if after else b"")
    return RCase(name or kind, send, expect, closed, server, after)


CASES = [
    # ------------------------------------------------ framing fields (6.1-6.3)
    case("cl-te", E502, True, "closed"),
    case("te-cl", E502, True, "closed"),
    case("two-cl", E502, True, "closed"),
    case("cl-list", E502, True, "closed"),
    case("cl-sign", E502, True, "closed"),
    case("cl-hex", E502, True, "closed"),
    case("same-cl", HELLO, False, "reused"),
    case("same-cl-list", HELLO, False, "reused"),
    case("te-chunked-gzip", E502, True, "closed"),
    case("te-http10", E502, True, "closed"),
    # rule 4: a response whose last coding is not chunked ends at the close
    case("te-not-chunked",
         OK + b"Transfer-Encoding: gzip\r\nConnection: close\r\n\r\nuntil the close",
         True, "closed"),
    # rule 8: no length at all, read until the close
    case("no-length", OK + b"Connection: close\r\n\r\nuntil the close", True, "closed"),
    # rule 5: fewer bytes than Content-Length, then the close: incomplete
    case("cl-short", OK + b"Content-Length: 10\r\n\r\nhello", True, "closed"),
    case("cl-extra", HELLO, False, "closed", after=True),
    # ------------------------------------------------ chunked body (7.1)
    case("bad-chunk", Prefix(OK + TE + b"\r\n5x"), True, "closed"),
    case("chunk-overrun", Prefix(OK + TE + b"\r\n5\r\nhelloE"), True, "closed"),
    case("chunk-bare-lf", Prefix(OK + TE + b"\r\n5\n"), True, "closed"),
    case("chunk-ext", OK + TE + b'\r\n5;name="v;x"\r\nhello\r\n0\r\n\r\n', False, "reused"),
    case("trailer", OK + TE + b"\r\n5\r\nhello\r\n0\r\nX-Checksum: 1234\r\n\r\n", False,
         "reused"),
    case("trailer-cl", Prefix(OK + TE + b"\r\n5\r\nhello\r\n0\r\nContent-Length:"), True,
         "closed"),
    # ------------------------------------------------ head syntax (2.2, 4, 5)
    case("bare-lf", E502, True, "closed"),
    case("bare-cr", E502, True, "closed"),
    case("obs-fold", E502, True, "closed"),
    case("space-before-colon", E502, True, "closed"),
    case("nul", E502, True, "closed"),
    case("ctl", E502, True, "closed"),
    case("del", E502, True, "closed"),
    case("bad-status", E502, True, "closed"),
    case("bad-version", E502, True, "closed"),
    case("http2-version", E502, True, "closed"),
    case("http09", E502, True, "closed"),
    # ------------------------------------------------ bodiless responses (6.3 rule 1)
    case("body-for-head", OK + b"Content-Length: 5\r\n\r\n", False, "closed", method=b"HEAD",
         after=True),
    case("204-body", b"HTTP/1.1 204 No Content\r\n\r\n", False, "closed", after=True),
    # ------------------------------------------------ interim responses (RFC 9110 15.2)
    case("100-200", b"HTTP/1.1 100 Continue\r\n\r\n" + HELLO, False, "reused"),
    case("100-200", OK + b"Content-Length: 5\r\nConnection: close\r\n\r\nhello", True,
         "reused", version=b"HTTP/1.0", name="100-200-to-http10-client"),
    case("103-200", b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n" + HELLO,
         False, "reused"),
    case("100-cl", b"HTTP/1.1 100 Continue\r\n\r\n" + HELLO, False, "reused"),
    case("101", E502, True, "closed"),
    # ------------------------------------------------ hop-by-hop (RFC 9110 7.6.1)
    case("hop-by-hop", HELLO, False, "reused"),
]


def run(port, rec, c):
    with t.step(c.name):
        t.note(f"sent: {show(c.send)}")
        mark = rec.mark()
        head = c.send.startswith(b"HEAD")
        resps, raw, closed = t.exchange_bytes(port, c.send, count=1 + c.after, timeout=3,
                                              linger=0.3, head_request=head)
        got = rec.since(mark, timeout=2.0)
        t.note(f"got: {show(raw)}")
        first = raw[:len(c.expect)] if c.after else raw
        if isinstance(c.expect, Prefix):
            t.check(len(raw) < len(c.expect) and c.expect.startswith(raw),
                    f"the client gets no more than a strict prefix of {show(c.expect, 120)}")
        else:
            t.check(first == c.expect, f"the client gets exactly {show(c.expect, 160)}")
        t.check(closed == c.closed,
                "fulcrum closes the client connection" if c.closed else
                "the client connection stays open", f"closed: {closed}")
        conns = [k for k, b in got if b"/bad?kind=" in b]
        t.check(len(conns) == 1, "one server connection got the request", f"{got}")
        if not conns:
            return
        k = conns[0]
        if c.after:
            rest, _ = t.parse_responses(raw[len(c.expect):])
            t.check(len(rest) == 1 and rest[0][0] == 200 and rest[0][2] == b"r\n" and
                    rest[0][1].get("x-conn-id") != str(k),
                    "the next request is answered by the server on another connection",
                    f"{rest}")
        if c.server == "closed":
            t.check(rec.wait_closed(k), f"fulcrum closed server connection {k}")
        else:
            st, h, body = t.http(port, "GET", "/")
            t.check(st == 200 and h.get("x-conn-id") == str(k) and not rec.closed(k),
                    f"server connection {k} is reused by the next client",
                    f"status {st}, X-Conn-Id {h.get('x-conn-id')}")


check_doc("response_strict.py", [c.name for c in CASES])

r = t.Backend("r", record=True)
port = t.free_port()
with t.Fulcrum(conf(port, r), name="rspstrict") as fc:
    workers = fc.wait_children(1, 5.0)
    for c in CASES:
        run(port, r.rec, c)

    check_alive(fc, workers)

t.finish()
