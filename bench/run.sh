#!/usr/bin/env bash
# Benchmarks for upcheck on this machine, against local targets only
# (examples/bench_targets.rs on 127.0.0.1):
#   A: 200 HTTP targets, every 10th hangs, timeout = "2s", at parallel 32 and 200:
#      median wall time of 5 runs, and its ratio to the 2 s timeout (target: within 5%).
#   B: 50 healthy HTTP targets: 3 warm-up runs, then 30 measured runs: median and
#      p90 wall time, median peak RSS (targets: median <= 10 ms, RSS <= 12 MB).
# Each scenario gets a fresh temp folder whose database persists across its runs,
# as it would under cron. Needs cargo and python3; nothing else.
# Reproduce: bash bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release --quiet
cargo build --release --quiet --example bench_targets
BIN="$PWD/target/release/upcheck"
TARGETS="$PWD/target/release/examples/bench_targets"

TMP="$(mktemp -d -t upcheck-bench.XXXXXX)"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

"$TARGETS" --max-seconds 600 >"$TMP/port" &
SERVER_PID=$!
for _ in $(seq 100); do
    [[ -s "$TMP/port" ]] && break
    sleep 0.05
done
PORT="$(head -n1 "$TMP/port")"
[[ "$PORT" =~ ^[0-9]+$ ]] || { echo "bench_targets printed no port" >&2; exit 1; }

# Measures one command per run. Wall time: perf_counter around spawn..reap.
# Peak RSS: ru_maxrss from os.wait4 (KiB on Linux). A child forked straight from
# Python reports at least Python's own RSS (exec records the old mm's high-water
# mark in the same counter), so the command is started by a short-lived sh in
# the background and reaped by this process as child subreaper: its ru_maxrss
# then starts from sh's small footprint. The "harness floor" row measures
# /bin/true the same way; the "naive" row shows what a direct Popen reports.
cat >"$TMP/measure.py" <<'PY'
import ctypes, json, math, os, statistics, subprocess, sys, time

PR_SET_CHILD_SUBREAPER = 36
if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed")
LAUNCH = 'o=$1; e=$2; shift 2; "$@" >"$o" 2>"$e" </dev/null &'

def once(argv, out, err):
    """(wall ms, maxrss KiB, exit code, printed anything) of one run of argv."""
    t0 = time.perf_counter()
    sh = subprocess.Popen(["/bin/sh", "-c", LAUNCH, "sh", out, err] + argv)
    reaped, code = 0, None
    while reaped < 2:
        pid, status, ru = os.wait4(-1, 0)
        t1 = time.perf_counter()
        reaped += 1
        if pid == sh.pid:
            sh.returncode = os.waitstatus_to_exitcode(status)
        else:
            wall, rss, code = (t1 - t0) * 1000, ru.ru_maxrss, os.waitstatus_to_exitcode(status)
    if code is None:
        sys.exit(f"{argv[0]} did not start")
    printed = os.path.getsize(out) + os.path.getsize(err) > 0
    return wall, rss, code, printed

def naive(argv):
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return ru.ru_maxrss

def p90(xs):
    return sorted(xs)[math.ceil(0.9 * len(xs)) - 1]

def main():
    label, runs, warmup, workdir, results = sys.argv[1:6]
    argv = sys.argv[6:]
    runs, warmup = int(runs), int(warmup)
    out, err = os.path.join(workdir, "stdout"), os.path.join(workdir, "stderr")
    walls, rsss, noisy = [], [], 0
    for i in range(warmup + runs):
        wall, rss, code, printed = once(argv, out, err)
        if code != 0:
            sys.stderr.write(open(err).read())
            sys.exit(f"{label}: run {i + 1} exited {code}")
        if i >= warmup:
            walls.append(wall)
            rsss.append(rss / 1024)
            noisy += printed
    row = {
        "label": label, "runs": runs, "warmup": warmup,
        "median_ms": statistics.median(walls), "p90_ms": p90(walls),
        "min_ms": min(walls), "max_ms": max(walls),
        "rss_median_mb": statistics.median(rsss), "rss_max_mb": max(rsss),
        "noisy_runs": noisy,
    }
    if label == "harness floor":
        row["naive_rss_mb"] = naive(argv) / 1024
    with open(results, "a") as f:
        f.write(json.dumps(row) + "\n")
    print(f"  {label}: {runs} runs after {warmup} warm-up: wall median {row['median_ms']:.1f} ms, "
          f"p90 {row['p90_ms']:.1f} ms (min {row['min_ms']:.1f}, max {row['max_ms']:.1f}); "
          f"peak RSS median {row['rss_median_mb']:.1f} MB (max {row['rss_max_mb']:.1f})"
          + (f"; {noisy} run(s) printed output" if noisy else ""))

main()
PY
RESULTS="$TMP/results.jsonl"
measure() { python3 "$TMP/measure.py" "$@"; }

# config FILE PARALLEL COUNT HANGS ORDER: COUNT targets, HANGS of them /hang, placed
# "spread" (every COUNT/HANGS-th), "first" or "last"; the others /ok.
config() {
    local file=$1 parallel=$2 count=$3 hangs=$4 order=$5 i path hang
    {
        echo 'database = "upcheck.db"'
        echo 'timeout = "2s"'
        if [[ -n "$parallel" ]]; then echo "parallel = $parallel"; fi
        for i in $(seq "$count"); do
            case "$order" in
                spread) hang=$(( hangs > 0 && i % (count / (hangs > 0 ? hangs : 1)) == 0 )) ;;
                first) hang=$(( i <= hangs )) ;;
                last) hang=$(( i > count - hangs )) ;;
            esac
            path=/ok
            if (( hang )); then path=/hang; fi
            printf '\n[[service]]\nname = "t%03d"\nurl = "http://127.0.0.1:%s%s"\n' "$i" "$PORT" "$path"
        done
    } >"$file"
}

echo "upcheck benchmark: $(uname -srm), $(nproc) CPUs, targets on 127.0.0.1:$PORT"
echo "load average $(cut -d" " -f1-3 /proc/loadavg) before starting: other work on these CPUs or disk skews every figure"
echo
measure "harness floor" 30 3 "$TMP" "$RESULTS" /bin/true

echo
echo "Scenario A: 200 targets, 20 hang (positions 10, 20, ..., 200 of 200), timeout 2s"
for parallel in 32 200; do
    dir="$TMP/a$parallel"
    mkdir "$dir"
    # parallel=32 is left out of the config: the default.
    config "$dir/upcheck.toml" "$([[ $parallel == 32 ]] || echo "$parallel")" 200 20 spread
    measure "A parallel=$parallel" 5 0 "$dir" "$RESULTS" "$BIN" --config "$dir/upcheck.toml"
done
echo "  Does the order matter? The same 20 hangs at parallel=32, listed first / last (3 runs each):"
for order in first last; do
    dir="$TMP/a32$order"
    mkdir "$dir"
    config "$dir/upcheck.toml" "" 200 20 "$order"
    measure "A parallel=32, hangs $order" 3 0 "$dir" "$RESULTS" "$BIN" --config "$dir/upcheck.toml"
done
cat <<'EOF'
  Each hanging probe holds a slot for its whole timeout, and its timeout starts when
  it starts: wall >= (start of the last hanging probe) + 2s, and >= ceil(H/P) x 2s for
  H hangs at parallel P, whatever the order. H=20 <= P=32, so one timeout is reachable
  at the default parallel, but only if the hangs start early: listed first they start
  at once; spread or last, the last one waits for the healthy probes ahead of it.
  With H > P (33 hangs at parallel=32, or 20 at parallel=16) no order gets under 4s.
EOF

echo
echo "Scenario B: 50 healthy targets"
dir="$TMP/b"
mkdir "$dir"
config "$dir/upcheck.toml" "" 50 0 spread
measure "B 50 healthy" 30 3 "$dir" "$RESULTS" "$BIN" --config "$dir/upcheck.toml"

echo
python3 - "$RESULTS" <<'PY'
import json, sys
rows = {r["label"]: r for r in map(json.loads, open(sys.argv[1]))}
floor, b = rows["harness floor"], rows["B 50 healthy"]
ok = lambda cond: "yes" if cond else "NO"
print("Summary                         measured                   target        met")
for p in (32, 200):
    r = rows[f"A parallel={p}"]
    ratio = r["median_ms"] / 2000
    print(f"A 200 (20 hang) parallel={p:<4} median {r['median_ms']:7.1f} ms = {ratio:.3f} x 2s   <= 1.05 x 2s   {ok(ratio <= 1.05)}")
print(f"B 50 healthy wall              median {b['median_ms']:5.1f} ms, p90 {b['p90_ms']:5.1f} ms  <= 10 ms       {ok(b['median_ms'] <= 10)}")
print(f"B 50 healthy peak RSS          median {b['rss_median_mb']:5.1f} MB (max {b['rss_max_mb']:.1f})   <= 12 MB       {ok(b['rss_median_mb'] <= 12)}")
for order in ("first", "last"):
    r = rows[f"A parallel=32, hangs {order}"]
    print(f"  same, hangs listed {order:<5}      median {r['median_ms']:7.1f} ms = {r['median_ms'] / 2000:.3f} x 2s")
print(f"harness floor (/bin/true)      wall {floor['median_ms']:.1f} ms, RSS {floor['rss_median_mb']:.1f} MB"
      f" (a direct Popen would report {floor['naive_rss_mb']:.1f} MB)")
PY
echo
echo "Reproduce: bash bench/run.sh"
