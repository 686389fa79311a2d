#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""spdx: every source file says its licence in its first lines.

    t/lint/spdx.py            check (make check): list the files without it
    t/lint/spdx.py --fix      add it where it is missing (idempotent)

"Source file": C (.c, .h), Python (.py), shell (.sh), the build files
(Makefile.am, configure.ac, debian/rules), the CI and maintainer scripts,
and the .in templates (manual pages, the systemd unit).  Configuration
samples and test data are not sources.  The line goes first, or right
after a "#!" line, in the file's own comment syntax:

    /* SPDX-License-Identifier: BSD-2-Clause */
    # SPDX-License-Identifier: BSD-2-Clause
    .\\" SPDX-License-Identifier: BSD-2-Clause

The file list is git's when the tree is a git checkout (so generated
files are never touched), else a walk of the tree (a release tarball).
After merging other branches, run --fix again and commit the result.
"""
import os
import subprocess
import sys

TAG = "SPDX-License-Identifier: BSD-2-Clause"
SRCDIR = os.environ.get("FC_SRCDIR") or os.path.join(os.path.dirname(__file__), "..", "..")
NAMES = {"Makefile.am", "configure.ac", "bootstrap.sh", ".ci/run", "debian/rules",
         "debian/fulcrum.postinst", "debian/fulcrum.postrm"}
SKIP_DIRS = ("build-aux/", "autom4te.cache/", "deb/", "t/fuzz/corpus/", "t/fuzz/regress/",
             ".git/")
GENERATED = {"config.h"}         # by configure, by name in any build directory
HEAD_LINES = 3


def comment(path):
    if path.endswith((".c", ".h")):
        return "/* " + TAG + " */"
    if path.startswith("doc/") and path.endswith(".in"):
        return '.\\" ' + TAG
    return "# " + TAG


def is_source(path):
    if path.startswith(SKIP_DIRS) or os.path.basename(path) in GENERATED \
            or "_build/" in path:   # make distcheck builds inside the tree
        return False
    if path in NAMES:
        return True
    return path.endswith((".c", ".h", ".py", ".sh")) or (
        path.endswith(".in") and path.startswith(("doc/", "contrib/")))


def files():
    paths = []
    try:
        top = subprocess.run(["git", "-C", SRCDIR, "rev-parse", "--show-toplevel"],
                             check=True, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL).stdout.decode().strip()
        # a tarball unpacked inside a checkout (make distcheck) is not it
        if os.path.realpath(top) == os.path.realpath(SRCDIR):
            out = subprocess.run(["git", "-C", SRCDIR, "ls-files", "-z"], check=True,
                                 stdout=subprocess.PIPE).stdout
            paths = [p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        pass
    if not paths:
        for top, dirs, names in os.walk(SRCDIR):
            rel = os.path.relpath(top, SRCDIR)
            for n in names:
                paths.append(os.path.normpath(os.path.join(rel, n)))
    return sorted(p for p in paths if is_source(p) and
                  os.path.isfile(os.path.join(SRCDIR, p)))


def has_tag(text):
    return any(TAG in line for line in text.split("\n")[:HEAD_LINES])


def fix(path):
    full = os.path.join(SRCDIR, path)
    with open(full) as f:
        text = f.read()
    if has_tag(text):
        return False
    line = comment(path) + "\n"
    if text.startswith("#!"):
        first, _, rest = text.partition("\n")
        text = first + "\n" + line + rest
    else:
        text = line + text
    mode = os.stat(full).st_mode
    with open(full, "w") as f:
        f.write(text)
    os.chmod(full, mode)
    return True


def main():
    todo = files()
    if len(sys.argv) > 1 and sys.argv[1] == "--fix":
        changed = [p for p in todo if fix(p)]
        print(f"added the SPDX line to {len(changed)} of {len(todo)} source files")
        return 0
    missing = [p for p in todo if not has_tag(open(os.path.join(SRCDIR, p)).read())]
    for p in missing:
        print(f"not ok - {p}: no \"{TAG}\" in its first {HEAD_LINES} lines")
    print(f"{'FAIL' if missing or not todo else 'PASS'}: spdx, {len(todo)} source files, "
          f"{len(missing)} without the line (fix: t/lint/spdx.py --fix)")
    return 1 if missing or len(todo) < 100 else 0


if __name__ == "__main__":
    sys.exit(main())
