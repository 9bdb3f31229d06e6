#!/usr/bin/env bash
# Ingest throughput of one app with event sync off (standalone node) and on (HA active forwarding
# every batch to a passive), on loopback:
#   scripts/ha-throughput.sh [EVENTS]        (default 4000000; build first: swift build -c release)
# Needs MariaDB (scripts/mariadb.sh start; TANDEM_TEST_MYSQL_{HOST,PORT,USER,PASSWORD} as for tests).
# QUEUE_CAPACITY sets the passive's eventByteBufferQueueCapacity (default 4000000).
# Prints events/s from the first event sent until the node has counted them all.
set -euo pipefail
events=${1:-4000000}
bin=${TANDEM_BIN:-$(pwd)/.build/release/tandem}
db_host=${TANDEM_TEST_MYSQL_HOST:-127.0.0.1}
db_port=${TANDEM_TEST_MYSQL_PORT:-13306}
db_user=${TANDEM_TEST_MYSQL_USER:-tandem}
db_password=${TANDEM_TEST_MYSQL_PASSWORD:-tandem}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT && echo "work dir $work"
port=$(( 20000 + RANDOM % 20000 ))
window=100000
mkdir -p "$work/apps"
cat > "$work/apps/count.siddhi" <<EOF
@App:name('Throughput$RANDOM')
@source(type='tcp', port='$port', context='In', @map(type='binary'))
define stream In (symbol string, price double, volume long);
@sink(type='log', prefix='OUT')
define stream Out (n long, total long);
from In#window.lengthBatch($window)
select count() as n, sum(volume) as total
insert into Out;
EOF
ha_config() {  # node sync-port
  cat > "$work/$1.yaml" <<EOF
wso2.carbon:
  id: $1
state.persistence:
  enabled: true
  persistenceStore: org.wso2.carbon.streaming.integrator.core.persistence.DBPersistenceStore
  config:
    datasource: PERSISTENCE_DB
wso2.datasources:
  dataSources:
    - name: PERSISTENCE_DB
      definition:
        configuration:
          jdbcUrl: 'jdbc:mysql://$db_host:$db_port/persistencedb'
          username: $db_user
          password: $db_password
    - name: WSO2_CLUSTER_DB
      definition:
        configuration:
          jdbcUrl: 'jdbc:mysql://$db_host:$db_port/clusterdb'
          username: $db_user
          password: $db_password
cluster.config:
  enabled: true
  groupId: throughput-$$
  strategyConfig:
    datasource: WSO2_CLUSTER_DB
    heartbeatInterval: 500
    heartbeatMaxRetry: 3
    eventPollingInterval: 500
deployment.config:
  type: ha
  eventByteBufferQueueCapacity: ${QUEUE_CAPACITY:-4000000}
  eventSyncServer:
    host: 127.0.0.1
    port: $2
tandem:
  persistence:
    intervalInMs: 1000
EOF
}
measure() {  # label out-file
  local start end
  start=$(date +%s%N)
  "$bin" send --app "$work/apps/count.siddhi" --count "$events" --batch 1000 >/dev/null
  while [ "$(grep -c 'OUT' "$2" || true)" -lt $(( events / window )) ]; do sleep 0.02; done
  end=$(date +%s%N)
  echo "$1: $events events in $(( (end - start) / 1000000 )) ms = $(( events * 1000000000 / (end - start) )) events/s"
}
wait_port() { for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

"$bin" run --apps "$work/apps" >"$work/solo.out" 2>"$work/solo.err" & pids+=($!)
wait_port "$port"
measure "sync off (standalone)" "$work/solo.out"
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
sleep 0.5

ha_config a $(( port + 1 )); ha_config b $(( port + 2 ))
"$bin" run --config "$work/a.yaml" --apps "$work/apps" >"$work/a.out" 2>"$work/a.err" & pids+=($!)
wait_port "$port"
"$bin" run --config "$work/b.yaml" --apps "$work/apps" >"$work/b.out" 2>"$work/b.err" & pids+=($!)
for _ in $(seq 1 200); do grep -q "in sync" "$work/a.err" && break; sleep 0.05; done
measure "sync on (HA active + passive)" "$work/a.out"
grep -h "detached" "$work/a.err" || true
