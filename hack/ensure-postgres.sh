#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 with a role the
# tests can use (janus/janus, allowed to create databases): starts the
# installed cluster, or installs Debian's postgresql first on a fresh machine.
set -o errexit -o nounset -o pipefail

log() { echo "[ensure-postgres] $*" >&2; }

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  log "installing PostgreSQL from Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  version=$(ls /etc/postgresql | sort -V | tail -1)
  log "starting PostgreSQL ${version}"
  pg_ctlcluster --skip-systemctl-redirect "${version}" main start
  for _ in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p 5432 && break
    sleep 0.5
  done
  pg_isready -q -h 127.0.0.1 -p 5432 || { log "PostgreSQL did not come up on 127.0.0.1:5432"; exit 1; }
fi

# The socket's peer authentication lets the postgres OS user in whatever the
# TCP rules say; a password role then works with trust and scram alike.
psql_admin() {
  if [[ $(id -u) -eq 0 ]] && id postgres >/dev/null 2>&1; then
    runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qAt "$@"
  else
    psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt "$@"
  fi
}
if [[ -z "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'janus'")" ]]; then
  log "creating role janus"
  psql_admin -c "CREATE ROLE janus LOGIN PASSWORD 'janus' CREATEDB"
fi
log "PostgreSQL is ready on 127.0.0.1:5432"
