#!/usr/bin/env bash
# Renders the demo's digest email and status page to PNG, as people would
# see them: the email on a phone-sized and a desktop-sized viewport, the page
# on a desktop one. Needs Debian's chromium (`apt-get install chromium`).
# Writes docs/email-phone.png, docs/email-wide.png, docs/email-dark.png (the
# phone in dark mode), docs/status-page.png.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp demo/upcheck.toml "$work/"
# Three runs make a history (the third is a reminder); --force sends the full report.
for _ in 1 2 3; do target/release/upcheck --config "$work/upcheck.toml" || true; done
# The status page's 90-day bars and sparklines need history the demo has not
# lived: seed 89 past days and 23 past hours, as a long-running install has.
python3 - "$work/upcheck.db" <<'PY'
import sqlite3, sys, random, datetime as dt
db = sqlite3.connect(sys.argv[1])
random.seed(7)
now = dt.datetime.now(dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
services = [r[0] for r in db.execute("SELECT service FROM service_state")]
for s in services:
    for d in range(1, 90):
        day = (now - dt.timedelta(days=d)).strftime("%Y-%m-%d")
        if s == "shell" and d > 60:
            continue  # added two months ago: no data before
        bad = 0 if random.random() < 0.85 else random.choice([1, 3, 20, 150])
        db.execute("INSERT OR IGNORE INTO checks_daily VALUES (?, ?, 288, ?, ?)", (s, day, 288 - bad, 288 * 40))
    for h in range(1, 24):
        hour = (now - dt.timedelta(hours=h)).strftime("%Y-%m-%dT%H:00:00.000Z")
        ms = random.randint(20, 60) + (200 if h in (5, 6) else 0)
        db.execute("INSERT OR IGNORE INTO checks_hourly VALUES (?, ?, 12, 12, ?)", (s, hour, 12 * ms))
db.commit()
PY
target/release/upcheck --config "$work/upcheck.toml" --force || true
eml=$(ls "$work"/outbox/*.eml | sort | tail -n 1)
python3 - "$eml" "$work/email.html" <<'PY'
import email, sys
from email import policy
msg = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=policy.default)
html = msg.get_body(preferencelist=("html",)).get_content()
open(sys.argv[2], "w").write(html)
PY
shot() {
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run ${DARK:-} \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/profile-$3" --hide-scrollbars \
    --window-size="$1,$2" --screenshot="docs/$3.png" "file://$4" 2>/dev/null
}
shot 390 1000 email-phone "$work/email.html"
shot 1100 760 email-wide "$work/email.html"
# Dark mode as Apple Mail shows it: the page's own dark styles, not an inversion.
DARK=--force-dark-mode shot 390 1000 email-dark "$work/email.html"
shot 1100 1500 status-page "$work/status/index.html"
echo "wrote docs/email-phone.png docs/email-wide.png docs/email-dark.png docs/status-page.png"
