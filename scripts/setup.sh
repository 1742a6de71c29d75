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
# e2fsprogs: the Linux tier's ext4 root image (mkfs.ext4 -d) and its checks (debugfs, e2fsck).
# qemu-system-x86: the nested runner's L1 on nested-PVM hosts, and the QEMU-KVM reference.
packages=(gcc g++ make python3 binutils acpica-tools lz4 util-linux e2fsprogs qemu-system-x86)
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
  step "fetching Debian's cloud kernel and building the Linux-tier initramfs and ext4 root"
  bash e2e/linux/build.sh
  step "building an image with a Debian package (jq) for the Linux tier's image test"
  WORKERVISOR_DEB_CACHE=e2e/linux/out/debs node packages/cli/bin/workervisor.js image build --packages jq --out e2e/linux/out/images/jq
  if [[ -d /sys/module/kvm_pvm ]]; then
    # Nested PVM: the Linux tier runs inside a nested KVM (e2e/nested/README.md).
    step "building the nested runner's L1 (Debian's generic kernel + a busybox initramfs)"
    bash e2e/nested/build.sh
  fi
fi

if [[ ! -r /dev/kvm || ! -w /dev/kvm ]]; then
  echo "setup: note: /dev/kvm is missing or not accessible to $(id -un); KVM tests will skip with that reason" >&2
fi
step "setup done"
