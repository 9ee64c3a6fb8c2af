#!/usr/bin/env bash
# Installs everything the test suite needs on Debian 12 (system packages included) and runs it.
# Must run as root: the end-to-end tests boot a systemd host with systemd-nspawn.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
SYSTEM_PACKAGES=(systemd-container skopeo umoci busybox-static shellcheck debootstrap docker-registry
                 iproute2 python3-venv python3-pip)
missing=()
for p in "${SYSTEM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
# The end-to-end tests must run here: the suite fails when any of them was skipped.
export DEKUBE_REQUIRE_E2E=1
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
