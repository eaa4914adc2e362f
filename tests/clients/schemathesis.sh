#!/usr/bin/env bash
# Schema-driven fuzzing: schemathesis against the running release binary with the committed
# OpenAPI document and a valid key, over every operation; any failing check fails the run.
set -euo pipefail
source "$(dirname "$0")/common.sh" "$1"
start_server
schemathesis run "$repo/openapi/patriot-api.yaml" --url "$base" \
  -H 'Authorization: Bearer secure-api-key' \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-100}" --no-color | tee "$work/schemathesis.out"
# Data that is valid by the document but refused by the service means the two disagree.
if grep -Eiq 'validation mismatch|rejected generated data' "$work/schemathesis.out"; then
  echo "schemathesis: the document accepts data the service refuses (see the warning above)" >&2
  exit 1
fi
