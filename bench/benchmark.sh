#!/usr/bin/env bash
# make bench: runs the benchmark scenarios in the VM bench and writes the
# figures into BENCHMARKS.md (between the generated-results markers).
set -o errexit -o nounset -o pipefail

usage() {
    cat >&2 <<'USAGE'
Usage: bench/benchmark.sh [--kernels id,id] [--from-logs]
Runs bench/benchmarks/*.sh in each kernel (default: x86_64-6.1,arm64-6.1,
x86_64-6.12,arm64-6.12) and records the results in BENCHMARKS.md.
  --from-logs   only record: take the results of the last runs from the
                console logs in $KVMFI_CACHE/logs (no VM is booted)
USAGE
}

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${KVMFI_CACHE:-/var/cache/kvmfi}

main() {
    local kernels=x86_64-6.1,arm64-6.1,x86_64-6.12,arm64-6.12 from_logs=0
    while [[ $# -gt 0 ]]; do
        case $1 in
            --kernels) kernels=$2; shift ;;
            --from-logs) from_logs=1 ;;
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
    local table="" id line
    IFS=, read -r -a ids <<<"$kernels"
    for id in "${ids[@]}"; do
        line=$(grep -a 'BENCH-RESULT vfs-read ' "$CACHE/logs/$id.log" | tail -n 1 | tr -d '\r' || true)
        [[ -n "$line" ]] || continue
        table+=$(awk -v id="$id" '{
            for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            a = v["a_none"]; b = v["b_other"]; c = v["c_prob0"]; d = v["d_empty_kprobe"]; e = v["e_prob0_verbose1"]
            printf "| %s | %.0f | %.0f (+%.0f) | %.0f (+%.0f) | %.0f (+%.0f) | %.0f (+%.0f) | %.2f ",
                id, a, b, b - a, c, c - a, d, d - a, e, e - a, (b - a) / (d - a)
        }' <<<"$line")
        # Paired per-round ratios: every round measures all five side by
        # side, so a ratio within a round cancels most of TCG's drift.
        raw=$(grep -a '^BENCH-RAW ' "$CACHE/logs/$id.log" | tail -n 1 | tr -d '\r' || true)
        table+=$(python3 - "$raw" <<'PY'
import sys, statistics
raw = sys.argv[1][len("BENCH-RAW "):]
try:
    v = {k.strip(): [float(x) for x in vals.split()] for k, vals in (p.split(":", 1) for p in raw.split("|"))}
    a, b, d, e = v["a"], v["b"], v["d"], v["e"]
    med = lambda xs, ys: statistics.median(x / y for x, y in zip(xs, ys))
    print(f"| {med(b, a):.2f} | {med(d, a):.2f} | {med(b, d):.2f} ({sum(x < y for x, y in zip(b, d))}/{len(b)}) "
          f"| {med(e, b):.2f} ({sum(x < y for x, y in zip(e, b))}/{len(b)}) |")
except (KeyError, ValueError, ZeroDivisionError, statistics.StatisticsError):
    print("| | | | |")
PY
)
        table+=$'\n'
    done
    python3 - "$REPO/BENCHMARKS.md" "$table" <<'PY'
import sys, datetime
path, table = sys.argv[1], sys.argv[2]
text = open(path).read()
begin, end = "<!-- vfs-read results begin -->", "<!-- vfs-read results end -->"
head = ("| kernel | (a) no module | (b) armed, other process | (c) armed, this process, p=0 "
        "| (d) empty kprobe | (e) as (b), verbose 1 | (b-a)/(d-a) "
        "| b/a | d/a | b/d (b<d) | e/b (e<b) |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
body = (f"{begin}\nMeasured {datetime.date.today()} (ns per 1-byte pread, minimum of the interleaved rounds; "
        "+N = added cost over (a); medians are in the console logs. The last four columns are paired: the "
        "median over rounds of the ratio within one round, and in how many rounds the first was faster).\n\n"
        f"{head}{table}{end}")
i, j = text.index(begin), text.index(end) + len(end)
open(path, "w").write(text[:i] + body + text[j:])
PY
    echo "BENCHMARKS.md updated"
}

main "$@"
