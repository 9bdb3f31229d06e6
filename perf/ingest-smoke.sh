#!/usr/bin/env bash
# Ingest smoke benchmark: a release node (`tandem run`, a child process) with a filter app (no sink
# output) fed over loopback TCP by `tandem send`. Prints the sender's events/s; with acked framing
# `send` returns only once every batch is acknowledged (in the node's engine ring), with siddhi framing
# once the node has read and closed the connection. The in-process suite is `tandem perf ingest`.
#   perf/ingest-smoke.sh [EVENTS] [BATCH] [BACKEND] [FRAMING: acked|siddhi]
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-2000000}
BATCH=${2:-1000}
BACKEND=${3:-auto}
FRAMING=${4:-acked}
BIN=$PWD/.build/release/tandem
[ -x "$BIN" ] || swift build -c release --product tandem
work=$(mktemp -d)
trap 'kill -TERM $node 2>/dev/null || true; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))
cat > "$work/ingest.siddhi" <<APP
@App:name('IngestSmoke')
@source(type='tcp', port='$port', context='S', @map(type='binary'))
define stream S (symbol string, price double, volume long);
from S[price > 50.0] select symbol, price, volume insert into Out;
APP
printf 'tandem:\n  dataPlane:\n    ioBackend: %s\n' "$BACKEND" > "$work/deployment.yaml"
(cd "$work" && exec "$BIN" run --config deployment.yaml --apps "$work" 2> node.log) &
node=$!
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.05; done
"$BIN" send --app "$work/ingest.siddhi" --count "$EVENTS" --batch "$BATCH" --framing "$FRAMING"
