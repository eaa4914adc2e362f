#!/usr/bin/env bash
# Runs the Swagger UI browser test against the real binary. Needs Debian's chromium and node.
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
server=""
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$here" && npm ci --no-audit --no-fund --silent)
cd "$work"
source "$here/start_server.sh"
curl -sf -X PUT "$base/clients" -H 'Authorization: Bearer secure-api-key' -H 'Content-Type: application/json' \
  -d '{"client_id": 9998, "info": {"Name": "Ola Nordmann"}}' > /dev/null
mkdir -p "$repo/target/artifacts"
node "$here/swagger_ui.mjs" "$base" secure-api-key 9998 "$repo/target/artifacts/swagger-ui.png"
