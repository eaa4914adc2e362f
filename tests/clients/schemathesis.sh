#!/usr/bin/env bash
# Schema-driven fuzzing: schemathesis against the running release binary with the committed
# OpenAPI document and a valid key, in two passes; any failing check fails the run.
#  1. Every phase, valid and invalid data, over every operation.
#  2. Valid data only, with ids drawn from clients stored first (schemathesis-positive.toml),
#     and the check that valid data is accepted.
# Then every operation of the document must have answered 2xx at least once: a run where
# everything is 401 or 404 proves nothing.
set -euo pipefail
source "$(dirname "$0")/common.sh" "$1"
start_server
auth='Authorization: Bearer secure-api-key'
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
schemathesis run "$repo/openapi/patriot-api.yaml" --url "$base" -H "$auth" --checks "$checks" \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-100}" --no-color \
  --report har --report-har-path "$work/fuzz.har" | tee "$work/schemathesis.out"
# Data that is valid by the document but refused by the service means the two disagree.
if grep -Eiq 'validation mismatch|rejected generated data' "$work/schemathesis.out"; then
  echo "schemathesis: the document accepts data the service refuses (see the warning above)" >&2
  exit 1
fi

# Pass 2: clients 1-3 (live), 11-13 (deleted), 14-16 (zones and users deleted), each with
# zones and users 1-3.
call() {
  curl -sS --fail-with-body -o "$work/call.out" -X "$1" "$base$2" -H "$auth" \
    -H 'Content-Type: application/json' -d "$3" || { echo "$1 $2 $3:"; cat "$work/call.out"; exit 1; } >&2
}
for id in 1 2 3 11 12 13 14 15 16; do
  # Pass 1 may have left this client with users of these numbers (a POST would be 409).
  curl -sS -o /dev/null -X DELETE "$base/clients" -H "$auth" -H 'Content-Type: application/json' \
    -d "{\"client_id\": $id}"
  call PUT /clients "{\"client_id\": $id, \"info\": {\"Name\": \"Kunde $id\"}}"
  for n in 1 2 3; do
    call PUT /clients/zones "{\"client_id\": $id, \"zone_id\": $n}"
    call POST /clients/users "{\"client_id\": $id, \"user\": {\"UserNo\": $n, \"User_Name\": \"Bruker $n\"}}"
  done
done
schemathesis --config-file "$here/schemathesis-positive.toml" run "$repo/openapi/patriot-api.yaml" \
  --url "$base" -H "$auth" --mode positive --phases fuzzing \
  --checks "$checks,positive_data_acceptance" --max-examples 20 --no-color \
  --report har --report-har-path "$work/positive.har" | tee -a "$work/schemathesis.out"

python3 - "$repo/openapi/patriot-api.yaml" "$work/fuzz.har" "$work/positive.har" <<'PY'
import json, sys, urllib.parse
import yaml

document = yaml.safe_load(open(sys.argv[1]))
operations = {
    (method.upper(), path)
    for path, item in document["paths"].items()
    for method in item
    if method in ("get", "put", "post", "patch", "delete")
}
succeeded = set()
for har in sys.argv[2:]:
    for entry in json.load(open(har))["log"]["entries"]:
        path = urllib.parse.urlparse(entry["request"]["url"]).path
        if 200 <= entry["response"]["status"] < 300:
            succeeded.add((entry["request"]["method"], path))
missing = sorted(operations - succeeded)
if missing:
    sys.exit("schemathesis: no 2xx answer for " + ", ".join(f"{m} {p}" for m, p in missing))
print(f"schemathesis: all {len(operations)} operations answered 2xx at least once")
PY
