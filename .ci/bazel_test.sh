#!/usr/bin/env bash
# Runs the Python test suite through Bazel: `bazel test //...`.
#
# Installs Debian's `bazel-bootstrap` (Bazel 4.2.3, works offline with the
# stubs in third_party/bazel_stubs/) when `bazel` is missing. The caller must
# have activated the project's venv: the tests run the first `python3` on PATH.
#
# Usage: bash .ci/bazel_test.sh [extra `bazel test` options or targets]
# The exit status is that of `bazel test`; the Bazel server is shut down after.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v bazel >/dev/null 2>&1; then
    echo "bazel_test.sh: installing bazel-bootstrap" >&2
    if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" apt-get install -y -qq bazel-bootstrap >/dev/null
fi

echo "bazel_test.sh: $(command -v bazel): $(bazel --version 2>/dev/null)" \
    "(package: $(dpkg-query -W -f='${Package} ${Version}' bazel-bootstrap 2>/dev/null || echo '?'))"
echo "bazel_test.sh: python3 = $(command -v python3) ($(python3 --version 2>&1))"

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=(//...)
fi

status=0
start=$(date +%s)
bazel test --nocache_test_results --test_output=errors "${targets[@]}" || status=$?
echo "bazel_test.sh: bazel test exited with ${status} after $(( $(date +%s) - start ))s"

bazel shutdown || true
exit "${status}"
