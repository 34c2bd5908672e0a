#!/usr/bin/env bash
# Prints the bad-input table written by badinput_suite.sh (TSV) as Markdown,
# for RELIABILITY.md:  tests/userspace/badinput-table.sh [TABLE.tsv]
set -o errexit -o nounset -o pipefail
TABLE="${1:-${KVMFI_CACHE:-/var/cache/kvmfi}/logs/badinput-table.tsv}"
[[ -s "$TABLE" ]] || { echo "badinput-table.sh: $TABLE is missing or empty; run tests/userspace/run.sh badinput" >&2; exit 5; }
echo "| binary | case | environment | command line | wanted | got | message (stderr, one line) |"
echo "|---|---|---|---|---|---|---|"
# Work-directory paths and pids differ per run: shown as placeholders.
sed -E -e 's#/tmp/kvmfi-badinput\.[A-Za-z0-9]+#WORK#g' "$TABLE" |
  awk -F '\t' '{
    for (i = 1; i <= NF; i++) { gsub(/\|/, "\\|", $i); gsub(/`/, "'"'"'", $i) }
    env = ($3 == "-") ? "" : "`" $3 "`"
    printf "| %s | %s | %s | `%s` | %s | %s | %s |\n", $1, $2, env, $4, $5, $6, $7
  }'
