#!/usr/bin/env bash
# Installs what the export tests need beyond the Python packages: Node.js with npm (TF.js in
# Node, playwright-core) and Debian's Chromium (the web page's end-to-end test). The npm
# packages themselves are installed by the tests (`npm ci` of blazepose/export/web/package-lock.json
# into $BLAZEPOSE_CACHE_DIR/web-npm); no browser is downloaded, playwright-core drives
# /usr/bin/chromium. Idempotent: installs only what is missing.
set -euo pipefail

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "install_web_deps.sh: installing ${missing[*]}" >&2
    if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi
echo "install_web_deps.sh: node $(node --version), npm $(npm --version)," \
    "$(/usr/bin/chromium --version 2>/dev/null || echo 'chromium ?')"
