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

linux_cmdline='console=ttyS0 reboot=k panic=-1 pci=off i8042.noaux i8042.nomux i8042.dumbkbd'
linux_boot=(--kernel e2e/linux/out/vmlinuz --initramfs e2e/linux/out/initramfs.cpio.gz --cpus 2 --memory 512M --serial tty)

if [[ -d /sys/module/kvm_pvm && "${WORKERVISOR_FORCE_LINUX:-0}" != "1" ]]; then
  # Nested PVM: a stock kernel cannot boot on this /dev/kvm, but it can inside the nested runner's
  # L1 (e2e/nested/README.md), which gives Workervisor a real KVM. Fall back to the SMP test guest
  # when the nested runner is not there.
  if command -v qemu-system-x86_64 >/dev/null && [[ -f e2e/nested/out/vmlinuz && -f e2e/dist/framework/nested-cli.js ]]; then
    bash e2e/linux/build.sh >/dev/null
    cat >&2 <<'MSG'
demo: this host's /dev/kvm is nested PVM, where Debian's kernel cannot boot; booting it with
      Workervisor inside a nested KVM instead (QEMU TCG -> L1 with kvm_amd -> Workervisor -> Linux).
      Everything is emulated there: the boot takes about a minute (the kernel log is quiet).
      Leave with Ctrl-A x or 'poweroff -f'.
MSG
    exec node e2e/dist/framework/nested-cli.js --interactive "${cli[@]}" "${linux_boot[@]}" --cmdline "$linux_cmdline quiet"
  fi
  cat >&2 <<'MSG'
demo: this host's /dev/kvm is nested PVM (/sys/module/kvm_pvm exists). It emulates guest
      ring 0 and cannot run a few instructions a stock Linux kernel needs, and the nested runner
      (qemu-system-x86 + bash e2e/nested/build.sh) is not set up. Booting the 4-vCPU test guest.
MSG
  bash e2e/guests/build.sh >/dev/null
  exec "${cli[@]}" --kernel e2e/guests/out/smp.elf --cpus 4 --memory 64M --cmdline cpus=4 --serial stdout
fi

# Same command line as the Linux tier's tests (LINUX_CMDLINE in e2e/framework/linux.ts explains it).
bash e2e/linux/build.sh >/dev/null
echo "demo: booting Debian's cloud kernel (2 vCPUs, 512M); leave with Ctrl-A x or 'poweroff -f'" >&2
exec "${cli[@]}" "${linux_boot[@]}" --cmdline "$linux_cmdline"
