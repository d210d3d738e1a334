#!/usr/bin/env bash
# Installs Debian's Chromium and a Chinese font (the pages are Chinese first) for the browser tests (CI runs as root; elsewhere sudo asks).
set -euo pipefail
as_root=()
if [ "$(id -u)" != 0 ]; then as_root=(sudo); fi
echo "== Chromium for the browser tests (apt-get install chromium)"
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
