#!/usr/bin/env bash
# Make sure a headless Chromium is on PATH for the HTML lineage view's browser test
# (tests/integration/test_lineage_html.py). `make test` runs this first.
#
# Debian/Ubuntu as root (CI, fresh dev machines): installs Debian's `chromium` package.
# Anywhere else: says what to install and exits 1, so `make test` stops with that
# message instead of a test failing later. LINEAGED_CHROMIUM=/path/to/chrome overrides.
set -euo pipefail

if [ -n "${LINEAGED_CHROMIUM:-}" ]; then
  [ -x "$LINEAGED_CHROMIUM" ] && exit 0
  echo "ensure_chromium: LINEAGED_CHROMIUM=$LINEAGED_CHROMIUM is not executable" >&2
  exit 1
fi
for name in chromium chromium-browser google-chrome; do
  command -v "$name" >/dev/null 2>&1 && exit 0
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure_chromium: installing Debian's chromium package (once) ..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
  command -v chromium >/dev/null 2>&1 && exit 0
fi
echo "ensure_chromium: no Chromium found. Install it (Debian/Ubuntu: sudo apt-get install" \
     "chromium) or set LINEAGED_CHROMIUM=/path/to/chrome; the HTML view test needs it." >&2
exit 1
