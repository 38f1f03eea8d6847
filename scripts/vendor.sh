#!/usr/bin/env bash
# Refresh the JavaScript/CSS meterops serves from its own package (no CDN at run time).
# Run by a developer when upgrading; the files it writes are committed.
# Usage: scripts/vendor.sh
set -euo pipefail
dest="$(cd "$(dirname "$0")/.." && pwd)/src/meterops/web/ui/static/vendor"
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

fetch() {  # fetch NAME@VERSION DEST_SUBDIR FILE...
  local spec=$1 sub=$2; shift 2
  (cd "$work" && npm pack "$spec" --silent >/dev/null && mkdir -p "x-$sub" && tar xzf ./*.tgz -C "x-$sub" && rm ./*.tgz)
  mkdir -p "$dest/$sub"
  for f in "$@"; do cp "$work/x-$sub/package/$f" "$dest/$sub/"; done
  cp "$work/x-$sub/package/LICENSE"* "$dest/$sub/" 2>/dev/null || true
  echo "$spec" >> "$dest/VERSIONS.new"
}

: > "$dest/VERSIONS.new"
fetch htmx.org@2.0.11 htmx dist/htmx.min.js
mv "$dest/VERSIONS.new" "$dest/VERSIONS"
echo "vendored into $dest:"; cat "$dest/VERSIONS"
