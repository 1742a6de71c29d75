#!/usr/bin/env bash
# Independent check of the test guests under QEMU TCG (no KVM needed), while our VMM is not the
# reference yet. Boots each guest QEMU can load and compares its COM1 lines with the contract in
# README.md. linux64.elf is skipped: QEMU has no loader for a plain 64-bit ELF.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/out"
QEMU="${QEMU:-qemu-system-x86_64}"
command -v "$QEMU" >/dev/null || { echo "qemu-check.sh: $QEMU not found (apt-get install qemu-system-x86)" >&2; exit 1; }
"$here/build.sh" >/dev/null || exit 1

failures=0
# run NAME EXPECTED-LINES(\n-separated, in order) QEMU-ARGS...
run() {
	local name="$1" expected="$2" got
	shift 2
	got="$(timeout 60 "$QEMU" -accel tcg -nographic -no-reboot "$@" 2>&1 | tr -d '\r' |
		sed -e 's/^.*Booting from ROM\.\.//' | grep -E '^(Hello|CPU|SMP|COUNTER|PIO|E820|CMDLINE|INITRD|RSDP|PVH|MODULE|MEMMAP|MADT|ACPI|FADT|S5|DONE|FAIL)')"
	if diff <(echo "$expected") <(echo "$got") >/dev/null; then
		echo "ok   $name"
	else
		echo "FAIL $name"
		diff <(echo "$expected") <(echo "$got") | sed 's/^/     /'
		failures=$((failures + 1))
	fi
}
sorted_cpus() { # the CPU lines come in any order: sort them for the comparison
	sed -n '/^CPU /p'
}

q35=(-machine q35 -m 256)
run hello $'Hello from workervisor guest\nDONE hello' "${q35[@]}" -kernel "$out/hello.elf"
for n in 1 4; do
	got="$(timeout 60 "$QEMU" -accel tcg -nographic -no-reboot "${q35[@]}" -smp $n -kernel "$out/smp.elf" \
		-append "cpus=$n" 2>&1 | tr -d '\r' | sed -e 's/^.*Booting from ROM\.\.//')"
	want="$(for ((i = 0; i < n; i++)); do echo "CPU $i online"; done)"
	if [[ "$(echo "$got" | sorted_cpus | sort)" == "$want" ]] &&
		echo "$got" | grep -qx "SMP OK cpus=$n" && echo "$got" | grep -qx "DONE smp" &&
		! echo "$got" | grep -q FAIL; then
		echo "ok   smp cpus=$n"
	else
		echo "FAIL smp cpus=$n"; echo "$got" | sed 's/^/     /'; failures=$((failures + 1))
	fi
done
run "smp timeout" $'CPU 0 online\nCPU 1 online\nFAIL smp timeout online=2 expected=3' \
	"${q35[@]}" -smp 2 -kernel "$out/smp.elf" -append "cpus=3"
run counter $'COUNTER-READY\nCOUNTER 1000000 ring 3\nDONE counter' \
	"${q35[@]}" -kernel "$out/counter.elf" -append "exit-after=1000000"
run pio-bench $'PIO-BENCH-START\nPIO-BENCH-END\nDONE pio-bench' \
	"${q35[@]}" -kernel "$out/pio-bench.elf" -append "n=1000"
echo initrd >"$out/qemu-initrd.img"
# QEMU's BIOS passes no acpi_rsdp_addr, and its e820/RSDP depend on the QEMU build: check shape only.
got="$(timeout 60 "$QEMU" -accel tcg -nographic -no-reboot "${q35[@]}" -kernel "$out/bzimage" \
	-initrd "$out/qemu-initrd.img" -append "console=ttyS0 a=b" 2>&1 | tr -d '\r' | sed -e 's/^.*Booting from ROM\.\.//')"
if echo "$got" | grep -qE '^E820 [1-9][0-9]* entries$' && echo "$got" | grep -qx 'CMDLINE console=ttyS0 a=b' &&
	echo "$got" | grep -qE '^INITRD 0x[0-9a-f]+ 0x7$' && echo "$got" | grep -qx 'RSDP OK' &&
	echo "$got" | grep -qx 'DONE bzimage' && ! echo "$got" | grep -q FAIL; then
	echo "ok   bzimage (BIOS real-mode setup path)"
else
	echo "FAIL bzimage"; echo "$got" | sed 's/^/     /'; failures=$((failures + 1))
fi
got="$(timeout 60 "$QEMU" -accel tcg -nographic -no-reboot "${q35[@]}" -kernel "$out/pvh-info.elf" \
	-initrd "$out/qemu-initrd.img" -append "k=v" 2>&1 | tr -d '\r' | sed -e 's/^.*Booting from ROM\.\.//')"
if echo "$got" | grep -qx 'PVH magic=0x336ec578 version=1' && echo "$got" | grep -qx 'CMDLINE k=v' &&
	echo "$got" | grep -qx 'MODULES 1' && echo "$got" | grep -qE '^MODULE 0x[0-9a-f]+ 0x7$' &&
	echo "$got" | grep -qx 'RSDP OK' && echo "$got" | grep -qE '^MEMMAP [1-9][0-9]* entries$' &&
	echo "$got" | grep -qx 'DONE pvh-info' && ! echo "$got" | grep -q FAIL; then
	echo "ok   pvh-info"
else
	echo "FAIL pvh-info"; echo "$got" | sed 's/^/     /'; failures=$((failures + 1))
fi
got="$(timeout 60 "$QEMU" -accel tcg -nographic -no-reboot "${q35[@]}" -smp 3 -kernel "$out/acpi-smp.elf" 2>&1 |
	tr -d '\r' | sed -e 's/^.*Booting from ROM\.\.//')"
if echo "$got" | grep -qx 'MADT cpus=3' && [[ "$(echo "$got" | sorted_cpus | sort)" == $'CPU 0 online\nCPU 1 online\nCPU 2 online' ]] &&
	echo "$got" | grep -qx 'ACPI-SMP OK cpus=3' && echo "$got" | grep -qx 'DONE acpi-smp' && ! echo "$got" | grep -q FAIL; then
	echo "ok   acpi-smp"
else
	echo "FAIL acpi-smp"; echo "$got" | sed 's/^/     /'; failures=$((failures + 1))
fi
# q35: PM1a path. microvm: hardware-reduced FADT, sleep control register (like ours).
for machine in q35 microvm; do
	if [[ $machine == q35 ]]; then args=("${q35[@]}"); else args=(-M microvm -nodefaults -serial stdio); fi
	got="$(timeout 60 "$QEMU" -accel tcg -nographic -no-reboot "${args[@]}" -kernel "$out/poweroff.elf" 2>&1 |
		tr -d '\r' | sed -e 's/^.*Booting from ROM\.\.//')"
	if echo "$got" | grep -qE '^FADT (sleep|pm1a)-control=0x[0-9a-f]+$' && echo "$got" | grep -qE '^S5 slp-typ=[0-9]+$' &&
		echo "$got" | grep -qx 'DONE poweroff' && ! echo "$got" | grep -q FAIL; then
		echo "ok   poweroff ($machine: $(echo "$got" | grep '^FADT'))"
	else
		echo "FAIL poweroff ($machine)"; echo "$got" | sed 's/^/     /'; failures=$((failures + 1))
	fi
done
echo "skip linux64.elf (QEMU cannot load a plain 64-bit ELF; same code as bzimage's 64-bit part)"
exit $((failures > 0))
