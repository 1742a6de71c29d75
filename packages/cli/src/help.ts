// The text of `workervisor --help` and `workervisor remote --help` (args.ts parses the flags). The
// defaults and limits it quotes are the ones the resolver applies.
import { DEFAULT_MEMORY_SIZE, DEFAULT_VCPUS, layout, MIN_MEMORY_BYTES } from '@workervisor/vmm-core';

const MIB = 1024 * 1024;

export const HELP = `workervisor: a virtual machine monitor in TypeScript over Linux KVM

Usage:
  workervisor --kernel PATH [OPTIONS]          boot a VM from flags
  workervisor --config-file FILE [OPTIONS]     boot a VM from a Firecracker JSON config
  workervisor --api-socket PATH [OPTIONS]      start with no VM; create it through the API
  workervisor remote --api-socket PATH <command>   drive a running VMM (see remote --help)
  workervisor run [FLAGS] -- CMD [ARG...]        boot an image with its agent, run CMD, exit with its status (see run --help)
  workervisor image default                        print the default guest image's paths
  workervisor seccompiler --input F --target-arch x86_64 --output O
                                               compile seccomp filters (see seccompiler --help)

VM (with --kernel):
  --kernel PATH          Guest kernel: ELF vmlinux (PVH or 64-bit entry) or bzImage
  --initramfs PATH       Initial ramdisk loaded next to the kernel
  --cmdline STRING       Kernel command line (e.g. "console=ttyS0 reboot=k panic=1")
  --cpus boot=N[,max=M]  vCPUs at boot, 1-${layout.MAX_VCPUS} (default ${DEFAULT_VCPUS}); "--cpus N" is short for boot=N
  --memory size=SIZE     Guest RAM in bytes or with a K, M or G suffix, at least ${MIN_MEMORY_BYTES / MIB}M
                         (default ${DEFAULT_MEMORY_SIZE / MIB}M); "--memory 512M" is short for size=512M
  --serial MODE          COM1 (ttyS0): tty (or stdout; the default), off, null,
                         file=PATH (write output to PATH) or socket=PATH (a Unix socket)
  --console MODE         A virtio-console (hvc0; boot with console=hvc0): off (none, the
                         default), tty (needs --serial off|null|file=|socket=), file=PATH
                         or socket=PATH (a Unix socket; its client types the input)
  --rng src=PATH         A virtio-rng (/dev/hwrng in the guest) fed by the host's getrandom;
                         PATH is /dev/urandom or /dev/random
  --vsock cid=N,socket=PATH
                         A virtio-vsock with guest CID N (3 or more), Firecracker's hybrid
                         model: a client of the Unix socket PATH writes "CONNECT <port>\n"
                         to reach a guest port; a guest connecting to host port P reaches
                         the listener on PATH_P
  --balloon size=SIZE[,deflate_on_oom=on][,free_page_reporting=on][,stats_polling_interval_s=N]
                         A virtio-balloon inflated to SIZE at boot (0: empty; resize it with
                         vm.resize desired_balloon); inflated and reported free pages go back
                         to the host; N > 0 collects the guest's memory statistics every N s
  --disk path=PATH[,readonly=on][,id=ID]
                         A virtio-blk disk backed by a host file or block device; repeat
                         the flag for more disks (the first is /dev/vda)
  --net tap=NAME[,mac=MAC][,ip=IP,mask=MASK][,host_mac=MAC][,queue_size=N][,id=ID]
                         A virtio-net device on host tap NAME (created if missing; ip and
                         mask configure the host end and set it up); mac is the guest's
                         (random when omitted); fd=FD takes an open tap fd instead of tap=;
                         repeat the flag for more devices

VMM:
  --api-socket PATH      Serve the Cloud Hypervisor REST API (/api/v1) on this Unix socket
                         ("path=PATH" is accepted too)
  --config-file FILE     Firecracker JSON config (boot-source, drives, machine-config,
                         network-interfaces, vsock, logger, metrics, ...)
  --no-api               No API server (with --kernel or --config-file)
  --reboot exit|restart  What a guest reset does: end the VMM (exit, default) or reboot the VM
  --dump-acpi DIR        Write the generated ACPI tables to DIR (one .dat file per table)
  --seccomp-filter FILE  Seccomp filters for the VMM's threads (vmm, api, vcpu), in Firecracker's
                         seccompiler JSON or compiled by workervisor seccompiler; a call a filter
                         traps ends the VMM with 159 and a log line naming the thread and syscall
  --seccomp true|false|log
                         Enforce the seccomp filters (true, the default: Workervisor's measured
                         default filters unless --seccomp-filter), only have the kernel log what
                         they would stop (log), or install none (false)
  --landlock             Landlock the VMM: it may open only the files its config names (kernel,
                         disks with their modes, serial/console/vsock/API socket directories, log
                         file, /dev/kvm, /dev/net/tun) plus Node's own code, read-only
  --landlock-rules path=PATH,access=r|w|rw
                         One more path a Landlocked VMM may open (repeatable), e.g. a snapshot dir
  -v, -vv                Log lifecycle events (info), or everything (debug); default warn
  --log-file FILE        Write the log to FILE instead of stderr
                         (each wins over a config file's logger section, which wins over
                         WORKERVISOR_LOG and WORKERVISOR_LOG_FILE)
  -h, --help             Show this help
  -V, --version          Show the version

Values can be given as "--flag VALUE" or "--flag=VALUE" (use the second form when the value
starts with "-").

Exit status: 0 when the guest powers off or resets (with --reboot exit), 1 when the VM fails,
2 for a bad flag, 3 when the guest kernel panics (reported through the pvpanic device), 159 when
a seccomp filter trapped a syscall, and 128+N when signal N stops the VMM: SIGHUP 129, SIGINT 130, SIGQUIT 131, SIGUSR2 140, SIGTERM 143
(the VM is stopped and the API socket removed first; SIGUSR1 is ignored).

Examples:
  workervisor --kernel vmlinux --initramfs initrd.cpio --cmdline "console=ttyS0" --cpus 2 --memory 256M
  workervisor --api-socket /tmp/wv.sock &
  workervisor remote --api-socket /tmp/wv.sock create vm.json
  workervisor remote --api-socket /tmp/wv.sock boot
`;

export const REMOTE_HELP = `workervisor remote: drive a running VMM over its API socket (like ch-remote)

Usage:
  workervisor remote --api-socket PATH <command> [ARG]

Commands:
  ping                 VMM version and pid
  create FILE          Create the VM from a Cloud Hypervisor VmConfig JSON file ("-" reads stdin)
  boot                 Boot the created VM
  info                 VM config and state
  pause | resume       Pause or resume the vCPUs
  reboot               Reboot the VM
  power-button         Press the ACPI power button
  shutdown             Shut the VM down (the VMM keeps running)
  delete               Delete the VM
  counters             Device counters
  nmi                  Inject an NMI
  snapshot URL         Snapshot the paused VM to URL (e.g. file:///var/snap)
  restore URL          Restore a VM from the snapshot at URL
  remove-device ID     Unplug a device
  shutdown-vmm         Stop the VM and end the VMM process

Results are printed as JSON on stdout; errors print the VMM's message on stderr and exit 1.
`;
