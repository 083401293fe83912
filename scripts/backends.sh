#!/usr/bin/env bash
# backends.sh CMD [ARGS...] — make sure the test servers run, export their
# addresses, require both backends, run CMD, then stop what this script
# started.
#
#   MySQL:    STATEFOLD_MYSQL_DSN if set; else the local MariaDB/MySQL on
#             127.0.0.1:3306 (root, no password), started if installed but
#             down, installed from the distribution's packages (as root, with
#             apt-get) if missing.
#   PostgreSQL: STATEFOLD_POSTGRES_DSN if set; else the local server on
#             127.0.0.1:5432 (user postgres, trust auth, database test),
#             started with pg_ctlcluster if installed but down, installed
#             from the distribution's packages (as root) if missing.
#   DynamoDB: STATEFOLD_DYNAMO_ENDPOINT if set; else dynalite, pinned by
#             tools/dynalite/package-lock.json, installed with `npm ci`, run
#             in memory on a free 127.0.0.1 port with table delays of 0.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { echo "backends: $*" >&2; }

mysql_ping() {
	if command -v mariadb-admin >/dev/null 2>&1; then
		mariadb-admin --protocol=TCP -h127.0.0.1 -P3306 -uroot ping >/dev/null 2>&1
	elif command -v mysqladmin >/dev/null 2>&1; then
		mysqladmin --protocol=TCP -h127.0.0.1 -P3306 -uroot ping >/dev/null 2>&1
	else
		return 1
	fi
}

mysql_client() {
	if command -v mariadb >/dev/null 2>&1; then mariadb "$@"; else mysql "$@"; fi
}

ensure_mysql() {
	if [[ -n "${STATEFOLD_MYSQL_DSN:-}" ]]; then
		log "MySQL: using STATEFOLD_MYSQL_DSN"
		return
	fi
	if ! mysql_ping; then
		local daemon=""
		for d in /usr/sbin/mariadbd /usr/sbin/mysqld; do
			[[ -x "$d" ]] && daemon="$d" && break
		done
		if [[ -z "$daemon" ]]; then
			if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
				log "MySQL: installing mariadb-server"
				DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
				DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >&2
				daemon=/usr/sbin/mariadbd
			else
				log "MySQL: no server, no way to install one; set STATEFOLD_MYSQL_DSN"
				exit 1
			fi
		fi
		log "MySQL: starting $daemon"
		mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
		start-stop-daemon --start --oknodo --background --exec "$daemon"
		for _ in $(seq 1 120); do
			mysql_ping && break
			sleep 0.5
		done
		mysql_ping || { log "MySQL: server did not come up"; exit 1; }
	fi
	mysql_client --protocol=TCP -h127.0.0.1 -P3306 -uroot -e 'CREATE DATABASE IF NOT EXISTS test' >&2
	export STATEFOLD_MYSQL_DSN="root@tcp(127.0.0.1:3306)/test"
	log "MySQL: $STATEFOLD_MYSQL_DSN"
}

pg_ping() {
	command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432 -U postgres
}

pg_psql() {
	psql -h 127.0.0.1 -p 5432 -U postgres -v ON_ERROR_STOP=1 -qAt "$@"
}

ensure_postgres() {
	if [[ -n "${STATEFOLD_POSTGRES_DSN:-}" ]]; then
		log "PostgreSQL: using STATEFOLD_POSTGRES_DSN"
		return
	fi
	if ! pg_ping; then
		if ! command -v pg_ctlcluster >/dev/null 2>&1 || [[ -z "$(ls /etc/postgresql 2>/dev/null)" ]]; then
			if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
				log "PostgreSQL: installing postgresql"
				DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
				DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
				local hba
				hba="$(ls /etc/postgresql/*/main/pg_hba.conf | head -1)"
				# A local test server: trust connections from the loopback only.
				sed -i -E 's/^(host\s+all\s+all\s+127\.0\.0\.1\/32\s+)\S+/\1trust/' "$hba"
			else
				log "PostgreSQL: no server, no way to install one; set STATEFOLD_POSTGRES_DSN"
				exit 1
			fi
		fi
		local version
		version="$(ls /etc/postgresql | sort -V | tail -1)"
		log "PostgreSQL: starting cluster $version/main"
		pg_ctlcluster --skip-systemctl-redirect "$version" main start >&2 || true
		for _ in $(seq 1 120); do
			pg_ping && break
			sleep 0.5
		done
		pg_ping || { log "PostgreSQL: server did not come up"; exit 1; }
	fi
	if [[ "$(pg_psql -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'test'")" != 1 ]]; then
		pg_psql -d postgres -c 'CREATE DATABASE test' >&2
	fi
	export STATEFOLD_POSTGRES_DSN="postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	log "PostgreSQL: $STATEFOLD_POSTGRES_DSN"
}

dynalite_pid=""

stop_dynalite() {
	if [[ -n "$dynalite_pid" ]]; then
		kill "$dynalite_pid" 2>/dev/null || true
		wait "$dynalite_pid" 2>/dev/null || true
		dynalite_pid=""
	fi
}

ensure_dynamo() {
	if [[ -n "${STATEFOLD_DYNAMO_ENDPOINT:-}" ]]; then
		log "DynamoDB: using STATEFOLD_DYNAMO_ENDPOINT"
		return
	fi
	local dir="$root/tools/dynalite"
	if [[ ! -x "$dir/node_modules/.bin/dynalite" ]] || ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.ci" ; then
		log "DynamoDB: npm ci (dynalite, pinned by tools/dynalite/package-lock.json)"
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
		cp "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.ci"
	fi
	local port
	for _ in 1 2 3 4 5; do
		port="$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
		"$dir/node_modules/.bin/dynalite" --host 127.0.0.1 --port "$port" \
			--createTableMs 0 --deleteTableMs 0 --updateTableMs 0 >/dev/null 2>&1 &
		dynalite_pid=$!
		for _ in $(seq 1 50); do
			if node -e 'require("net").connect(+process.argv[1],"127.0.0.1").on("connect",()=>process.exit(0)).on("error",()=>process.exit(1))' "$port" 2>/dev/null; then
				export STATEFOLD_DYNAMO_ENDPOINT="http://127.0.0.1:$port"
				log "DynamoDB: dynalite at $STATEFOLD_DYNAMO_ENDPOINT (pid $dynalite_pid)"
				return
			fi
			kill -0 "$dynalite_pid" 2>/dev/null || break
			sleep 0.2
		done
		stop_dynalite
	done
	log "DynamoDB: dynalite did not start"
	exit 1
}

trap stop_dynalite EXIT
ensure_mysql
ensure_postgres
ensure_dynamo
export STATEFOLD_REQUIRE_BACKENDS=1
"$@"
