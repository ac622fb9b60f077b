#!/usr/bin/env bash
# The whole test suite against a real Temporal server and a real PostgreSQL (started by
# test/support/global-setup.ts unless TEMPORAL_ADDRESS / DATABASE_URL point at running ones).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

echo "test: type-checking"
npx tsc --noEmit -p .

# Typed lint rules (floating promises, the workflow sandbox's imports): some 40 s on two cores.
echo "test: linting"
npm run --silent lint

mkdir -p .data
results=.data/jest-results.json
status=0
npx jest --json --outputFile="$results" "$@" || status=$?
# A plain closing line that any CI can read, whatever it knows of Jest.
node -e '
  const r = require(process.argv[1]);
  const broken = r.numRuntimeErrorTestSuites ? `, ${r.numRuntimeErrorTestSuites} suite(s) failed to run` : "";
  console.log(`jest: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped${broken}`);
  if (r.numTotalTests === 0) { console.error("test: no test ran"); process.exit(1); }
' "$PWD/$results"
exit "$status"
