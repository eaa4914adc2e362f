#!/usr/bin/env bash
# The Debian package end to end: builds it (scripts/package), installs it with apt, checks
# its files, owners and modes and its units (systemd-analyze verify), runs both programs as
# user patriot with the units' environment (a write lands, a `combine --once --share dir`
# delivers it), then `apt remove` (the data stays) and `apt purge` (says what it deletes,
# keeps the database). It installs and removes a package and a user, so it runs only in CI
# (CI=true) or with PACKAGE_TEST=1. systemd is not PID 1 there: enabling is checked by its
# symlinks, starting is not exercised.
set -euo pipefail
if [ "${CI:-}" != "true" ] && [ "${PACKAGE_TEST:-}" != "1" ]; then
  echo "debian package: not run (it installs a package; CI=true or PACKAGE_TEST=1 runs it)"
  exit 0
fi
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
source tests/clients/helpers.sh
export DEBIAN_FRONTEND=noninteractive

scripts/package
deb=$(ls target/debian/patriot-api_*_amd64.deb)
remove_earlier_install

apt-get install -y -qq "./$deb" > /tmp/package-install.log
grep -q "both services start once the keys file exists" /tmp/package-install.log

# Files, owners and modes, as deploy/README.md says.
check() { # path owner:group mode
  local got
  got=$(stat -c '%U:%G %a' "$1")
  [ "$got" = "$2 $3" ] || { echo "debian package: $1 is $got, expected $2 $3" >&2; exit 1; }
}
check /opt/patriot_api/patriot-api root:root 755
check /opt/patriot_api/data patriot:patriot 750
check /opt/patriot_api/out/clients patriot:patriot 750
check /opt/patriot_api/out/ready_for_import patriot:patriot 750
check /opt/patriot_api/state patriot:patriot 750
check /opt/patriot_api/logs patriot:patriot 750
check /etc/patriot-api root:patriot 750
check /etc/patriot-api/keys.example.json root:patriot 640
check /etc/patriot-api/combine.env root:patriot 640
check /etc/patriot-api/patriot-api.env root:root 644
check /etc/patriot-api/smb-password root:root 600
check /lib/systemd/system/patriot-api.service root:root 644
check /lib/systemd/system/patriot-xml-combine.service root:root 644
test "$(readlink /usr/bin/patriot-api)" = /opt/patriot_api/patriot-api
getent passwd patriot | grep -q ':/opt/patriot_api:/usr/sbin/nologin$'
for conffile in keys.example.json patriot-api.env combine.env; do
  dpkg-query -W -f='${Conffiles}\n' patriot-api | grep -q "/etc/patriot-api/$conffile"
done
# Enabled on install (systemd is not running here: the symlinks tell).
test -L /etc/systemd/system/multi-user.target.wants/patriot-api.service
test -L /etc/systemd/system/multi-user.target.wants/patriot-xml-combine.service
systemd-analyze verify /lib/systemd/system/patriot-api.service /lib/systemd/system/patriot-xml-combine.service

# The keys file as the guide makes it; both programs as the units run them.
install -m 0640 -g patriot /etc/patriot-api/keys.example.json /etc/patriot-api/keys.json
mapfile -t api_env < <(unit_env /lib/systemd/system/patriot-api.service)
mapfile -t combine_env < <(unit_env /lib/systemd/system/patriot-xml-combine.service)
cd /opt/patriot_api
runuser -u patriot -- env "${api_env[@]}" PORT=0 HOST=127.0.0.1 /opt/patriot_api/patriot-api serve 2> /tmp/package-serve.log &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT
base=$(wait_listening /tmp/package-serve.log)
curl -sf -X PUT "$base/clients" -H 'Authorization: Bearer secure-api-key' -H 'Content-Type: application/json' \
  -d '{"client_id": 4343, "info": {"Name": "Pakket"}}' > /dev/null
curl -sf -X PUT "$base/clients" -H 'Authorization: Bearer secure-api-key' -H 'Content-Type: application/json' \
  -d '{"client_id": 4344, "info": {"Name": "Blir igjen"}}' > /dev/null
wait_file /opt/patriot_api/out/clients/Alarm24/4343.xml
wait_file /opt/patriot_api/out/clients/Alarm24/4344.xml
kill "$server"; wait "$server" 2>/dev/null || true
share=$(mktemp -d)
chown patriot "$share"
rm /opt/patriot_api/out/clients/Alarm24/4344.xml
runuser -u patriot -- env "${combine_env[@]}" SHARE=dir SHARE_DIR="$share" /opt/patriot_api/patriot-api combine --once
grep -q '<__id>4343BASE11</__id>' "$share/clients.xml"
grep -q 'run ok' /opt/patriot_api/logs/xml_combine.log
cd "$repo"

# remove keeps what the services wrote; purge deletes what it says and keeps the database.
apt-get remove -y -qq patriot-api > /dev/null
test ! -e /opt/patriot_api/patriot-api && test ! -e /usr/bin/patriot-api
test -n "$(ls -A /opt/patriot_api/data)" && test -f /etc/patriot-api/keys.json
test -f /opt/patriot_api/state/client_state.json
DATA_DIR=/opt/patriot_api/data target/release/patriot-api export | grep -q '"Blir igjen"'
apt-get purge -y -qq patriot-api > /tmp/package-purge.log
grep -q "deleting /etc/patriot-api" /tmp/package-purge.log
grep -q "kept the client database /opt/patriot_api/data" /tmp/package-purge.log
test ! -e /etc/patriot-api && test ! -e /opt/patriot_api/state && test -n "$(ls -A /opt/patriot_api/data)"
echo "debian package: installed, checked, run as patriot, removed (data kept) and purged ($deb)"
