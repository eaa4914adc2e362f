# Sourced by the scripts here: starts `$bin serve` on a free port in the current folder with
# the example keys, sets $server (its pid) and $base (http://host:port).
# shellcheck shell=bash
cp "$repo/config/keys.example.json" keys.json
"$bin" serve --port 0 --key-file keys.json 2> server.log &
server=$!
base=""
for _ in $(seq 100); do
  base=$(grep -o 'listening on http://[0-9.:]*' server.log | head -1 | sed 's/listening on //') || true
  [ -n "$base" ] && break
  sleep 0.1
done
[ -n "$base" ] || { cat server.log; exit 1; }
