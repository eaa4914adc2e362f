# Sourced first by the scripts here, with the binary's path as $1: sets $bin, $here, $repo and
# a temporary $work folder removed on exit, and defines start_server.
# shellcheck shell=bash
bin=$(realpath "$1")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
server=""
source "$here/helpers.sh"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

# Starts `$bin serve` on a free port in $work with the example keys; sets $server (its pid)
# and $base (http://host:port).
start_server() {
  cd "$work"
  cp "$repo/config/keys.example.json" keys.json
  "$bin" serve --port 0 --metrics-addr 127.0.0.1:0 --key-file keys.json 2> server.log &
  server=$!
  base=$(wait_listening server.log) || exit 1
}
