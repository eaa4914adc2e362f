#!/usr/bin/env bash
# Generates a Python client from the committed OpenAPI document and runs the smoke script
# against the real binary.
set -euo pipefail
source "$(dirname "$0")/common.sh" "$1"
openapi-python-client generate --path "$repo/openapi/patriot-api.yaml" \
  --output-path "$work/patriot_client" --meta none >/dev/null
start_server
PYTHONPATH="$work" python3 "$here/python_smoke.py" "$base" secure-api-key
