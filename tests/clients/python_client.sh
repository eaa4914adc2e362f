#!/usr/bin/env bash
# Generates a Python client from the committed OpenAPI document and runs the smoke script
# against the real binary.
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
server=""
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
python3 -m pip install --quiet --disable-pip-version-check openapi-python-client >/dev/null 2>&1 \
  || python3 -m pip install --quiet openapi-python-client
openapi-python-client generate --path "$repo/openapi/patriot-api.yaml" \
  --output-path "$work/patriot_client" --meta none >/dev/null
cd "$work"
source "$here/start_server.sh"
PYTHONPATH="$work" python3 "$here/python_smoke.py" "$base" secure-api-key
