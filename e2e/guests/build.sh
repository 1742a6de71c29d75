#!/usr/bin/env bash
# Builds the freestanding test guests into e2e/guests/out/ (see README.md). Idempotent: a target
# is rebuilt only when it is missing or older than one of its inputs (sources, headers, linker
# script, this script, the build flags).
#   ./build.sh clean     remove out/
#   CC=... LD=... OBJCOPY=... AR=...   override the tools
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/out"
obj="$out/obj"
CC="${CC:-gcc}"
LD="${LD:-ld}"
OBJCOPY="${OBJCOPY:-objcopy}"
AR="${AR:-ar}"

for tool in "$CC" "$LD" "$OBJCOPY" "$AR"; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "build.sh: '$tool' not found; the test guests need gcc and binutils (apt-get install gcc binutils)" >&2
		exit 1
	fi
done
if ! echo 'int x;' | "$CC" -m64 -ffreestanding -c -x c -o /dev/null - 2>/dev/null; then
	echo "build.sh: '$CC' cannot compile x86_64 freestanding code" >&2
	exit 1
fi

CFLAGS=(-m64 -std=gnu11 -O2 -g0 -Wall -Wextra -Werror
	-ffreestanding -nostdlib -fno-pic -fno-pie -fno-stack-protector -fno-builtin
	-fno-tree-loop-distribute-patterns -fno-asynchronous-unwind-tables -fno-unwind-tables
	-fcf-protection=none -mno-red-zone -mgeneral-regs-only -mcmodel=small --param=min-pagesize=0
	-I"$here/include")
LDFLAGS=(-nostdlib -static --no-warn-rwx-segments -z noexecstack --build-id=none)

if [[ "${1:-}" == clean ]]; then
	rm -rf "$out"
	exit 0
fi

mkdir -p "$obj"
# Test workers may call this concurrently: one build at a time.
if command -v flock >/dev/null 2>&1; then
	exec 9>"$out/.lock"
	flock 9
fi
# A flags change rebuilds everything.
flags="$CC ${CFLAGS[*]} ${LDFLAGS[*]}"
if [[ ! -f "$out/.flags" || "$(cat "$out/.flags")" != "$flags" ]]; then
	printf '%s' "$flags" >"$out/.flags"
fi
common_deps=("$here/build.sh" "$out/.flags" "$here"/include/*.h "$here/arch/long-mode.inc")

# stale TARGET DEP...: true if TARGET is missing or older than any DEP.
stale() {
	local target="$1" dep
	shift
	[[ -e "$target" ]] || return 0
	for dep in "$@"; do
		[[ "$dep" -nt "$target" ]] && return 0
	done
	return 1
}

built=0
compile() { # compile SRC OBJ
	if stale "$2" "$1" "${common_deps[@]}"; then
		"$CC" "${CFLAGS[@]}" -c "$1" -o "$2"
		built=$((built + 1))
	fi
}

# The shared library (lib/*.c + arch/common.S + arch/trampoline.S) as an archive: each image
# pulls in only the members it references.
lib_objs=()
for src in "$here"/lib/*.c "$here"/arch/common.S "$here"/arch/trampoline.S; do
	o="$obj/lib-$(basename "${src%.*}").o"
	compile "$src" "$o"
	lib_objs+=("$o")
done
if stale "$obj/libguest.a" "${lib_objs[@]}"; then
	rm -f "$obj/libguest.a"
	"$AR" rcs "$obj/libguest.a" "${lib_objs[@]}"
fi
for src in "$here"/arch/pvh-entry.S "$here"/arch/linux-entry.S "$here"/arch/bzimage-setup.S; do
	compile "$src" "$obj/$(basename "${src%.*}").o"
done

link() { # link OUT LDSCRIPT OBJ...
	local target="$1" script="$2"
	shift 2
	if stale "$target" "$script" "$obj/libguest.a" "$@"; then
		"$LD" "${LDFLAGS[@]}" -T "$script" -o "$target" "$@" "$obj/libguest.a"
		built=$((built + 1))
	fi
}

# PVH guests: out/<name>.elf
for name in hello smp counter pio-bench scratch-loop pvh-info acpi-smp poweroff triple-fault virtio-probe virtio-devices virtio-balloon virtio-net virtio-vsock echo; do
	compile "$here/src/$name.c" "$obj/$name.o"
	link "$out/$name.elf" "$here/ld/pvh.ld" "$obj/pvh-entry.o" "$obj/$name.o"
done

# Linux boot protocol guests, one C file built twice with a different name.
for name in linux64 bzimage; do
	o="$obj/linux-info-$name.o"
	if stale "$o" "$here/src/linux-info.c" "${common_deps[@]}"; then
		"$CC" "${CFLAGS[@]}" -DGUEST_NAME="\"$name\"" -c "$here/src/linux-info.c" -o "$o"
		built=$((built + 1))
	fi
done
# linux64.elf: a 64-bit ELF without a PVH note, entered at e_entry in long mode.
link "$out/linux64.elf" "$here/ld/linux64.ld" "$obj/linux-entry.o" "$obj/linux-info-linux64.o"
# bzimage: setup sectors + the protected-mode part, laid out by the linker script, then flattened.
link "$out/bzimage.elf" "$here/ld/bzimage.ld" "$obj/bzimage-setup.o" "$obj/linux-entry.o" \
	"$obj/linux-info-bzimage.o"
if stale "$out/bzimage" "$out/bzimage.elf"; then
	"$OBJCOPY" -O binary "$out/bzimage.elf" "$out/bzimage"
	built=$((built + 1))
fi

echo "build.sh: $built step(s) rebuilt; guests in $out"
