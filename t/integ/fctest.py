# SPDX-License-Identifier: BSD-2-Clause
"""fctest: the small harness behind fulcrum's integration tests (stdlib only).

Each scenario in t/integ/ is a plain script that imports this module, starts
real processes on 127.0.0.1 with ephemeral ports, and reads top to bottom:

    import fctest as t
    a = t.Backend("a")
    with t.Fulcrum(conf) as fc:
        status, hdrs, body = t.http(port, "GET", "/")
        t.check(status == 200, "GET / answers 200", f"got {status}")
    t.finish()

Exit codes follow automake: 0 pass, 1 fail, 77 skip.

Paths come from the environment (set by `make check`), with defaults for a
source-tree build:
    FULCRUM         the fulcrum binary        ($FC_SRCDIR/fulcrum)
    FULCRUM_STAT    fulcrum-stat              (beside FULCRUM)
    FC_TESTBACKEND  the test backend          ($FC_SRCDIR/t/fc-testbackend)
    FC_SRCDIR       the source tree           (two levels above this file)
    FC_TEST_TIMEOUT seconds before a scenario is aborted (default 90)

Every process started here is remembered and killed by its PID at exit,
whatever way the script ends.
"""

import atexit
import hashlib
import importlib
from http import client as httpclient
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

# ------------------------------------------------------------------ paths

SRCDIR = os.environ.get("FC_SRCDIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FULCRUM = os.environ.get("FULCRUM") or os.path.join(SRCDIR, "fulcrum")
FULCRUM_STAT = os.environ.get("FULCRUM_STAT") or os.path.join(
    os.path.dirname(FULCRUM), "fulcrum-stat")
TESTBACKEND = os.environ.get("FC_TESTBACKEND") or os.path.join(
    SRCDIR, "t", "fc-testbackend")

# ------------------------------------------------------------------ results

_failed = 0
_checks = 0
_procs = []          # every Popen started here, killed at exit
_tmpdirs = []
_instances = []      # running Fulcrum objects, for logs on failure


def _out(line=""):
    print(line, flush=True)


class _Step:
    """What step() returns.  Used as a context manager, an exception inside
    the block becomes one failed check (with the traceback and the tail of
    every running fulcrum's log) and the scenario goes on after the block."""

    def __init__(self, title):
        self.title = title

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None or not issubclass(exc_type, Exception):
            return False
        detail = traceback.format_exc()
        for fc in _instances:
            detail += f"--- {fc.name} log (last 20 lines):\n"
            detail += "\n".join(fc.log_text().splitlines()[-20:]) + "\n"
        check(False, f"{self.title}: raised {exc_type.__name__}: {exc}",
              detail)
        return True


def step(title):
    """Prints a section header: what the next checks are about.
    `with step(...):` also turns an exception in the block into a failure."""
    _out("")
    _out(f"== {title}")
    return _Step(title)


def note(msg):
    """Prints a figure or a remark, not a check."""
    for line in str(msg).splitlines() or [""]:
        _out(f"   {line}")


def check(cond, msg, detail=None):
    """Records one expectation.  Prints "ok - msg" or "not ok - msg"."""
    global _failed, _checks
    _checks += 1
    if cond:
        _out(f"ok - {msg}")
    else:
        _failed += 1
        _out(f"not ok - {msg}")
    if detail is not None and (not cond or os.environ.get("FC_VERBOSE")):
        for line in str(detail).splitlines():
            _out(f"#   {line}")
    return bool(cond)


def fail(msg, detail=None):
    """A failure the scenario cannot go on after: records it and exits 1."""
    check(False, msg, detail)
    finish()


def skip(msg):
    _out(f"SKIP: {msg}")
    sys.exit(77)


def failed():
    return _failed


def finish():
    """Ends the scenario: exit 1 if any check failed, else 0."""
    _out("")
    if _failed:
        _out(f"FAIL: {_failed} of {_checks} checks failed")
        sys.exit(1)
    _out(f"PASS: {_checks} checks")
    sys.exit(0)


def require_fulcrum():
    if not os.access(FULCRUM, os.X_OK):
        skip(f"fulcrum binary not found at {FULCRUM} (build it first)")


def require_backend():
    if not os.access(TESTBACKEND, os.X_OK):
        skip(f"fc-testbackend not found at {TESTBACKEND} "
             "(make t/fc-testbackend)")


SYSTEM_PYTHON = "/usr/bin/python3"


def system_import(name):
    """The module name, or None when no interpreter here has it.  Debian's
    python3-* packages are in the system interpreter's path only: a python3
    of its own (pyenv, a venv) that lacks the module runs the scenario again
    with SYSTEM_PYTHON, once (FC_REEXEC stops a second round)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        pass
    if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) and \
            os.access(SYSTEM_PYTHON, os.X_OK) and not os.environ.get("FC_REEXEC"):
        os.environ["FC_REEXEC"] = "1"
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    return None


# ------------------------------------------------------------------ cleanup


def _cleanup():
    for p in reversed(_procs):
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
    for extra in list(_extra_pids):
        kill_ours(extra, signal.SIGKILL)
    for d in _tmpdirs:
        if _failed or os.environ.get("FC_KEEP"):
            _out(f"# files kept in {d}")
        else:
            shutil.rmtree(d, ignore_errors=True)


_extra_pids = {}       # children of fulcrum seen alive -> start time: killed at exit too
atexit.register(_cleanup)


def remember_pid(pid):
    """A process started outside spawn() (a daemon): killed at exit too."""
    st = _start_time(pid)
    if st is not None:
        _extra_pids[pid] = st


def _start_time(pid):
    """Field 22 of /proc/PID/stat (clock ticks since boot), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            s = f.read().decode("latin-1")
    except OSError:
        return None
    return int(s[s.rfind(")") + 2:].split()[19])


def kill_ours(pid, sig):
    """Signals pid only if it is still the process we saw (same start time):
    a pid that died long ago may belong to someone else's process now."""
    want = _extra_pids.get(pid)
    if want is not None and _start_time(pid) != want:
        return False
    try:
        os.kill(pid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def _on_term(sig, frame):
    _out(f"Bail out: signal {sig}")
    sys.exit(1)


def _on_alarm(sig, frame):
    global _failed
    _failed += 1
    _out("not ok - scenario finished in time (FC_TEST_TIMEOUT)")
    _out("Bail out: timeout")
    sys.exit(1)


def _excepthook(exc_type, exc, tb):
    global _failed
    if issubclass(exc_type, Exception):
        _failed += 1
        _out(f"not ok - unexpected {exc_type.__name__}: {exc}")
        for line in "".join(traceback.format_exception(exc_type, exc, tb)
                            ).splitlines():
            _out(f"#   {line}")
        _out("Bail out")
    else:
        sys.__excepthook__(exc_type, exc, tb)


sys.excepthook = _excepthook
signal.signal(signal.SIGTERM, _on_term)
signal.signal(signal.SIGALRM, _on_alarm)
signal.alarm(int(os.environ.get("FC_TEST_TIMEOUT") or "90"))


def tmpdir(prefix="fctest-"):
    """A directory removed at exit (kept when a check failed)."""
    d = tempfile.mkdtemp(prefix=prefix)
    os.chmod(d, 0o755)
    _tmpdirs.append(d)
    return d


def spawn(argv, **kw):
    """subprocess.Popen, remembered so that it is killed at exit."""
    p = subprocess.Popen(argv, **kw)
    _procs.append(p)
    return p


# ------------------------------------------------------------------ network


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def port_accepts(port, host="127.0.0.1", timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(port, timeout=5.0, proc=None, host="127.0.0.1"):
    """Waits until port accepts a connection.  False on timeout or if proc
    exited meanwhile."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_accepts(port, host):
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.02)
    return False


def port_bindable(port, host="127.0.0.1"):
    """Can a new listening socket bind host:port right now?"""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port))
        s.listen(1)
        return True
    except OSError:
        return False
    finally:
        s.close()


def http(port, method, path, headers=None, body=None, timeout=10,
         host="127.0.0.1"):
    """One request on a fresh connection.
    Returns (status, headers dict with lowercased names, body bytes)."""
    conn = httpclient.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, _hdict(resp), data
    finally:
        conn.close()


def _hdict(resp):
    d = {}
    for k, v in resp.getheaders():
        k = k.lower()
        d[k] = d[k] + ", " + v if k in d else v
    return d


class Client:
    """A keep-alive client: requests go over one TCP connection as long as the
    server keeps it.  .connects counts the TCP connections opened,
    .local_ports the client port each request went out from, peer_closed()
    tells whether the server has closed the connection since."""

    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.conn = httpclient.HTTPConnection(host, port, timeout=timeout)
        self.connects = 0
        self.local_ports = []

    def request(self, method, path, headers=None, body=None):
        if self.conn.sock is None:
            self.conn.connect()
            self.connects += 1
        self.local_ports.append(self.conn.sock.getsockname()[1])
        self.conn.request(method, path, body=body, headers=headers or {})
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, _hdict(resp), data

    def peer_closed(self, wait=1.0):
        """True when the server has closed the connection (EOF seen)."""
        sock = self.conn.sock
        if sock is None:
            return True
        sock.settimeout(wait)
        try:
            return sock.recv(1, socket.MSG_PEEK) == b""
        except socket.timeout:
            return False
        except OSError:
            return True

    def close(self):
        self.conn.close()


def raw_exchange(port, data, timeout=5.0, host="127.0.0.1", shut_wr=False):
    """Sends data in one send(), reads until the server closes or timeout.
    Returns (bytes received, closed_by_server)."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.sendall(data)
        if shut_wr:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return b"".join(chunks), False
            s.settimeout(left)
            try:
                b = s.recv(65536)
            except socket.timeout:
                return b"".join(chunks), False
            except ConnectionResetError:
                return b"".join(chunks), True
            if not b:
                return b"".join(chunks), True
            chunks.append(b)
    finally:
        s.close()


def _converse(port, data, done, timeout, linger, host):
    """Sends data in one send(), reads until done(bytes so far) says the
    answers are complete, then waits up to `linger` seconds for the server
    to close.  Returns (every byte received, closed)."""
    s = socket.create_connection((host, port), timeout=timeout)
    buf = b""
    closed = False
    try:
        s.sendall(data)
        deadline = time.monotonic() + timeout
        while True:
            if done(buf):
                deadline = min(deadline, time.monotonic() + linger)
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not b:
                closed = True
                break
            buf += b
    finally:
        s.close()
    return buf, closed


def exchange(port, data, count=1, timeout=5.0, linger=1.0,
             host="127.0.0.1"):
    """Sends data in one send(), reads until `count` complete responses have
    arrived, then waits up to `linger` seconds for the server to close.
    Returns (responses as parse_responses gives them, extra bytes, closed)."""
    buf, closed = _converse(
        port, data, lambda b: len(parse_responses(b, eof=False)[0]) >= count,
        timeout, linger, host)
    resp, rest = parse_responses(buf)
    return resp, rest, closed


def exchange_bytes(port, data, count=1, timeout=5.0, linger=0.3,
                   host="127.0.0.1", head_request=False):
    """Like exchange(), but also returns every byte received:
    (responses, raw bytes, closed).  With head_request, the responses are
    heads only (the answer to a HEAD has no body whatever it says)."""
    def parse(b, eof):
        try:
            if head_request:
                return parse_heads(b)
            return parse_responses(b, eof=eof)
        except ValueError:       # unparseable: the raw bytes tell
            return [], b

    buf, closed = _converse(port, data, lambda b: len(parse(b, False)[0]) >= count,
                            timeout, linger, host)
    return parse(buf, True)[0], buf, closed


def parse_heads(data):
    """Splits a byte stream into response heads only (answers to HEAD):
    a list of (status, headers dict, b"") and the rest."""
    out = []
    pos = 0
    while True:
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            break
        head = data[pos:end].decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3})", head[0])
        if not m:
            break
        hdrs = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            k = k.strip().lower()
            hdrs[k] = hdrs[k] + ", " + v.strip() if k in hdrs else v.strip()
        pos = end + 4
        out.append((int(m.group(1)), hdrs, b""))
    return out, data[pos:]


def raw(port, data, timeout=5.0, host="127.0.0.1"):
    """All the bytes the server sent until it closed (or timeout)."""
    return raw_exchange(port, data, timeout, host)[0]


def parse_responses(data, eof=True):
    """Splits a byte stream into HTTP/1.1 responses.
    Returns a list of (status, headers dict, body) and the unparsed rest.
    A body delimited by the close is complete only when eof is true.
    Responses to HEAD are not told apart: do not pipeline HEAD here."""
    out = []
    pos = 0
    while pos < len(data):
        start = pos
        end = data.find(b"\r\n\r\n", pos)
        if end < 0:
            break
        head = data[pos:end].decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3})", head[0])
        if not m:
            break
        status = int(m.group(1))
        hdrs = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            k = k.strip().lower()
            v = v.strip()
            hdrs[k] = hdrs[k] + ", " + v if k in hdrs else v
        pos = end + 4
        if 100 <= status < 200:
            continue
        if status in (204, 304):
            body = b""
        elif "chunked" in hdrs.get("transfer-encoding", "").lower():
            body, pos = _dechunk(data, pos)
            if body is None:
                pos = start
                break
        elif "content-length" in hdrs:
            n = int(hdrs["content-length"])
            if pos + n > len(data):
                pos = start
                break
            body = data[pos:pos + n]
            pos += n
        elif eof:
            body = data[pos:]
            pos = len(data)
        else:
            pos = start
            break
        out.append((status, hdrs, body))
    return out, data[pos:]


def _dechunk(data, pos):
    body = []
    while True:
        eol = data.find(b"\r\n", pos)
        if eol < 0:
            return None, pos
        try:
            size = int(data[pos:eol].split(b";")[0], 16)
        except ValueError:
            return None, pos
        pos = eol + 2
        if size == 0:
            while True:
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    return None, pos
                line = data[pos:eol]
                pos = eol + 2
                if not line:
                    return b"".join(body), pos
        if pos + size + 2 > len(data):
            return None, pos
        body.append(data[pos:pos + size])
        pos += size + 2


# ------------------------------------------------------------------ data

_BASE = bytes((31 * j) & 0xff for j in range(256))
_ROT = [bytes((x + k) & 0xff for x in range(256)) for k in range(256)]


def pattern(n):
    """The backend's /bytes and /chunked body: byte i = (i*31 + (i>>8)) & 0xff.
    Built per 256-byte block: block k is _BASE shifted by k (mod 256)."""
    blocks = [_BASE.translate(_ROT[k & 0xff]) for k in range((n + 255) // 256)]
    return b"".join(blocks)[:n]


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------ processes


def _proc_stat(pid):
    """(state, ppid) of pid from /proc, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            s = f.read().decode("latin-1")
    except OSError:
        return None
    rest = s[s.rfind(")") + 2:].split()
    return rest[0], int(rest[1])


def children_of(pid):
    """Live (non-zombie) children of pid, sorted."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        st = _proc_stat(int(d))
        if st and st[1] == pid and st[0] != "Z":
            kids.append(int(d))
    return sorted(kids)


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("latin-1").strip()
    except OSError:
        return ""


def title(pid):
    """Process title: /proc/PID/comm and cmdline, lowercased."""
    try:
        with open(f"/proc/{pid}/comm", "rb") as f:
            comm = f.read().decode("latin-1").strip()
    except OSError:
        comm = ""
    return (comm + " " + cmdline(pid)).lower()


def pid_alive(pid):
    st = _proc_stat(pid)
    return st is not None and st[0] != "Z"


def fds_of(pid, kind):
    """How many descriptors of a kind ("pipe", "socket") the process holds."""
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            n += os.readlink(f"/proc/{pid}/fd/{fd}").startswith(kind + ":")
        except OSError:
            pass
    return n


class Recorder:
    """The bytes a recording backend received: fc-testbackend -r DIR writes
    each TCP connection's input to DIR/conn-K.raw as it arrives (K is the
    X-Conn-Id of its responses) and creates DIR/conn-K.eof when it closes.

        m = rec.mark()
        ... traffic through the proxy ...
        got = rec.received(m)     # everything that arrived since the mark

    received() waits until nothing has arrived for `settle` seconds, so that
    "nothing at all reached the backend" can be asserted too."""

    def __init__(self, directory):
        self.dir = directory

    def _sizes(self):
        sizes = {}
        for f in os.listdir(self.dir):
            m = re.match(r"conn-(\d+)\.raw$", f)
            if m:
                try:
                    sizes[int(m.group(1))] = os.path.getsize(
                        os.path.join(self.dir, f))
                except OSError:
                    pass
        return sizes

    def mark(self):
        """Where every connection's input stands now."""
        return self._sizes()

    def conn_bytes(self, conn_id):
        """All the bytes connection conn_id received so far."""
        with open(os.path.join(self.dir, f"conn-{conn_id}.raw"), "rb") as f:
            return f.read()

    def conns(self):
        """Ids of every connection accepted so far, in order."""
        return sorted(self._sizes())

    def closed(self, conn_id):
        """True once connection conn_id is closed (by either side)."""
        return os.path.exists(os.path.join(self.dir, f"conn-{conn_id}.eof"))

    def wait_closed(self, conn_id, timeout=2.0):
        deadline = time.monotonic() + timeout
        while not self.closed(conn_id) and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.closed(conn_id)

    def since(self, mark, settle=0.15, timeout=5.0, want=None):
        """[(conn id, bytes received since mark)] for every connection that
        received something, by connection id.  Returns once nothing changed
        for `settle` seconds (and, when want is given, once the bytes joined
        equal want), or after timeout."""
        deadline = time.monotonic() + timeout
        last, stable_since = None, time.monotonic()
        while True:
            now = self._sizes()
            if now != last:
                last, stable_since = now, time.monotonic()
            got = [(k, n - mark.get(k, 0)) for k, n in sorted(now.items())
                   if n > mark.get(k, 0)]
            quiet = time.monotonic() - stable_since >= settle
            if quiet and want is not None:
                quiet = self._join(got, mark) == want
            if quiet or time.monotonic() >= deadline:
                return [(k, self.conn_bytes(k)[mark.get(k, 0):])
                        for k, _ in got]
            time.sleep(0.02)

    def _join(self, got, mark):
        return b"".join(self.conn_bytes(k)[mark.get(k, 0):] for k, _ in got)

    def received(self, mark, settle=0.15, timeout=5.0, want=None):
        """The bytes received since mark, on every connection, joined in
        connection order (see since())."""
        return b"".join(b for _, b in self.since(mark, settle, timeout, want))


class Backend:
    """fc-testbackend on 127.0.0.1:<free port>, answering as `name`.
    record=True: it records what it receives (self.rec, a Recorder)."""

    def __init__(self, name, port=None, record=False):
        require_backend()
        self.name = name
        self.rec = None
        extra = []
        if record:
            self.rec = Recorder(tmpdir(f"fctest-rec-{name}-"))
            extra = ["-r", self.rec.dir]
        for attempt in range(5):
            self.port = port or free_port()
            self.addr = f"127.0.0.1:{self.port}"
            self.proc = spawn([TESTBACKEND, "-l", self.addr, "-n", name] + extra,
                              stdout=subprocess.DEVNULL)
            if wait_port(self.port, 5.0, self.proc):
                return
            self.stop()
            if port:
                break
        fail(f"backend {name} listens on {self.addr}")

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


class Fulcrum:
    """fulcrum -d -f <conf> in a temporary directory.

    The configuration text is written as is.  The ports to wait for are read
    from its bind = [ ... ] lines unless given.  The log (stdout and stderr)
    goes to <dir>/<name>.log."""

    def __init__(self, conf_text, name="fulcrum", ports=None, wait=True,
                 timeout=5.0, prefix=None):
        require_fulcrum()
        self.name = name
        self.dir = tmpdir(f"fctest-{name}-")
        self.conf_path = os.path.join(self.dir, f"{name}.conf")
        self.log_path = os.path.join(self.dir, f"{name}.log")
        with open(self.conf_path, "w") as f:
            f.write(conf_text)
        if ports is None:
            ports = bind_ports(conf_text)
        self.ports = ports
        self.known_children = set()
        busy = [p for p in ports if port_accepts(p)]
        if busy:
            fail(f"fulcrum {name}: bind ports free before start",
                 f"already accepting: {busy}")
        _instances.append(self)
        self._log = open(self.log_path, "wb")
        self.t_start = time.monotonic()
        if VALGRIND:
            timeout *= 10
        # prefix: ["ip", "netns", "exec", NS] runs it in a namespace (the
        # master keeps its pid: ip execs it); pass ports=[] then.
        argv = [FULCRUM, "-d", "-f", self.conf_path]
        self.proc = spawn((prefix or []) + (VALGRIND_ARGV if VALGRIND else []) + argv,
                          stdout=self._log, stderr=subprocess.STDOUT,
                          stdin=subprocess.DEVNULL, start_new_session=True)
        if not wait:
            return
        deadline = time.monotonic() + timeout
        for p in ports:
            if not wait_port(p, max(0.0, deadline - time.monotonic()),
                             self.proc):
                why = ("exited with status %s" % self.proc.returncode
                       if self.proc.poll() is not None else
                       f"port {p} does not accept after {timeout} s")
                fail(f"fulcrum {name} starts", why + "\n--- log:\n" +
                     self.log_text())
        if self.proc.poll() is not None:
            fail(f"fulcrum {name} starts",
                 f"exited with status {self.proc.returncode}\n--- log:\n" +
                 self.log_text())
        # The master binds the ports before it forks: a port that accepts
        # does not mean the workers are there yet (a loaded CI box showed
        # worker_pids() == [] right after the start).
        self.wait_children(1, timeout)

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def children(self):
        """Every live child of the master, sorted by pid."""
        return children_of(self.proc.pid)

    def worker_pids(self):
        """The master's workers: children named fulcrum-wN (the checker is
        fulcrum-c0, the ha process fulcrum-h0)."""
        return [k for k in self.children() if re.match(r"fulcrum-w\d", title(k))]

    def ha_pids(self):
        return [k for k in self.children() if re.match(r"fulcrum-h\d", title(k))]

    def checker_pids(self):
        return [k for k in self.children() if re.match(r"fulcrum-c\d", title(k))]

    def remember_children(self):
        kids = self.children()
        for k in kids:
            st = _start_time(k)
            if st is not None:
                _extra_pids[k] = st
        self.known_children.update(kids)
        return kids

    def wait_children(self, n, timeout=5.0):
        """Waits until the master has at least n workers and its checker;
        returns the workers (children() gives them all)."""
        deadline = time.monotonic() + timeout
        while True:
            self.remember_children()
            workers = self.worker_pids()
            if (len(workers) >= n and self.checker_pids()) or \
                    time.monotonic() >= deadline:
                return workers
            time.sleep(0.02)

    def wait_named(self, timeout):
        """Waits until every child of the master has taken its fulcrum-xN
        name: one forked a moment ago still carries the master's."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            comms = [title(k).split(" ")[0] for k in self.children()]
            if all(re.fullmatch(r"fulcrum-[a-z]\d+", c) for c in comms):
                return
            time.sleep(0.02)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_log(self, regex, timeout=5.0):
        """Waits until the log matches regex; returns the match or None."""
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(regex, self.log_text())
            if m or time.monotonic() >= deadline:
                return m
            time.sleep(0.05)

    def signal(self, sig):
        os.kill(self.proc.pid, sig)

    def stat_json(self, timeout=10):
        """fulcrum-stat -f <conf> --json, parsed."""
        p = subprocess.run([FULCRUM_STAT, "-f", self.conf_path, "--json"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, timeout=timeout)
        if p.returncode != 0:
            raise AssertionError(f"fulcrum-stat --json exited {p.returncode}: "
                                 + p.stderr.decode("utf-8", "replace"))
        return json.loads(p.stdout)

    def reload(self, conf_text=None, timeout=5.0):
        """Rewrites the config file with conf_text (if given), sends USR2 and
        waits for the master's verdict in the log.  Returns the number of the
        generation it started, or None when it logged "reload failed"."""
        if conf_text is not None:
            with open(self.conf_path, "w") as f:
                f.write(conf_text)
        seen = len(self.log_text())
        self.signal(signal.SIGUSR2)
        deadline = time.monotonic() + timeout
        while True:
            m = re.search(r"generation (\d+) started|reload failed",
                          self.log_text()[seen:])
            if m and m.group(1):
                # The master logs "started" once it has forked; each child
                # takes its fulcrum-xN name just after (a loaded CI box saw
                # one checker, not two, right after the verdict).
                self.wait_named(deadline - time.monotonic())
                return int(m.group(1))
            if m:
                return None
            if time.monotonic() >= deadline:
                raise AssertionError(f"no verdict on the reload in {timeout} s")
            time.sleep(0.02)

    def wait_settled(self, nworkers, timeout=8.0):
        """After a reload: waits until the master's children are exactly the
        current generation's nworkers workers (the pids fulcrum-stat lists)
        and one checker -- the old generations are gone.  Returns the
        workers' pids, or None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            self.remember_children()
            workers = self.worker_pids()
            current = sorted(w["pid"] for w in self.stat_json()["workers"])
            if (len(workers) == nworkers and workers == current and
                    len(self.checker_pids()) == 1 and
                    len(self.children()) == nworkers + 1):
                return workers
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def server_requests(self, listener, name):
        """Requests relayed to server listener/name, from fulcrum-stat."""
        for sv in self.stat_json()["servers"]:
            if sv["listener"] == listener and sv["name"] == name:
                return sv["counters"]["requests"]
        raise AssertionError(f"no server {listener}/{name} in fulcrum-stat")

    def wait_exit(self, timeout):
        """Waits for the master to exit; returns its status or None."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, quiet=False):
        """SIGTERM, wait up to 5 s, then SIGKILL.  Checks that no child is
        left.  Returns the seconds the master took to exit, or None."""
        if self.alive():
            self.remember_children()
        kids = sorted(self.known_children)
        took = None
        if self.alive():
            t0 = time.monotonic()
            os.kill(self.proc.pid, signal.SIGTERM)
            if self.wait_exit(5.0) is None:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                if not quiet:
                    check(False, f"fulcrum {self.name} exits on SIGTERM "
                          "within 5 s")
            else:
                took = time.monotonic() - t0
        deadline = time.monotonic() + 2.0
        left = [k for k in kids if pid_alive(k)]
        while left and time.monotonic() < deadline:
            time.sleep(0.02)
            left = [k for k in left if pid_alive(k)]
        if left:
            for k in left:
                kill_ours(k, signal.SIGKILL)
            if not quiet:
                check(False, f"no child of fulcrum {self.name} outlives it",
                      f"still alive: {left}")
        self._log.close()
        if self in _instances:
            _instances.remove(self)
        self.check_sanitizers()
        return took

    def check_sanitizers(self):
        """Under --enable-sanitizers, any ASan/UBSan/LSan report in the log of
        any fulcrum process (master or worker) fails the test."""
        text = self.log_text()
        hits = [l for l in text.splitlines()
                if SANITIZER_RE.search(l)]
        check(not hits, f"no sanitizer report in the log of fulcrum {self.name}",
              "\n".join(hits[:10]) if hits else None)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None and exc_type is not SystemExit:
            _out(f"--- {self.name} log:")
            _out(self.log_text())
        self.stop(quiet=exc_type is not None)
        return False

    def dump_log(self, title=None):
        _out(f"--- {title or self.name + ' log'}:")
        _out(self.log_text().rstrip())
        _out("---")


SANITIZER_RE = re.compile(r"ERROR: AddressSanitizer|ERROR: LeakSanitizer|"
                          r"runtime error:|UndefinedBehaviorSanitizer|"
                          r"==\d+== ERROR SUMMARY: [1-9]|==\d+== (Invalid |"
                          r"Conditional jump|Use of uninitialised|Syscall param)|"
                          r"definitely lost: [1-9]")

# make check-valgrind: every fulcrum process runs under valgrind (it follows
# the master's forks); errors and definite leaks show in the log above.
VALGRIND = os.environ.get("FC_VALGRIND") == "1"
VALGRIND_ARGV = ["valgrind", "-q", "--leak-check=full", "--show-leak-kinds=definite",
                 "--errors-for-leak-kinds=definite", "--error-exitcode=99",
                 "--soname-synonyms=somalloc=*jemalloc*", "--track-fds=no",
                 "--suppressions=" + os.path.join(SRCDIR, "t", "valgrind.supp")]


def bind_ports(conf_text):
    """Ports of every bind = [ "host:port", ... ] in a config text."""
    ports = []
    for m in re.finditer(r"\bbind\s*=\s*\[([^\]]*)\]", conf_text):
        for a in re.findall(r'"([^"]*)"', m.group(1)):
            ports.append(int(a.rsplit(":", 1)[1]))
    return ports


def run(argv, timeout=10, **kw):
    """Runs a command to completion; returns (status, stdout+stderr text)."""
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=timeout, **kw)
    return p.returncode, p.stdout.decode("utf-8", "replace")


# ------------------------------------------------------------------ netns
#
# A LAN of network namespaces for the HA tests (see netns.md): every host
# has eth0 on a bridge that lives in a namespace of its own, all names carry
# a per-run suffix, and everything is torn down at exit, failed or not.

NETNS_DIR = "/run/netns"
_CLONE_NEWNET = 0x40000000


def require_netns():
    """Skips the scenario unless we are root and `ip netns` works."""
    if os.geteuid() != 0:
        skip("network namespaces need root")
    if shutil.which("ip") is None:
        skip("ip (iproute2) not found: cannot build network namespaces")
    probe = f"fcprobe-{os.getpid()}"
    st, out = run(["ip", "netns", "add", probe])
    if st != 0:
        skip(f"ip netns unavailable: {out.strip()}")
    run(["ip", "netns", "del", probe])


class Lab:
    """hosts: {"lb1": "192.0.2.11/24", ...}.  Each host is a namespace
    NAME-SUFFIX with lo and eth0 up; the bridge is in sw-SUFFIX, its port
    to host h is v-h."""

    def __init__(self, hosts):
        import ctypes
        self._libc = ctypes.CDLL(None, use_errno=True)
        self.suffix = f"{os.getpid()}"
        self.sw = f"sw-{self.suffix}"
        self.hosts = dict(hosts)
        self.procs = []
        self.made = []
        atexit.register(self.teardown)
        self._ip("netns", "add", self.sw)
        self.made.append(self.sw)
        self._ip("-n", self.sw, "link", "add", "br0", "type", "bridge")
        self._ip("-n", self.sw, "link", "set", "br0", "up")
        for h, addr in self.hosts.items():
            ns = self.ns(h)
            self._ip("netns", "add", ns)
            self.made.append(ns)
            self._ip("-n", self.sw, "link", "add", f"v-{h}", "type", "veth",
                     "peer", "name", "eth0", "netns", ns)
            self._ip("-n", self.sw, "link", "set", f"v-{h}", "master", "br0",
                     "up")
            self._ip("-n", ns, "link", "set", "lo", "up")
            self._ip("-n", ns, "link", "set", "eth0", "up")
            self._ip("-n", ns, "addr", "add", addr, "dev", "eth0")

    def _ip(self, *args):
        st, out = run(["ip"] + list(args))
        if st != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {out.strip()}")
        return out

    def ns(self, host):
        return f"{host}-{self.suffix}"

    def ip(self, host, *args):
        """`ip -n HOST ARGS`; returns its output, raises on failure."""
        return self._ip("-n", self.ns(host), *args)

    def exec_prefix(self, host):
        return ["ip", "netns", "exec", self.ns(host)]

    def spawn(self, host, argv, **kw):
        """A process inside host's namespace, killed at exit by its pid."""
        p = spawn(self.exec_prefix(host) + argv, **kw)
        self.procs.append(p)
        return p

    def addrs(self, host):
        """IPv4 addresses on host's eth0."""
        out = self.ip(host, "-4", "-o", "addr", "show", "dev", "eth0")
        return re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", out)

    def isolate(self, host, on):
        """Isolated bridge ports cannot talk to each other, only to the rest."""
        self._ip("netns", "exec", self.sw, "bridge", "link", "set", "dev",
                 f"v-{host}", "isolated", "on" if on else "off")

    def socket(self, host, *args):
        """socket.socket(*args) created inside host's namespace: the thread
        enters it, makes the socket, and comes back (a socket stays in the
        namespace it was made in)."""
        mine = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        there = os.open(os.path.join(NETNS_DIR, self.ns(host)), os.O_RDONLY)
        try:
            if self._libc.setns(there, _CLONE_NEWNET) != 0:
                raise OSError(ctypes_errno(), "setns")
            try:
                return socket.socket(*args)
            finally:
                if self._libc.setns(mine, _CLONE_NEWNET) != 0:
                    raise OSError(ctypes_errno(), "setns back")
        finally:
            os.close(mine)
            os.close(there)

    def http(self, host, addr, port=80, path="/", timeout=2.0):
        """GET path from inside host; returns (status, body) or raises."""
        st, _, body = self.http_full(host, addr, port, path, timeout)
        return st, body

    def http_full(self, host, addr, port=80, path="/", timeout=2.0, headers=""):
        """GET path from inside host with extra header lines ("Name: v\\r\\n");
        returns (status, headers dict, body) or raises."""
        s = self.socket(host, socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.settimeout(timeout)
            s.connect((addr, port))
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}"
                      "Connection: close\r\n\r\n".encode())
            data = b""
            deadline = time.monotonic() + timeout
            while True:
                s.settimeout(max(0.001, deadline - time.monotonic()))
                b = s.recv(65536)
                if not b:
                    break
                data += b
                resp, _ = parse_responses(data, eof=False)
                if resp:
                    return resp[0]
            resp, _ = parse_responses(data)
            if not resp:
                raise OSError("no HTTP response")
            return resp[0]
        finally:
            s.close()

    def teardown(self):
        # fulcrum instances first (by the pids we know), then the rest.
        for fc in list(_instances):
            if fc.proc.poll() is None:
                os.kill(fc.pid, signal.SIGKILL)
            for pid in sorted(fc.known_children):
                kill_ours(pid, signal.SIGKILL)
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGKILL)
                    p.wait(timeout=5)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass
        for ns in reversed(self.made):
            run(["ip", "netns", "del", ns])
        self.made = []


def ctypes_errno():
    import ctypes
    return ctypes.get_errno()
