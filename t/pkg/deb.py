#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""deb: what the Debian package holds, unpacked into a throwaway root.

    python3 t/pkg/deb.py deb/fulcrum_VERSION_ARCH.deb    (make check-deb)

- dpkg -x puts the programs, the unit in systemd's directory, the manual
  pages, the sample as a conffile, /etc/default/fulcrum, the rsyslog
  snippet, the logrotate file and the examples where Debian wants them;
- the unit runs the installed /usr/sbin/fulcrum, with the sample;
- the installed fulcrum -c passes on the installed sample once the
  "fulcrum" user and group exist (what the postinst creates: here in a
  private mount namespace, with a copy of /etc/passwd and /etc/group,
  so the host is untouched), and names the user when they do not;
- the sample ships no working stats password (the auth line is commented);
- the maintainer scripts, run for real in a private mount namespace,
  create the system user and group, enable the unit, start it only when
  fulcrum -c passes (an upgrade with a broken file restarts nothing), keep
  the state on remove and delete it on purge, keeping the user;
- lintian reports no error.
Needs root (the mount namespace) and dpkg; lintian when installed.
"""
import glob
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile

failed = 0


def check(cond, msg, detail=""):
    global failed
    print(("ok - " if cond else "not ok - ") + msg)
    if not cond:
        failed += 1
        if detail:
            print("  | " + "\n  | ".join(str(detail).rstrip().splitlines()[-30:]))


def run(argv, **kw):
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=300, **kw)
    return p.returncode, p.stdout.decode("utf-8", "replace")


if len(sys.argv) != 2:
    sys.stderr.write("usage: deb.py FULCRUM.deb\n")
    sys.exit(2)
deb = sys.argv[1]
if os.geteuid() != 0:
    print("SKIP: needs root (a private mount namespace for the fulcrum user)")
    sys.exit(77)
root = tempfile.mkdtemp(prefix="fulcrum-debroot-")
try:
    # ------------------------------------------------------------ files
    rc, out = run(["dpkg", "-x", deb, root])
    check(rc == 0, f"dpkg -x {os.path.basename(deb)}", out)
    for path in ("usr/sbin/fulcrum", "usr/bin/fulcrum-stat",
                 "lib/systemd/system/fulcrum.service",
                 "etc/fulcrum/fulcrum.conf", "etc/default/fulcrum",
                 "etc/rsyslog.d/49-fulcrum.conf", "etc/logrotate.d/fulcrum",
                 "usr/share/man/man8/fulcrum.8.gz", "usr/share/man/man5/fulcrum.conf.5.gz",
                 "usr/share/man/man1/fulcrum-stat.1.gz", "usr/share/man/man8/fulcrumctl.8.gz",
                 "usr/bin/fulcrum-import", "usr/share/man/man1/fulcrum-import.1.gz",
                 "usr/share/doc/fulcrum/copyright",
                 "usr/share/doc/fulcrum/examples/fulcrum.conf",
                 "usr/share/doc/fulcrum/examples/demo.conf"):
        check(os.path.exists(os.path.join(root, path)), f"/{path}")
    rc, out = run(["dpkg-deb", "-f", deb, "Conffiles"])
    rc, conffiles = run(["sh", "-c", f"dpkg-deb --ctrl-tarfile {deb} | tar -xO ./conffiles"])
    for c in ("/etc/fulcrum/fulcrum.conf", "/etc/default/fulcrum",
              "/etc/rsyslog.d/49-fulcrum.conf", "/etc/logrotate.d/fulcrum"):
        check(c in conffiles.split(), f"{c} is a conffile", conffiles)

    page = gzip.open(os.path.join(root, "usr/share/man/man5/fulcrum.conf.5.gz")).read()
    check(b"listeners.stats.auth" in page, "fulcrum.conf(5) is the generated page")

    # ------------------------------------------------------------ unit
    unit = open(os.path.join(root, "lib/systemd/system/fulcrum.service")).read()
    check("ExecStart=/usr/sbin/fulcrum -d -f ${CONFIG}" in unit,
          "the unit runs /usr/sbin/fulcrum", unit)
    check("Environment=CONFIG=/etc/fulcrum/fulcrum.conf" in unit,
          "with /etc/fulcrum/fulcrum.conf", unit)

    # ------------------------------------------------------------ sample
    sample = os.path.join(root, "etc/fulcrum/fulcrum.conf")
    text = open(sample).read()
    check(re.search(r"(?m)^\s*auth\s*=", text) is None,
          "the sample sets no stats password (auth commented out)")
    fulcrum = os.path.join(root, "usr/sbin/fulcrum")
    rc, out = run([fulcrum, "--version"])
    check(rc == 0 and out.startswith("fulcrum "), "the installed fulcrum runs", out)

    have_user = subprocess.run(["getent", "passwd", "fulcrum"],
                               stdout=subprocess.DEVNULL).returncode == 0
    if not have_user:
        rc, out = run([fulcrum, "-c", "-f", sample])
        check(rc == 1 and 'unknown user "fulcrum"' in out,
              "without the fulcrum user, fulcrum -c refuses the sample, naming it", out)
    etc = tempfile.mkdtemp(prefix="fulcrum-debetc-")
    for f, line in (("passwd", "fulcrum:x:64999:64999:fulcrum:/var/lib/fulcrum:"
                     "/usr/sbin/nologin\n"), ("group", "fulcrum:x:64999:\n")):
        shutil.copy(f"/etc/{f}", os.path.join(etc, f))
        if not have_user:
            with open(os.path.join(etc, f), "a") as fp:
                fp.write(line)
    script = (f"mount --bind {etc}/passwd /etc/passwd && "
              f"mount --bind {etc}/group /etc/group && "
              f"exec {fulcrum} -c -f {sample}")
    rc, out = run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script])
    check(rc == 0 and "configuration valid" in out,
          "with the user the package creates, the installed sample passes fulcrum -c",
          out)
    shutil.rmtree(etc)

    # ------------------------------------------------- maintainer scripts
    # The postinst and postrm run for real, in a private mount namespace
    # whose /etc is a copy (with the package's files), /var/lib and
    # /run/systemd are empty tmpfs, and deb-systemd-helper/-invoke are
    # stubs that record their arguments: the host is untouched.
    ctrl = os.path.join(root, "DEBIAN")
    run(["dpkg-deb", "-e", deb, ctrl])
    ns = tempfile.mkdtemp(prefix="fulcrum-debns-")
    stubs = os.path.join(ns, "bin")
    os.mkdir(stubs)
    for stub in ("deb-systemd-helper", "deb-systemd-invoke"):
        with open(os.path.join(stubs, stub), "w") as f:
            f.write(f'#!/bin/sh\necho "{stub} $*" >> {ns}/calls\n'
                    '[ "$1" != --quiet ] || [ "$2" != was-enabled ] || exit 0\n')
        os.chmod(os.path.join(stubs, stub), 0o755)
    os.symlink(fulcrum, os.path.join(stubs, "fulcrum"))

    def maintscript(body):
        """Runs body (sh) in the namespace; returns (status, output, calls)."""
        open(os.path.join(ns, "calls"), "w").close()
        script = f"""set -e
mount --make-rprivate /
cp -a /etc {ns}/etc
cp -a {root}/etc/fulcrum {root}/etc/default {ns}/etc/
mount --bind {ns}/etc /etc
mount -t tmpfs none /var/lib
mkdir -p /run/systemd && mount -t tmpfs none /run/systemd && mkdir /run/systemd/system
mkdir /var/lib/fulcrum
export PATH={stubs}:/usr/sbin:/usr/bin:/sbin:/bin
{body}
"""
        rc, out = run(["unshare", "--mount", "sh", "-c", script])
        shutil.rmtree(os.path.join(ns, "etc"), ignore_errors=True)
        return rc, out, open(os.path.join(ns, "calls")).read()

    post = f"{ctrl}/postinst"
    rc, out, calls = maintscript(
        f"sh {post} configure ''; getent passwd fulcrum; getent group fulcrum; "
        "stat -c 'state %U:%G %a' /var/lib/fulcrum")
    print("  | " + "\n  | ".join(out.rstrip().splitlines() + calls.splitlines()))
    check(rc == 0, "postinst configure (first install) succeeds", out)
    check(re.search(r"(?m)^fulcrum:x:\d+:\d+:.*:/var/lib/fulcrum:/usr/sbin/nologin$",
                    out) is not None, "it creates the system user fulcrum", out)
    check(re.search(r"(?m)^fulcrum:x:\d+:$", out) is not None,
          "and the group fulcrum", out)
    check("state fulcrum:fulcrum 750" in out, "/var/lib/fulcrum is fulcrum's, 0750", out)
    check("deb-systemd-helper enable fulcrum.service" in calls, "it enables the unit",
          calls)
    check("deb-systemd-invoke start fulcrum.service" in calls,
          "it starts the service: the sample passes fulcrum -c once the user exists",
          calls)

    rc, out, calls = maintscript(
        f"sh {post} configure '' && echo 'global: {{ wrokers = 1; }};' "
        f">> /etc/fulcrum/fulcrum.conf && sh {post} configure 0.0.9")
    print("  | " + "\n  | ".join(out.rstrip().splitlines() + calls.splitlines()))
    after = calls.split("deb-systemd-invoke start fulcrum.service", 1)[-1]
    check(rc == 0, "postinst configure (upgrade) with a broken file succeeds", out)
    check("invoke" not in after, "the service is not restarted with a broken file",
          calls)
    check("does not pass 'fulcrum -c'" in out, "and the admin is told why", out)

    rc, out, calls = maintscript(
        f"sh {post} configure '' && sh {post} configure 0.0.9")
    check("deb-systemd-invoke try-restart fulcrum.service" in calls,
          "an upgrade with a valid file restarts a running service (try-restart)",
          calls)

    rc, out, calls = maintscript(
        f"sh {post} configure '' && touch /var/lib/fulcrum/state && "
        f"sh {ctrl}/postrm remove && test -e /var/lib/fulcrum/state && echo kept-on-remove && "
        f"sh {ctrl}/postrm purge && ! test -e /var/lib/fulcrum && echo state-purged && "
        "getent passwd fulcrum >/dev/null && echo user-kept")
    print("  | " + "\n  | ".join(out.rstrip().splitlines()))
    check(rc == 0, "postrm remove, then purge, succeed", out)
    check("kept-on-remove" in out, "remove keeps the state", out)
    check("state-purged" in out, "purge removes /var/lib/fulcrum", out)
    check("user-kept" in out, "purge keeps the user (Debian's advice)", out)
    shutil.rmtree(ns, ignore_errors=True)

    # ------------------------------------------------------------ lintian
    if shutil.which("lintian"):
        rc, out = run(["lintian", "--fail-on", "error", deb])
        print("  | " + "\n  | ".join(out.rstrip().splitlines() or ["(lintian: nothing)"]))
        check(rc == 0 and not re.search(r"(?m)^E: ", out), "lintian: no error", out)
    else:
        print("# lintian not installed: not run")
finally:
    shutil.rmtree(root, ignore_errors=True)

print(f"{'FAIL' if failed else 'PASS'}: deb ({failed} failed)")
sys.exit(1 if failed else 0)
