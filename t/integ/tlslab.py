# SPDX-License-Identifier: BSD-2-Clause
"""tlslab: certificates and TLS clients for the t/integ/tls*.py scenarios.

Certificates are made at run time with the openssl command, in a directory
of the scenario's:

    ca = tl.CA(d, "fulcrum test CA")
    www = ca.issue("www", "www.test")                 # EC P-256, SAN www.test
    rsa = ca.issue("rsa", "both.test", kind="rsa")     # RSA 2048
    cli = ca.issue("alice", "alice", usage="client")
    www.pem                      # chain then key: what `certs = [ ... ]` reads

Clients, each bounded in time:

    h = tl.s_client(port, servername="www.test", args=["-tls1_2"])
    h.ok, h.protocol, h.cipher, h.reused, h.subject, h.cert_pem, h.alpn
    h = tl.s_client(port, request=tl.get("/"))        # h.responses: HTTP answers
    c = tl.TLSClient(port, tl.context(ca.cert), "www.test")   # python ssl,
    c.request("GET", "/echo")                         # keep-alive, pipelining
    tl.curl(port, "www.test", "/", cacert=ca.cert, args=["--tlsv1.3"])

require_tools() skips the scenario (exit 77) when openssl or curl is missing.
"""
import os
import re
import shutil
import socket
import ssl
import subprocess
import time

import fctest as t

OPENSSL = shutil.which("openssl")
CURL = shutil.which("curl")


def require_tools(curl=True):
    if OPENSSL is None:
        t.skip("the openssl command is not installed (apt-get install openssl)")
    if curl and CURL is None:
        t.skip("curl is not installed (apt-get install curl)")


def openssl(*args, timeout=60):
    """Runs `openssl ARGS`; returns its output, raises when it fails."""
    st, out = t.run([OPENSSL, *args], timeout=timeout)
    if st != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: exit {st}\n{out}")
    return out


# ------------------------------------------------------------------ certificates

_serial = [int(time.time() * 1000) % 10**12]


def _next_serial():
    _serial[0] += 1
    return _serial[0]


def _newkey(kind):
    if kind == "ec":
        return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
    if kind == "rsa":
        return ["-newkey", "rsa:2048"]
    raise ValueError(kind)


def _subj(cn, org):
    return f"/CN={cn}" + (f"/O={org}" if org else "")


class Cert:
    """A certificate in files: .cert (PEM), .key (PEM), .pem (certificate
    chain then key, as fulcrum's certs = [...] reads it); .subject, .serial
    (int), .cert_pem (the certificate's PEM text, to compare with what a
    client received)."""

    def __init__(self, directory, base, cn, org, serial):
        self.base = base
        self.cert = os.path.join(directory, base + ".crt")
        self.key = os.path.join(directory, base + ".key")
        self.pem = os.path.join(directory, base + ".pem")
        self.cn = cn
        self.org = org
        self.serial = serial
        with open(self.cert) as f:
            self.cert_pem = f.read()
        with open(self.key) as f:
            key = f.read()
        with open(self.pem, "w") as f:
            f.write(self.cert_pem + key)
        self.subject = openssl("x509", "-in", self.cert, "-noout",
                               "-subject").strip()

    def __repr__(self):
        return f"<{self.base}: {self.subject}, serial {self.serial}>"


def same_cert(pem_a, pem_b):
    """True when two PEM texts hold the same (first) certificate."""
    def body(p):
        m = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----",
                      p or "", re.S)
        return re.sub(r"\s", "", m.group(1)) if m else None
    a = body(pem_a)
    return a is not None and a == body(pem_b)


def which_cert(pem, certs):
    """The Cert of certs whose certificate pem is, or None."""
    for c in certs:
        if same_cert(pem, c.cert_pem):
            return c
    return None


def _ext_file(path, sans, usage):
    lines = ["basicConstraints = critical, CA:FALSE",
             "subjectKeyIdentifier = hash",
             "authorityKeyIdentifier = keyid, issuer",
             "extendedKeyUsage = " + ("clientAuth" if usage == "client"
                                      else "serverAuth")]
    if sans:
        lines.append("subjectAltName = " + ", ".join(f"DNS:{s}" for s in sans))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


class CA:
    """A self-signed certificate authority (EC P-256 unless kind="rsa") in
    directory: .cert, .key.  issue() signs leaf certificates with it."""

    def __init__(self, directory, name, kind="ec"):
        self.dir = directory
        base = re.sub(r"\W+", "-", name).strip("-").lower()
        self.cert = os.path.join(directory, base + ".crt")
        self.key = os.path.join(directory, base + ".key")
        openssl("req", "-x509", *_newkey(kind), "-nodes", "-keyout", self.key,
                "-out", self.cert, "-days", "3", "-subj", f"/CN={name}",
                "-set_serial", str(_next_serial()),
                "-addext", "basicConstraints = critical, CA:TRUE",
                "-addext", "keyUsage = critical, keyCertSign, cRLSign")
        self.name = name

    def issue(self, base, cn, sans=None, kind="ec", usage="server", org=None):
        """A certificate for cn (SAN: sans, default [cn]; none for a client
        certificate unless given), signed by this CA, in DIR/base.{crt,key,pem}."""
        d = self.dir
        key = os.path.join(d, base + ".key")
        csr = os.path.join(d, base + ".csr")
        ext = os.path.join(d, base + ".ext")
        crt = os.path.join(d, base + ".crt")
        if sans is None:
            sans = [cn] if usage == "server" else []
        openssl("req", "-new", *_newkey(kind), "-nodes", "-keyout", key,
                "-out", csr, "-subj", _subj(cn, org))
        _ext_file(ext, sans, usage)
        serial = _next_serial()
        openssl("x509", "-req", "-in", csr, "-CA", self.cert, "-CAkey", self.key,
                "-set_serial", str(serial), "-days", "3", "-sha256",
                "-extfile", ext, "-out", crt)
        return Cert(d, base, cn, org, serial)


def self_signed(directory, base, cn, sans=None, kind="ec", org=None):
    """A self-signed server certificate for cn (SAN: sans, default [cn])."""
    key = os.path.join(directory, base + ".key")
    crt = os.path.join(directory, base + ".crt")
    serial = _next_serial()
    sans = sans or [cn]
    openssl("req", "-x509", *_newkey(kind), "-nodes", "-keyout", key,
            "-out", crt, "-days", "3", "-subj", _subj(cn, org),
            "-set_serial", str(serial),
            "-addext", "subjectAltName = " + ", ".join(f"DNS:{s}" for s in sans))
    return Cert(directory, base, cn, org, serial)


# ------------------------------------------------------------------ openssl s_client


def get(path="/", host="x", close=True, extra=""):
    """A request head, as bytes; Connection: close unless close is False."""
    return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}" +
            ("Connection: close\r\n" if close else "") + "\r\n").encode()


class Handshake:
    """What one `openssl s_client` run printed, parsed.

    ok          a TLS session was established (exit 0, a protocol and a cipher)
    protocol    "TLSv1.2", "TLSv1.3" (None when no session)
    cipher      the cipher's OpenSSL name
    reused      the "Reused, ..." line: the session was resumed
    subject     the "subject=" line's value (the server certificate)
    cert_pem    the server certificate's PEM
    alpn        the ALPN protocol, or None ("No ALPN negotiated")
    sigtype     "Peer signature type" (RSA-PSS, ECDSA, ...)
    responses   HTTP responses in the output (t.parse_responses)
    out, err    the raw stdout and stderr"""

    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err
        # "New, TLSv1.0, Cipher is X" names the cipher's own first version,
        # not the one negotiated: that is the session's "Protocol  :" line.
        m = re.search(r"^(New|Reused), (\S+), Cipher is (\S+)", out, re.M)
        self.reused = bool(m and m.group(1) == "Reused")
        self.cipher = m.group(3) if m and m.group(3) != "(NONE)" else None
        # (A TLS 1.3 session that ends before any ticket has no such line:
        # the cipher's version is then TLSv1.3 anyway.)
        p = re.search(r"^\s+Protocol\s*: (\S+)", out, re.M)
        self.protocol = None
        if self.cipher:
            self.protocol = p.group(1) if p else m.group(2)
        self.ok = rc == 0 and self.protocol is not None and self.cipher is not None
        m = re.search(r"^subject=(.*)$", out, re.M)
        self.subject = m.group(1).strip() if m else None
        m = re.search(r"Server certificate\s*\n(-----BEGIN CERTIFICATE-----.*?"
                      r"-----END CERTIFICATE-----)", out, re.S)
        self.cert_pem = m.group(1) if m else None
        m = re.search(r"^ALPN protocol: (\S+)", out, re.M)
        self.alpn = m.group(1) if m else None
        m = re.search(r"^Peer signature type: (\S+)", out, re.M)
        self.sigtype = m.group(1) if m else None
        i = out.find("HTTP/1.")
        raw = out[i:].encode("latin-1") if i >= 0 else b""
        try:
            self.responses = t.parse_responses(raw)[0]
        except ValueError:
            self.responses = []

    def status(self):
        """The first HTTP response's status, or None."""
        return self.responses[0][0] if self.responses else None

    def summary(self):
        return (f"exit {self.rc}, {'reused' if self.reused else 'new'} "
                f"{self.protocol} {self.cipher}, subject {self.subject!r}, "
                f"alpn {self.alpn}, http {[r[0] for r in self.responses]}")

    def tail(self, n=12):
        """The last lines of stderr and stdout, for a failure's detail."""
        return ("stderr:\n  " + "\n  ".join(self.err.strip().splitlines()[-n:]) +
                "\nstdout:\n  " + "\n  ".join(self.out.strip().splitlines()[-n:]))


def s_client(port, args=(), servername=None, request=None, timeout=10):
    """openssl s_client -connect 127.0.0.1:port.  No servername: no SNI
    (-noservername).  request: bytes written once the session is up
    (-ign_eof: s_client then reads until the server closes, so ask for
    Connection: close); without it s_client quits right after the handshake.
    Returns a Handshake."""
    argv = [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}"]
    argv += ["-servername", servername] if servername else ["-noservername"]
    if request is not None:
        argv.append("-ign_eof")
    argv += list(args)
    try:
        p = subprocess.run(argv, input=request or b"", stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return Handshake(-1, (e.stdout or b"").decode("latin-1"),
                         (e.stderr or b"").decode("latin-1") +
                         f"\n(s_client killed after {timeout} s)")
    return Handshake(p.returncode, p.stdout.decode("latin-1"),
                     p.stderr.decode("latin-1"))


def s_server(cert, args=(), www=True):
    """openssl s_server on 127.0.0.1:<free port> with cert (a Cert), -www
    (answers GET / with a status page); args added.  Returns (process, port),
    the process tracked by pid (killed at exit)."""
    for _ in range(5):
        port = t.free_port()
        p = t.spawn([OPENSSL, "s_server", "-accept", f"127.0.0.1:{port}",
                     "-cert", cert.cert, "-key", cert.key, "-naccept", "50",
                     *(["-www"] if www else []), *args],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL)
        if t.wait_port(port, 5.0, p):
            return p, port
        stop(p)
    t.fail("openssl s_server listens")


def stop(p):
    """Ends a process this scenario started (by its pid)."""
    if p.poll() is None:
        p.kill()
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


# ------------------------------------------------------------------ curl


def curl(port, name, path="/", cacert=None, args=(), timeout=10):
    """curl https://name:port/path with name resolved to 127.0.0.1 (so SNI
    is name), HTTP/1.1.  Returns (exit status, [responses], TLS version or
    None, stderr)."""
    argv = [CURL, "-sS", "-v", "-i", "--http1.1", "--max-time", str(timeout),
            "--resolve", f"{name}:{port}:127.0.0.1"]
    if cacert:
        argv += ["--cacert", cacert]
    argv += list(args) + [f"https://{name}:{port}{path}"]
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, timeout=timeout + 5)
    except subprocess.TimeoutExpired:
        return -1, [], None, f"curl killed after {timeout + 5} s"
    err = p.stderr.decode("latin-1")
    m = re.search(r"SSL connection using (TLSv[\d.]+)", err)
    try:
        resp = t.parse_responses(p.stdout)[0]
    except ValueError:
        resp = []
    return p.returncode, resp, m.group(1) if m else None, err


# ------------------------------------------------------------------ python ssl


def context(cafile=None, version=None, cert=None, alpn=None):
    """A client SSLContext.  cafile: verify the server against it (and its
    name); None: accept any certificate.  version "1.2" / "1.3": that one
    only.  cert: a Cert to present.  alpn: a list of protocols."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if version == "1.2":
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif version == "1.3":
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    if cert:
        ctx.load_cert_chain(cert.cert, cert.key)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


class TLSClient:
    """One TLS connection to 127.0.0.1:port (python ssl), for keep-alive
    and pipelining.  server_name: SNI (and the name verified when the
    context verifies).  Raises ssl.SSLError / OSError when the handshake
    fails."""

    def __init__(self, port, ctx=None, server_name=None, timeout=5.0):
        self.timeout = timeout
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        try:
            self.sock = (ctx or context()).wrap_socket(raw, server_hostname=server_name)
        except BaseException:
            raw.close()
            raise
        self.buf = b""

    def version(self):
        return self.sock.version()

    def peer_pem(self):
        return ssl.DER_cert_to_PEM_cert(self.sock.getpeercert(binary_form=True))

    def send(self, data):
        self.sock.sendall(data)

    def read_responses(self, count, timeout=None):
        """Reads until count responses are complete (or the server closes,
        or timeout); returns the responses parsed so far."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            resp, rest = t.parse_responses(self.buf, eof=False)
            if len(resp) >= count:
                self.buf = rest
                return resp
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.sock.settimeout(left)
            try:
                b = self.sock.recv(65536)
            except socket.timeout:
                break
            if not b:
                break
            self.buf += b
        resp, self.buf = t.parse_responses(self.buf)
        return resp

    def request(self, method, path, headers=None, host="x"):
        """One request; returns (status, headers, body); raises if no
        complete response comes."""
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.send(f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode())
        resp = self.read_responses(1)
        if not resp:
            raise OSError(f"no response to {method} {path}")
        return resp[0]

    def peer_closed(self, wait=1.0):
        """True when the server closed the connection (EOF or reset)."""
        self.sock.settimeout(wait)
        try:
            b = self.sock.recv(65536)
        except socket.timeout:
            return False
        except (ssl.SSLError, OSError):
            return True
        if b:
            self.buf += b
            return False
        return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def https(port, path="/", ctx=None, server_name=None, headers=None, timeout=5.0):
    """One GET on a fresh TLS connection: (status, headers, body).  Raises
    on a failed handshake or no response."""
    c = TLSClient(port, ctx, server_name, timeout)
    try:
        return c.request("GET", path, dict(headers or {}, Connection="close"))
    finally:
        c.close()


def client_hello(server_name="www.test"):
    """The bytes of a TLS ClientHello, as python's ssl would send it."""
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = context().wrap_bio(inc, out, server_hostname=server_name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return out.read()


def header_lines(head, name):
    """The values of every `name:` line of a raw request head (what the
    test backend's /echo returns)."""
    if isinstance(head, bytes):
        head = head.decode("latin-1")
    return [ln.split(":", 1)[1].strip() for ln in head.split("\r\n")
            if ln.lower().startswith(name.lower() + ":")]
