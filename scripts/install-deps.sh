#!/usr/bin/env bash
# Installs the system packages Tandem needs on Debian 12 (run as root, or with sudo available).
# Idempotent: packages already present are skipped quickly.
set -euo pipefail
# chromium: headless screenshots of the status page (scripts/status-page-check.sh)
PKGS=(liburing-dev default-libmysqlclient-dev libjemalloc-dev mariadb-server mariadb-client pkg-config iproute2 python3 chromium)
missing=()
for p in "${PKGS[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
