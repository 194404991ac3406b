#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain, if it is missing:
# systemd-analyze (Debian's systemd package) to verify the units in cron/.
set -euo pipefail
if ! command -v systemd-analyze >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq systemd >/dev/null
fi
