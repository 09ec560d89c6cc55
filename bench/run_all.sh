#!/usr/bin/env bash
# Runs every benchmark in sequence (never two at once: the machine has 2 cores),
# teeing each one's output to bench/results/<name>.txt and everything to
# bench/results/run_all.txt. Not part of the pytest suite; benchmarks print figures
# and a verdict, they never fail on a timing.
#
#   bench/run_all.sh            # all of them (~45 min, sync_bytes alone ~19 min)
#   bench/run_all.sh ingest queries   # only those named
#
# Needs: the venv (. .venv/bin/activate), wrk, /usr/bin/chromium, PostgreSQL at
# 127.0.0.1:5432 (trust auth, role root) for the PostgreSQL parts; each script makes
# its own databases and drops them.
set -uo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${VIRTUAL_ENV:-}" && -f .venv/bin/activate ]]; then
  # shellcheck disable=SC1091
  . .venv/bin/activate
fi
mkdir -p bench/results
ALL=(ingest http_overhead queries scale_pg sync_bytes shell_weight buyer profile_progress split_progress)
NAMES=("$@")
[[ ${#NAMES[@]} -eq 0 ]] && NAMES=("${ALL[@]}")
LOG=bench/results/run_all.txt
# The product under test (backend/, pwa/, assessments/, pyproject.toml: committed
# blobs + uncommitted changes + untracked files): printed at the start and the end,
# so a change landing mid-run is visible.
PRODUCT=(backend pwa assessments pyproject.toml)
fingerprint() {
  { git ls-files -s -- "${PRODUCT[@]}" 2>/dev/null
    git diff HEAD -- "${PRODUCT[@]}" 2>/dev/null
    git ls-files --others --exclude-standard -- "${PRODUCT[@]}" 2>/dev/null | sort | xargs -r cat 2>/dev/null
  } | sha256sum | cut -c1-16
}
START_FP=$(fingerprint)
{
  echo "# bench/run_all.sh — $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
       "$(free -g | awk '/Mem:/{print $2}') GiB RAM, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# git $(git rev-parse --short HEAD 2>/dev/null) (uncommitted product paths: $(git status --short -- "${PRODUCT[@]}" 2>/dev/null | wc -l)); product fingerprint $START_FP"
} | tee "$LOG"
for name in "${NAMES[@]}"; do
  echo | tee -a "$LOG"
  echo "## $name — start $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$LOG"
  start=$(date +%s)
  python "bench/$name.py" 2>&1 | tee "bench/results/$name.txt" | tee -a "$LOG"
  echo "## $name — $(( $(date +%s) - start )) s, exit ${PIPESTATUS[0]}" | tee -a "$LOG"
done
echo | tee -a "$LOG"
END_FP=$(fingerprint)
if [[ "$END_FP" == "$START_FP" ]]; then
  echo "# product fingerprint at the end $END_FP: unchanged during the run" | tee -a "$LOG"
else
  echo "# WARNING: the product changed during the run ($START_FP -> $END_FP)" | tee -a "$LOG"
fi
echo "# verdicts" | tee -a "$LOG"
grep -h "^VERDICT" $(for n in "${NAMES[@]}"; do echo "bench/results/$n.txt"; done) | tee -a "$LOG"
