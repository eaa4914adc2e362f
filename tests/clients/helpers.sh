# Sourced by the client scripts: helpers to start the service and to install it.
#
# `unit_env UNIT_FILE` prints the environment a unit gives its program, without
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

# `wait_file [-s] FILE` waits up to 5 s for FILE (with -s: for it to be non-empty): a client's
# XML file follows the write's answer (README "Durability"), and the request log is written
# every 100 ms; neither is there the moment the answer is.
wait_file() {
  local test=-f; [ "$1" = -s ] && { test=-s; shift; }
  for _ in $(seq 50); do [ "$test" "$1" ] && return 0; sleep 0.1; done
  echo "no $1 within 5 s" >&2
  return 1
}

# `remove_earlier_install`: a machine without an earlier install of the guide's or of the
# package's (the user patriot, /opt/patriot_api, /etc/patriot-api, the package).
remove_earlier_install() {
  if dpkg -s patriot-api >/dev/null 2>&1; then apt-get purge -y -qq patriot-api >/dev/null; fi
  rm -rf /opt/patriot_api /etc/patriot-api
  if id patriot >/dev/null 2>&1; then userdel patriot; fi
  if getent group patriot >/dev/null; then groupdel patriot; fi
}
