#!/usr/bin/env bash
# Follows deploy/README.md's "By hand" install word for word (its first shell block, as root),
# then runs both
# services the way their units do (as user patriot, with the units' Environment= lines) and
# checks that they work in that layout: a write lands in the XML folder, a combine run
# delivers it. It changes the machine (a user, /opt/patriot_api, /etc), so it runs only in CI
# or with INSTALL_TEST=1; systemd itself is not running there, so systemctl is not exercised
# (systemd-analyze verify covers the unit files).
set -euo pipefail
if [ "${CI:-}" != "true" ] && [ "${INSTALL_TEST:-}" != "1" ]; then
  echo "install guide: not run (it changes the machine; CI=true or INSTALL_TEST=1 runs it)"
  exit 0
fi
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
source tests/clients/helpers.sh
remove_earlier_install
block=$(awk '/^## By hand/ {hand=1} hand && /^```sh$/ {on=1; next} /^```$/ && on {exit} on' deploy/README.md)
[ -n "$block" ] || { echo "install guide: no shell block under '## By hand'" >&2; exit 1; }
bash -euo pipefail -c "$block"

# The units' environment, without systemd's specifiers (%d is the credentials folder).
mapfile -t api_env < <(unit_env deploy/systemd/patriot-api.service)
mapfile -t combine_env < <(unit_env deploy/systemd/patriot-xml-combine.service)

cd /opt/patriot_api
runuser -u patriot -- env "${api_env[@]}" PORT=0 HOST=127.0.0.1 /opt/patriot_api/patriot-api serve 2> /tmp/install-guide-serve.log &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
base=$(wait_listening /tmp/install-guide-serve.log)
curl -sf -X PUT "$base/clients" -H 'Authorization: Bearer secure-api-key' -H 'Content-Type: application/json' \
  -d '{"client_id": 4242, "info": {"Name": "Installert"}}' > /dev/null
wait_file /opt/patriot_api/out/clients/Alarm24/4242.xml
wait_file -s /opt/patriot_api/logs/api_requests.log

share=$(mktemp -d)
chown patriot "$share"
runuser -u patriot -- env "${combine_env[@]}" SHARE=dir SHARE_DIR="$share" /opt/patriot_api/patriot-api combine --once
grep -q '<__id>4242BASE11</__id>' "$share/clients.xml"
test -f /opt/patriot_api/state/client_state.json
grep -q 'run ok' /opt/patriot_api/logs/xml_combine.log
echo "install guide: followed word for word; both services work as user patriot in its layout"
