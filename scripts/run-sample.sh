#!/usr/bin/env bash
# `make run`: a standalone node on samples/ (built-in defaults: no config file), fed by `tandem send`
# with generated stock ticks; filtered events appear as log-sink lines. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.build/release/tandem
RATE=${RATE:-20}
mkdir -p .tandem-run
cd .tandem-run
"../$BIN" version
"../$BIN" run --apps ../samples &
node=$!
trap 'kill -TERM $node 2>/dev/null; wait $node 2>/dev/null; exit 0' INT TERM EXIT
for _ in $(seq 1 50); do
  (exec 3<>/dev/tcp/127.0.0.1/9892) 2>/dev/null && break
  sleep 0.1
done
echo ">>> feeding samples/StockFilter.siddhi at $RATE events/s (Ctrl-C to stop)" >&2
while kill -0 $node 2>/dev/null; do
  "../$BIN" send --app ../samples/StockFilter.siddhi --count $((RATE * 10)) --rate "$RATE" --batch 1 || sleep 1
done
