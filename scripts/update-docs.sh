#!/usr/bin/env bash
# Regenerates the dialect and pass references from TableGen and copies them
# into docs/generated/ (commit the result).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${LLMC_BUILD_DIR:-$root/build}
"$root/scripts/build.sh" llmc-doc >/dev/null
mkdir -p "$root/docs/generated/dialects" "$root/docs/generated/passes"
cp "$build"/docs/dialects/*.md "$root/docs/generated/dialects/"
cp "$build"/docs/passes/*.md "$root/docs/generated/passes/"
echo "updated $root/docs/generated"
