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
shot 1100 700 status-page "$work/status/index.html"
echo "wrote docs/email-phone.png docs/email-wide.png docs/email-dark.png docs/status-page.png"
