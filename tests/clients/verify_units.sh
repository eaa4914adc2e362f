#!/usr/bin/env bash
# systemd-analyze verify on the shipped units, with ExecStart= pointed at the built binary
# (verify checks that the command exists).
set -euo pipefail
bin=$(realpath "$1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$(dirname "$0")/../.."
for unit in deploy/systemd/*.service; do
  sed "s#/opt/patriot_api/patriot-api#$bin#" "$unit" > "$work/$(basename "$unit")"
done
systemd-analyze verify "$work"/*.service
echo "systemd units: verified"
