#!/usr/bin/env bash
# Status page check in a real headless browser: starts a standalone node on samples/ with its API on
# a free port, feeds it events for a few seconds, lets Chromium run the page's script, then checks
#   - the rendered DOM shows the node's role ("standalone") and the sample app,
#   - the screenshot is a real rendering: a PNG of the requested size with many colours.
# Usage: scripts/status-page-check.sh [OUT.png]   (needs `chromium` from apt and a built tandem;
# BIN: the newer of .build/release/tandem and .build/debug/tandem unless set)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-.tandem-run/status-page.png}
case "$OUT" in /*) ;; *) OUT="$PWD/$OUT" ;; esac
if [ -z "${BIN:-}" ]; then
  BIN=$(ls -t .build/release/tandem .build/debug/tandem 2>/dev/null | head -1 || true)
fi
[ -n "$BIN" ] && [ -x "$BIN" ] || { echo "no tandem binary: run swift build first" >&2; exit 2; }
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || { echo "chromium not installed (apt-get install chromium, or scripts/install-deps.sh)" >&2; exit 2; }

WORK=$(mktemp -d)
node=""
cleanup() { [ -n "$node" ] && kill -TERM "$node" 2>/dev/null && wait "$node" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
API_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SRC_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/apps" "$(dirname "$OUT")"
sed "s/port='9892'/port='$SRC_PORT'/" samples/StockFilter.siddhi > "$WORK/apps/StockFilter.siddhi"
cat > "$WORK/deployment.yaml" <<YAML
state.persistence:
  enabled: true
  config:
    location: $WORK/state
tandem:
  persistence:
    intervalInMs: 2000
  api:
    host: 127.0.0.1
    port: $API_PORT
YAML
ROOT=$PWD
(cd "$WORK" && exec "$ROOT/$BIN" run --config deployment.yaml --apps apps >"$WORK/node.out" 2>"$WORK/node.err") &
node=$!
for _ in $(seq 1 100); do
  "$ROOT/$BIN" health --quiet --url "http://127.0.0.1:$API_PORT/health" && break
  sleep 0.1
done
# A few seconds of input, so the chart has points and a snapshot is listed.
"$ROOT/$BIN" send --app "$WORK/apps/StockFilter.siddhi" --count 600 --rate 100 --batch 10 >/dev/null 2>&1 || true

URL="http://127.0.0.1:$API_PORT/"
FLAGS=(--headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$WORK/chromium" --virtual-time-budget=3000)
timeout 60 "$CHROMIUM" "${FLAGS[@]}" --dump-dom "$URL" > "$WORK/dom.html" 2>/dev/null
timeout 60 "$CHROMIUM" "${FLAGS[@]}" --window-size=1280,900 --screenshot="$OUT" "$URL" >/dev/null 2>&1

python3 - "$WORK/dom.html" "$OUT" <<'PY'
import re, struct, sys, zlib
dom, png = sys.argv[1], sys.argv[2]
html = open(dom, encoding="utf-8").read()
role = re.search(r'id="role"[^>]*>([^<]*)<', html)
assert role and role.group(1) == "standalone", f"rendered role: {role.group(1) if role else None!r}"
assert "StockFilter" in html and "<polyline" in html, "apps table or chart line missing"
data = open(png, "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
assert (width, height) == (1280, 900), (width, height)
# Decode the image data (8-bit RGB/RGBA, PNG filters) and count distinct colours.
raw, pos = b"", 8
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8]); pos += 8
    if kind == b"IDAT": raw += data[pos:pos + n]
    pos += n + 4
px = {2: 3, 6: 4}[colour]; stride = width * px; img = zlib.decompress(raw)
prev = bytearray(stride); colours = set(); i = 0
for _ in range(height):
    f = img[i]; line = bytearray(img[i + 1:i + 1 + stride]); i += 1 + stride
    for x in range(stride):
        a = line[x - px] if x >= px else 0; b = prev[x]; c = prev[x - px] if x >= px else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, px * 7): colours.add(bytes(line[x:x + 3]))
    prev = line
assert len(colours) >= 20, f"only {len(colours)} colours: blank page?"
print(f"status page OK: role standalone rendered, {width}x{height} PNG with {len(colours)} colours sampled -> {png}")
PY
