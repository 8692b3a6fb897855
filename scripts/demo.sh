#!/usr/bin/env bash
# The main job: a local demo cluster of real MariaDB servers (a master and two
# replicas, each on its own loopback address, plus an sshd) watched by the
# mhats manager; an application writes continuously; the master is killed
# (kill -9); mhats fails over. Prints the failover timeline and the number of
# acknowledged writes lost (expected 0).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

DIR="${MHATS_DEMO_DIR:-/var/tmp/mhats-demo}"
if [ -f "$DIR/sandbox.json" ]; then
  echo "== an earlier demo sandbox exists in $DIR: stopping it"
  node dist/cli/bin.js sandbox down --dir "$DIR"
fi
MHATS_DEMO_DIR="$DIR" node --import tsx scripts/demo.ts
