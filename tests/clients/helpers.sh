# Sourced: `unit_env UNIT_FILE` prints the environment a unit gives its program, without
# systemd's specifiers (%d is the credentials folder): its Environment= lines, then the lines
# of its EnvironmentFile=s, which win.
# shellcheck shell=bash
unit_env() {
  grep '^Environment=' "$1" | sed 's/^Environment=//' | grep -v '%'
  for file in $(grep '^EnvironmentFile=' "$1" | sed 's/^EnvironmentFile=-\{0,1\}//'); do
    [ -f "$file" ] && grep -E '^[A-Z_]+=' "$file"
  done
  true
}

# `wait_listening LOG` waits for "listening on http://…" in LOG and prints the address.
wait_listening() {
  local base=""
  for _ in $(seq 100); do
    base=$(grep -o 'listening on http://[0-9.:]*' "$1" | head -1 | sed 's/listening on //') || true
    [ -n "$base" ] && { echo "$base"; return 0; }
    sleep 0.1
  done
  cat "$1" >&2
  return 1
}
