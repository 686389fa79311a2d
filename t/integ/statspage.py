#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""statspage: the stats page of a listener (`stats = { uri; auth; refresh; }`).

Without valid basic auth it answers 401 with WWW-Authenticate; with it, an
HTML page that parses, names every server of its listener (and no other's)
with its address and state, never cached; ";csv" in HAProxy's column names;
";json"; 405 to a POST.  A stopped backend shows DOWN within ~2 s (checks
every 300 ms, fall 2) and UP again after it restarts.  Paths that merely
start like the stats URI, and a listener without `stats`, go to the servers.
"""
import base64
import csv
import io
import json
import re
import time
from html.parser import HTMLParser

import fctest as t

URI = "/fulcrum?stats"
USER, PASSWORD = "admin", "s3cret"
SECOND = "viewer:pass:with:colons"      # a second credential, ':' in it


def conf(web_port, plain_port, a, b):
    return f"""
global: {{ workers = 2; }};
defaults: {{ retries = 3;
  timeout = {{ connect = 1000; client = 10000; server = 10000;
              http_request = 5000; }}; }};
listeners = ( {{
  name = "web"; bind = [ "127.0.0.1:{web_port}" ];
  balance = "roundrobin"; httpclose = false;
  stats = {{ uri = "{URI}"; auth = [ "{USER}:{PASSWORD}", "{SECOND}" ];
            refresh = 5; }};
  check = {{ request = "HEAD /check.txt HTTP/1.0"; interval = 300;
            fall = 2; rise = 2; }};
  servers = ( {{ name = "webA"; address = "{a.addr}"; check = true; }},
              {{ name = "webB"; address = "{b.addr}"; check = true; }} );
}}, {{
  name = "plain"; bind = [ "127.0.0.1:{plain_port}" ];
  balance = "roundrobin"; httpclose = false;
  servers = ( {{ name = "plainA"; address = "{a.addr}"; }},
              {{ name = "plainB"; address = "{b.addr}"; }} );
}} );
"""


def basic(cred):
    return {"Authorization": "Basic " +
            base64.b64encode(cred.encode()).decode()}


AUTH = basic(f"{USER}:{PASSWORD}")


class Page(HTMLParser):
    """The parts of the page the checks look at: title, table rows (cells'
    text), links, meta tags, and whether every element is closed in order."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input",
            "link", "meta", "source", "track", "wbr"}

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.doctype = None
        self.title = ""
        self.rows = []              # [(tr class, [cell texts])]
        self.links = []
        self.metas = []
        self.errors = []
        self._stack = []
        self._cell = None
        self._row = None
        self.feed(text)
        self.close()
        if self._stack:
            self.errors.append(f"never closed: {self._stack}")

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "meta":
            self.metas.append(a)
        elif tag == "a":
            self.links.append(a.get("href"))
        elif tag == "tr":
            self._row = (a.get("class", ""), [])
        elif tag in ("td", "th"):
            self._cell = []
        if tag not in self.VOID:
            self._stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self._stack.pop()

    def handle_endtag(self, tag):
        if not self._stack or self._stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self._stack[-1:]}")
        else:
            self._stack.pop()
        if tag in ("td", "th") and self._cell is not None and self._row:
            self._row[1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._stack and self._stack[-1] == "title":
            self.title += data
        if self._cell is not None:
            self._cell.append(data)

    def row(self, name):
        """The cells of the row whose first cell is name, or None."""
        for cls, cells in self.rows:
            if cells and cells[0] == name:
                return cls, cells
        return None


def get_page(port, target=URI, headers=AUTH):
    st, h, body = t.http(port, "GET", target, headers=headers)
    return st, h, body


def server_state(port, name):
    """State cell of server name on the HTML page ("UP", "DOWN ...")."""
    st, h, body = get_page(port)
    if st != 200:
        return f"status {st}"
    r = Page(body.decode("utf-8", "replace")).row(name)
    return r[1][2] if r else "missing"


def wait_state(port, name, want, timeout):
    """Polls the page every 50 ms; returns (seconds until the state of name
    starts with want, or None, last state seen)."""
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < timeout:
        last = server_state(port, name)
        if last.startswith(want):
            return time.monotonic() - t0, last
        time.sleep(0.05)
    return None, last


def goes_to_backend(port, target, headers=None):
    st, h, body = t.http(port, "GET", target, headers=headers)
    return st == 200 and h.get("x-backend") in ("a", "b"), \
        f"status {st}, X-Backend {h.get('x-backend')}, body {body[:80]!r}"


a = t.Backend("a")
b = t.Backend("b")
t.note(f"backend a on {a.addr}, backend b on {b.addr}")
port, plain = t.free_port(), t.free_port()

with t.Fulcrum(conf(port, plain, a, b), name="stats") as fc:
    with t.step("no credentials, wrong ones: 401 with WWW-Authenticate"):
        st, h, body = get_page(port, headers={})
        t.note(f"status {st}, WWW-Authenticate: {h.get('www-authenticate')}")
        t.check(st == 401, "no Authorization: 401", f"status {st}")
        t.check(h.get("www-authenticate", "").startswith("Basic ") and
                'realm="fulcrum statistics"' in h.get("www-authenticate", ""),
                'WWW-Authenticate: Basic realm="fulcrum statistics"', str(h))
        t.check("no-cache" in h.get("cache-control", ""),
                "the 401 is not cached either", str(h))
        t.check("x-backend" not in h, "answered by fulcrum, not a backend",
                str(h))
        wrong = {
            "wrong password": basic(f"{USER}:s3creT"),
            "wrong user": basic(f"root:{PASSWORD}"),
            "password cut short": basic(f"{USER}:s3cre"),
            "password with more": basic(f"{USER}:{PASSWORD}x"),
            "two credentials run together": basic(f"{USER}:{PASSWORD}{SECOND}"),
            "not base64": {"Authorization": "Basic !!!!"},
            "other scheme": {"Authorization": "Bearer " +
                             AUTH["Authorization"].split()[1]},
        }
        for what, hdr in wrong.items():
            st, h, body = get_page(port, headers=hdr)
            t.check(st == 401 and "www-authenticate" in h,
                    f"{what}: 401 with WWW-Authenticate", f"status {st}")

    with t.step("right credentials: 200 and an HTML page that parses"):
        st, h, body = get_page(port)
        t.note(f"status {st}, {len(body)} bytes, headers {sorted(h)}")
        t.check(st == 200, "answered 200", f"status {st}, body {body[:200]!r}")
        t.check("x-backend" not in h, "answered by fulcrum, not a backend",
                str(h))
        t.check(h.get("content-type", "").startswith("text/html"),
                "Content-Type text/html", h.get("content-type"))
        req = (f"GET {URI} HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: {AUTH['Authorization']}\r\n"
               "Connection: close\r\n\r\n").encode()
        data, closed = t.raw_exchange(port, req)
        head, _, rest = data.partition(b"\r\n\r\n")
        m = re.search(rb"\r\ncontent-length: *(\d+)", head, re.I)
        t.check(m is not None and int(m.group(1)) == len(rest) and closed,
                "Content-Length is the length of what follows the head "
                "(raw, read until close)",
                f"{m.group(1) if m else None} vs {len(rest)}, closed {closed}")
        cc = h.get("cache-control", "")
        t.check("no-cache" in cc and "no-store" in cc,
                "Cache-Control: no-cache, no-store", cc)
        t.check(h.get("pragma") == "no-cache" and h.get("expires") == "0",
                "Pragma: no-cache, Expires: 0", str(h))
        t.check(h.get("x-content-type-options") == "nosniff",
                "X-Content-Type-Options: nosniff", str(h))
        text = body.decode("utf-8", "replace")
        page = Page(text)
        t.check(page.doctype is not None and page.doctype.lower() == "doctype html",
                "starts with <!DOCTYPE html>", repr(page.doctype))
        t.check(not page.errors, "every element is closed, in order",
                "\n".join(page.errors[:10]))
        t.check(page.title == "fulcrum \u2014 web", 'title "fulcrum \u2014 web"',
                repr(page.title))
        for name, backend in (("webA", a), ("webB", b)):
            r = page.row(name)
            t.check(r is not None, f"a table row names {name}",
                    f"rows: {[c[:2] for _, c in page.rows]}")
            if r:
                cls, cells = r
                t.check(backend.addr in cells, f"{name}'s row shows {backend.addr}",
                        str(cells))
                t.check(len(cells) > 2 and cells[2] == "UP" and "up" in cls.split(),
                        f"{name} is UP (state cell and row class)",
                        f"class {cls!r}, cells {cells}")
        t.check(page.row("plainA") is None and page.row("plainB") is None
                and "plainA" not in text,
                "servers of the other listener are not on it",
                f"rows: {[c[:1] for _, c in page.rows]}")
        refresh = [m.get("content") for m in page.metas
                   if m.get("http-equiv", "").lower() == "refresh"]
        t.check(refresh == ["5"], "<meta http-equiv=refresh content=5>",
                str(refresh))
        t.check(URI + ";csv" in page.links and URI + ";json" in page.links,
                "links to ;csv and ;json", str(page.links))

    with t.step("every configured credential is accepted, scheme in any case"):
        for what, hdr in (("second credential", basic(SECOND)),
                          ("scheme 'basic'", {"Authorization": "basic " +
                                              AUTH["Authorization"].split()[1]})):
            st, h, body = get_page(port, headers=hdr)
            t.check(st == 200, f"{what}: 200", f"status {st}")

    with t.step("10 fresh connections, spread over the 2 workers: all 200"):
        sts = [get_page(port)[0] for _ in range(10)]
        t.check(sts == [200] * 10, "10 × 200", str(sts))

    with t.step("HEAD: the headers only"):
        st, h, body = t.http(port, "HEAD", URI, headers=AUTH)
        t.check(st == 200, "answered 200", f"status {st}")
        n = int(h.get("content-length", "0"))
        t.check(n > 1000, "Content-Length of a page (> 1000)", str(n))
        req = (f"HEAD {URI} HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: {AUTH['Authorization']}\r\n"
               "Connection: close\r\n\r\n").encode()
        data, closed = t.raw_exchange(port, req)
        head, _, rest = data.partition(b"\r\n\r\n")
        t.check(head.startswith(b"HTTP/1.1 200") and rest == b"" and closed,
                "raw HEAD: 200, no byte after the head, then closed",
                f"{data[:300]!r}, closed {closed}")

    with t.step("keep-alive: the page, then a request for a backend"):
        c = t.Client(port)
        st1, h1, b1 = c.request("GET", URI, headers=AUTH)
        st2, h2, b2 = c.request("GET", "/", headers={})
        c.close()
        t.note(f"{c.connects} connection(s); Connection: {h1.get('connection')}")
        t.check(st1 == 200 and st2 == 200 and h2.get("x-backend") in ("a", "b"),
                "both answered, the second by a backend",
                f"{st1} {st2} {h2.get('x-backend')}")

    with t.step(";csv: HAProxy's columns"):
        st, h, body = get_page(port, URI + ";csv")
        t.check(st == 200, "answered 200", f"status {st}")
        t.check(h.get("content-type", "").startswith("text/csv"),
                "Content-Type text/csv", h.get("content-type"))
        t.check("no-cache" in h.get("cache-control", ""), "not cached", str(h))
        rows = list(csv.reader(io.StringIO(body.decode("utf-8", "replace"))))
        cols = rows[0] if rows else []
        t.note("columns: " + ",".join(cols[:12]) + ",...")
        t.check(cols[:2] == ["# pxname", "svname"] and "status" in cols,
                'header starts "# pxname,svname" and has "status"', str(cols))
        if cols[:2] == ["# pxname", "svname"] and "status" in cols:
            si = cols.index("status")
            srv = {r[1]: r[si] for r in rows[1:] if len(r) > si}
            t.note(f"svname → status: {srv}")
            t.check(srv.get("webA") == "UP" and srv.get("webB") == "UP",
                    "rows webA and webB, status UP", str(srv))
            t.check(all(r[0] == "web" for r in rows[1:] if r),
                    "only listener web's rows", str([r[:2] for r in rows[1:]]))

    with t.step(";json"):
        st, h, body = get_page(port, URI + ";json")
        t.check(st == 200, "answered 200", f"status {st}")
        t.check(h.get("content-type", "").startswith("application/json"),
                "Content-Type application/json", h.get("content-type"))
        try:
            doc = json.loads(body)
        except ValueError as e:
            doc = {}
            t.check(False, "parses as JSON", f"{e}: {body[:200]!r}")
        servers = doc.get("servers", []) if isinstance(doc, dict) else []
        states = {s.get("name"): s.get("state") for s in servers}
        t.note(f"servers: {states}")
        t.check(states == {"webA": "UP", "webB": "UP"},
                "servers webA and webB (only), both UP", str(states))

    with t.step("other methods: 405"):
        st, h, body = t.http(port, "POST", URI, headers=AUTH, body=b"x=1")
        t.check(st == 405, "POST: 405", f"status {st}")
        t.check(h.get("allow") == "GET, HEAD", "Allow: GET, HEAD", str(h))
        st, h, body = t.http(port, "DELETE", URI + ";json", headers=AUTH)
        t.check(st == 405, "DELETE ;json: 405", f"status {st}")

    with t.step("targets that only look like the stats URI go to a backend"):
        for target in ("/", "/fulcrum?statsX", "/fulcrumX", "/fulcrum",
                       "/fulcrum?stats;xml", "/fulcrum?stats;csv;x",
                       "/Fulcrum?stats", "/x/fulcrum?stats"):
            ok, why = goes_to_backend(port, target, headers=AUTH)
            t.check(ok, f"{target}: answered by a backend", why)

    with t.step("a listener without stats passes the URI to its servers"):
        for target in (URI, URI + ";csv"):
            ok, why = goes_to_backend(plain, target, headers=AUTH)
            t.check(ok, f"plain {target}: answered by a backend", why)

    with t.step("backend b stopped: webB DOWN on the page within 2 s"):
        b.stop()
        took, last = wait_state(port, "webB", "DOWN", 4.0)
        t.note(f"webB {last!r} after {took if took is None else round(took, 2)} s")
        t.check(took is not None and took <= 2.0, "DOWN within 2 s",
                f"{took} s, last state {last!r}")
        st, h, body = get_page(port)
        page = Page(body.decode("utf-8", "replace"))
        ra, rb = page.row("webA"), page.row("webB")
        t.check(rb is not None and "down" in rb[0].split(),
                "webB's row has class down", str(rb))
        t.check(ra is not None and ra[1][2] == "UP", "webA still UP", str(ra))
        st, h, body = get_page(port, URI + ";csv")
        rows = list(csv.reader(io.StringIO(body.decode("utf-8", "replace"))))
        si = rows[0].index("status") if rows and "status" in rows[0] else -1
        srv = {r[1]: r[si] for r in rows[1:] if si >= 0 and len(r) > si}
        t.check(srv.get("webB", "").startswith("DOWN"), ";csv says webB DOWN",
                str(srv))

    with t.step("backend b back on its port: webB UP again after rise"):
        b = t.Backend("b", port=b.port)
        took, last = wait_state(port, "webB", "UP", 4.0)
        t.note(f"webB {last!r} after {took if took is None else round(took, 2)} s")
        t.check(took is not None and took <= 2.0, "UP within 2 s",
                f"{took} s, last state {last!r}")

    t.check(fc.alive(), "master alive")

t.finish()
