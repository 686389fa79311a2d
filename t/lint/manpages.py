#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""manpages: the manual pages render without a warning, and
fulcrum.conf(5) follows the sample's comments whatever keys it holds.

- `man --warnings -l PAGE` (groff's warnings, as Debian's lintian runs
  them) prints nothing on stderr for fulcrum(8), fulcrum.conf(5),
  fulcrum-stat(1), fulcrumctl(8) and fulcrum-import(1) as `make` built them;
- every key name of conf/'s key tables appears in fulcrum.conf(5): a key
  the loader takes is documented in contrib/fulcrum.conf;
- tools/conf2man.py knows no key: on a sample with a section, groups,
  lists and keys it has never seen (live and commented out, nested in a
  commented-out group), each becomes an entry with its own comment.
Run by make check from the build directory; FC_SRCDIR is the source tree.
"""
import os
import re
import subprocess
import sys
import tempfile

SRCDIR = os.environ.get("FC_SRCDIR", ".")
BUILDDIR = os.path.dirname(os.environ.get("FULCRUM", "./fulcrum")) or "."
PAGES = ["doc/fulcrum.8", "doc/fulcrum.conf.5", "doc/fulcrum-stat.1", "doc/fulcrumctl.8",
         "doc/fulcrum-import.1"]
failed = 0


def check(cond, msg, detail=""):
    global failed
    print(("ok - " if cond else "not ok - ") + msg)
    if not cond:
        failed += 1
        if detail:
            print("  | " + "\n  | ".join(str(detail).rstrip().splitlines()))


def render(path):
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80", MAN_KEEP_FORMATTING="")
    p = subprocess.run(["man", "--warnings", "-l", path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


if subprocess.run(["sh", "-c", "command -v man"], stdout=subprocess.DEVNULL).returncode:
    print("SKIP: man (man-db) is not installed")
    sys.exit(77)

# ------------------------------------------------------------- rendering
for page in PAGES:
    path = os.path.join(BUILDDIR, page)
    if not os.path.exists(path):
        check(False, f"{page} was built", path)
        continue
    rc, out, err = render(path)
    name = os.path.basename(page).rsplit(".", 1)[0]
    check(rc == 0, f"man -l {page} exits 0", f"{rc} {err}")
    check(err == "", f"man --warnings -l {page}: no warning", err)
    check(re.search(r"^NAME\n\s+" + re.escape(name) + r" - ", out, re.M) is not None,
          f"{page} has a NAME line for {name}", out[:400])
    check("@" not in re.sub(r"\S+@\S+\.\S+", "", out),
          f"{page}: no @placeholder@ left", out)

# ------------------------------------------- every loader key is documented
conf5 = os.path.join(BUILDDIR, "doc/fulcrum.conf.5")
if os.path.exists(conf5):
    page = render(conf5)[1]
    keys = set()
    for f in sorted(os.listdir(os.path.join(SRCDIR, "conf"))):
        if f.endswith(".c"):
            text = open(os.path.join(SRCDIR, "conf", f)).read()
            keys |= set(re.findall(
                r'\b(?:INT|INT64|BOOL|STR|ENUM|GROUP|GROUP_ON|ARR|FUNC)\("([a-z0-9_]+)"', text))
    check(len(keys) > 30, f"{len(keys)} keys found in conf/*.c")
    missing = sorted(k for k in keys if not re.search(rf"(?<![\w-]){k}(?![\w-])", page))
    check(not missing, "every key of conf/'s tables is in fulcrum.conf(5)",
          "missing: " + " ".join(missing))

# ----------------------------------------------- the generator is generic
SAMPLE = """\
# frob.conf -- a sample the generator has never seen.
#
# Its second paragraph.

# ------------------------------------------------------------------ zorg
# The zorg section.
zorg: {
\t# How many blips, 1..9.  Default: 3.
\tblips = 3;

\t# The warp drive.  Default: absent.
\t# warp = {
\t#\t# Its factor, 1..10.  Default: 2.
\t#\tfactor = 2;
\t#\tcoil = "x";\t\t# the coil's name,
\t#\t\t\t\t# continued.  Default: "x".
\t# };
};

# ------------------------------------------------------------------ quux
# A list.
quuxes = (
\t{
\t\t# Its name.  Required.
\t\tname = "q1";
\t\t# Its beams.
\t\tbeams = ( { name = "b"; }, { name = "c"; } );
\t}
);
"""
with tempfile.TemporaryDirectory() as d:
    src = os.path.join(d, "frob.conf")
    with open(src, "w") as f:
        f.write(SAMPLE)
    gen = subprocess.run([sys.executable, os.path.join(SRCDIR, "tools/conf2man.py"), src,
                          "9.9.9"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    check(gen.returncode == 0, "conf2man.py runs on an unknown sample", gen.stderr.decode())
    page = os.path.join(d, "frob.5")
    with open(page, "wb") as f:
        f.write(gen.stdout)
    rc, out, err = render(page)
    check(err == "", "its page renders without a warning", err)
    flat = re.sub(r"\s+", " ", out)
    for want in ("ZORG", "QUUX", "its second paragraph.",
                 "zorg.blips = 3 How many blips, 1..9. Default: 3.",
                 "zorg.warp = { ... } (not set in the sample) The warp drive.",
                 "zorg.warp.factor = 2 (not set in the sample) Its factor, 1..10.",
                 "zorg.warp.coil = \"x\" (not set in the sample) the coil's name, continued.",
                 "quuxes = ( ... ) A list.",
                 "quuxes.name = \"q1\" Its name. Required.",
                 "quuxes.beams = ( ... ) Its beams."):
        check(want.lower() in flat.lower(), f"the page has: {want}", flat)
    check("beams.name" not in flat, "an inline list element adds no entry", flat)

print(f"{'FAIL' if failed else 'PASS'}: manpages ({failed} failed)")
sys.exit(1 if failed else 0)
