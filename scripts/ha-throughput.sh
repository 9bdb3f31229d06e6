#!/usr/bin/env bash
# Acknowledged ingest with HA off and on, in one run, on this machine (nodes, MariaDB and publisher):
#   scripts/ha-throughput.sh [EVENTS]     (default 10000000; build first: swift build -c release)
#
# Three configurations, back to back, each fed EVENTS events in batches of BATCH (1000) by
# `tandem send` (acked framing, per-batch ack latency from send to ack):
#   standalone  one node, HA off (default standalone settings: file snapshots every minute)
#   seed        HA pair on conf/deployment-ha.yaml, the seed guide's settings
#               (eventByteBufferQueueCapacity 20000, snapshots every minute, heartbeat 5000 x 5)
#   deploy      HA pair on deploy/deployment.yaml's defaults
#               (queue 200000, tandem.persistence.intervalInMs 1000, heartbeat 1000 x 3)
# The HA files are used as shipped; only what two nodes on one host must differ in (node ids,
# event-sync and API ports), a fresh groupId and loopback listen addresses are filled in.
#
# App: tcp source -> length(100000) window, count and sum per symbol -> an inMemory sink on a topic
# nobody subscribes to (one broker lookup per output batch: the output is computed, never the
# bottleneck). Snapshots saved come from the active node's /metrics (tandem_snapshot_save_seconds
# count, recorded when a save commits), before and after the publisher.
#
# Writes OUT_JSON (ha-throughput.json) and, from it, OUT_HTML (ha-throughput.html, perf/report.py).
# Environment: TANDEM_BIN (.build/release/tandem), BATCH (1000), SEND_TIMEOUT_S (1800),
# START_TIMEOUT_S (90), TANDEM_TEST_MYSQL_{HOST,PORT,USER,PASSWORD} (127.0.0.1, 13306, tandem,
# tandem; when nothing answers there, scripts/mariadb.sh starts one and it is stopped at exit),
# KEEP=1 keeps the work directory (node logs, configs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
events=${1:-10000000}
batch=${BATCH:-1000}
bin=${TANDEM_BIN:-$root/.build/release/tandem}
out_json=${OUT_JSON:-$PWD/ha-throughput.json}
out_html=${OUT_HTML:-$PWD/ha-throughput.html}
send_timeout=${SEND_TIMEOUT_S:-1800}
start_timeout=${START_TIMEOUT_S:-90}
case "$out_json" in /*) ;; *) out_json="$PWD/$out_json" ;; esac
case "$out_html" in /*) ;; *) out_html="$PWD/$out_html" ;; esac
db_host=${TANDEM_TEST_MYSQL_HOST:-127.0.0.1}
db_port=${TANDEM_TEST_MYSQL_PORT:-13306}
db_user=${TANDEM_TEST_MYSQL_USER:-tandem}
db_password=${TANDEM_TEST_MYSQL_PASSWORD:-tandem}

[[ "$events" =~ ^[0-9]+$ && "$events" -gt 0 ]] || { echo "EVENTS must be a positive integer, got '$events'" >&2; exit 2; }
[ -x "$bin" ] || { echo "no tandem binary at $bin: run 'swift build -c release' (or set TANDEM_BIN)" >&2; exit 2; }
command -v curl >/dev/null || { echo "curl is needed to read /metrics" >&2; exit 2; }

run_id="$(date +%s)$$"
work=$(mktemp -d)
pids=()
started_db=""
cleanup() {
  local rc=$?
  # TERM first (a graceful stop), KILL whatever is still there after 10 s.
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  db_sql "DELETE FROM persistencedb.PERSISTENCE_TABLE WHERE siddhiAppName LIKE 'HABench_${run_id}%';
          DELETE FROM clusterdb.TANDEM_LEADER_LEASE WHERE GROUP_ID LIKE 'habench-${run_id}%';
          DELETE FROM clusterdb.TANDEM_CLUSTER_MEMBERS WHERE GROUP_ID LIKE 'habench-${run_id}%';
          DELETE FROM clusterdb.TANDEM_SIDDHI_APPS WHERE GROUP_ID LIKE 'habench-${run_id}%';" 2>/dev/null || true
  if [ -n "$started_db" ]; then
    local db_pid
    db_pid=$(cat "$started_db/mysqld.pid" 2>/dev/null || true)
    bash "$root/scripts/mariadb.sh" stop "$started_db" || true
    # Its data lives in the work directory: let it exit before that is removed.
    for _ in $(seq 1 100); do [ -n "$db_pid" ] && kill -0 "$db_pid" 2>/dev/null || break; sleep 0.1; done
  fi
  if [ -n "${KEEP:-}" ]; then echo "work dir kept: $work" >&2; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

db_sql() {  # SQL: best effort, only to tidy the rows this run made
  command -v mariadb >/dev/null || return 0
  mariadb --no-defaults --force -h "$db_host" -P "$db_port" -u "$db_user" -p"$db_password" -e "$1"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
log_tail() {  # NAME FILE...: what a node said last, for a failure message
  for f in "${@:2}"; do echo "--- $1: last lines of $(basename "$f") ---" >&2; tail -n 25 "$f" >&2 || true; done
}
die() { echo "ha-throughput: $*" >&2; exit 1; }
# metric PORT NAME [APP]: the sum of NAME's series (for APP) on that node's /metrics (0 when absent).
metric() {
  local text
  text=$(curl -fsS --max-time 5 "http://127.0.0.1:$1/metrics") || die "cannot read http://127.0.0.1:$1/metrics"
  awk -v n="$2" -v app="${3:+app=\"$3\"}" '($1 == n || index($1, n "{") == 1) && index($1, app) > 0 { s += $NF } END { printf "%d\n", s }' <<<"$text"
}
now_ms() { date +%s%3N; }

# --- MariaDB (HA configurations) ---
if ! port_open "$db_host" "$db_port"; then
  [ "$db_host" = 127.0.0.1 ] || die "no database at $db_host:$db_port"
  echo "no MariaDB on $db_host:$db_port: starting one (scripts/mariadb.sh)" >&2
  started_db="$work/mariadb"
  TANDEM_TEST_MYSQL_PORT=$db_port bash "$root/scripts/mariadb.sh" start "$started_db" >/dev/null
  port_open "$db_host" "$db_port" || die "MariaDB did not start; see $started_db/error.log"
fi

# --- the app (one name per configuration: HA pairs restore the latest snapshot of their app name) ---
app_file() {  # CONFIG PORT -> path of the app for that configuration
  local dir="$work/$1/apps"
  mkdir -p "$dir"
  cat > "$dir/bench.siddhi" <<EOF
@App:name('HABench_${run_id}_$1')
@source(type='tcp', port='$2', context='In', @map(type='binary'))
define stream In (symbol string, price double, volume long);
@sink(type='inMemory', topic='habench-out-${run_id}')
define stream Out (symbol string, n long, total long);
from In#window.length(100000)
select symbol, count() as n, sum(volume) as total
group by symbol
insert into Out;
EOF
  echo "$dir/bench.siddhi"
}

# --- node configurations ---
standalone_config() {  # CONFIG API_PORT
  cat > "$work/$1/node1.yaml" <<EOF
state.persistence:
  enabled: true
  config:
    location: $work/$1/state
tandem:
  api:
    host: 127.0.0.1
    port: $2
EOF
}
ha_config() {  # CONFIG SOURCE_FILE NODE API_PORT: the shipped file, one-host differences filled in
  local f="$work/$1/$3.yaml"
  # Listen on loopback only (shared machine); a groupId of this run's own; the API port per node.
  sed -e 's/^\(    host:\) 0\.0\.0\.0 .*/\1 127.0.0.1/' -e "s/^\(  groupId:\) si$/\1 habench-${run_id}-$1/" "$2" > "$f"
  if grep -q '^tandem:' "$f"; then
    sed -i "/^tandem:/a\\  api:\\n    host: 127.0.0.1\\n    port: $4" "$f"
  else
    printf 'tandem:\n  api:\n    host: 127.0.0.1\n    port: %s\n' "$4" >> "$f"
  fi
}

start_node() {  # CONFIG NODE SYNC_PORT -> pid in $started_pid; env of the HA files set here
  local dir="$work/$1"
  TANDEM_NODE_ID="$2" TANDEM_SYNC_PORT="$3" TANDEM_ADVERTISED_HOST=127.0.0.1 \
    TANDEM_DB_HOST="$db_host" TANDEM_DB_PORT="$db_port" TANDEM_DB_USER="$db_user" TANDEM_DB_PASSWORD="$db_password" \
    TANDEM_GROUP_ID="habench-${run_id}-$1" \
    "$bin" run --config "$dir/$2.yaml" --apps "$dir/apps" >"$dir/$2.out" 2>"$dir/$2.err" &
  started_pid=$!
  pids+=("$started_pid")
}

wait_for() {  # WHAT SECONDS PID LOGS... -- a command that succeeds when ready
  local what=$1 seconds=$2 pid=$3; shift 3
  local logs=()
  while [ "$1" != "--" ]; do logs+=("$1"); shift; done
  shift
  local deadline=$(( $(date +%s) + seconds ))
  until "$@"; do
    if ! kill -0 "$pid" 2>/dev/null; then log_tail "$what" "${logs[@]}"; die "$what: the node exited"; fi
    if [ "$(date +%s)" -ge "$deadline" ]; then log_tail "$what" "${logs[@]}"; die "$what: not ready within ${seconds} s"; fi
    sleep 0.2
  done
}

stop_node() {  # PID: graceful stop, bounded (15 s, then KILL)
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  # Reaped: forget it, so the exit trap never signals a process that reused the id.
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
}

# measure CONFIG APP API_PORT PASSIVE_API_PORT(or -) ACTIVE_LOGS...: publish, then write CONFIG/result.json
measure() {
  local config=$1 app=$2 api=$3 passive_api=$4; shift 4
  local name
  name=$(sed -n "s/^@App:name('\(.*\)')$/\1/p" "$app")
  local saves_before saves_after t0 t1 in_after rc=0
  saves_before=$(metric "$api" tandem_snapshot_save_seconds_count "$name")
  t0=$(now_ms)
  echo "[$config] sending $events events in batches of $batch ..." >&2
  timeout "$send_timeout" "$bin" send --app "$app" --count "$events" --batch "$batch" \
    --stats-json "$work/$config/send.json" 2>"$work/$config/send.err" || rc=$?
  t1=$(now_ms)
  if [ "$rc" -ne 0 ]; then
    cat "$work/$config/send.err" >&2
    log_tail "$config" "$@"
    die "[$config] tandem send failed (exit $rc$([ "$rc" = 124 ] && echo ", timed out after ${send_timeout} s"))"
  fi
  cat "$work/$config/send.err" >&2
  saves_after=$(metric "$api" tandem_snapshot_save_seconds_count "$name")
  in_after=$(metric "$api" tandem_stream_events_in_total "$name")
  # Every acknowledged event ran on the active (an ack means it is in the engine ring: allow it a moment).
  for _ in $(seq 1 50); do [ "$in_after" -ge "$events" ] && break; sleep 0.1; in_after=$(metric "$api" tandem_stream_events_in_total "$name"); done
  [ "$in_after" -eq "$events" ] || die "[$config] the node ran $in_after events, expected $events"
  local in_sync=null detaches=0
  if [ "$passive_api" != - ]; then
    # The active's view: 1 when the passive holds every event since the last checkpoint.
    in_sync=$(metric "$api" tandem_in_sync)
    detaches=$(cat "$@" | grep -c 'detached passive' || true)
  fi
  cat > "$work/$config/meta.json" <<EOF
{"config": "$config", "app": "$name", "sendWallMs": $((t1 - t0)), "snapshotsBefore": $saves_before,
 "snapshotsAfter": $saves_after, "activeEventsIn": $in_after, "passiveInSyncAfter": $in_sync, "detachLines": $detaches}
EOF
}

run_standalone() {
  local config=standalone api src app
  mkdir -p "$work/$config"
  api=$(free_port); src=$(free_port)
  app=$(app_file "$config" "$src")
  standalone_config "$config" "$api"
  echo "[$config] starting a standalone node" >&2
  start_node "$config" node1 0
  local pid=$started_pid logs=("$work/$config/node1.err")
  wait_for "$config node1" "$start_timeout" "$pid" "${logs[@]}" -- port_open 127.0.0.1 "$src"
  measure "$config" "$app" "$api" - "${logs[@]}"
  stop_node "$pid"
}

run_ha() {  # CONFIG SHIPPED_FILE
  local config=$1 file=$2 api1 api2 src app sync1 sync2
  mkdir -p "$work/$config"
  api1=$(free_port); api2=$(free_port); sync1=$(free_port); sync2=$(free_port); src=$(free_port)
  app=$(app_file "$config" "$src")
  ha_config "$config" "$file" node1 "$api1"
  ha_config "$config" "$file" node2 "$api2"
  local e1="$work/$config/node1.err" e2="$work/$config/node2.err"
  echo "[$config] starting node1 (becomes active) on $(basename "$file")" >&2
  start_node "$config" node1 "$sync1"
  local pid1=$started_pid
  wait_for "$config node1 active" "$start_timeout" "$pid1" "$e1" -- \
    grep -q '"node":"node1","role":"active"' "$e1"
  wait_for "$config node1 source port" "$start_timeout" "$pid1" "$e1" -- port_open 127.0.0.1 "$src"
  echo "[$config] starting node2 (passive); waiting until it is in sync" >&2
  start_node "$config" node2 "$sync2"
  local pid2=$started_pid
  # The active attaches the passive at its next poll (eventPollingInterval) and checkpoints at once.
  wait_for "$config passive in sync" "$start_timeout" "$pid2" "$e1" "$e2" -- grep -q 'ha: passive .* in sync' "$e1"
  grep -q '"node":"node2","role":"passive"' "$e2" || { log_tail "$config" "$e1" "$e2"; die "[$config] node2 is not passive"; }
  local roles_before
  roles_before=$(grep -c '"node":"node1","role"' "$e1")
  measure "$config" "$app" "$api1" "$api2" "$e1"
  # No role change while publishing: a failover mid-run would measure something else.
  if [ "$(grep -c '"node":"node1","role"' "$e1")" -ne "$roles_before" ]; then
    log_tail "$config" "$e1" "$e2"; die "[$config] node1 changed role during the run"
  fi
  stop_node "$pid2"
  stop_node "$pid1"
}

run_standalone
run_ha seed "$root/conf/deployment-ha.yaml"
run_ha deploy "$root/deploy/deployment.yaml"

# --- results: one JSON document, then the HTML report from it ---
python3 - "$work" "$out_json" "$events" "$batch" <<'PY'
import json, os, sys, datetime
work, out, events, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
settings = {
    "standalone": {"label": "standalone (HA off)", "ha": False, "file": None,
                   "queueCapacityEvents": None, "persistInterval": "1 min (file store)"},
    "seed": {"label": "HA, seed guide", "ha": True, "file": "conf/deployment-ha.yaml",
             "queueCapacityEvents": 20000, "persistInterval": "state.persistence intervalInMin: 1",
             "heartbeat": "5000 ms x 5"},
    "deploy": {"label": "HA, deploy/ defaults", "ha": True, "file": "deploy/deployment.yaml",
               "queueCapacityEvents": 200000, "persistInterval": "tandem.persistence.intervalInMs: 1000",
               "heartbeat": "1000 ms x 3"},
}
results = []
for name in ["standalone", "seed", "deploy"]:
    send = json.load(open(os.path.join(work, name, "send.json")))
    meta = json.load(open(os.path.join(work, name, "meta.json")))
    saved = meta["snapshotsAfter"] - meta["snapshotsBefore"]
    minutes = send["seconds"] / 60
    results.append({**settings[name], "config": name, "app": meta["app"],
        "eventsPerSecond": send["eventsPerSecond"], "seconds": send["seconds"],
        "ackP50Us": send["ackP50Us"], "ackP99Us": send["ackP99Us"], "ackP999Us": send["ackP999Us"],
        "ackMaxUs": send["ackMaxUs"], "ackMeanUs": send["ackMeanUs"], "batchesAcknowledged": send["batchesAcknowledged"],
        "reconnects": send["reconnects"], "snapshotsSaved": saved,
        "snapshotsPerMinute": round(saved / minutes, 2) if minutes > 0 else None,
        "activeEventsIn": meta["activeEventsIn"], "passiveInSyncAfter": meta["passiveInSyncAfter"],
        "detachLines": meta["detachLines"]})
off = results[0]["eventsPerSecond"]
for r in results:
    r["ratioToHAOff"] = round(r["eventsPerSecond"] / off, 3) if off else None
try:
    load = open("/proc/loadavg").read().split()[:3]
except OSError:
    load = None
doc = {"suite": "ha-throughput", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
       "machine": {"cores": os.cpu_count(), "loadAverage": load},
       "settings": {"events": events, "eventsPerBatch": batch, "publisher": "tandem send (acked framing, 64 unacked batches)",
                    "app": "tcp source -> length(100000) window, count/sum group by symbol -> inMemory sink (no subscriber)",
                    "ackLatency": "per batch, from its write to the read of the ack covering it (publisher side)"},
       "results": results}
json.dump(doc, open(out, "w"), indent=2)
print(f"{'configuration':24} {'events/s':>11} {'x HA off':>8} {'ack p50':>9} {'p99':>9} {'p999':>9} {'snap/min':>8}")
for r in results:
    ms = lambda us: f"{us/1000:.2f}ms"
    print(f"{r['label']:24} {r['eventsPerSecond']:>11,} {r['ratioToHAOff']:>8.2f} {ms(r['ackP50Us']):>9} {ms(r['ackP99Us']):>9} "
          f"{ms(r['ackP999Us']):>9} {r['snapshotsPerMinute'] if r['snapshotsPerMinute'] is not None else '-':>8}")
PY
python3 "$root/perf/report.py" "$out_json" "$out_html"
# A rendering check of the report when Chromium is there (as scripts/status-page-check.sh does).
chromium_bin=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$chromium_bin" ]; then
  png="${out_html%.html}.png"
  timeout 60 "$chromium_bin" --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$work/chromium" \
    --window-size=1100,1250 --screenshot="$png" "file://$out_html" >/dev/null 2>&1 &&
    echo "report rendered by Chromium: $png" >&2 || echo "Chromium could not render $out_html" >&2
fi
echo "results: $out_json, report: $out_html" >&2
