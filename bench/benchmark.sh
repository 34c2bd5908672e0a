#!/usr/bin/env bash
# make bench: runs the benchmark scenarios in the VM bench and writes the
# figures into BENCHMARKS.md (between the generated-results markers).
set -o errexit -o nounset -o pipefail

usage() {
    cat >&2 <<'USAGE'
Usage: bench/benchmark.sh [--kernels id,id] [--from-logs] [--floor-only] [--logs DIR]
Runs bench/benchmarks/*.sh in each kernel (default: all eight, 5.10 to 7.3)
and records the results in BENCHMARKS.md.
  --from-logs   only record: take the results of the last runs from the
                console logs in $KVMFI_CACHE/logs (no VM is booted)
  --floor-only  record only the kprobe-against-fprobe table (the other
                tables keep the kernels of their own run)
  --logs DIR    read DIR/<id>.log instead of $KVMFI_CACHE/logs
USAGE
}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${KVMFI_CACHE:-/var/cache/kvmfi}

main() {
    local kernels=x86_64-5.10,arm64-5.10,x86_64-6.1,arm64-6.1,x86_64-6.12,arm64-6.12,x86_64-7.3,arm64-7.3 from_logs=0
    local floor_only=0 logs="$CACHE/logs"
    while [[ $# -gt 0 ]]; do
        case $1 in
            --kernels) kernels=$2; shift ;;
            --from-logs) from_logs=1 ;;
            --floor-only) floor_only=1 ;;
            --logs) logs=$2; shift ;;
            -h | --help) usage; exit 0 ;;
            *) usage; exit 2 ;;
        esac
        shift
    done
    cd "$REPO"
    if [[ $from_logs -eq 0 ]]; then
        bash bench/setup-host.sh
        bash bench/run.sh --bench --keep-going --kernels "$kernels" --scenarios 'bench/benchmarks/*.sh'
    fi
    python3 - "$REPO/BENCHMARKS.md" "$logs" "$kernels" "$floor_only" <<'PY'
import sys, datetime, statistics
path, logs, kernels, floor_only = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4] == "1"

def last(lines, prefix):
    found = [l for l in lines if l.startswith(prefix)]
    return found[-1] if found else None

def row(kid, result, raw):
    """One kernel's row: the minima from BENCH-RESULT, then paired per-round
    ratios from BENCH-RAW (every round measures all five side by side, so a
    ratio within a round cancels most of TCG's drift)."""
    m = {k: float(v) for k, v in (f.split("=", 1) for f in result.split()[2:]) if v not in ("", "-")}
    a, b, c = m["a_none"], m["b_other"], m["c_prob0"]
    d, e = m["d_empty_kprobe"], m["e_prob0_verbose1"]
    # (f) only where the kernel has fprobe
    f = m.get("f_empty_fprobe")
    fcell = f"{f:.0f} (+{f - a:.0f})" if f is not None else "no fprobe" if "f_empty_fprobe=" in result else "-"
    cells = f"| {kid} | {a:.0f} | {b:.0f} (+{b - a:.0f}) | {c:.0f} (+{c - a:.0f}) | {d:.0f} (+{d - a:.0f}) " \
            f"| {fcell} | {e:.0f} (+{e - a:.0f}) | {(b - a) / (d - a):.2f} "
    try:
        v = {k.strip(): [float(x) for x in vals.split()]
             for k, vals in (p.split(":", 1) for p in raw[len("BENCH-RAW "):].split("|"))}
        ra, rb, rd, re = v["a"], v["b"], v["d"], v["e"]
        med = lambda xs, ys: statistics.median(x / y for x, y in zip(xs, ys))
        wins = lambda xs, ys: sum(x < y for x, y in zip(xs, ys))
        cells += f"| {med(rb, ra):.2f} | {med(rd, ra):.2f} | {med(rb, rd):.2f} ({wins(rb, rd)}/{len(rb)}) " \
                 f"| {med(re, rb):.2f} ({wins(re, rb)}/{len(rb)}) |"
    except (TypeError, KeyError, ValueError, ZeroDivisionError, statistics.StatisticsError):
        cells += "| | | | |"
    return cells + "\n"

def floor_row(kid, result, raw):
    """The hook against the ftrace floor: (d) an empty kprobe and (f) an
    empty fprobe on vfs_read, added cost over (a) and their paired ratio."""
    m = {k: v for k, v in (f.split("=", 1) for f in result.split()[2:])}
    if m.get("f_empty_fprobe", "-") in ("", "-"):
        return f"| {kid} | no fprobe on this kernel | | | | |\n"
    a, d, f = float(m["a_none"]), float(m["d_empty_kprobe"]), float(m["f_empty_fprobe"])
    cells = f"| {kid} | {a:.0f} | {d:.0f} (+{d - a:.0f}) | {f:.0f} (+{f - a:.0f}) "
    try:
        v = {k.strip(): [float(x) for x in vals.split()]
             for k, vals in (p.split(":", 1) for p in raw[len("BENCH-RAW "):].split("|"))}
        rd, rf = v["d"], v["f"]
        ratio = statistics.median(x / y for x, y in zip(rd, rf))
        wins = sum(x > y for x, y in zip(rd, rf))
        cells += f"| {(d - a) / (f - a):.2f} | {ratio:.2f} ({wins}/{len(rd)}) |"
    except (TypeError, KeyError, ValueError, ZeroDivisionError, statistics.StatisticsError):
        cells += "| | |"
    return cells + "\n"

def replace_block(text, begin, end, body):
    i, j = text.index(begin), text.index(end) + len(end)
    return text[:i] + begin + "\n" + body + end + text[j:]

table, floor = "", ""
for kid in kernels:
    try:
        lines = [l.rstrip("\r\n") for l in open(f"{logs}/{kid}.log", errors="replace")]
    except OSError:
        continue
    result = last(lines, "BENCH-RESULT vfs-read ")
    if result:
        table += row(kid, result, last(lines, "BENCH-RAW "))
        floor += floor_row(kid, result, last(lines, "BENCH-RAW "))

text = open(path).read()
head = ("| kernel | (a) no module | (b) armed, other process | (c) armed, this process, p=0 "
        "| (d) empty kprobe | (f) empty fprobe | (e) as (b), verbose 1 | (b-a)/(d-a) "
        "| b/a | d/a | b/d (b<d) | e/b (e<b) |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n")
if not floor_only:
    text = replace_block(text, "<!-- vfs-read results begin -->", "<!-- vfs-read results end -->",
        f"Measured {datetime.date.today()} (ns per 1-byte pread, minimum of the interleaved rounds; "
        "+N = added cost over (a); medians are in the console logs. The last four columns are paired: the "
        "median over rounds of the ratio within one round, and in how many rounds the first was faster).\n\n"
        f"{head}{table}")
text = replace_block(text, "<!-- probe-floor results begin -->", "<!-- probe-floor results end -->",
    f"Measured {datetime.date.today()} (ns per 1-byte pread, minimum of the interleaved rounds, (d) and (f) "
    "in the same boot; +N = added cost over (a); d/f paired: the median over rounds of (d)/(f) "
    "within one round, and in how many rounds the kprobe was the slower).\n\n"
    "| kernel | (a) no module | (d) empty kprobe | (f) empty fprobe | (d-a)/(f-a) | d/f paired (d>f) |\n"
    f"|---|---|---|---|---|---|\n{floor}")
open(path, "w").write(text)
PY
    echo "BENCHMARKS.md updated"
}

main "$@"
