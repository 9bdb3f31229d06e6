#!/usr/bin/env bash
# Installs the system packages Tandem needs on Debian 12 (run as root, or with sudo available).
# Idempotent: packages already present are skipped quickly.
set -euo pipefail
# chromium: headless screenshots of the status page (scripts/status-page-check.sh)
# thrift-compiler, python3-thrift, openssl: the databridge end-to-end tests generate a Thrift client
# from WSO2's IDL (Tests/Databridge) and a self-signed certificate for the TLS ports
PKGS=(liburing-dev default-libmysqlclient-dev libjemalloc-dev mariadb-server mariadb-client pkg-config iproute2 python3 chromium curl jq thrift-compiler python3-thrift openssl)
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

# The deployment checks (Tests/TandemTests/DeployTests.swift): cfn-lint, moto's ECS emulator and the
# AWS CLI, pinned, from PyPI, only when one is missing. PIP_BREAK_SYSTEM_PACKAGES lets pip install
# into a Debian system Python (PEP 668); a pyenv or venv Python ignores it.
PY_TOOLS=("cfn-lint==1.51.0" "moto[server]==5.2.1" "awscli==1.45.11")
if ! python3 -c 'import cfnlint, moto.server, awscli' >/dev/null 2>&1; then
  echo "installing: ${PY_TOOLS[*]}"
  PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --disable-pip-version-check "${PY_TOOLS[@]}"
fi

# promtool, for the /metrics lint test (Tests/TandemTests/RestApiMetricsLintTests.swift): only that
# binary from Debian's prometheus package (a 19 MB download), unpacked without installing the package,
# so no Prometheus server, service user or web assets come along.
if ! command -v promtool >/dev/null 2>&1; then
  echo "installing: promtool (from the prometheus package)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1 || { $SUDO apt-get update -qq && apt-get download prometheus >/dev/null; })
  dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -C "$tmp" ./usr/bin/promtool
  $SUDO install -m 0755 "$tmp/usr/bin/promtool" /usr/local/bin/promtool
  rm -rf "$tmp"
fi
