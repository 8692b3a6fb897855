#!/usr/bin/env bash
# The whole test suite: lint, typecheck, unit tests, integration tests against
# real mariadbd and sshd processes. Installs what it needs first. Whatever
# happens, every server and namespace the tests started is stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
# One test run at a time on a machine: the tests use fixed loopback addresses,
# ports and namespace names. flock -o keeps the servers the tests start from
# inheriting the lock.
if [ -z "${MHATS_TEST_LOCKED:-}" ]; then
  export MHATS_TEST_LOCKED=1
  echo "== waiting for any other test run on this machine (/run/lock/mhats-test.lock)"
  exec flock -o -w 5400 /run/lock/mhats-test.lock bash "$0" "$@"
fi
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
# Leftovers of an earlier run that was killed (its servers, namespaces and
# test roots) would make this run's addresses and names collide: remove them.
echo "== removing leftovers of earlier test runs"
node scripts/cleanup-tests.mjs --stale || true

status=0
# Lint and typecheck only read the sources: side by side, each on one of the cores; their output in order.
logs=$(mktemp -d)
npm run --silent lint >"$logs/lint" 2>&1 & lint_pid=$!
npm run --silent typecheck >"$logs/typecheck" 2>&1 & typecheck_pid=$!
lint_rc=0; wait "$lint_pid" || lint_rc=$?
typecheck_rc=0; wait "$typecheck_pid" || typecheck_rc=$?
echo "== lint"; cat "$logs/lint"; [ "$lint_rc" -eq 0 ] || { echo "lint FAILED (exit $lint_rc)"; status=1; }
echo "== typecheck"; cat "$logs/typecheck"; [ "$typecheck_rc" -eq 0 ] || { echo "typecheck FAILED (exit $typecheck_rc)"; status=1; }
rm -rf "$logs"
echo "== unit tests"; npm run --silent test:unit || status=1
echo "== integration tests"; npm run --silent test:int || status=1
exit $status
