#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain, if it is missing:
# systemd-analyze (Debian's systemd) to verify the units in cron/,
# promtool (Debian's prometheus) to check the metrics textfile, sqlite3 to
# hold the database's lock as a person's shell would, util-linux's unshare
# to mount a small tmpfs for the disk-full test and its setpriv to run
# upcheck as `nobody`, faketime to turn the clock back between runs, and
# tzdata, the system's time zone database that maintenance windows and
# `silence --until` read (Europe/Berlin, Asia/Kolkata in the tests), and
# dnsmasq (dnsmasq-base: the server alone, no system service) for the DNS
# server `dns` checks ask, and tinyproxy (tinyproxy-bin, likewise) for the
# proxy `proxy` sends checks through, SpamAssassin to score every kind of
# email, and Node.js with npm for html-validate (pinned in tests/tools/,
# installed there with `npm ci`) to check the email and status page HTML,
# and Debian's PostgreSQL server (any version; the tests start their own
# cluster as the `postgres` user the package creates) for fleets.
set -euo pipefail
missing=()
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
command -v faketime >/dev/null 2>&1 || missing+=(faketime)
[[ -e /usr/share/zoneinfo/Europe/Berlin ]] || missing+=(tzdata)
[[ -x /usr/sbin/dnsmasq ]] || command -v dnsmasq >/dev/null 2>&1 || missing+=(dnsmasq-base)
command -v tinyproxy >/dev/null 2>&1 || missing+=(tinyproxy-bin)
command -v spamassassin >/dev/null 2>&1 || missing+=(spamassassin)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
if ((${#missing[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
tools="$(dirname "$0")/tools"
if [[ ! -x "$tools/node_modules/.bin/html-validate" ]]; then
    npm ci --prefix "$tools" --no-audit --no-fund --loglevel=error >/dev/null
fi
