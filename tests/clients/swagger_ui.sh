#!/usr/bin/env bash
# Runs the Swagger UI browser test against the real binary. Needs Debian's chromium and node.
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$here" && npm ci --no-audit --no-fund --silent)
cd "$work"
cp "$repo/config/keys.example.json" keys.json
"$bin" serve --port 0 --key-file keys.json 2> server.log &
server=$!
for _ in $(seq 100); do
  base=$(grep -o 'listening on http://[0-9.:]*' server.log | head -1 | sed 's/listening on //') || true
  [ -n "${base:-}" ] && break
  sleep 0.1
done
[ -n "${base:-}" ] || { cat server.log; exit 1; }
curl -sf -X PUT "$base/clients" -H 'Authorization: Bearer secure-api-key' -H 'Content-Type: application/json' \
  -d '{"client_id": 9998, "info": {"Name": "Ola Nordmann"}}' > /dev/null
mkdir -p "$repo/target/artifacts"
node "$here/swagger_ui.mjs" "$base" secure-api-key 9998 "$repo/target/artifacts/swagger-ui.png"
