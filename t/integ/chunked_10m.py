#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""chunked_10m: 10 MiB bodies stream through fulcrum intact both ways,
chunked and with Content-Length.  The backend hashes what it receives; the
test hashes what it receives and compares with the known pattern.
"""
import os
import socket
import time

import fctest as t

MIB = 1024 * 1024
SIZE = 10 * MIB

s = t.Backend("s")
port = t.free_port()
conf = f"""
global: {{ workers = 1; log = {{ facility = "local0"; }}; }};
defaults: {{ retries = 3;
  timeout = {{ connect = 2000; client = 20000; server = 20000; http_request = 5000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{port}" ];
  balance = "roundrobin"; forwardfor = true; httpclose = false;
  servers = ( {{ name = "s"; address = "{s.addr}"; weight = 1; }} );
}} );
"""


def rate(n, secs):
    return f"{n / MIB:.1f} MiB in {secs:.2f} s ({n / MIB / max(secs, 1e-6):.0f} MiB/s)"


def odd_chunks(data):
    """Cuts data into chunks of odd sizes: 1, 7, 333, 4099, 65537, 100003..."""
    sizes = [1, 7, 333, 4099, 65537, 100003, 17]
    out, pos, k = [], 0, 0
    while pos < len(data):
        n = sizes[k % len(sizes)]
        out.append(data[pos:pos + n])
        pos += n
        k += 1
    return out


def upload_reply(body):
    """"len=N sha256=HEX\\n" -> (N, HEX)."""
    fields = dict(f.split("=", 1) for f in body.decode().split())
    return int(fields["len"]), fields["sha256"]


random_body = os.urandom(SIZE)
random_sha = t.sha256(random_body)
expected_pattern_sha = t.sha256(t.pattern(SIZE))
t.note(f"random upload body: {SIZE} bytes, sha256 {random_sha}")
t.note(f"pattern body:       {SIZE} bytes, sha256 {expected_pattern_sha}")

def upload_raw_chunked(port, body):
    """POST /upload, chunked in odd sizes, written over a raw socket in sends
    of other odd sizes so that chunk and packet boundaries never line up.
    Returns (number of chunks, responses, raw bytes received)."""
    chunks = odd_chunks(body)
    wire = [b"POST /upload HTTP/1.1\r\nHost: x\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"]
    for c in chunks:
        wire.append(b"%x\r\n" % len(c) + c + b"\r\n")
    wire.append(b"0\r\n\r\n")
    blob = b"".join(wire)
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    try:
        pos, sizes, k = 0, [1, 5000, 99991, 1 << 20], 0
        while pos < len(blob):
            n = sizes[k % len(sizes)]
            sock.sendall(blob[pos:pos + n])
            pos += n
            k += 1
        buf, resp = b"", []
        while not resp:
            b = sock.recv(65536)
            if not b:
                break
            buf += b
            resp, _ = t.parse_responses(buf, eof=False)
    finally:
        sock.close()
    return len(chunks), resp, buf


def check_upload(status, body):
    if t.check(status == 200, "upload answered 200", f"status {status}"):
        n, hexd = upload_reply(body)
        t.note(f"backend: {body.decode().strip()}")
        t.check(n == SIZE, f"backend received {SIZE} bytes", f"got {n}")
        t.check(hexd == random_sha, "backend's sha256 matches", hexd)


with t.Fulcrum(conf, name="big") as fc:
    # ---------------------------------------------------------------- up
    with t.step("10 MiB chunked upload in odd-sized chunks over a raw socket"):
        t0 = time.monotonic()
        nchunks, resp, buf = upload_raw_chunked(port, random_body)
        t.note(f"{nchunks} chunks, {rate(SIZE, time.monotonic() - t0)}")
        t.check(len(resp) == 1, "one response", repr(buf[:300]))
        if resp:
            check_upload(resp[0][0], resp[0][2])

    with t.step("10 MiB Content-Length upload (http.client)"):
        t0 = time.monotonic()
        st, h, body = t.http(port, "PUT", "/upload", body=random_body,
                             headers={"Content-Type":
                                      "application/octet-stream"},
                             timeout=20)
        t.note(rate(SIZE, time.monotonic() - t0))
        check_upload(st, body)

    with t.step("10 MiB chunked upload through http.client (encode_chunked)"):
        from http import client as httpclient
        conn = httpclient.HTTPConnection("127.0.0.1", port, timeout=20)
        t0 = time.monotonic()
        try:
            conn.request("POST", "/upload", body=iter(odd_chunks(random_body)),
                         headers={"Transfer-Encoding": "chunked"},
                         encode_chunked=True)
            r = conn.getresponse()
            body = r.read()
        finally:
            conn.close()
        t.note(rate(SIZE, time.monotonic() - t0))
        check_upload(r.status, body)

    # ---------------------------------------------------------------- down
    for path, mode in (("/chunked", "chunked"), ("/bytes", "Content-Length")):
        with t.step(f"10 MiB download, {mode} ({path}?n={SIZE})"):
            t0 = time.monotonic()
            st, h, body = t.http(port, "GET", f"{path}?n={SIZE}", timeout=20)
            t.note(rate(len(body), time.monotonic() - t0))
            t.note(f"framing seen by the client: "
                   f"Transfer-Encoding={h.get('transfer-encoding')!r} "
                   f"Content-Length={h.get('content-length')!r}")
            t.check(st == 200, "answered 200", f"status {st}")
            t.check(len(body) == SIZE, f"{SIZE} bytes received",
                    f"got {len(body)}")
            got = t.sha256(body)
            t.check(got == h.get("x-body-sha256"),
                    "sha256 of the body equals X-Body-Sha256",
                    f"body {got}\nhdr  {h.get('x-body-sha256')}")
            t.check(got == expected_pattern_sha,
                    "the body is the expected pattern",
                    f"body {got}\nwant {expected_pattern_sha}")

    with t.step("keep-alive survives big bodies: 2 downloads on one "
                "connection"):
        c = t.Client(port, timeout=20)
        r1 = c.request("GET", f"/chunked?n={SIZE}")
        r2 = c.request("GET", f"/bytes?n={MIB}")
        c.close()
        t.check(c.connects == 1, "one client connection", f"{c.connects}")
        t.check(t.sha256(r1[2]) == expected_pattern_sha and
                t.sha256(r2[2]) == t.sha256(t.pattern(MIB)),
                "both bodies intact")

    t.check(fc.alive(), "fulcrum alive at the end")
    t.note("access log:\n" + fc.log_text().rstrip())

t.finish()
