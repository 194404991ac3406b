#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain, if it is missing:
# systemd-analyze (Debian's systemd) to verify the units in cron/, and
# promtool (Debian's prometheus) to check the metrics textfile.
set -euo pipefail
missing=()
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
if ((${#missing[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
