#!/usr/bin/env bash
# The main job: a local demo cluster of real MariaDB servers (a master and two
# replicas, each on its own loopback address, plus an sshd), then its status
# and a replication check.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

DIR="${MHATS_DEMO_DIR:-/var/tmp/mhats-demo}"
mhats() { node dist/cli/bin.js "$@"; }

if [ -f "$DIR/sandbox.json" ]; then
  echo "== an earlier demo sandbox exists in $DIR: stopping it"
  mhats sandbox down --dir "$DIR"
fi
echo "== starting a sandbox: 1 master + 2 replicas"
mhats sandbox up --dir "$DIR" --replicas 2
echo
echo "== mhats status"
mhats status --conf "$DIR/mhats.yaml"
echo "== mhats check-repl"
mhats check-repl --conf "$DIR/mhats.yaml"
echo
echo "The sandbox keeps running. Try: node dist/cli/bin.js status --conf $DIR/mhats.yaml"
echo "Stop it with:                   node dist/cli/bin.js sandbox down --dir $DIR"
