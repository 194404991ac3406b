#!/usr/bin/env bash
# Benchmarks for upcheck on this machine, against local targets only
# (examples/bench_targets.rs on 127.0.0.1):
#   A: 200 HTTP targets, every 10th hangs, timeout = "2s", at parallel 32 and 200:
#      median wall time of 5 runs, and its ratio to the 2 s timeout (target: within 5%).
#   B: 50 healthy HTTP targets: 3 warm-up runs, then 30 measured runs: median and
#      p90 wall time, median peak RSS (targets: median <= 10 ms, RSS <= 12 MB).
# Each scenario gets a fresh temp folder whose database persists across its runs,
# as it would under cron. Needs cargo and python3; nothing else.
#   C: a year of history: 100 healthy targets against an empty database and one
#      holding 10.5 million checks (100 services, a year at 5-minute cadence,
#      built with SQL in the order upcheck writes them), and one of 31 days:
#      healthy run, --force run, status --json, each three times (alternating
#      runs, medians; target: the year within 1.2x of the empty one; the 31
#      days tell history's length from the uptime windows' content), and
#      bytes per check.
#   L: slow-100: 100 targets that each answer after 200 ms, upcheck at parallel = 256
#      against `curl -Z --parallel-immediate` fetching the same 100 URLs, runs
#      alternating: both medians (wall, CPU) and their ratio (target: <= 1.05x curl).
#   T: response-time truth: 200 such targets probed at once while curl fetches
#      one of the same URLs: the median stored response_ms against curl's
#      time_total, medians of 15 runs (target: within 5%).
#   K: 5,000 and 20,000 healthy targets at parallel = 256, `ulimit -n 4096`:
#      median wall and peak RSS (targets: 5,000 in <= 0.5 s and <= 24 MiB;
#      20,000 a linear multiple).
#   R: the README's sqlite3 questions on C's year (with C): median of 7 each,
#      with its query plan (target: each <= 100 ms).
#   AB: scenario B's 50 healthy targets, run alternately by BASE (another
#      upcheck binary, e.g. one built from an earlier commit) and this build:
#      both medians and their ratio (BASE=/path/to/upcheck bash bench/run.sh AB).
#   D: scale: `check-config` of a 10,000-service config (median of 10), and a
#      run of 2,000 healthy targets with `ulimit -n 256` and parallel = 1000
#      (median of 5; every service must come out online).
#   N: noise control: 200 targets (every tenth failing) with 20 silenced, 3
#      maintenance windows (one open) and a dependency tree (each depends on
#      one of ten above it), against the same 200 without them, alternating:
#      both medians and their ratio (target: within 1.1x).
#   J: per-check cost of assertions: 50 healthy targets checked with `json`,
#      `body_matches` and `body_not_contains` against the same 50 plain,
#      runs alternating: both medians and their ratio.
#   P: the status page on a year of history (with C): C's year database with
#      50 outages added, runs with `status_page` (90-day bars, sparklines,
#      outages, status.json) against the same runs without, alternating.
#   S: storage: 100 healthy targets, 100 runs (10,000 checks), then VACUUM:
#      bytes per stored check (the whole file over the rows of `checks`).
#   G: a fleet's database: B's 50 healthy targets stored in SQLite and in a
#      PostgreSQL on this machine (Debian's, started here as the `postgres`
#      user, fsync on as a real server), runs alternating: both medians.
#   Q: the decision step of a fleet: 200 services checked by 1, 2 and 3
#      probes sharing one PostgreSQL; each round runs every probe once; the
#      median of the "decided ... in X ms" that -v reports, per probe count.
#   M: `migrate --from` C's year (10.5 M checks) into a local PostgreSQL,
#      once: wall time and rows per second (only when asked, with C:
#      bash bench/run.sh C M).
# Reproduce: bash bench/run.sh [A] [B] [L] [T] [K] [C] [P] [R] [D] [J] [N] [S] [G] [Q]   (default: all; C, P and S need sqlite3,
# installed with apt-get if missing, and about 2 GB of disk; G and Q need PostgreSQL, tests/deps.sh installs it)
set -euo pipefail
SCENARIOS="${*:-A B L T K C P R D J N S G Q}"  # AB only when asked for: it needs BASE
want() { [[ " $SCENARIOS " == *" $1 "* ]]; }
cd "$(dirname "$0")/.."

cargo build --release --quiet
cargo build --release --quiet --example bench_targets
BIN="${UPCHECK_BIN:-$PWD/target/release/upcheck}"  # UPCHECK_BIN: measure another build
TARGETS="$PWD/target/release/examples/bench_targets"

TMP="$(mktemp -d -t upcheck-bench.XXXXXX)"
SERVER_PID=""
cleanup() {
    if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; fi
    if [[ -n "${PG_PID:-}" ]]; then kill -INT "$PG_PID" 2>/dev/null || true; wait "$PG_PID" 2>/dev/null || true; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

"$TARGETS" --max-seconds 600 >"$TMP/port" &
SERVER_PID=$!
for _ in $(seq 100); do
    [[ -s "$TMP/port" ]] && break
    sleep 0.05
done
for _ in $(seq 100); do
    [[ $(wc -l <"$TMP/port") -ge 2 ]] && break
    sleep 0.05
done
PORT="$(head -n1 "$TMP/port")"
SLOW_PORT="$(sed -n 2p "$TMP/port")"  # /slow?ms=N, a thread per connection
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
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
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

def ab(runs, warmup, dir_a, dir_b, bin_a, bin_b, config_name):
    """Two binaries on the same targets, runs alternating (a b, b a, ...) so
    that a busy moment of the machine falls on both: medians and their ratio."""
    walls = {"a": [], "b": []}
    for i in range(warmup + runs):
        order = [("a", bin_a, dir_a), ("b", bin_b, dir_b)]
        if i % 2:
            order.reverse()
        for key, binary, workdir in order:
            out, err = os.path.join(workdir, "stdout"), os.path.join(workdir, "stderr")
            wall, _, code, _ = once([binary, "--config", os.path.join(workdir, config_name)], out, err)
            if code != 0:
                sys.stderr.write(open(err).read())
                sys.exit(f"{binary}: run {i + 1} exited {code}")
            if i >= warmup:
                walls[key].append(wall)
    ma, mb = statistics.median(walls["a"]), statistics.median(walls["b"])
    print(f"  {runs} alternating pairs after {warmup} warm-up: base {bin_a}: median {ma:.1f} ms; "
          f"this build: median {mb:.1f} ms; ratio this/base {mb / ma:.2f}")

if sys.argv[1] == "--ab":
    ab(int(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:8], sys.argv[8])
else:
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

# alternate LABEL NAME_A CONFIG_A NAME_B CONFIG_B: runs the two configs in
# turn (3 warm-up pairs, then 30), prints both medians and their ratio, and
# records them as LABEL (a_ms, b_ms) for the summary.
alternate() {
    python3 - "$BIN" "$RESULTS" "$@" <<'PY'
import json, statistics, subprocess, sys, time
bin_, results, label, name_a, cfg_a, name_b, cfg_b = sys.argv[1:8]
walls = {"a": [], "b": []}
for i in range(3 + 30):
    for side, cfg in (("a", cfg_a), ("b", cfg_b)):
        t = time.perf_counter()
        subprocess.run([bin_, "--config", cfg], stdout=subprocess.DEVNULL, check=True)
        if i >= 3:
            walls[side].append((time.perf_counter() - t) * 1000)
a, b = statistics.median(walls["a"]), statistics.median(walls["b"])
print(f"  30 alternating pairs after 3 warm-up: {name_a}: median {a:.1f} ms; {name_b}: median {b:.1f} ms; ratio {b / a:.2f}")
with open(results, "a") as f:
    f.write(json.dumps({"label": label, "a_ms": a, "b_ms": b}) + "\n")
PY
}

echo "upcheck benchmark: $(uname -srm), $(nproc) CPUs, targets on 127.0.0.1:$PORT"
echo "load average $(cut -d" " -f1-3 /proc/loadavg) before starting: other work on these CPUs or disk skews every figure"
echo
measure "harness floor" 30 3 "$TMP" "$RESULTS" /bin/true

if want A; then
echo
echo "Scenario A: 200 targets, 20 hang (positions 10, 20, ..., 200 of 200), timeout 2s"
for parallel in 32 200; do
    dir="$TMP/a$parallel"
    mkdir "$dir"
    # parallel=32 is left out of the config: the default.
    config "$dir/upcheck.toml" "$([[ $parallel == 32 ]] || echo "$parallel")" 200 20 spread
    measure "A parallel=$parallel" 5 1 "$dir" "$RESULTS" "$BIN" --config "$dir/upcheck.toml"
done
echo "  Does the order matter? The same 20 hangs at parallel=32, listed first / last (3 runs each):"
for order in first last; do
    dir="$TMP/a32$order"
    mkdir "$dir"
    config "$dir/upcheck.toml" "" 200 20 "$order"
    measure "A parallel=32, hangs $order" 3 1 "$dir" "$RESULTS" "$BIN" --config "$dir/upcheck.toml"
done
cat <<'EOF'
  Each hanging probe holds a slot for its whole timeout, and its timeout starts when
  it starts: wall >= (start of the last hanging probe) + 2s, and >= ceil(H/P) x 2s for
  H hangs at parallel P, whatever the order. H=20 <= P=32, so one timeout is reachable
  at the default parallel, but only if the hangs start early: listed first they start
  at once; spread or last, the last one waits for the healthy probes ahead of it.
  With H > P (33 hangs at parallel=32, or 20 at parallel=16) no order gets under 4s.
  upcheck starts the services that were slowest last run first, so from the second
  run on the order in the config no longer matters (hence one warm-up run).
EOF
fi

if want B; then
echo
echo "Scenario B: 50 healthy targets"
dir="$TMP/b"
mkdir "$dir"
config "$dir/upcheck.toml" "" 50 0 spread
measure "B 50 healthy" 30 3 "$dir" "$RESULTS" "$BIN" --config "$dir/upcheck.toml"
fi

# slow_config FILE COUNT MS PARALLEL: COUNT targets that each answer after MS ms
# (distinct URLs, one connection each, as distinct services would be).
slow_config() {
    local file=$1 count=$2 ms=$3 parallel=$4 i
    { echo 'database = "upcheck.db"'; echo 'timeout = "5s"'; echo "parallel = $parallel"
      for i in $(seq "$count"); do
          printf '\n[[service]]\nname = "s%05d"\nurl = "http://127.0.0.1:%s/slow?ms=%s&i=%d"\n' "$i" "$SLOW_PORT" "$ms" "$i"
      done; } >"$file"
}

if want L; then
echo
echo "Scenario L: 100 targets that each answer in 200 ms, upcheck (parallel = 256) against curl -Z on the same URLs"
dir="$TMP/l"
mkdir "$dir"
slow_config "$dir/upcheck.toml" 100 200 256
grep -o 'http://[^"]*' "$dir/upcheck.toml" | sed 's/.*/url = "&"\noutput = "\/dev\/null"/' >"$dir/curl.cfg"
python3 - "$BIN" "$dir" "$RESULTS" <<'PY'
import json, os, statistics, subprocess, sys, time
bin_, d, results = sys.argv[1:4]
sides = {
    "upcheck": [bin_, "--config", f"{d}/upcheck.toml"],
    "curl": ["curl", "-sS", "--no-progress-meter", "-Z", "--parallel-max", "300", "--parallel-immediate", "-K", f"{d}/curl.cfg"],
}
walls, cpus = {k: [] for k in sides}, {k: [] for k in sides}
for i in range(3 + 21):
    order = list(sides.items())
    if i % 2:
        order.reverse()
    for name, argv in order:
        t = time.perf_counter()
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        wall = (time.perf_counter() - t) * 1000
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"{name} exited {os.waitstatus_to_exitcode(status)}")
        if i >= 3:
            walls[name].append(wall)
            cpus[name].append((ru.ru_utime + ru.ru_stime) * 1000)
u, c = statistics.median(walls["upcheck"]), statistics.median(walls["curl"])
for name in sides:
    print(f"  {name}: wall median {statistics.median(walls[name]):.1f} ms, CPU (user + system) median {statistics.median(cpus[name]):.1f} ms")
print(f"  21 alternating pairs after 3 warm-up: upcheck/curl {u / c:.3f}; upcheck/200 ms floor {u / 200:.3f}")
with open(results, "a") as f:
    f.write(json.dumps({"label": "L slow-100", "a_ms": c, "b_ms": u}) + "\n")
PY
fi

if want T; then
echo
echo "Scenario T: response-time truth, 200 probes in flight against 200 ms targets, curl fetching one of the same URLs meanwhile"
dir="$TMP/t"
mkdir "$dir"
slow_config "$dir/upcheck.toml" 200 200 256
python3 - "$BIN" "$dir" "$RESULTS" "http://127.0.0.1:$SLOW_PORT/slow?ms=200&i=1" <<'PY'
import json, sqlite3, statistics, subprocess, sys, time
bin_, d, results, url = sys.argv[1:5]
stored, curled = [], []
for i in range(3 + 15):
    run = subprocess.Popen([bin_, "--config", f"{d}/upcheck.toml"])
    time.sleep(0.02)  # curl's request goes out while upcheck's 200 are in flight
    c = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{time_total}", url],
                       capture_output=True, text=True, check=True)
    if run.wait() != 0:
        sys.exit("upcheck failed")
    if i < 3:
        continue
    db = sqlite3.connect(f"{d}/upcheck.db")
    ms = [r[0] for r in db.execute(
        "SELECT response_ms FROM checks WHERE run_id = (SELECT max(id) FROM runs) AND status = 'online'")]
    if len(ms) != 200:
        sys.exit(f"{len(ms)} of 200 online")
    stored.append(statistics.median(ms))
    curled.append(float(c.stdout) * 1000)
s, c = statistics.median(stored), statistics.median(curled)
print(f"  15 runs after 3 warm-up: stored response_ms median of run medians {s:.1f} ms; curl time_total median {c:.1f} ms; ratio {s / c:.3f}")
with open(results, "a") as f:
    f.write(json.dumps({"label": "T truth", "a_ms": c, "b_ms": s}) + "\n")
PY
fi

if want K; then
echo
echo "Scenario K: 5,000 and 20,000 healthy targets, ulimit -n 4096, parallel = 256"
for n in 5000 20000; do
    dir="$TMP/k$n"
    mkdir "$dir"
    { echo 'database = "upcheck.db"'; echo 'parallel = 256'
      for i in $(seq "$n"); do
          printf '\n[[service]]\nname = "s%05d"\nurl = "http://127.0.0.1:%s/ok"\n' "$i" "$PORT"
      done; } >"$dir/upcheck.toml"
    measure "K $n healthy" "$([[ $n == 5000 ]] && echo 9 || echo 5)" 1 "$dir" "$RESULTS" \
        bash -c 'ulimit -n 4096 && exec "$0" "$@"' "$BIN" --config "$dir/upcheck.toml"
done
fi

if want AB; then
echo
echo "Scenario AB: 50 healthy targets, BASE=$BASE against this build, interleaved"
[[ -x "${BASE:-}" ]] || { echo "AB needs BASE=/path/to/an/upcheck/binary" >&2; exit 1; }
for side in base this; do
    mkdir "$TMP/ab$side"
    config "$TMP/ab$side/upcheck.toml" "" 50 0 spread
done
measure --ab 30 3 "$TMP/abbase" "$TMP/abthis" "$BASE" "$BIN" upcheck.toml
fi

if want C; then
command -v sqlite3 >/dev/null || { apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null; }
echo
echo "Scenario C: 100 healthy targets, an empty database next to a month and a year of history"
for size in empty month year; do
    dir="$TMP/c$size"
    mkdir "$dir"
    config "$dir/upcheck.toml" "" 100 0 spread
    # Keep the whole year (no pruning while measuring); mail goes into files.
    { printf 'retention = "400d"\n'; cat "$dir/upcheck.toml"
      printf '\n[email]\nto = ["ops@example.com"]\nfrom = "upcheck@example.com"\ntransport = "file"\n'; } > "$dir/c.toml"
    mv "$dir/c.toml" "$dir/upcheck.toml"
    "$BIN" --config "$dir/upcheck.toml" >/dev/null
    if [[ $size != empty ]]; then
        started=$(date +%s)
        # A year (or 31 days) before now, every 5 minutes, 100 services:
        # checks in time order (as upcheck appends them), 1% failing, then
        # the rollups and totals they imply.
        days=$([[ $size == year ]] && echo 365 || echo 31)
        runs=$(( days * 288 ))
        sqlite3 "$dir/upcheck.db" <<SQL
PRAGMA synchronous = OFF;
BEGIN;
CREATE TEMP TABLE services AS SELECT service FROM service_state;
WITH RECURSIVE t(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM t WHERE i < $runs)
INSERT INTO runs (id, started_at, finished_at, forced, host, version, services, failing)
SELECT -i, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-$(( days + 1 )) days', printf('+%d seconds', ($runs + 1 - i) * 300)),
       strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-$(( days + 1 )) days', printf('+%d seconds', ($runs + 1 - i) * 300 + 1)),
       0, 'bench', 'bench', 100, 0
FROM t;
-- Ids as upcheck hands them out: counted on from sequences, in the order
-- the checks are written.
INSERT INTO checks (id, run_id, service, checked_at, status, response_ms, status_code, error)
SELECT (SELECT last FROM sequences WHERE name = 'checks') + row_number() OVER (ORDER BY r.started_at, s.service),
       r.id, s.service, r.started_at,
       CASE WHEN abs(random()) % 100 = 0 THEN 'offline' ELSE 'online' END,
       abs(random()) % 40, 200, NULL
FROM runs r, services s WHERE r.id < 0 ORDER BY r.started_at, s.service;
UPDATE sequences SET last = (SELECT max(id) FROM checks) WHERE name = 'checks';
INSERT INTO checks_hourly (service, hour, checks, online, total_ms)
SELECT service, strftime('%Y-%m-%dT%H:00:00.000Z', checked_at), count(*), sum(status = 'online'), sum(response_ms)
FROM checks WHERE run_id < 0 GROUP BY 1, 2
ON CONFLICT (hour, service) DO UPDATE SET checks = checks + excluded.checks,
    online = online + excluded.online, total_ms = total_ms + excluded.total_ms;
INSERT INTO checks_daily (service, day, checks, online, total_ms)
SELECT service, substr(hour, 1, 10), sum(checks), sum(online), sum(total_ms)
FROM checks_hourly GROUP BY 1, 2
ON CONFLICT (day, service) DO UPDATE SET checks = excluded.checks,
    online = excluded.online, total_ms = excluded.total_ms;
UPDATE service_state SET
    checks_total = (SELECT sum(checks) FROM checks_hourly h WHERE h.service = service_state.service),
    online_total = (SELECT sum(online) FROM checks_hourly h WHERE h.service = service_state.service);
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
SQL
        echo "  built $(sqlite3 "$dir/upcheck.db" 'SELECT count(*) FROM checks') checks in $(( $(date +%s) - started ))s"
        # Let the gigabyte just written reach the disk before timing anything.
        sync
        sleep 10
    fi
    echo "  $size: database $(du -m "$dir/upcheck.db" | cut -f1) MB"
    echo "{\"label\": \"C $size size\", \"mb\": $(du -m "$dir/upcheck.db" | cut -f1)}" >> "$RESULTS"
done
# Empty and year runs alternate, so whatever else the machine is doing weighs
# on both alike and the ratio stays honest.
python3 - "$BIN" "$TMP/cempty/upcheck.toml" "$TMP/cyear/upcheck.toml" "$RESULTS" "$TMP/cmonth/upcheck.toml" <<'PY'
import json, os, statistics, subprocess, sys, time
bin_, empty, year, results, month = sys.argv[1:6]
def run(cfg, args):
    t = time.perf_counter()
    subprocess.run([bin_, "--config", cfg] + args, stdout=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - t) * 1000
# Three repetitions of each, so a ratio is seen thrice.
for what, args, n in (("healthy run", [], 25), ("--force run", ["--force"], 15), ("status --json", ["status", "--json"], 25)):
    ratios = []
    for rep in range(3):
        # Writes still on their way to the disk (the year just built, the
        # runs before) land in no measured run: a second of writeback inside
        # a repetition skewed one to 1.4x while the two around it read 1.1x.
        os.sync()
        time.sleep(2)
        walls = {"empty": [], "month": [], "year": []}
        for i in range(3 + n):
            for size, cfg in (("empty", empty), ("month", month), ("year", year)):
                wall = run(cfg, args)
                if i >= 3:
                    walls[size].append(wall)
        e, m, y = (statistics.median(walls[k]) for k in ("empty", "month", "year"))
        ratios.append(y / e)
        print(f"  C {what}, repetition {rep + 1}: {n} alternating triples after 3 warm-up: empty {e:.1f} ms, "
              f"31 days {m:.1f} ms, year {y:.1f} ms: year/empty {y / e:.2f}x, year/31 days {y / m:.2f}x")
        with open(results, "a") as f:
            f.write(json.dumps({"label": f"C {what} {rep + 1}", "empty_ms": e, "month_ms": m, "year_ms": y}) + "\n")
PY
rows=$(sqlite3 "$TMP/cyear/upcheck.db" 'SELECT count(*) FROM checks')
bytes=$(stat -c %s "$TMP/cyear/upcheck.db")
echo "  year: $rows checks in $bytes bytes = $(( bytes / rows )) bytes per check (the whole file, rollups and all)"
echo "{\"label\": \"C bytes per check\", \"bytes\": $bytes, \"rows\": $rows}" >> "$RESULTS"
fi

if want P && want C; then
echo
echo "Scenario P: the status page on a year of history (C's year database)"
# Fifty outages over the last 90 days, each a DOWN alert and its recovery,
# as the page's "Recent outages" reads them.
sqlite3 "$TMP/cyear/upcheck.db" <<'SQL'
WITH RECURSIVE t(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM t WHERE i < 50)
INSERT INTO notifications (run_id, service, kind, created_at, sent_at, began)
SELECT (SELECT max(id) FROM runs),
       (SELECT service FROM (SELECT service, row_number() OVER (ORDER BY service) - 1 AS n FROM service_state) WHERE n = i % 100),
       kind, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('-%d hours', i * 40 - off)),
       strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('-%d hours', i * 40 - off)),
       CASE kind WHEN 'down' THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('-%d hours', i * 40 + 1)) END
FROM t, (SELECT 'down' AS kind, 0 AS off UNION ALL SELECT 'recovery', 2)
ORDER BY i, off;
SQL
sed 's|^retention = "400d"|retention = "400d"\nstatus_page = "www/index.html"|' "$TMP/cyear/upcheck.toml" > "$TMP/cyear/page.toml"
alternate "P page" "without the page" "$TMP/cyear/upcheck.toml" "with the page" "$TMP/cyear/page.toml"
echo "  the page: $(stat -c %s "$TMP/cyear/www/index.html") bytes, $(grep -o 'class="days"' "$TMP/cyear/www/index.html" | wc -l) bars, status.json $(stat -c %s "$TMP/cyear/www/status.json") bytes"
fi

if want R && want C; then
echo
echo "Scenario R: the README's sqlite3 questions on C's year (price-api: t050, which has P's outages if P ran)"
python3 - "$TMP/cyear/upcheck.db" README.md "$RESULTS" <<'PY'
import json, sqlite3, statistics, sys, time
db_path, readme, results = sys.argv[1:4]
block = open(readme).read().split("Questions people ask (`sqlite3")[1].split("```sql\n")[1].split("```")[0]
db = sqlite3.connect(db_path)
worst = 0
for q in [q.strip() for q in block.split(";") if q.strip()]:
    q = q.replace("'price-api'", "'t050'")
    title = q.splitlines()[0].lstrip("- ")
    plan = [r[3] for r in db.execute("EXPLAIN QUERY PLAN " + q)]
    walls = []
    for i in range(1 + 7):
        t = time.perf_counter()
        rows = db.execute(q).fetchall()
        if i:
            walls.append((time.perf_counter() - t) * 1000)
    med = statistics.median(walls)
    worst = max(worst, med)
    print(f"  {med:7.2f} ms, {len(rows):3} rows  {title}")
    for step in plan:
        print(f"             plan: {step}")
with open(results, "a") as f:
    f.write(json.dumps({"label": "R worst question", "ms": worst}) + "\n")
PY
fi

if want D; then
echo
echo "Scenario D: scale"
dir="$TMP/d"
mkdir "$dir"
for i in $(seq 10000); do
    printf '[[service]]\nname = "s%05d"\ntcp = "127.0.0.1:%s"\n\n' "$i" "$PORT"
done >"$dir/big.toml"
measure "D check-config 10000" 10 2 "$dir" "$RESULTS" "$BIN" --config "$dir/big.toml" check-config
{ echo 'parallel = 1000'; echo 'database = "d.db"'
  for i in $(seq 2000); do
      printf '\n[[service]]\nname = "s%04d"\nurl = "http://127.0.0.1:%s/ok"\n' "$i" "$PORT"
  done; } >"$dir/d.toml"
measure "D 2000 at ulimit -n 256" 5 1 "$dir" "$RESULTS" \
    bash -c 'ulimit -n 256 && exec "$0" "$@"' "$BIN" --config "$dir/d.toml"
echo "  services not online after those runs: $(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(\"SELECT count(*) FROM latest WHERE status != 'online'\").fetchone()[0])" "$dir/d.db")"
fi

if want N; then
echo
echo "Scenario N: 200 targets (20 failing), with and without noise control"
# Every tenth target fails (a 404), on both sides, so the holds have work.
for side in plain noisy; do
    mkdir "$TMP/n$side"
    config "$TMP/n$side/upcheck.toml" "" 200 0 spread
    sed -i -E '/^name = "t[0-9]{2}0"$/{n;s|/ok"$|/down"|}' "$TMP/n$side/upcheck.toml"
done
# The noisy side: a tree of depends_on (t002-t011 on t001, t012-t021 on
# t002, ...), three windows (one open all day, two not open now), and 20
# services silenced from the command line.
python3 - "$TMP/nnoisy/upcheck.toml" <<'PY'
import re, sys
path = sys.argv[1]
out = []
for line in open(path):
    out.append(line)
    m = re.match(r'name = "t(\d+)"', line)
    if m and int(m.group(1)) > 1:
        out.append(f'depends_on = ["t{(int(m.group(1)) - 2) // 10 + 1:03d}"]\n')
out.append('\n[[maintenance]]\nschedule = "0 0 * * *"\nduration = "1d"\nservices = ["t150", "t151"]\nreason = "open"\n')
out.append('\n[[maintenance]]\nschedule = "0 2 * * sun"\nduration = "2h"\ntimezone = "Europe/Berlin"\nreason = "weekly"\n')
out.append('\n[[maintenance]]\nfrom = "2020-01-01T00:00:00Z"\nuntil = "2020-01-02T00:00:00Z"\n')
open(path, "w").write("".join(out))
PY
"$BIN" --config "$TMP/nnoisy/upcheck.toml" silence add $(seq -f 't%03g' 181 200) --for 1d --reason bench >/dev/null
alternate "N noise" without "$TMP/nplain/upcheck.toml" with "$TMP/nnoisy/upcheck.toml"
fi

if want J; then
echo
echo "Scenario J: 50 healthy targets, plain vs with JSON, pattern and absent-text assertions"
for side in plain json; do
    mkdir "$TMP/j$side"
    config "$TMP/j$side/upcheck.toml" "" 50 0 spread
done
sed -i -E 's|/ok"$|/json"\njson = { "/status" = "UP", "/components/db/status" = "UP" }\nbody_matches = '"'"'"diskSpace":\\{"status":"UP"'"'"'\nbody_not_contains = "DOWN"|' "$TMP/jjson/upcheck.toml"
sed -i -E 's|/ok"$|/json"|' "$TMP/jplain/upcheck.toml"
alternate "J asserts" plain "$TMP/jplain/upcheck.toml" "with assertions" "$TMP/jjson/upcheck.toml"
"$BIN" --config "$TMP/jjson/upcheck.toml" status --json | python3 -c "import json,sys; s=json.load(sys.stdin)['services']; print('  services online with assertions:', sum(x['status']=='online' for x in s), 'of', len(s))"
fi

if want S; then
command -v sqlite3 >/dev/null || { apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null; }
echo
echo "Scenario S: bytes per stored check, 100 healthy targets, 100 runs"
dir="$TMP/s"
mkdir "$dir"
config "$dir/upcheck.toml" "" 100 0 spread
for i in $(seq 100); do "$BIN" --config "$dir/upcheck.toml"; done
sqlite3 "$dir/upcheck.db" 'VACUUM;'
rows=$(sqlite3 "$dir/upcheck.db" 'SELECT count(*) FROM checks')
bytes=$(stat -c %s "$dir/upcheck.db")
echo "  $rows checks, database $bytes bytes after VACUUM"
echo "{\"label\": \"S bytes per check\", \"bytes\": $bytes, \"rows\": $rows}" >> "$RESULTS"
fi

echo
# start_pg DIR: a PostgreSQL cluster in DIR run as the `postgres` user on a
# free port, with fsync on (as a real server); sets PG_PORT and PG_URL
# (database `bench`, role upcheck, password in UPCHECK_DB_PASSWORD).
start_pg() {
    local dir=$1 bin pw
    bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
    chmod o+x "$TMP"   # the server runs as postgres, which must reach $dir
    mkdir -p "$dir" && chmod 0777 "$dir"
    pw="bench-$$"
    printf '%s\n' "$pw" >"$dir/pw" && chmod 0644 "$dir/pw"
    setpriv --reuid=postgres --regid=postgres --clear-groups "$bin/initdb" -D "$dir/data" -U upcheck \
        --pwfile="$dir/pw" --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 --no-instructions >/dev/null
    PG_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    setpriv --reuid=postgres --regid=postgres --clear-groups "$bin/postgres" -D "$dir/data" \
        -c listen_addresses=127.0.0.1 -p "$PG_PORT" -k "$dir" >"$dir/log" 2>&1 &
    PG_PID=$!
    for _ in $(seq 200); do
        "$bin/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
        sleep 0.05
    done
    PGPASSWORD="$pw" "$bin/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U upcheck -d postgres -c "CREATE DATABASE bench"
    export UPCHECK_DB_PASSWORD="$pw"
    PG_URL="postgres://upcheck@127.0.0.1:$PG_PORT/bench?sslmode=disable"
}
PG_PID=""
stop_pg() { if [[ -n "$PG_PID" ]]; then kill -INT "$PG_PID" 2>/dev/null; wait "$PG_PID" 2>/dev/null || true; PG_PID=""; fi; }

if want G; then
echo
echo "Scenario G: 50 healthy targets, SQLite against PostgreSQL on this machine"
start_pg "$TMP/pg-g"
mkdir "$TMP/g"
config "$TMP/g/sqlite.toml" "" 50 0 spread
{
    echo "database = \"$PG_URL\""
    echo 'database_password_env = "UPCHECK_DB_PASSWORD"'
    grep -v '^database = ' "$TMP/g/sqlite.toml"
} >"$TMP/g/postgres.toml"
alternate "G postgres" "SQLite" "$TMP/g/sqlite.toml" "PostgreSQL" "$TMP/g/postgres.toml"
stop_pg
fi

if want Q; then
echo
echo "Scenario Q: the decision step, 200 services, 1 to 3 probes on one PostgreSQL"
start_pg "$TMP/pg-q"
for probes in 1 2 3; do
    for p in $(seq "$probes"); do
        mkdir -p "$TMP/q$probes/p$p"
        config "$TMP/q$probes/p$p/base.toml" "" 200 0 spread
        {
            echo "database = \"${PG_URL/bench/q$probes}\""
            echo 'database_password_env = "UPCHECK_DB_PASSWORD"'
            echo "probe = \"p$p\""
            grep -v '^database = ' "$TMP/q$probes/p$p/base.toml"
        } >"$TMP/q$probes/p$p/upcheck.toml"
    done
    PGPASSWORD="$UPCHECK_DB_PASSWORD" "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/psql" -q \
        -h 127.0.0.1 -p "$PG_PORT" -U upcheck -d postgres -c "CREATE DATABASE q$probes"
done
python3 - "$BIN" "$TMP" "$RESULTS" <<'PY'
import json, re, statistics, subprocess, sys
bin_, tmp, results = sys.argv[1:4]
for probes in (1, 2, 3):
    decided, walls = [], []
    for i in range(3 + 20):
        for p in range(1, probes + 1):
            cfg = f"{tmp}/q{probes}/p{p}/upcheck.toml"
            run = subprocess.run([bin_, "-v", "--config", cfg], capture_output=True, text=True, check=True)
            m = re.search(r"decided (\d+) services from (\d+) probes' checks in ([\d.]+) ms", run.stderr)
            if not m:
                sys.exit(f"no decision line in: {run.stderr}")
            if i >= 3 and p == 1:
                if int(m.group(2)) != probes:
                    sys.exit(f"p1 decided from {m.group(2)} probes, not {probes}: {run.stderr}")
                decided.append(float(m.group(3)))
    med = statistics.median(decided)
    print(f"  {probes} probe(s): decision step median {med:.1f} ms (p1's runs, 20 rounds after 3 warm-up)")
    with open(results, "a") as f:
        f.write(json.dumps({"label": f"Q {probes} probes", "ms": med}) + "\n")
PY
stop_pg
fi

if want M && want C; then
echo
echo "Scenario M: migrate --from a year of history into PostgreSQL"
start_pg "$TMP/pg-m"
{
    echo "database = \"$PG_URL\""
    echo 'database_password_env = "UPCHECK_DB_PASSWORD"'
    echo 'probe = "bench"'
    grep -v '^database = ' "$TMP/cyear/upcheck.toml" | grep -v '^retention'
} >"$TMP/cyear/fleet.toml"
started=$(date +%s.%N)
"$BIN" --config "$TMP/cyear/fleet.toml" migrate --from "$TMP/cyear/upcheck.db" >"$TMP/m.out"
took=$(python3 -c "import time; print(round(time.time() - $started, 1))")
rows=$(awk 'NF == 2 && $2 ~ /^[0-9]+$/ { n += $2 } END { print n }' "$TMP/m.out")
sed 's/^/  /' "$TMP/m.out"
echo "  $rows rows in ${took}s = $(python3 -c "print(round($rows / $took))") rows/s"
echo "{\"label\": \"M migrate\", \"rows\": $rows, \"s\": $took}" >> "$RESULTS"
stop_pg
fi

python3 - "$RESULTS" <<'PY'
import json, sys
rows = {r["label"]: r for r in map(json.loads, open(sys.argv[1]))}
ok = lambda cond: "yes" if cond else "NO"
print("Summary                         measured                                target        met")
for p in (32, 200):
    r = rows.get(f"A parallel={p}")
    if r:
        ratio = r["median_ms"] / 2000
        print(f"A 200 (20 hang) parallel={p:<4} median {r['median_ms']:7.1f} ms = {ratio:.3f} x 2s             <= 1.05 x 2s  {ok(ratio <= 1.05)}")
for order in ("first", "last"):
    r = rows.get(f"A parallel=32, hangs {order}")
    if r:
        print(f"  same, hangs listed {order:<5}      median {r['median_ms']:7.1f} ms = {r['median_ms'] / 2000:.3f} x 2s")
b = rows.get("B 50 healthy")
if b:
    print(f"B 50 healthy wall              median {b['median_ms']:5.1f} ms, p90 {b['p90_ms']:5.1f} ms               <= 10 ms      {ok(b['median_ms'] <= 10)}")
    print(f"B 50 healthy peak RSS          median {b['rss_median_mb']:5.1f} MB (max {b['rss_max_mb']:.1f})                <= 12 MB      {ok(b['rss_median_mb'] <= 12)}")
r = rows.get("L slow-100")
if r:
    ratio = r["b_ms"] / r["a_ms"]
    print(f"L slow-100 vs curl -Z          upcheck {r['b_ms']:5.1f} ms, curl {r['a_ms']:5.1f} ms = {ratio:.3f}x     <= 1.05x      {ok(ratio <= 1.05)}")
r = rows.get("T truth")
if r:
    ratio = r["b_ms"] / r["a_ms"]
    print(f"T response_ms under load       stored {r['b_ms']:5.1f} ms, curl {r['a_ms']:5.1f} ms = {ratio:.3f}x    within 5%     {ok(abs(ratio - 1) <= 0.05)}")
for n, wall, rss in ((5000, 500, 24), (20000, None, None)):
    r = rows.get(f"K {n} healthy")
    if r:
        target = f"<= {wall} ms, {rss} MiB" if wall else "linear"
        met = ok(r["median_ms"] <= wall and r["rss_median_mb"] <= rss) if wall else ""
        print(f"K {n:<5} healthy               median {r['median_ms']:6.1f} ms, peak RSS {r['rss_median_mb']:5.1f} MB    {target:<13} {met}")
for what in ("healthy run", "--force run", "status --json"):
    reps = [rows.get(f"C {what} {i}") for i in (1, 2, 3)]
    if all(reps):
        ratios = [r["year_ms"] / r["empty_ms"] for r in reps]
        print(f"C {what:<14}  year/empty " + " / ".join(f"{x:.2f}" for x in ratios)
              + f" (empty {reps[0]['empty_ms']:.1f} ms)   <= 1.2x       {ok(max(ratios) <= 1.2)}")
        print(f"  year/31 days                 " + " / ".join(f"{r['year_ms'] / r['month_ms']:.2f}" for r in reps))
r = rows.get("C bytes per check")
if r:
    print(f"C bytes per check, a year      {r['bytes'] / r['rows']:.0f} B ({r['rows']} checks)                <= 80 B       {ok(r['bytes'] / r['rows'] <= 80)}")
r = rows.get("R worst question")
if r:
    print(f"R README questions, a year     slowest {r['ms']:.1f} ms                            <= 100 ms     {ok(r['ms'] <= 100)}")
if "C year size" in rows:
    print(f"C database size                empty {rows['C empty size']['mb']} MB, year {rows['C year size']['mb']} MB")
for label in ("D check-config 10000", "D 2000 at ulimit -n 256"):
    r = rows.get(label)
    if r:
        print(f"{label:<30} median {r['median_ms']:7.1f} ms, peak RSS {r['rss_median_mb']:.1f} MB")
r = rows.get("J asserts")
if r:
    print(f"J 50 with assertions         {r['b_ms']:6.1f} ms vs {r['a_ms']:6.1f} ms plain = {r['b_ms'] / r['a_ms']:.2f}x")
r = rows.get("N noise")
if r:
    ratio = r["b_ms"] / r["a_ms"]
    print(f"N 200 with noise control     {r['b_ms']:6.1f} ms vs {r['a_ms']:6.1f} ms without = {ratio:.2f}x   <= 1.1x       {ok(ratio <= 1.1)}")
r = rows.get("P page")
if r:
    print(f"P page on a year             {r['b_ms']:6.1f} ms vs {r['a_ms']:6.1f} ms without = {r['b_ms'] / r['a_ms']:.2f}x")
r = rows.get("G postgres")
if r:
    print(f"G 50 healthy, PostgreSQL     {r['b_ms']:6.1f} ms vs {r['a_ms']:6.1f} ms SQLite = {r['b_ms'] / r['a_ms']:.2f}x")
qs = [rows.get(f"Q {n} probes") for n in (1, 2, 3)]
if all(qs):
    print("Q decision step, 200 services  " + ", ".join(f"{n} probe(s) {q['ms']:.1f} ms" for n, q in zip((1, 2, 3), qs)))
r = rows.get("M migrate")
if r:
    print(f"M migrate a year               {r['rows']} rows in {r['s']:.0f} s = {r['rows'] / r['s']:.0f} rows/s")
r = rows.get("S bytes per check")
if r:
    print(f"S bytes per stored check       {r['bytes'] / r['rows']:.0f} B ({r['rows']} checks, {r['bytes']} bytes after VACUUM)")
floor = rows["harness floor"]
print(f"harness floor (/bin/true)      wall {floor['median_ms']:.1f} ms, RSS {floor['rss_median_mb']:.1f} MB"
      f" (a direct Popen would report {floor['naive_rss_mb']:.1f} MB)")
PY
echo
echo "Reproduce: bash bench/run.sh"
