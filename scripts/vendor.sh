#!/usr/bin/env bash
# Vendor the console's JavaScript from the npm registry at pinned versions.
#
# Each package is fetched with `npm pack` (npm checks the registry's integrity hash), unpacked in
# a temporary folder, and only its minified build and licence files are copied into the tree.
# The copies are committed, so that running and testing Cordon never needs npm or a network.
# VENDORED.json beside the copies lists every file with its SHA-256; a test checks them.
#
#   scripts/vendor.sh          fetch and copy
#   scripts/vendor.sh --check  fetch and compare with the committed copies
set -euo pipefail
cd "$(dirname "$0")/.."

STATIC=src/cordon/web/static/vendor
TESTS=tests/web/vendor
MODE=${1:-write}

# name@version | licence | destination folder | files to copy (path inside the package)
PACKAGES=(
    "htmx.org@2.0.11|0BSD|$STATIC/htmx|dist/htmx.min.js LICENSE"
    "chart.js@4.6.1|MIT|$STATIC/chart.js|dist/chart.umd.min.js LICENSE.md"
    "cytoscape@3.35.0|MIT|$STATIC/cytoscape|dist/cytoscape.min.js LICENSE"
    "axe-core@4.14.1|MPL-2.0|$TESTS/axe-core|axe.min.js LICENSE LICENSE-3RD-PARTY.txt"
)

command -v npm >/dev/null || { echo "vendor.sh: npm is needed (apt-get install npm)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

manifest_static="$work/static.json"
manifest_tests="$work/tests.json"
echo "[" >"$manifest_static"
echo "[" >"$manifest_tests"
changed=0
for entry in "${PACKAGES[@]}"; do
    IFS='|' read -r spec licence dest files <<<"$entry"
    name=${spec%@*}
    version=${spec##*@}
    mkdir -p "$work/$name"
    (cd "$work/$name" && npm pack --silent "$spec" >/dev/null && tar xzf ./*.tgz)
    declared=$(cd "$work/$name/package" && node -p "require('./package.json').license")
    if [ "$declared" != "$licence" ] && [ "$declared" != "${licence/0BSD/BSD-0-Clause}" ]; then
        echo "vendor.sh: $spec declares licence $declared, expected $licence" >&2
        exit 1
    fi
    list=""
    for f in $files; do
        src="$work/$name/package/$f"
        [ -f "$src" ] || { echo "vendor.sh: $spec has no $f" >&2; exit 1; }
        base=$(basename "$f")
        if [ "$MODE" = "--check" ]; then
            if ! cmp -s "$src" "$dest/$base"; then
                echo "differs: $dest/$base" >&2
                changed=1
            fi
        else
            mkdir -p "$dest"
            cp "$src" "$dest/$base"
        fi
        sum=$(sha256sum "$src" | cut -d' ' -f1)
        list="$list{\"file\": \"$base\", \"sha256\": \"$sum\"}, "
    done
    line="  {\"name\": \"$name\", \"version\": \"$version\", \"licence\": \"$licence\", \"folder\": \"$(basename "$dest")\", \"files\": [${list%, }]},"
    case "$dest" in
        "$STATIC"/*) echo "$line" >>"$manifest_static" ;;
        *) echo "$line" >>"$manifest_tests" ;;
    esac
done
for m in "$manifest_static" "$manifest_tests"; do
    sed -i '$ s/},$/}/' "$m"
    echo "]" >>"$m"
done
if [ "$MODE" = "--check" ]; then
    cmp -s "$manifest_static" "$STATIC/VENDORED.json" || { echo "differs: $STATIC/VENDORED.json" >&2; changed=1; }
    cmp -s "$manifest_tests" "$TESTS/VENDORED.json" || { echo "differs: $TESTS/VENDORED.json" >&2; changed=1; }
    [ "$changed" = 0 ] && echo "vendored files match the registry"
    exit "$changed"
fi
cp "$manifest_static" "$STATIC/VENDORED.json"
cp "$manifest_tests" "$TESTS/VENDORED.json"
echo "vendored: $(printf '%s ' "${PACKAGES[@]%%|*}")"
