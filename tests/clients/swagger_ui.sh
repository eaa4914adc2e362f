#!/usr/bin/env bash
# Runs the Swagger UI browser test against the real binary. Needs Debian's chromium and node.
set -euo pipefail
source "$(dirname "$0")/common.sh" "$1"
start_server
curl -sf -X PUT "$base/clients" -H 'Authorization: Bearer secure-api-key' -H 'Content-Type: application/json' \
  -d '{"client_id": 9998, "info": {"Name": "Ola Nordmann"}}' > /dev/null
mkdir -p "$repo/target/artifacts"
node "$here/swagger_ui.mjs" "$base" secure-api-key 9998 "$repo/target/artifacts/swagger-ui.png"
