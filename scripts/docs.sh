#!/usr/bin/env bash
# The documentation: builds the DocC catalogs of the library modules (Sources/<Module>/<Module>.docc
# and the doc comments) with the swift-docc-plugin into one static site, with docc's warnings as
# errors (an unresolved symbol link fails), then checks that every public symbol has a summary
# (scripts/docs-coverage.py over the symbol graphs the plugin extracted).
#
#   bash scripts/docs.sh [OUTPUT]     # default .build/docs-site; serve it with any static file server
#
# docc's check that a function documents every parameter once it documents one is off: the house
# style documents the parameters that need it (shapes, units), not each one by a template line.
#
# Only this script sets LANDSCAPE_DOCS=1, which adds the plugin to Package.swift's dependencies, so
# ordinary builds neither resolve nor fetch it. The article snippets are compiled and run by
# Tests/SnippetTests (swift test), not here.
set -euo pipefail
cd "$(dirname "$0")/.."
output="${1:-.build/docs-site}"
modules=(Tensors Autodiff Layers Probes Optimizers Datasets Checkpoints Settings Training Plotting Study)
targets=()
for m in "${modules[@]}"; do targets+=(--target "$m"); done
export LANDSCAPE_DOCS=1
start=$SECONDS
rm -rf "$output"
# The symbol graphs the plugin extracts (.build/TRIPLE/extracted-symbols/PACKAGE/MODULE/): removed
# first, so that the coverage check reads this build's graphs, not an earlier build's.
find .build -mindepth 2 -maxdepth 2 -type d -name extracted-symbols -exec rm -rf {} + 2>/dev/null || true
swift package --disable-sandbox --allow-writing-to-directory "$output" generate-documentation \
    "${targets[@]}" --enable-experimental-combined-documentation \
    --output-path "$output" --transform-for-static-hosting --warnings-as-errors \
    --disable-parameters-and-returns-validation
echo "docs: static site in $output ($((SECONDS - start)) s)"
graphs=$(find .build -mindepth 2 -maxdepth 2 -type d -name extracted-symbols)
[ -n "$graphs" ] || { echo "docs.sh: no extracted symbol graphs under .build" >&2; exit 1; }
[ "$(printf '%s\n' "$graphs" | wc -l)" -eq 1 ] || { echo "docs.sh: more than one extracted-symbols directory: $graphs" >&2; exit 1; }
python3 scripts/docs-coverage.py "$graphs" "${modules[@]}"
