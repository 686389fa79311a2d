#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# mkdeb.sh [OUTDIR]: builds fulcrum_<version>_<arch>.deb with
# dpkg-buildpackage -us -uc -b in a scratch copy of the source tree (the
# files git knows, committed or not; the whole tree outside git), so that
# the build directory it is run from is left alone, then runs lintian on
# it.  OUTDIR (default: ./deb) receives the .deb, .buildinfo and .changes.
# "make deb" runs it.  Needs dpkg-dev, debhelper and the Build-Depends of
# debian/control (bootstrap.sh installs them); lintian is optional.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-deb}" && cd "${1:-deb}" && pwd)
tmp=$(mktemp -d /tmp/fulcrum-deb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/fulcrum"

if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	git -C "$src" ls-files -z --cached --others --exclude-standard |
		(cd "$src" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh) |
		(cd "$src" && xargs -0 cp --parents -t "$tmp/fulcrum")
else
	cp -a "$src/." "$tmp/fulcrum"
fi

cd "$tmp/fulcrum"
dpkg-checkbuilddeps
dpkg-buildpackage -us -uc -b
cd "$tmp"
rm -f "$out"/fulcrum_* "$out"/fulcrum-dbgsym_*
mv fulcrum_*.deb fulcrum-dbgsym_*.deb fulcrum_*.buildinfo fulcrum_*.changes "$out"/
deb=$(ls "$out"/fulcrum_*.deb)
echo "built $deb"
if command -v lintian >/dev/null; then
	# Errors fail it; warnings (none today) are printed.
	lintian --fail-on error "$deb"
fi
