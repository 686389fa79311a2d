#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The summary of a bench.sh run, and the syscalls-per-request table of a profile.

  report.py OUTDIR                       summary of OUTDIR/runs.tsv, memory.tsv, hold.tsv
  report.py --strace FILE WRKOUT NAME    strace -c counts divided by wrk's requests
"""
import csv
import os
import re
import statistics as st
import sys
from collections import defaultdict

REF = {"ka": "haproxy", "up": "haproxy", "own_ka": "haproxy", "own_up": "haproxy", "close": "haproxy_close",
       "tls_ka": "haproxy_tls", "tls_close": "haproxy_tls", "tls_resume": "haproxy_tls"}
LABEL = {"ka": "keep-alive", "up": "upload (keep-alive POST)",
         "own_ka": "keep-alive-fast-client (bench/tlsload.c -m ka, 256 KiB reads)",
         "own_up": "upload-fast-client (bench/tlsload.c -m ka -u, keep-alive POST)",
         "close": "httpclose (new connection per request)",
         "tls_ka": "TLS-keep-alive", "tls_close": "TLS-full-handshake (new connection per request)",
         "tls_resume": "TLS-resumed (new connection per request, abbreviated handshake)"}
# the goals of issue 15: CPU x the better of HAProxy and nginx, same rounds
GOAL = {"tls_ka": 0.85, "tls_close": 0.9, "tls_resume": 0.9}
FILES = {"100b": "100 B", "10k": "10 KiB", "1m": "1 MiB"}


def base(sc):
    """ka@200 -> ka: the scenario of a row with its own client count."""
    return sc.split("@")[0]


def label(sc, short=False):
    text = LABEL[base(sc)]
    if short:
        text = text.split(" ")[0]
    return text + (f" {sc.split('@')[1]} clients" if "@" in sc else "")


def med(xs):
    return st.median(xs) if xs else float("nan")


def fmt(v, spec):
    return "-" if v != v else format(v, spec)  # NaN -> "-"


def num(r, k):
    try:
        return float(r[k])
    except (ValueError, KeyError):
        return None


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f, delimiter="\t"))


def family(t):
    """fulcrum_close, fulcrum_tls -> fulcrum: the same proxy in the other mode."""
    for suffix in ("_close", "_tls"):
        if t.endswith(suffix):
            return t[:-len(suffix)]
    return t


def tls_cert(outdir):
    meta = os.path.join(outdir, "meta.txt")
    m = re.search(r"tls_cert=(\w+)", open(meta).read()) if os.path.exists(meta) else None
    return m.group(1) if m else "?"


def summary(outdir):
    rows = read_tsv(os.path.join(outdir, "runs.tsv"))
    meta = os.path.join(outdir, "meta.txt")
    if os.path.exists(meta):
        print(open(meta).read().rstrip())
    groups = defaultdict(list)
    for r in rows:
        groups[(r["scenario"], r["file"])].append(r)
    compact = []
    for (sc, f), rs in groups.items():
        targets = list(dict.fromkeys(r["target"] for r in rs))
        ref = REF[base(sc)] if REF[base(sc)] in targets else None
        rounds = defaultdict(dict)
        for r in rs:
            rounds[r["round"]][r["target"]] = r
        cert = f", {tls_cert(outdir)} certificate" if sc.startswith("tls") else ""
        print(f"\n== {label(sc)}, {FILES.get(f, f)}{cert}  ({len(rounds)} rounds; ratios are the median of "
              f"per-round ratios to {ref})")
        print(f"{'target':19s} {'req/s':>7s} {'min':>7s} {'max':>7s} {'p50 ms':>7s} {'p99 ms':>7s} "
              f"{'CPU us/req':>10s} {'CPU x':>6s} {'rps x':>6s} {'p99 x':>6s} {'pxCPU%':>6s} "
              f"{'be us/req':>9s} {'err':>4s} {'busy%':>5s} {'resum%':>6s}")
        for t in targets:
            xs = [r for r in rs if r["target"] == t]
            rps = [num(r, "rps") for r in xs]

            def vals(k):
                return [v for v in (num(r, k) for r in xs) if v is not None]

            def ratio(k):
                out = []
                for b in rounds.values():
                    if ref and t in b and ref in b:
                        a, c = num(b[t], k), num(b[ref], k)
                        if a is not None and c:
                            out.append(a / c)
                return med(out)

            def ratio_best(k, better=min):
                """to the better of HAProxy and nginx in the same round"""
                out = []
                for b in rounds.values():
                    others = [num(x, k) for tt, x in b.items() if family(tt) in ("haproxy", "nginx")]
                    others = [v for v in others if v]
                    if t in b and others and num(b[t], k) is not None:
                        out.append(num(b[t], k) / better(others))
                return med(out)

            cpu = med(vals("proxy_us_per_req"))
            line = dict(target=t, rps=med(rps), p50=med(vals("p50_ms")), p99=med(vals("p99_ms")), cpu=cpu,
                        cpu_x=ratio("proxy_us_per_req"), rps_x=ratio("rps"), p99_x=ratio("p99_ms"),
                        cpu_xb=ratio_best("proxy_us_per_req"), p99_xb=ratio_best("p99_ms"),
                        rps_xb=ratio_best("rps", max), be_x=ratio("backend_us_per_req"))
            errs = sum(int(r["errors"]) + int(r["non2xx"]) for r in xs)
            print(f"{t:19s} {line['rps']:7.0f} {min(rps):7.0f} {max(rps):7.0f} {line['p50']:7.3f} "
                  f"{line['p99']:7.3f} {fmt(cpu, '10.2f'):>10s} {fmt(line['cpu_x'], '6.2f'):>6s} "
                  f"{fmt(line['rps_x'], '6.2f'):>6s} {fmt(line['p99_x'], '6.2f'):>6s} "
                  f"{fmt(med(vals('proxy_cpu_pct')), '6.0f'):>6s} {med(vals('backend_us_per_req')):9.1f} "
                  f"{errs:4d} {med(vals('sys_busy_pct')):5.0f} {fmt(med(vals('resumed_pct')), '6.1f'):>6s}")
            compact.append((sc, f, line))

    # One line per row: fulcrum next to HAProxy and nginx.
    print("\n== summary: CPU us/req | req/s | p99 ms   (fulcrum's ratios to HAProxy, same rounds;"
          " target: CPU x <= 0.85, rps x >= 1, p99 x <= 1; TLS rows: CPU xb = to the better of"
          " HAProxy and nginx, goal <= 0.85 keep-alive, <= 0.9 per handshake; issue 19: CPU xb <= 0.8,"
          " p99 xb <= 1, rps xb >= 1 (to the better of the two), be x <= 1 (backends' CPU per request"
          " to behind HAProxy))")
    cols = ["fulcrum", "fulcrum_base", "haproxy", "nginx", "direct"]
    present = [c for c in cols if any(family(l["target"]) == c for _, _, l in compact)]
    print(f"{'row':28s} " + " ".join(f"{c:>24s}" for c in present)
          + f" {'CPU x':>6s} {'rps x':>6s} {'p99 x':>6s} {'CPU xb':>6s} {'p99 xb':>6s} {'rps xb':>6s}"
          + f" {'be x':>6s}")
    for key in dict.fromkeys((sc, f) for sc, f, _ in compact):
        by = {family(l["target"]): l for sc, f, l in compact if (sc, f) == key}
        cells = []
        for c in present:
            l = by.get(c)
            cells.append("-" if l is None else
                         f"{fmt(l['cpu'], '.1f')} | {l['rps']:.0f} | {l['p99']:.2f}")
        fl = by.get("fulcrum", {})
        print(f"{label(key[0], True) + ' ' + FILES.get(key[1], key[1]):28s} "
              + " ".join(f"{c:>24s}" for c in cells)
              + f" {fmt(fl.get('cpu_x', float('nan')), '6.2f'):>6s} {fmt(fl.get('rps_x', float('nan')), '6.2f'):>6s}"
              + f" {fmt(fl.get('p99_x', float('nan')), '6.2f'):>6s}"
              + "".join(f" {fmt(fl.get(k, float('nan')), '6.2f'):>6s}"
                        for k in ("cpu_xb", "p99_xb", "rps_xb", "be_x"))
              + (f"  goal {GOAL[base(key[0])]}" if base(key[0]) in GOAL else ""))

    mem = read_tsv(os.path.join(outdir, "memory.tsv"))
    if mem:
        print("\n== memory per idle client connection (RSS slope over all the proxy's processes;"
              " kernel slab counts both loopback ends)")
        print(f"{'target':14s} {'mode':8s} {'conns':>12s} {'fresh kB':>9s} {'user B/conn':>11s} {'kernel B/conn':>13s}")
        for m in mem:
            print(f"{m['target']:14s} {m['idle_mode']:8s} {m['conns']:>12s} {m['fresh_rss_kb']:>9s} "
                  f"{m['user_bytes_per_conn']:>11s} {m['kernel_slab_bytes_per_conn']:>13s}")
    hold = read_tsv(os.path.join(outdir, "hold.tsv"))
    if hold:
        print("\n== idle connections held")
        for h in hold:
            print(f"{h['target']:14s} {h['conns_held']} held, {h['conns_alive_after']} still answering; "
                  f"RSS {h['fresh_rss_kb']} -> {h['rss_kb_held']} kB ({h['user_bytes_per_conn']} B/conn); "
                  f"new clients served meanwhile: {h['served_meanwhile']}/20")
    peak = os.path.join(outdir, "peak_rss.tsv")
    if os.path.exists(peak):
        print("\n== peak RSS under load (VmHWM summed over the proxy's processes): " +
              ", ".join(f"{t} {kb} kB" for t, kb in (l.split() for l in open(peak) if l.strip())))
    print(f"\n(raw: {outdir}/runs.tsv)")


def strace_table(path, wrkout, name):
    text = open(wrkout).read()
    m = re.search(r"(\d+) requests in", text)
    reqs = int(m.group(1)) if m else 0
    calls = {}
    for line in open(path):
        f = line.split()
        if len(f) >= 5 and re.match(r"^[\d.]+$", f[0]) and f[-1] != "total":
            # % time, seconds, usecs/call, calls, [errors], syscall
            calls[f[-1]] = int(f[3])
    total = sum(calls.values())
    print(f"== {name}: {reqs} requests, {total} syscalls: {total / max(reqs, 1):.2f} per request")
    for sc, n in sorted(calls.items(), key=lambda kv: -kv[1]):
        if n / max(reqs, 1) >= 0.005:
            print(f"   {sc:18s} {n / max(reqs, 1):6.3f}")


if __name__ == "__main__":
    if sys.argv[1] == "--strace":
        strace_table(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        summary(sys.argv[1])
