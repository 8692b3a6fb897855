#!/usr/bin/env bash
# Installs what mhats needs, only where it is missing: Debian/Ubuntu packages
# (MariaDB server and client, OpenSSH, rsync, ...), the npm dependencies and
# the build. Safe to run again. Used by scripts/demo.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

# --- Node.js >= 20.19 -------------------------------------------------------
if ! command -v node >/dev/null 2>&1; then
  die "Node.js >= 20.19 is required and was not found. Install Node.js 20 or newer (e.g. from your distribution or nodejs.org), then run this again."
fi
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || die "Node.js >= 20.19 is required; this is $(node --version). Upgrade Node.js, then run this again."

# --- system packages ------------------------------------------------------
# Each entry: package name (Debian) — what needs it.
PACKAGES=(
  mariadb-server   # the sandbox and the integration tests run real mariadbd
  mariadb-client   # mariadb, mariadb-binlog
  openssh-server   # sshd for the sandbox hosts
  openssh-client   # ssh, ssh-keygen
  rsync            # hosts hook
  iproute2         # ip (network namespaces, VIP)
  arping           # gratuitous ARP for the VIP hook
  haproxy          # the HAProxy hook and its tests
  etcd-server      # manager HA tests (a local etcd started by the tests)
  etcd-client      # etcdctl
  socat            # the hook tests: db hosts in network namespaces forward to the sandbox servers
  python3          # the systemd notify test reads a datagram socket with it
  libconfig-tiny-perl  # golden tests of the MHA config parser against Perl's Config::Tiny
  procps           # ps, used to show what runs
)
# Optional: installed when the distribution has it; its test skips, saying so, without it.
# (Ubuntu ships chromium only as a snap, which containers usually cannot run.)
# Chromium is the heaviest part of setup: on a fresh Debian 12 it adds ~160
# packages, ~195 MiB to download and ~690 MiB on disk, 1.5-2 min on 2 cores
# (the required list above: ~75 packages, ~50 MiB). MHATS_NO_CHROMIUM=1 leaves
# it out, and the browser tests skip.
OPTIONAL=()
[ "${MHATS_NO_CHROMIUM:-}" = 1 ] || OPTIONAL+=(
  chromium         # the console's browser test (headless, driven by playwright-core)
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
    command -v sudo >/dev/null 2>&1 || die "missing packages (${missing[*]}) and not root: run as root."
  else
    SUDO=
  fi
  log "installing: ${missing[*]}"
  # Do not let package installation start (or restart) system services: mhats
  # runs its own servers and must not touch the system's MariaDB or sshd.
  policy_created=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    policy_created=1
  fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ "$policy_created" = 1 ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
fi
for p in "${OPTIONAL[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' && continue
  [ "$(id -u)" -eq 0 ] || { log "optional package $p not installed (not root): its tests will skip"; continue; }
  # Its dependencies include dbus: do not let the installation start services either.
  policy_created=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && policy_created=1
  fi
  apt-cache show "$p" >/dev/null 2>&1 && apt-cache policy "$p" | grep -q 'Candidate: [0-9]' \
    && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 \
    && log "installed optional package $p" \
    || log "optional package $p could not be installed here: its tests will skip, saying so"
  if [ "$policy_created" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
done
[ -d /run/sshd ] || { mkdir -p /run/sshd 2>/dev/null || true; }

# --- npm dependencies and build --------------------------------------------
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
log "building"
npm run --silent build

# --- mhats and MHA's masterha_* commands on the PATH -------------------------
# A symlink per package.json "bin" entry in /usr/local/bin (root) or ~/.local/bin,
# to this checkout's dist/. An existing file that is not such a link is left alone.
BIN_DIR=/usr/local/bin
[ "$(id -u)" -eq 0 ] || BIN_DIR="$HOME/.local/bin"
mkdir -p "$BIN_DIR"
node -e 'for (const [n, f] of Object.entries(require("./package.json").bin)) console.log(n + " " + f)' | while read -r name target; do
  chmod +x "$target"
  dest="$BIN_DIR/$name"
  if [ -e "$dest" ] && [ ! -L "$dest" ]; then
    log "not linking $dest: a file that is not a link is already there"
    continue
  fi
  ln -sfn "$PWD/$target" "$dest"
done
case ":$PATH:" in
  *":$BIN_DIR:"*) log "mhats and masterha_* are on the PATH ($BIN_DIR)" ;;
  *) log "mhats and masterha_* are in $BIN_DIR, which is not on your PATH: export PATH=\"$BIN_DIR:\$PATH\"" ;;
esac
log "ready"
