#!/bin/sh
# Tandem container entrypoint (the image's ENTRYPOINT, /usr/local/bin/tandem-entrypoint).
#
#   tandem-entrypoint [TANDEM ARGS...]     default: run --config $TANDEM_CONFIG --apps $TANDEM_APPS
#
# Before it execs `tandem` (which becomes the process ECS signals, so SIGTERM reaches it directly):
#
# 1. TANDEM_ADVERTISED_HOST, when unset: the task's IPv4 address from the ECS task metadata endpoint
#    v4 (GET $ECS_CONTAINER_METADATA_URI_V4/task: the Networks[].IPv4Addresses[0] of this container,
#    whose DockerId is the last segment of the URI; any awsvpc network of the task otherwise). Without
#    the endpoint (not on ECS) or when it does not answer: the first non-loopback, non-link-local IPv4
#    address of the container (`hostname -I`).
# 2. TANDEM_NODE_ID (wso2.carbon.id), when unset: the ECS task id (the last segment of TaskARN), so
#    each task is a distinct cluster member; without metadata: the host name (a container's is its id).
#    Both also go to the file TANDEM_ENV_FILE names (the image: /run/tandem/env), as NAME=value
#    lines: `docker exec` (ECS Exec) starts commands with the image's environment, not this
#    script's, and `tandem status` and the other commands read the file for what that lacks.
# 3. With TANDEM_DB_CREATE=1 and `run`: CREATE DATABASE IF NOT EXISTS for TANDEM_CLUSTER_DB and
#    TANDEM_PERSISTENCE_DB (RDS creates only one database; Tandem creates tables, not databases).
#    It retries while the server is unreachable (TANDEM_DB_CREATE_ATTEMPTS x 2 s) and exits 1 if it
#    never succeeds, so ECS replaces the task and its events say why.
#
# Hooks: TANDEM_ENTRYPOINT_DRY_RUN=1 prints the resolved variables and the command instead of running
# it (steps 1-2 run, step 3 is only described); TANDEM_BIN names the executable (default `tandem`).
#
# Why a shell script with curl and jq rather than code inside `tandem`: the lookup must finish before
# `tandem` reads deployment.yaml (its ${env:...} placeholders need both variables), it is a few lines
# around two small Debian packages, and it can be tested and replaced without rebuilding the binary.
# jq parses the JSON properly (the response's shape varies between Fargate and EC2).
set -eu

log() { printf 'tandem-entrypoint: %s\n' "$*" >&2; }

bin=${TANDEM_BIN:-tandem}
timeout_sec=${TANDEM_METADATA_TIMEOUT_SEC:-2}
if [ "$#" -eq 0 ]; then
  set -- run --config "${TANDEM_CONFIG:-/etc/tandem/deployment.yaml}" --apps "${TANDEM_APPS:-/opt/tandem/apps}"
fi

# --- 1 and 2: ECS task metadata ---------------------------------------------------------------
task_json=""
if [ -n "${ECS_CONTAINER_METADATA_URI_V4:-}" ]; then
  # The agent serves the endpoint before the container starts; the retries cover a slow first answer.
  if ! task_json=$(curl -fsS --max-time "$timeout_sec" --retry 3 --retry-delay 1 --retry-connrefused \
      "${ECS_CONTAINER_METADATA_URI_V4%/}/task"); then
    log "warning: no answer from the task metadata endpoint ${ECS_CONTAINER_METADATA_URI_V4%/}/task; using local values"
    task_json=""
  fi
fi

metadata_host=""
metadata_task_id=""
if [ -n "$task_json" ]; then
  docker_id=${ECS_CONTAINER_METADATA_URI_V4%/}
  docker_id=${docker_id##*/}
  if ! metadata_host=$(printf '%s' "$task_json" | jq -r --arg id "$docker_id" '
        [ (.Containers // [])[] | select(.DockerId == $id) | (.Networks // [])[] ] as $own
        | [ (.Containers // [])[] | (.Networks // [])[] | select(.NetworkMode == "awsvpc") ] as $task
        | [ ($own + $task)[] | (.IPv4Addresses // [])[0] | select(. != null and . != "") ]
        | .[0] // empty') \
     || ! metadata_task_id=$(printf '%s' "$task_json" | jq -r '(.TaskARN // "") | split("/") | last // empty'); then
    log "warning: the task metadata is not the JSON expected; using local values"
    metadata_host=""
    metadata_task_id=""
  fi
fi

first_local_address() {
  # hostname -I lists the addresses of every interface but loopback; skip link-local ones (the
  # 169.254.x.y of the metadata link on Fargate, fe80::) and prefer IPv4.
  addresses=$(hostname -I 2>/dev/null || true)
  for a in $addresses; do
    case "$a" in 169.254.*|fe80:*|*:*) ;; *) printf '%s' "$a"; return 0 ;; esac
  done
  for a in $addresses; do
    case "$a" in fe80:*) ;; *) printf '%s' "$a"; return 0 ;; esac
  done
  return 1
}

if [ -z "${TANDEM_ADVERTISED_HOST:-}" ]; then
  if [ -n "$metadata_host" ]; then
    TANDEM_ADVERTISED_HOST=$metadata_host
  elif TANDEM_ADVERTISED_HOST=$(first_local_address); then
    :
  else
    log "error: cannot tell this container's address (no task metadata, no non-loopback address); set TANDEM_ADVERTISED_HOST"
    exit 1
  fi
fi
if [ -z "${TANDEM_NODE_ID:-}" ]; then
  if [ -n "$metadata_task_id" ]; then
    TANDEM_NODE_ID=$metadata_task_id
  else
    TANDEM_NODE_ID=$(uname -n)
  fi
fi
export TANDEM_ADVERTISED_HOST TANDEM_NODE_ID
if [ -n "${TANDEM_ENV_FILE:-}" ]; then
  # Written whole then renamed, so a command never reads half a file. Not fatal: the node has
  # the variables; only commands run beside it (docker exec) would miss them.
  if printf 'TANDEM_NODE_ID=%s\nTANDEM_ADVERTISED_HOST=%s\n' "$TANDEM_NODE_ID" "$TANDEM_ADVERTISED_HOST" \
       2>/dev/null > "$TANDEM_ENV_FILE.tmp" && mv -f "$TANDEM_ENV_FILE.tmp" "$TANDEM_ENV_FILE"; then
    :
  else
    log "warning: cannot write $TANDEM_ENV_FILE; \`docker exec ... tandem status\` will need TANDEM_NODE_ID and TANDEM_ADVERTISED_HOST set"
  fi
fi

# --- 3: databases --------------------------------------------------------------------------------
databases="${TANDEM_CLUSTER_DB:-clusterdb} ${TANDEM_PERSISTENCE_DB:-persistencedb}"
if [ "${TANDEM_DB_CREATE:-0}" = 1 ] && [ "$1" = run ]; then
  for db in $databases; do
    case "$db" in
      *[!A-Za-z0-9_]*|'') log "error: database name '$db' must be letters, digits and _"; exit 1 ;;
    esac
  done
  if [ "${TANDEM_ENTRYPOINT_DRY_RUN:-0}" = 1 ]; then
    log "dry run: would create databases: $databases"
  else
    sql=""
    for db in $databases; do sql="$sql CREATE DATABASE IF NOT EXISTS \`$db\`;"; done
    attempts=${TANDEM_DB_CREATE_ATTEMPTS:-30}
    n=1
    # The password goes through the environment, never the command line (visible in ps).
    until MYSQL_PWD=${TANDEM_DB_PASSWORD:?TANDEM_DB_PASSWORD is not set} mariadb --no-defaults \
        --host="${TANDEM_DB_HOST:?TANDEM_DB_HOST is not set}" --port="${TANDEM_DB_PORT:-3306}" \
        --user="${TANDEM_DB_USER:?TANDEM_DB_USER is not set}" --connect-timeout=5 --batch -e "$sql"; do
      if [ "$n" -ge "$attempts" ]; then
        log "error: could not create the databases ($databases) on ${TANDEM_DB_HOST}:${TANDEM_DB_PORT:-3306} after $n attempts"
        exit 1
      fi
      n=$((n + 1))
      sleep 2
    done
    log "databases ready: $databases"
  fi
fi

log "node ${TANDEM_NODE_ID}, event sync advertised at ${TANDEM_ADVERTISED_HOST}:${TANDEM_SYNC_PORT:-9893}"
if [ "${TANDEM_ENTRYPOINT_DRY_RUN:-0}" = 1 ]; then
  printf 'TANDEM_NODE_ID=%s\n' "$TANDEM_NODE_ID"
  printf 'TANDEM_ADVERTISED_HOST=%s\n' "$TANDEM_ADVERTISED_HOST"
  printf 'exec: %s' "$bin"
  printf ' %s' "$@"
  printf '\n'
  exit 0
fi
exec "$bin" "$@"
