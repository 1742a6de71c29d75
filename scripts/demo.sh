#!/usr/bin/env bash
# The README's first command: boots the default guest and shows its console.
# On hardware KVM: Debian's cloud kernel with a busybox initramfs, to an interactive shell on
# ttyS0 (leave with Ctrl-A x, or `poweroff -f` in the guest). On nested PVM, where a stock kernel
# cannot boot (DESIGN.md "The machine"), it says so and boots the SMP test guest instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cli=(node packages/cli/bin/workervisor.js)

if [[ ! -f packages/cli/dist/main.js || ! -f native/build/Release/workervisor_kvm.node ]]; then
  echo "demo: not built yet; run: bash scripts/setup.sh" >&2
  exit 1
fi

if [[ -d /sys/module/kvm_pvm && "${WORKERVISOR_FORCE_LINUX:-0}" != "1" ]]; then
  cat >&2 <<'MSG'
demo: this host's /dev/kvm is nested PVM (/sys/module/kvm_pvm exists). It emulates guest
      ring 0 and cannot run a few instructions a stock Linux kernel needs, so Debian's kernel
      cannot boot here (QEMU fails the same way). Booting the 4-vCPU test guest instead.
      (WORKERVISOR_FORCE_LINUX=1 tries Linux anyway.)
MSG
  bash e2e/guests/build.sh >/dev/null
  exec "${cli[@]}" --kernel e2e/guests/out/smp.elf --cpus 4 --memory 64M --cmdline cpus=4 --serial stdout
fi

# Same command line as the Linux tier's tests (LINUX_CMDLINE in e2e/framework/linux.ts explains it).
bash e2e/linux/build.sh >/dev/null
echo "demo: booting Debian's cloud kernel (2 vCPUs, 512M); leave with Ctrl-A x or 'poweroff -f'" >&2
exec "${cli[@]}" --kernel e2e/linux/out/vmlinuz --initramfs e2e/linux/out/initramfs.cpio.gz \
  --cmdline 'console=ttyS0 reboot=k panic=-1 pci=off i8042.noaux i8042.nomux i8042.dumbkbd' \
  --cpus 2 --memory 512M --serial tty
