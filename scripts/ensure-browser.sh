#!/usr/bin/env bash
# The browser tests drive Debian's Chromium through its chromedriver; install
# both when missing (CI runs as root on a clean machine). Nothing is
# downloaded at test time.
set -euo pipefail
cd "$(dirname "$0")/.."

# axe-core, the accessibility checker the page tests inject (package-lock.json pins it).
if [ ! -f node_modules/axe-core/axe.min.js ]; then
    echo "Installing axe-core (npm ci) ..."
    npm ci --no-audit --no-fund --silent
fi

if command -v chromium >/dev/null && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "Chromium or chromedriver is missing: sudo apt-get install -y chromium chromium-driver" >&2
    exit 1
fi
echo "Installing chromium and chromium-driver ..."
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
command -v chromium >/dev/null && [ -x /usr/bin/chromedriver ]
