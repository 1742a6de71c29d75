#!/usr/bin/env bash
# Installs everything Workervisor needs from scratch on a Debian/Ubuntu host with KVM:
# system packages (when root or sudo is available), npm dependencies and the KVM addon (npm ci),
# the TypeScript build, the test guests, and Debian's kernel + initramfs for the Linux tier.
# Idempotent; each step says what it does. Usage: bash scripts/setup.sh [--no-linux]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n== %s\n' "$*"; }
want_linux=1
[[ "${1:-}" == "--no-linux" ]] && want_linux=0

# gcc/g++/make/python3: the addon (node-gyp) and the test guests. acpica-tools: iasl validates
# our ACPI tables. lz4: fast vmlinux extraction. util-linux (runuser): a permission test.
packages=(gcc g++ make python3 binutils acpica-tools lz4 util-linux)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]} > 0)); then
  step "installing system packages: ${missing[*]}"
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  if [[ -n "$sudo" ]] && ! command -v sudo >/dev/null; then
    echo "setup: need root to install ${missing[*]} (apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if ((node_major < 20)); then
  echo "setup: Node.js 20 or newer is required (found $(node -v 2>/dev/null || echo none))" >&2
  exit 1
fi

step "npm ci (dependencies + the KVM addon via node-gyp)"
npm ci --no-audit --no-fund

step "building the TypeScript packages"
npx turbo run build

step "building the test guests"
bash e2e/guests/build.sh

if ((want_linux)); then
  step "fetching Debian's cloud kernel and building the Linux-tier initramfs"
  bash e2e/linux/build.sh
fi

if [[ ! -r /dev/kvm || ! -w /dev/kvm ]]; then
  echo "setup: note: /dev/kvm is missing or not accessible to $(id -un); KVM tests will skip with that reason" >&2
fi
step "setup done"
