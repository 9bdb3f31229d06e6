#!/usr/bin/env bash
# Starts (or stops) a throwaway MariaDB server on loopback for tests and local clusters.
#   scripts/mariadb.sh start [DIR]   -> data in DIR (default .tandem-run/mariadb), port 13306
#   scripts/mariadb.sh stop  [DIR]
# TANDEM_TEST_MYSQL_PORT picks the port, TANDEM_TEST_MYSQL_BIND the address (default 127.0.0.1; the
# ECS rehearsal binds the host side of its network-namespace bridge).
# Prints the connection settings the tests read: TANDEM_TEST_MYSQL_{HOST,PORT,USER,PASSWORD}.
set -euo pipefail
cmd=${1:-start}
dir=$(realpath -m "${2:-.tandem-run/mariadb}")
port=${TANDEM_TEST_MYSQL_PORT:-13306}
bind=${TANDEM_TEST_MYSQL_BIND:-127.0.0.1}
host=$bind; [ "$bind" = 0.0.0.0 ] && host=127.0.0.1
sock="$dir/mysqld.sock"
case "$cmd" in
  start)
    mkdir -p "$dir"
    if [ ! -d "$dir/data/mysql" ]; then
      mariadb-install-db --no-defaults --datadir="$dir/data" --user="$(id -un)" \
        --auth-root-authentication-method=normal >"$dir/install.log" 2>&1
    fi
    if ! mariadb-admin --no-defaults --socket="$sock" -uroot ping >/dev/null 2>&1; then
      mariadbd --no-defaults --datadir="$dir/data" --socket="$sock" --port="$port" \
        --bind-address="$bind" --pid-file="$dir/mysqld.pid" --user="$(id -un)" \
        --skip-name-resolve --innodb-buffer-pool-size=64M --max-allowed-packet=1G --innodb-log-file-size=512M \
        --log-error="$dir/error.log" &
      for _ in $(seq 1 60); do
        mariadb-admin --no-defaults --socket="$sock" -uroot ping >/dev/null 2>&1 && break
        sleep 0.5
      done
    fi
    mariadb --no-defaults --socket="$sock" -uroot -e "
      CREATE USER IF NOT EXISTS 'tandem'@'127.0.0.1' IDENTIFIED BY 'tandem';
      CREATE USER IF NOT EXISTS 'tandem'@'%' IDENTIFIED BY 'tandem';
      GRANT ALL ON *.* TO 'tandem'@'127.0.0.1';
      GRANT ALL ON *.* TO 'tandem'@'%';
      CREATE DATABASE IF NOT EXISTS clusterdb; CREATE DATABASE IF NOT EXISTS persistencedb;"
    echo "MariaDB up on $bind:$port (socket $sock)"
    echo "export TANDEM_TEST_MYSQL_HOST=$host TANDEM_TEST_MYSQL_PORT=$port TANDEM_TEST_MYSQL_USER=tandem TANDEM_TEST_MYSQL_PASSWORD=tandem"
    ;;
  stop)
    [ -f "$dir/mysqld.pid" ] && kill "$(cat "$dir/mysqld.pid")" 2>/dev/null || true
    ;;
  *) echo "usage: $0 start|stop [DIR]" >&2; exit 2 ;;
esac
