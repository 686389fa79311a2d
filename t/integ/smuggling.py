#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""smuggling: request framing (RFC 9112 sections 6 and 7), one raw-socket
case per shape, each asserting what the client got and exactly what the
recording backend received (see strictcase.py for the table's columns).

Refused: Content-Length with Transfer-Encoding, differing or malformed
Content-Lengths, a Transfer-Encoding that does not end in one "chunked"
(400) or that lists another coding before it (501), Transfer-Encoding in
HTTP/1.0, bad chunk sizes, data and extensions, framing, routing and
connection fields in trailers.  Normalised: repeated identical
Content-Lengths become one, a request's Transfer-Encoding is forwarded as
plain "chunked"; chunk extensions and other trailers go through as they
are.  A pipelined request behind every accepted body must reach the backend
as a request of its own: the boundaries agree.
doc/http-strictness.md is the table in prose.
"""
import fctest as t
from strictcase import check_alive, check_doc, Case, Prefix, conf, run

P = b"POST /up HTTP/1.1\r\nHost: x\r\n"
G2 = b"GET /second HTTP/1.1\r\nHost: x\r\n\r\n"
TE = b"Transfer-Encoding: chunked\r\n"
CB = b"5\r\nhello\r\n0\r\n\r\n"
H = P + TE + b"\r\n"                    # a chunked head, forwarded as it is


def post(fields, body=b""):
    return P + fields + b"\r\n" + body


def chunked(body):
    """A chunked POST with this body; as fulcrum forwards it, the head is H."""
    return H + body


HIDDEN = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
NORMAL_CL5 = post(b"Content-Length: 5\r\n", b"hello") + G2

CASES = [
    # ------------------------------------------------ Content-Length (6.2, 6.3)
    Case("cl-te", post(b"Content-Length: 5\r\n" + TE, CB), [400], True, b""),
    Case("te-cl", post(TE + b"Content-Length: 5\r\n", CB), [400], True, b""),
    Case("cl-te-hidden-request",
         post(b"Content-Length: 5\r\n" + TE, b"0\r\n\r\n" + HIDDEN), [400], True, b""),
    Case("cl-zero-te", post(b"Content-Length: 0\r\n" + TE, CB), [400], True, b""),
    Case("two-cl-differ", post(b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!"),
         [400], True, b""),
    Case("cl-list-differs", post(b"Content-Length: 5, 6\r\n", b"hello!"), [400], True, b""),
    Case("cl-repeated-same",
         post(b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello") + G2,
         [200, 200], False, NORMAL_CL5),
    Case("cl-list-same", post(b"Content-Length: 5, 5\r\n", b"hello") + G2,
         [200, 200], False, NORMAL_CL5),
    Case("cl-leading-zeros", post(b"Content-Length: 005\r\n", b"hello") + G2,
         [200, 200], False, NORMAL_CL5),
    Case("cl-ows", post(b"Content-Length:\t 5 \t\r\n", b"hello") + G2,
         [200, 200], False, NORMAL_CL5),
    Case("cl-name-case", post(b"content-LENGTH: 5\r\n", b"hello") + G2,
         [200, 200], False, NORMAL_CL5),
    Case("cl-plus", post(b"Content-Length: +5\r\n", b"hello"), [400], True, b""),
    Case("cl-minus", post(b"Content-Length: -5\r\n", b"hello"), [400], True, b""),
    Case("cl-space-inside", post(b"Content-Length: 1 0\r\n", b"hello"), [400], True, b""),
    Case("cl-hex", post(b"Content-Length: 0x5\r\n", b"hello"), [400], True, b""),
    Case("cl-decimal-point", post(b"Content-Length: 5.0\r\n", b"hello"), [400], True, b""),
    Case("cl-overflow-2^64",
         post(b"Content-Length: 18446744073709551621\r\n", b"hello"), [400], True, b""),
    Case("cl-above-2^62",
         post(b"Content-Length: 4611686018427387905\r\n", b"hello"), [400], True, b""),
    Case("cl-empty", post(b"Content-Length:\r\n", b"hello"), [400], True, b""),
    Case("cl-empty-member", post(b"Content-Length: 5,\r\n", b"hello"), [400], True, b""),
    Case("cl-body-then-pipelined", NORMAL_CL5, [200, 200], False, NORMAL_CL5),
    Case("cl-body-holds-a-request",
         post(b"Content-Length: %d\r\n" % len(HIDDEN), HIDDEN) + G2, [200, 200], False,
         post(b"Content-Length: %d\r\n" % len(HIDDEN), HIDDEN) + G2),
    Case("cl-zero-on-get",
         b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" + G2, [200, 200], False,
         b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n" + G2),
    # ------------------------------------------------ Transfer-Encoding (6.1, 6.3)
    Case("te-chunked", chunked(CB) + G2, [200, 200], False, H + CB + G2),
    Case("te-case-Chunked", post(b"Transfer-Encoding: Chunked\r\n", CB) + G2,
         [200, 200], False, H + CB + G2),
    Case("te-case-CHUNKED", post(b"Transfer-Encoding: CHUNKED\r\n", CB) + G2,
         [200, 200], False, H + CB + G2),
    Case("te-name-case", post(b"transfer-ENCODING: chunked\r\n", CB) + G2,
         [200, 200], False, H + CB + G2),
    Case("te-ows", post(b"Transfer-Encoding:\t chunked \t\r\n", CB) + G2,
         [200, 200], False, H + CB + G2),
    Case("te-trailing-comma", post(b"Transfer-Encoding: chunked,\r\n", CB), [400], True, b""),
    Case("te-leading-comma", post(b"Transfer-Encoding: , chunked\r\n", CB), [400], True, b""),
    Case("te-chunked-identity", post(b"Transfer-Encoding: chunked, identity\r\n", CB),
         [400], True, b""),
    Case("te-identity-chunked", post(b"Transfer-Encoding: identity, chunked\r\n", CB),
         [501], True, b""),
    Case("te-gzip-chunked", post(b"Transfer-Encoding: gzip, chunked\r\n", CB),
         [501], True, b""),
    Case("te-gzip-then-chunked-fields",
         post(b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", CB),
         [501], True, b""),
    Case("te-chunked-gzip", post(b"Transfer-Encoding: chunked, gzip\r\n", CB),
         [400], True, b""),
    Case("te-gzip", post(b"Transfer-Encoding: gzip\r\n", CB), [400], True, b""),
    Case("te-identity", post(b"Transfer-Encoding: identity\r\n", CB), [400], True, b""),
    Case("te-xchunked", post(b"Transfer-Encoding: xchunked\r\n", CB), [400], True, b""),
    Case("te-chunkedx", post(b"Transfer-Encoding: chunkedx\r\n", CB), [400], True, b""),
    Case("te-chunked-param", post(b"Transfer-Encoding: chunked;q=1\r\n", CB), [400], True, b""),
    Case("te-quoted", post(b'Transfer-Encoding: "chunked"\r\n', CB), [400], True, b""),
    Case("te-twice", post(TE + TE, CB), [400], True, b""),
    Case("te-chunked-chunked", post(b"Transfer-Encoding: chunked, chunked\r\n", CB),
         [400], True, b""),
    Case("te-empty", post(b"Transfer-Encoding:\r\n", CB), [400], True, b""),
    Case("te-http10", b"POST /up HTTP/1.0\r\n" + TE + b"\r\n" + CB, [400], True, b""),
    Case("te-vertical-tab", post(b"Transfer-Encoding:\x0bchunked\r\n", CB), [400], True, b""),
    Case("te-space-before-colon", post(b"Transfer-Encoding : chunked\r\n", CB),
         [400], True, b""),
    Case("te-obs-fold", post(b"Transfer-Encoding:\r\n chunked\r\n", CB), [400], True, b""),
    # "_" is a tchar: another field, not framing.  No body then, and the
    # chunk bytes are a malformed next request.
    Case("te-underscore-name", post(b"Transfer_Encoding: chunked\r\n", CB), [200, 400], True,
         post(b"Transfer_Encoding: chunked\r\n")),
    # ------------------------------------------------ chunked body (7.1)
    Case("chunk-size-0x", chunked(b"0x5\r\nhello\r\n0\r\n\r\n"), [400], True,
         Prefix(H + b"0x")),
    Case("chunk-size-trailing-space", chunked(b"5 \r\nhello\r\n0\r\n\r\n"), [400], True,
         Prefix(H + b"5 \r")),
    Case("chunk-size-minus", chunked(b"-5\r\nhello\r\n0\r\n\r\n"), [400], True,
         Prefix(H + b"-")),
    Case("chunk-size-plus", chunked(b"+5\r\nhello\r\n0\r\n\r\n"), [400], True,
         Prefix(H + b"+")),
    Case("chunk-size-17-digits", chunked(b"0" * 16 + b"5\r\nhello\r\n0\r\n\r\n"),
         [400], True, Prefix(H + b"0" * 17)),
    Case("chunk-size-16-digits", chunked(b"0" * 15 + b"5\r\nhello\r\n0\r\n\r\n") + G2,
         [200, 200], False, H + b"0" * 15 + b"5\r\nhello\r\n0\r\n\r\n" + G2),
    Case("chunk-size-above-2^62", chunked(b"FFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n"),
         [400], True, Prefix(H + b"FFFFFFFFFFFFFFFF")),
    Case("chunk-size-empty", chunked(b"\r\nhello\r\n0\r\n\r\n"), [400], True,
         Prefix(H + b"\r")),
    Case("chunk-data-too-long", chunked(b"5\r\nhelloX\r\n0\r\n\r\n"), [400], True,
         Prefix(H + b"5\r\nhelloX")),
    Case("chunk-data-no-crlf", chunked(b"5\r\nhello0\r\n\r\n"), [400], True,
         Prefix(H + b"5\r\nhello0")),
    Case("chunk-data-bare-lf", chunked(b"5\r\nhello\n0\r\n\r\n"), [400], True,
         Prefix(H + b"5\r\nhello\n")),
    Case("chunk-size-bare-lf", chunked(b"5\nhello\r\n0\r\n\r\n"), [400], True,
         Prefix(H + b"5\n")),
    Case("chunk-size-bare-cr", chunked(b"5\rhello\r\n0\r\n\r\n"), [400], True,
         Prefix(H + b"5\rh")),
    Case("chunk-last-bare-lf", chunked(b"5\r\nhello\r\n0\r\n\n"), [400], True,
         Prefix(H + b"5\r\nhello\r\n0\r\n\n")),
    Case("chunk-hides-a-request",
         chunked(b"%x\r\n" % (5 + len(HIDDEN)) + b"0\r\n\r\n" + HIDDEN + b"\r\n0\r\n\r\n") + G2,
         [200, 200], False,
         H + b"%x\r\n" % (5 + len(HIDDEN)) + b"0\r\n\r\n" + HIDDEN + b"\r\n0\r\n\r\n" + G2),
    # ------------------------------------------------ chunk extensions (7.1.1)
    Case("chunk-ext", chunked(b"5;a=b\r\nhello\r\n0;c\r\n\r\n") + G2, [200, 200], False,
         H + b"5;a=b\r\nhello\r\n0;c\r\n\r\n" + G2),
    Case("chunk-ext-quoted", chunked(b'5;a="x;y\\"z"\r\nhello\r\n0\r\n\r\n') + G2,
         [200, 200], False, H + b'5;a="x;y\\"z"\r\nhello\r\n0\r\n\r\n' + G2),
    Case("chunk-ext-bws", chunked(b"5 ; a = b\r\nhello\r\n0\r\n\r\n") + G2, [200, 200], False,
         H + b"5 ; a = b\r\nhello\r\n0\r\n\r\n" + G2),
    Case("chunk-ext-huge", chunked(b"5;a=" + b"x" * 4100 + b"\r\nhello\r\n0\r\n\r\n"),
         [400], True, Prefix(H + (b"5;a=" + b"x" * 4100)[:4097])),
    Case("chunk-ext-bare-cr", chunked(b"5;a=b\rc\r\nhello\r\n0\r\n\r\n"), [400], True,
         Prefix(H + b"5;a=b\rc")),
    Case("chunk-ext-bare-lf", chunked(b"5;a\nb\r\nhello\r\n0\r\n\r\n"), [400], True,
         Prefix(H + b"5;a\n")),
    Case("chunk-ext-control-in-quote", chunked(b'5;a="\x01"\r\nhello\r\n0\r\n\r\n'),
         [400], True, Prefix(H + b'5;a="\x01')),
    # ------------------------------------------------ trailers (7.1.2)
    Case("trailer", chunked(b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n") + G2,
         [200, 200], False, H + b"5\r\nhello\r\n0\r\nX-Checksum: abc\r\n\r\n" + G2),
    Case("trailer-content-length",
         chunked(b"5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n"), [400], True,
         Prefix(H + b"5\r\nhello\r\n0\r\nContent-Length:")),
    Case("trailer-transfer-encoding",
         chunked(b"5\r\nhello\r\n0\r\ntransfer-encoding: chunked\r\n\r\n"), [400], True,
         Prefix(H + b"5\r\nhello\r\n0\r\ntransfer-encoding:")),
    Case("trailer-host", chunked(b"5\r\nhello\r\n0\r\nHost: evil\r\n\r\n"), [400], True,
         Prefix(H + b"5\r\nhello\r\n0\r\nHost:")),
    Case("trailer-connection", chunked(b"5\r\nhello\r\n0\r\nConnection: close\r\n\r\n"),
         [400], True, Prefix(H + b"5\r\nhello\r\n0\r\nConnection:")),
    Case("trailer-obs-fold", chunked(b"5\r\nhello\r\n0\r\nX: a\r\n b\r\n\r\n"), [400], True,
         Prefix(H + b"5\r\nhello\r\n0\r\nX: a\r\n ")),
    Case("trailer-space-before-colon", chunked(b"5\r\nhello\r\n0\r\nX : a\r\n\r\n"),
         [400], True, Prefix(H + b"5\r\nhello\r\n0\r\nX ")),
    Case("trailer-bare-cr", chunked(b"5\r\nhello\r\n0\r\nX: a\rb\r\n\r\n"), [400], True,
         Prefix(H + b"5\r\nhello\r\n0\r\nX: a\rb")),
    # the final CRLF missing: the next request line is read as a trailer
    Case("last-chunk-swallows-request", chunked(b"5\r\nhello\r\n0\r\n") + G2, [400], True,
         Prefix(H + b"5\r\nhello\r\n0\r\nGET ")),
    # ------------------------------------------------ the connection ends (9.6)
    Case("pipelined-after-connection-close",
         b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + G2, [200], True,
         b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
]

check_doc("smuggling.py", [c.name for c in CASES])

r = t.Backend("r", record=True)
port = t.free_port()
with t.Fulcrum(conf(port, r), name="smuggling") as fc:
    workers = fc.wait_children(1, 5.0)
    for c in CASES:
        run(port, r.rec, c)

    check_alive(fc, workers)

t.finish()
