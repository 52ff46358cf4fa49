#!/usr/bin/env bash
# Start a throwaway Synapse on 127.0.0.1 (a free port) with its data in a new temporary folder,
# then seed it: an admin user exempt from rate limits, a public room with an alias.
#
#   scripts/synapse/start.sh PYTHON        # PYTHON: the venv python printed by install.sh
#
# Prints the data folder on stdout; in it, env.sh holds the `export CAMPAIGN_TEST_SYNAPSE_*`
# lines the tests read, synapse.pid the server's PID. Stop with scripts/synapse/stop.sh DATA.
# The configuration is made for tests: SQLite, client API only (no federation listener, no key
# servers), registration only through the shared secret, and a low message rate limit for
# ordinary users so that tests can provoke M_LIMIT_EXCEEDED (the seeded user is exempt).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${1:?usage: start.sh PYTHON}"
data="$(mktemp -d "${TMPDIR:-/tmp}/campaign-synapse.XXXXXX")"

random_hex() { "$python" -c 'import secrets; print(secrets.token_hex(24))'; }
free_port() {
    "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

write_config() {
    local port="$1"
    cat >"$data/homeserver.yaml" <<YAML
server_name: "localhost"
public_baseurl: "http://127.0.0.1:$port/"
pid_file: "$data/homeserver.pid"
listeners:
  - port: $port
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: "$data/homeserver.db"
log_config: "$data/log.yaml"
media_store_path: "$data/media"
signing_key_path: "$data/signing.key"
registration_shared_secret: "$secret"
macaroon_secret_key: "$(random_hex)"
form_secret: "$(random_hex)"
report_stats: false
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
enable_registration: false
url_preview_enabled: false
# Ordinary users may send 3 events at once, then one every 20 s: enough to provoke a 429.
rc_message: {per_second: 0.05, burst_count: 3}
rc_registration: {per_second: 100, burst_count: 100}
rc_login:
  address: {per_second: 100, burst_count: 100}
  account: {per_second: 100, burst_count: 100}
  failed_attempts: {per_second: 100, burst_count: 100}
rc_joins:
  local: {per_second: 100, burst_count: 100}
  remote: {per_second: 100, burst_count: 100}
rc_media_create: {per_second: 100, burst_count: 100}
YAML
    cat >"$data/log.yaml" <<YAML
version: 1
formatters:
  plain: {format: "%(asctime)s %(name)s %(levelname)s %(request)s %(message)s"}
handlers:
  file: {class: logging.FileHandler, formatter: plain, filename: "$data/homeserver.log", encoding: utf8}
root: {level: WARNING, handlers: [file]}
disable_existing_loggers: false
YAML
}

secret="$(random_hex)"
for attempt in 1 2 3; do
    find "$data" -mindepth 1 -delete
    port="$(free_port)"
    write_config "$port"
    "$python" -m synapse.app.homeserver -c "$data/homeserver.yaml" --generate-keys >/dev/null
    "$python" -m synapse.app.homeserver -c "$data/homeserver.yaml" >"$data/stdout.log" 2>&1 &
    echo $! >"$data/synapse.pid"
    if "$python" "$here/seed.py" --url "http://127.0.0.1:$port" --secret "$secret" \
        --pid "$(cat "$data/synapse.pid")" --env "$data/env.sh" >&2; then
        echo "$data"
        exit 0
    fi
    echo "Synapse did not come up on port $port (attempt $attempt):" >&2
    tail -n 20 "$data/stdout.log" "$data/homeserver.log" >&2 2>/dev/null || true
    "$here/stop.sh" "$data" --keep >&2
done
rm -rf "$data"
exit 1
