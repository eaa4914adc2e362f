#!/usr/bin/env bash
# Schema-driven fuzzing: schemathesis against the running release binary with the committed
# OpenAPI document and a valid key, over every operation; any failing check fails the run.
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
server=""
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
command -v schemathesis >/dev/null || python3 -m pip install --quiet --disable-pip-version-check schemathesis
cd "$work"
source "$here/start_server.sh"
schemathesis run "$repo/openapi/patriot-api.yaml" --url "$base" \
  -H 'Authorization: Bearer secure-api-key' \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-100}" --no-color
