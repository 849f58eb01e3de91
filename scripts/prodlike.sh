#!/usr/bin/env bash
# Run the production-like setup (docker-compose.yml, profile prodlike)
# without Docker, against MariaDB/MySQL and Redis on 127.0.0.1: the app with
# SIMULATOR=off and the environment of deploy/prodlike.env, cmd/wxsim as the
# external WeChat, WeChat Pay and provincial platform, `server migrate` as a
# separate step, then the README walk-through (scripts/try.sh) against it and
# a scrape of /metrics. .ci/run runs it; it stops everything it started and
# drops the database it created.
#
# Environment: PRODLIKE_DB (database to create, default sipay_prodlike_<pid>),
# MYSQL_ROOT_DSN_HOST (default root@tcp(127.0.0.1:3306)), REDIS_ADDR (default
# 127.0.0.1:6379), PRODLIKE_REDIS_DB (default 12; never flushed: every run
# uses new users and keys), PRODLIKE_PORT (first of three ports, default from the pid).
set -euo pipefail
cd "$(dirname "$0")/.."
db="${PRODLIKE_DB:-sipay_prodlike_$$}"
mysql_host="${MYSQL_ROOT_DSN_HOST:-root@tcp(127.0.0.1:3306)}"
redis="${REDIS_ADDR:-127.0.0.1:6379}"
# free_port START: the first port from START on that nothing listens on.
free_port() {
  local p=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}
port="${PRODLIKE_PORT:-$(( 20000 + $$ % 20000 ))}"
app_port=$(free_port "$port"); sim_port=$(free_port $((app_port + 1))); metrics_port=$(free_port $((sim_port + 1)))
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sipay-prodlike.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  mysql -uroot -h127.0.0.1 -e "DROP DATABASE IF EXISTS \`$db\`" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "prodlike: $*" >&2
  for f in "$tmp"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -30 "$f" >&2; }; done
  exit 1
}

echo "prodlike: building server and wxsim"
go build -o "$tmp/server" ./cmd/server
go build -o "$tmp/wxsim" ./cmd/wxsim
mysql -uroot -h127.0.0.1 -e "CREATE DATABASE \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"

# The environment of the compose profile, with this machine's ports and paths.
set -a
# shellcheck source=../deploy/prodlike.env
. deploy/prodlike.env
set +a
export HTTP_ADDR="127.0.0.1:$app_port" PUBLIC_BASE_URL="http://127.0.0.1:$app_port"
export METRICS_ADDR="127.0.0.1:$metrics_port" WXSIM_ADDR="127.0.0.1:$sim_port" DATA_DIR="$tmp/data"
export MYSQL_DSN="$mysql_host/$db?parseTime=true&loc=UTC&charset=utf8mb4" REDIS_ADDR="$redis" REDIS_DB="${PRODLIKE_REDIS_DB:-12}"

echo "prodlike: cmd/wxsim on :$sim_port (external WeChat, WeChat Pay, platform)"
WXSIM_KEYS_DIR="$tmp/keys" WXSIM_SERVER_ENV="$tmp/keys/server.env" "$tmp/wxsim" >"$tmp/wxsim.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 60); do [ -f "$tmp/keys/server.env" ] && break; sleep 0.5; done
[ -f "$tmp/keys/server.env" ] || fail "wxsim wrote no server settings"
set -a; . "$tmp/keys/server.env"; set +a

echo "prodlike: server migrate"
"$tmp/server" migrate >"$tmp/migrate.log" 2>&1 || fail "server migrate failed"

echo "prodlike: server (SIMULATOR=off) on :$app_port"
"$tmp/server" >"$tmp/server.log" 2>&1 &
server=$!
pids+=($server)
for _ in $(seq 1 60); do
  curl -fsS --max-time 2 "http://127.0.0.1:$app_port/readyz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || fail "the server exited"
  sleep 1
done

BASE="http://127.0.0.1:$app_port" SIM_BASE="http://127.0.0.1:$sim_port" WAIT=60 scripts/try.sh || fail "the walk-through failed"
grep -q '"SIMULATOR":"off"' "$tmp/server.log" || fail "the server did not run with SIMULATOR=off"
curl -fsS "http://127.0.0.1:$metrics_port/metrics" >"$tmp/metrics.txt" || fail "no /metrics on METRICS_ADDR"
grep -q '^sipay_wxpay_notifications_total{outcome="first",reason=""} [1-9]' "$tmp/metrics.txt" || fail "/metrics counted no first notification"
echo "prodlike: OK (SIMULATOR=off against cmd/wxsim, MySQL $db, Redis $redis db $REDIS_DB)"
