#!/usr/bin/env bash
# Schema-driven fuzzing: schemathesis against the running release binary with the committed
# OpenAPI document and a valid key, over every operation; any failing check fails the run.
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
command -v schemathesis >/dev/null || python3 -m pip install --quiet --disable-pip-version-check schemathesis
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
schemathesis run "$repo/openapi/patriot-api.yaml" --url "$base" \
  -H 'Authorization: Bearer secure-api-key' \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-100}" --no-color
