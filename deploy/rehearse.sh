#!/usr/bin/env bash
# Rehearses the ECS deployment on this machine without Docker: the image's layout in a temporary
# folder (/usr/local/bin/tandem and tandem-entrypoint, /etc/tandem/deployment.yaml, /opt/tandem/apps),
# two nodes started through the entrypoint with exactly the environment of
# deploy/ecs/taskdef-fargate.json (only the database address and the password secret replaced),
# a fake ECS task-metadata endpoint per task, and a MariaDB of its own. Then it checks with
# `tandem status --json` that one node is active and the other passive, and rehearses what ECS does:
#
#   1. both tasks up: one active, one passive; only the active accepts on the source port
#   2. SIGTERM the active (ECS stopping a task: deployment, scale-in): the passive takes over at once
#   3. a replacement task (new task id) joins as passive
#   4. kill -9 the active (a crashed task): the passive takes over when the lease lapses
#
#   deploy/rehearse.sh [--bin PATH] [--no-failover] [--keep]
#
#   --bin PATH     the tandem binary to lay out (default .build/release/tandem, built if missing)
#   --no-failover  stop after step 1
#   --keep         keep the temporary folder (logs of every node) after the run
#
# Network: as root with `ip netns` (the default when available), each task gets its own network
# namespace and address (scripts/ha-netns.sh), the same ports as on ECS, and the entrypoint's address
# comes from the fake metadata; MariaDB and the metadata server listen on the bridge's host side.
# Otherwise (TANDEM_REHEARSAL_NETWORK=loopback) both run on 127.0.0.1 and the second node's
# TANDEM_SYNC_PORT is moved to 9894 (the only variable that differs from the task definition).
# MariaDB port: TANDEM_TEST_MYSQL_PORT (default 13319). Exit 0 when every check passed.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
taskdef="$repo/deploy/ecs/taskdef-fargate.json"
bin=""; failover=1; keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$(realpath "$2"); shift 2 ;;
    --no-failover) failover=0; shift ;;
    --keep) keep=1; shift ;;
    *) echo "usage: $0 [--bin PATH] [--no-failover] [--keep]" >&2; exit 2 ;;
  esac
done
for tool in jq python3 mariadbd; do
  command -v "$tool" >/dev/null || { echo "rehearse: $tool is missing (scripts/install-deps.sh)" >&2; exit 2; }
done
if [ -z "$bin" ]; then
  bin="$repo/.build/release/tandem"
  [ -x "$bin" ] || (cd "$repo" && swift build -c release --product tandem)
fi
[ -x "$bin" ] || { echo "rehearse: no tandem binary at $bin" >&2; exit 2; }

start=$(date +%s.%N)
say() { printf '[rehearse %6.1fs] %s\n' "$(awk "BEGIN{print $(date +%s.%N) - $start}")" "$*"; }
fail() { say "FAIL: $*"; exit 1; }

network=${TANDEM_REHEARSAL_NETWORK:-}
if [ -z "$network" ]; then
  network=loopback
  if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && ip netns add "tandem-probe-$$" 2>/dev/null; then
    ip netns del "tandem-probe-$$"
    network=netns
  fi
fi

work=$(mktemp -d /tmp/tandem-rehearsal.XXXXXX)
image="$work/image"
tag="r$((RANDOM % 9000 + 1000))"
pids=()
meta_pid=""
cleanup() {
  set +e
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  [ -n "$meta_pid" ] && kill "$meta_pid" 2>/dev/null
  wait 2>/dev/null
  bash "$repo/scripts/mariadb.sh" stop "$work/mariadb" >/dev/null 2>&1
  [ "$network" = netns ] && bash "$repo/scripts/ha-netns.sh" down "$tag" >/dev/null 2>&1
  if [ "$keep" = 1 ]; then echo "rehearse: logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# --- the image's layout -------------------------------------------------------------------------
install -D -m 0755 "$bin" "$image/usr/local/bin/tandem"
install -D -m 0755 "$repo/deploy/entrypoint.sh" "$image/usr/local/bin/tandem-entrypoint"
install -D -m 0644 "$repo/deploy/deployment.yaml" "$image/etc/tandem/deployment.yaml"
mkdir -p "$image/opt/tandem/apps" "$work/logs" "$work/meta"
cp "$repo"/samples/*.siddhi "$image/opt/tandem/apps/"
source_port=$(jq -r '.containerDefinitions[0].portMappings[] | select(.name == "sources") | .containerPort' "$taskdef")
say "image layout in $image; network: $network"

# --- network, database, metadata ------------------------------------------------------------------
if [ "$network" = netns ]; then
  bash "$repo/scripts/ha-netns.sh" down "$tag" >/dev/null 2>&1 || true
  bash "$repo/scripts/ha-netns.sh" up "$tag"
  subnet=$(bash "$repo/scripts/ha-netns.sh" subnet "$tag")
  host_ip="$subnet.1"
  node_ip() { [ "$1" = a ] && echo "$subnet.11" || echo "$subnet.12"; }
else
  host_ip=127.0.0.1
  node_ip() { echo 127.0.0.1; }
fi
db_port=${TANDEM_TEST_MYSQL_PORT:-13319}
TANDEM_TEST_MYSQL_PORT=$db_port TANDEM_TEST_MYSQL_BIND=$host_ip bash "$repo/scripts/mariadb.sh" start "$work/mariadb" | head -1
# mariadb.sh makes clusterdb and persistencedb; drop them so the entrypoint's creation is rehearsed too.
mariadb --no-defaults --socket="$work/mariadb/mysqld.sock" -uroot -e "DROP DATABASE IF EXISTS clusterdb; DROP DATABASE IF EXISTS persistencedb"

meta_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind "$host_ip" "$meta_port" --directory "$work/meta" >"$work/logs/metadata.log" 2>&1 &
meta_pid=$!

# The task definition's environment, with this rehearsal's database in place of RDS and the secret.
mapfile -t task_env < <(jq -r '.containerDefinitions[0].environment[] | "\(.name)=\(.value)"' "$taskdef")
task_env+=("TANDEM_DB_HOST=$host_ip" "TANDEM_DB_PORT=$db_port" "TANDEM_DB_PASSWORD=tandem"
          "TANDEM_ADMIN_PASSWORD=rehearsal")
jq -e '[.containerDefinitions[0].secrets[].name] == ["TANDEM_DB_PASSWORD", "TANDEM_ADMIN_PASSWORD"]' "$taskdef" >/dev/null \
  || fail "the task definition's secrets changed; teach the rehearsal their local values"
base_env=(PATH="$image/usr/local/bin:/usr/local/bin:/usr/bin:/bin" HOME="$work" "${task_env[@]}")

# Starts task $2 in slot $1 (a or b): its metadata, then the entrypoint with the task's environment only.
declare -A slot_pid=()
start_task() {
  local slot=$1 task_id=$2 ip
  ip=$(node_ip "$slot")
  local docker_id="$task_id-$RANDOM$RANDOM"
  mkdir -p "$work/meta/v4/$docker_id"
  cat >"$work/meta/v4/$docker_id/task" <<EOF
{"Cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/rehearsal",
 "TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/rehearsal/$task_id",
 "Family": "tandem", "Revision": "1", "DesiredStatus": "RUNNING", "KnownStatus": "RUNNING", "LaunchType": "FARGATE",
 "Containers": [{"DockerId": "$docker_id", "Name": "tandem", "Type": "NORMAL",
   "Networks": [{"NetworkMode": "awsvpc", "IPv4Addresses": ["$ip"]}]}]}
EOF
  local extra=()
  [ "$network" = loopback ] && [ "$slot" = b ] && extra=(TANDEM_SYNC_PORT=9894)
  local cmd=(env -i "${base_env[@]}" "${extra[@]}" ECS_CONTAINER_METADATA_URI_V4="http://$host_ip:$meta_port/v4/$docker_id"
             "$image/usr/local/bin/tandem-entrypoint"
             run --config "$image/etc/tandem/deployment.yaml" --apps "$image/opt/tandem/apps")
  if [ "$network" = netns ]; then cmd=(ip netns exec "tandem-$tag-$slot" "${cmd[@]}"); fi
  # ip netns exec and the entrypoint both exec, so $! is the tandem process ECS would signal.
  "${cmd[@]}" >"$work/logs/$task_id.log" 2>&1 &
  slot_pid[$slot]=$!
  pids+=("$!")
  say "task $task_id started in slot $slot ($ip), pid $!"
}

status_json() {
  env -i "${base_env[@]}" TANDEM_NODE_ID=rehearsal-status TANDEM_ADVERTISED_HOST="$host_ip" \
    "$image/usr/local/bin/tandem" status --config "$image/etc/tandem/deployment.yaml" --json 2>/dev/null
}
# Prints "ACTIVE PASSIVE" once the lease holder publishes role active and one other live member
# publishes role passive.
roles() {
  status_json | jq -r '
    . as $s
    | [.members[] | select(.alive) | {id: .nodeId, role: (.properties | fromjson? | .role)}] as $live
    | ([$live[] | select(.role == "active" and .id == $s.active)] | first | .id) as $a
    | ([$live[] | select(.role == "passive")] | first | .id) as $p
    | if $a != null and $p != null then "\($a) \($p)" else empty end'
}
wait_roles() {  # wait_roles TIMEOUT_SEC [EXPECTED_ACTIVE]
  local deadline=$(( $(date +%s) + $1 )) r
  while [ "$(date +%s)" -lt "$deadline" ]; do
    r=$(roles || true)
    if [ -n "$r" ] && { [ -z "${2:-}" ] || [ "${r%% *}" = "$2" ]; }; then echo "$r"; return 0; fi
    sleep 0.2
  done
  return 1
}
wait_active() {  # wait_active TIMEOUT_SEC NODE: NODE holds the lease and publishes role active
  local deadline=$(( $(date +%s) + $1 ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    status_json | jq -e --arg n "$2" '.active == $n and any(.members[]; .nodeId == $n and .alive and ((.properties | fromjson? | .role) == "active"))' >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  return 1
}
wait_in_sync() {  # wait_in_sync TIMEOUT_SEC NODE: the active NODE reports its passive in sync
  local deadline=$(( $(date +%s) + $1 ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    status_json | jq -e --arg n "$2" 'any(.members[]; .nodeId == $n and ((.properties | fromjson? | .passiveInSync) == true))' >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}
# The ha-role line a node logged for ROLE (the last one), as JSON.
role_line() { grep -h "ha-role" "$work/logs/$1.log" | sed 's/^.*ha-role //' | jq -c --arg r "$2" 'select(.role == $r)' | tail -n 1; }
accepts() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$source_port" 2>/dev/null; }
slot_of() { [ "$1" = "$task_a" ] && echo a || { [ "$1" = "$task_b" ] && echo b || echo "?"; }; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# --- 1: two tasks ----------------------------------------------------------------------------------
task_a="task-a-$(printf '%04x%04x' $RANDOM $RANDOM)"
task_b="task-b-$(printf '%04x%04x' $RANDOM $RANDOM)"
start_task a "$task_a"
start_task b "$task_b"
pair=$(wait_roles 90) || { tail -n 30 "$work"/logs/task-*.log; fail "no active + passive pair within 90 s"; }
active=${pair%% *}; passive=${pair##* }
say "OK 1: active $active, passive $passive"
status_json | jq -c '{active, term, members: [.members[] | {nodeId, alive, properties: (.properties | fromjson?)}]}'
grep -q "databases ready: clusterdb persistencedb" "$work/logs/$task_a.log" || fail "the entrypoint did not create the databases"
grep -q "event sync advertised at $(node_ip "$(slot_of "$active")"):" "$work/logs/$active.log" || fail "advertised host not from the metadata"
if [ "$network" = netns ]; then
  accepts "$(node_ip "$(slot_of "$active")")" || fail "the active does not accept on source port $source_port"
  accepts "$(node_ip "$(slot_of "$passive")")" && fail "the passive accepts on source port $source_port"
  say "OK 1: only the active ($(node_ip "$(slot_of "$active")")) accepts on source port $source_port"
fi
wait_in_sync 30 "$active" || fail "$active never reported its passive in sync"
say "OK 1: $active reports $passive in sync (event sync between the advertised addresses)"
if [ "$failover" = 0 ]; then say "PASS (no failover rehearsed)"; exit 0; fi

# --- 2: SIGTERM the active (ECS stops a task) ------------------------------------------------------
slot=$(slot_of "$active")
pid=${slot_pid[$slot]}
t0=$(now_ms)
kill -TERM "$pid"
wait_active 30 "$passive" || fail "$passive did not take over after SIGTERM of $active"
t1=$(now_ms)
rc=0; wait "$pid" || rc=$?
[ "$rc" = 0 ] || fail "$active exited $rc after SIGTERM (graceful stop expected)"
stopped_at=$(role_line "$active" stopped | jq -r .atEpochMs)
took=$(role_line "$passive" active | jq -r '"\(.atEpochMs) \(.takeoverMs) \(.replayedEvents)"')
say "OK 2: SIGTERM $active -> $passive active; $active exited 0. Handover: $(( ${took%% *} - stopped_at )) ms from the old active's last line to the new one's (takeoverMs $(echo "$took" | cut -d' ' -f2), replayed $(echo "$took" | cut -d' ' -f3)); seen by tandem status after $((t1 - t0)) ms"

# --- 3: ECS starts a replacement task --------------------------------------------------------------
replacement="task-$slot-$(printf '%04x%04x' $RANDOM $RANDOM)"
if [ "$slot" = a ]; then task_a=$replacement; else task_b=$replacement; fi
start_task "$slot" "$replacement"
pair=$(wait_roles 60 "$passive") || fail "the replacement $replacement did not join as passive"
say "OK 3: active ${pair%% *}, passive ${pair##* } (the replacement)"

# --- 4: kill -9 the active (a crashed task) ---------------------------------------------------------
active=${pair%% *}; passive=${pair##* }
slot=$(slot_of "$active")
pid=${slot_pid[$slot]}
# The new passive must be attached and in sync first (the active checkpoints when a passive attaches).
wait_in_sync 30 "$active" || fail "$active never reported the replacement in sync"
t0=$(now_ms)
kill -KILL "$pid"
wait "$pid" 2>/dev/null || true
wait_active 60 "$passive" || fail "$passive did not take over after kill -9 of $active"
t1=$(now_ms)
took=$(role_line "$passive" active | jq -r '"\(.takeoverMs) \(.replayedEvents)"')
say "OK 4: kill -9 $active -> $passive active, seen by tandem status after $((t1 - t0)) ms (takeoverMs ${took%% *}, replayed ${took##* }; lease $(( $(jq -r '.containerDefinitions[0].environment[] | select(.name=="TANDEM_HEARTBEAT_INTERVAL_MS") | .value' "$taskdef") * $(jq -r '.containerDefinitions[0].environment[] | select(.name=="TANDEM_HEARTBEAT_MAX_RETRY") | .value' "$taskdef") )) ms)"
if [ "$network" = netns ]; then
  accepts "$(node_ip "$(slot_of "$passive")")" || fail "the new active does not accept on source port $source_port"
  say "OK 4: the new active accepts on source port $source_port"
fi
say "PASS"
