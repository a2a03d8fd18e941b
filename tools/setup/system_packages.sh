#!/usr/bin/env bash
# Debian packages the tests and the demo need: the local IoT Core stand-in, openssl for the dev PKI,
# the headless browser (with its WebDriver) the web page's tests drive, and Node with npm for dynalite.
set -eu
# Only the missing ones: a machine whose Node came from elsewhere bundles npm, and Debian's npm conflicts with it.
missing=""
PACKAGES=""
for pair in mosquitto:mosquitto openssl:openssl chromium:chromium chromedriver:chromium-driver node:nodejs npm:npm; do
  cmd="${pair%%:*}"
  command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || { missing="$missing $cmd"; PACKAGES="$PACKAGES ${pair#*:}"; }
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
  # The package's service is not wanted: tests start their own broker on a free port.
  (command -v systemctl >/dev/null && systemctl disable --now mosquitto >/dev/null 2>&1) || true
else
  echo "Missing:$missing. Run: sudo apt-get install -y $PACKAGES" >&2
  exit 1
fi
