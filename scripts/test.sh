#!/usr/bin/env bash
# The whole test suite: lint, typecheck, unit tests, integration tests against
# real mariadbd and sshd processes. Installs what it needs first. Whatever
# happens, every server and namespace the tests started is stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

export MHATS_TEST_ROOT="${MHATS_TEST_ROOT:-/var/tmp/mhats-test}"
cleanup() {
  # Safety net behind each test's own cleanup: down every sandbox left under
  # the test root (by recorded PID only), then remove the root.
  if [ -d "$MHATS_TEST_ROOT" ]; then
    node scripts/cleanup-tests.mjs "$MHATS_TEST_ROOT" || true
  fi
}
trap cleanup EXIT

status=0
echo "== lint"; npm run --silent lint || status=1
echo "== typecheck"; npm run --silent typecheck || status=1
echo "== unit tests"; npm run --silent test:unit || status=1
echo "== integration tests"; npm run --silent test:int || status=1
exit $status
