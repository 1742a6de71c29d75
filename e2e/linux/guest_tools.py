#!/usr/bin/env python3
"""Helpers for e2e/linux/build.sh, standard library only.

  vmlinux  BZIMAGE OUT    extract the ELF vmlinux from a bzImage's LZ4 legacy payload
                          (boot protocol 2.08+: payload_offset at 0x248, payload_length at 0x24c)
  pvh      VMLINUX        print the XEN_ELFNOTE_PHYS32_ENTRY address, fail if absent
  strip-pvh VMLINUX OUT   copy VMLINUX with its PHYS32_ENTRY note renumbered to an unused type,
                          so a loader takes the ELF's own 64-bit entry (e_entry) instead
  modules  TREE DEST M..  copy kernel modules M and their dependencies (from .modinfo
                          "depends=") into DEST, decompressed, and write DEST/etc/modules.order
                          in load order
  cpio     ROOT OUT       write ROOT as a gzip'd newc cpio archive (owner root, mtime 0,
                          plus /dev/console, /dev/null, /dev/ttyS0 nodes)
"""

import gzip
import io
import lzma
import os
import shutil
import stat
import struct
import subprocess
import sys

LZ4_LEGACY_MAGIC = 0x184C2102
XEN_ELFNOTE_PHYS32_ENTRY = 18
PT_NOTE = 4


def die(msg):
    print(f"guest_tools: {msg}", file=sys.stderr)
    sys.exit(1)


# --- bzImage -> vmlinux ------------------------------------------------------------------

def bzimage_payload(image):
    """The compressed payload of a bzImage (Documentation/arch/x86/boot.rst)."""
    if image[0x202:0x206] != b"HdrS":
        die("not a bzImage: no 'HdrS' setup header magic at 0x202")
    version = struct.unpack_from("<H", image, 0x206)[0]
    if version < 0x208:
        die(f"boot protocol {version:#x} has no payload_offset/payload_length (needs 2.08+)")
    setup_sects = image[0x1F1] or 4  # 0 means 4, per the boot protocol
    protected_mode_start = (setup_sects + 1) * 512
    offset, length = struct.unpack_from("<II", image, 0x248)
    payload = image[protected_mode_start + offset : protected_mode_start + offset + length]
    if len(payload) != length:
        die("payload_offset/payload_length point past the end of the bzImage")
    return payload


def lz4_block(src, out):
    """Decode one LZ4 block (lz4 block format spec) and append it to out (bytearray)."""
    base = len(out)
    i, n = 0, len(src)
    while i < n:
        token = src[i]
        i += 1
        literal_len = token >> 4
        if literal_len == 15:
            while True:
                b = src[i]
                i += 1
                literal_len += b
                if b != 255:
                    break
        out += src[i : i + literal_len]
        i += literal_len
        if i >= n:  # the last sequence has literals only
            break
        distance = src[i] | (src[i + 1] << 8)
        i += 2
        match_len = token & 15
        if match_len == 15:
            while True:
                b = src[i]
                i += 1
                match_len += b
                if b != 255:
                    break
        match_len += 4
        start = len(out) - distance
        if distance == 0 or start < base:
            die("corrupt LZ4 block: match distance outside the block")
        if distance >= match_len:
            out += out[start : start + match_len]
        else:  # overlapping copy repeats the last `distance` bytes
            pattern = bytes(out[start:])
            out += (pattern * (match_len // distance + 1))[:match_len]


def lz4_legacy_decompress(data):
    """Decode an LZ4 legacy frame, as the kernel's lib/decompress_unlz4.c does."""
    if struct.unpack_from("<I", data, 0)[0] != LZ4_LEGACY_MAGIC:
        die("payload is not LZ4 legacy format (the kernel was not built with CONFIG_KERNEL_LZ4)")
    out = bytearray()
    i = 4
    while i + 4 <= len(data):
        size = struct.unpack_from("<I", data, i)[0]
        i += 4
        if size == LZ4_LEGACY_MAGIC:  # concatenated frames
            continue
        lz4_block(data[i : i + size], out)
        i += size
    return bytes(out)


def cmd_vmlinux(bzimage_path, out_path):
    image = open(bzimage_path, "rb").read()
    payload = bzimage_payload(image)
    if payload[:4] != struct.pack("<I", LZ4_LEGACY_MAGIC):
        die(f"payload magic {payload[:4].hex()} is not LZ4 legacy (02214c18)")
    # The kernel's build appends the decompressed size as 4 bytes (scripts/Makefile.lib
    # size_append); drop it so the lz4 tool sees a clean frame.
    expected = struct.unpack_from("<I", payload, len(payload) - 4)[0]
    frame = payload[:-4]
    if shutil.which("lz4"):
        result = subprocess.run(["lz4", "-dc"], input=frame, capture_output=True)
        if result.returncode != 0:
            die(f"lz4 -dc failed: {result.stderr.decode(errors='replace').strip()}")
        elf = result.stdout
    else:
        print("guest_tools: lz4 not installed, decompressing in Python (slow; "
              "apt-get install lz4 to speed this up)", file=sys.stderr)
        elf = lz4_legacy_decompress(frame)
    if len(elf) != expected:
        die(f"decompressed {len(elf)} bytes but the bzImage says {expected}")
    if elf[:4] != b"\x7fELF":
        die("decompressed payload is not an ELF file")
    with open(out_path, "wb") as f:
        f.write(elf)


# --- ELF notes and sections --------------------------------------------------------------

def elf64(data, what):
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        die(f"{what} is not a little-endian ELF64 file")


def elf_notes(data):
    """Yields (type_offset, name, n_type, descsz, desc_at) for every note in the PT_NOTE segments."""
    elf64(data, "vmlinux")
    phoff = struct.unpack_from("<Q", data, 0x20)[0]
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for k in range(phnum):
        p_type, _flags, p_offset, _va, _pa, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + k * phentsize)
        if p_type != PT_NOTE:
            continue
        i, end = p_offset, p_offset + p_filesz
        while i + 12 <= end:
            namesz, descsz, n_type = struct.unpack_from("<III", data, i)
            name = data[i + 12 : i + 12 + namesz].rstrip(b"\0")
            desc_at = i + 12 + ((namesz + 3) & ~3)
            yield i + 8, name, n_type, descsz, desc_at
            i = desc_at + ((descsz + 3) & ~3)


def pvh_note(data):
    """(type_offset, descsz, desc_at) of the Xen PHYS32_ENTRY note, or None."""
    for type_offset, name, n_type, descsz, desc_at in elf_notes(data):
        if name == b"Xen" and n_type == XEN_ELFNOTE_PHYS32_ENTRY:
            return type_offset, descsz, desc_at
    return None


def cmd_strip_pvh(path, out_path):
    data = bytearray(open(path, "rb").read())
    note = pvh_note(data)
    if note is None:
        die(f"{path} has no Xen PHYS32_ENTRY note to strip")
    # 0x7fff_fff0 is no Xen ELF note type (xen/include/public/elfnote.h stops at 19).
    struct.pack_into("<I", data, note[0], 0x7FFF_FFF0)
    if pvh_entry(bytes(data)) is not None:
        die("stripping the PVH note failed")
    with open(out_path, "wb") as f:
        f.write(data)


def pvh_entry(data):
    """The XEN_ELFNOTE_PHYS32_ENTRY value of an ELF64 file, or None."""
    note = pvh_note(data)
    if note is None:
        return None
    _type_offset, descsz, desc_at = note
    return struct.unpack_from("<I" if descsz == 4 else "<Q", data, desc_at)[0]


def cmd_pvh(path):
    entry = pvh_entry(open(path, "rb").read())
    if entry is None:
        die(f"{path} has no Xen PHYS32_ENTRY note (kernel built without CONFIG_PVH?)")
    print(f"{entry:#x}")


def modinfo(data, what):
    """The key=value pairs of an ELF64 .ko's .modinfo section."""
    elf64(data, what)
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def section(k):
        name, _t, _f, _a, off, size = struct.unpack_from("<IIQQQQ", data, shoff + k * shentsize)
        return name, off, size

    _, str_off, _ = section(shstrndx)
    for k in range(shnum):
        name, off, size = section(k)
        end = data.index(b"\0", str_off + name)
        if data[str_off + name : end] == b".modinfo":
            info = {}
            for item in data[off : off + size].split(b"\0"):
                key, sep, value = item.decode(errors="replace").partition("=")
                if sep:
                    info.setdefault(key, value)
            return info
    die(f"{what} has no .modinfo section")


# --- kernel modules ----------------------------------------------------------------------

def read_module(path):
    if path.endswith(".ko"):
        return open(path, "rb").read()
    if path.endswith(".ko.xz"):
        return lzma.decompress(open(path, "rb").read())
    if path.endswith(".ko.zst"):
        if not shutil.which("zstd"):
            die(f"{path} is zstd-compressed and zstd is not installed (apt-get install zstd)")
        return subprocess.run(["zstd", "-dc", path], check=True, capture_output=True).stdout
    if path.endswith(".ko.gz"):
        return gzip.decompress(open(path, "rb").read())
    die(f"unknown module file type: {path}")


def module_name(filename):
    base = filename.split(".ko")[0]
    return base.replace("-", "_")


def cmd_modules(tree, dest, wanted):
    versions = os.listdir(os.path.join(tree, "lib/modules"))
    if len(versions) != 1:
        die(f"expected one kernel version under {tree}/lib/modules, found {versions}")
    version = versions[0]
    mod_root = os.path.join(tree, "lib/modules", version)
    files = {}
    for dirpath, _dirs, names in os.walk(os.path.join(mod_root, "kernel")):
        for n in names:
            if ".ko" in n:
                files[module_name(n)] = os.path.join(dirpath, n)
    builtin = set()
    builtin_list = os.path.join(mod_root, "modules.builtin")
    if os.path.exists(builtin_list):
        builtin = {module_name(os.path.basename(l.strip())) for l in open(builtin_list) if l.strip()}

    order, visiting, done, blobs = [], set(), set(), {}

    def visit(name):
        name = name.replace("-", "_")
        if name in done or name in builtin:
            return
        if name in visiting:
            die(f"module dependency cycle through {name}")
        if name not in files:
            die(f"module {name} not found under {mod_root}/kernel (and not built in)")
        visiting.add(name)
        blob = read_module(files[name])
        deps = modinfo(blob, files[name]).get("depends", "")
        for dep in filter(None, deps.split(",")):
            visit(dep)
        visiting.discard(name)
        done.add(name)
        blobs[name] = blob
        order.append(name)

    for w in wanted:
        visit(w)

    lines = []
    for name in order:
        rel = os.path.relpath(files[name], mod_root)
        rel = rel[: rel.index(".ko")] + ".ko"  # stored decompressed: busybox insmod reads plain ELF
        target = os.path.join(dest, "lib/modules", version, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(blobs[name])
        lines.append(f"/lib/modules/{version}/{rel}")
    os.makedirs(os.path.join(dest, "etc"), exist_ok=True)
    with open(os.path.join(dest, "etc/modules.order"), "w") as f:
        f.write("\n".join(lines) + "\n")
    for line in lines:
        print(line)


# --- initramfs ---------------------------------------------------------------------------

DEVICE_NODES = [  # the kernel opens /dev/console for init before /init can mount devtmpfs
    ("dev/console", stat.S_IFCHR | 0o600, 5, 1),
    ("dev/null", stat.S_IFCHR | 0o666, 1, 3),
    ("dev/ttyS0", stat.S_IFCHR | 0o660, 4, 64),
]


def cpio_entry(out, ino, name, mode, data=b"", rdev=(0, 0)):
    """One newc header + name + data, each padded to 4 bytes (Documentation/driver-api/early-userspace/buffer-format.rst)."""
    encoded = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(encoded), 0]
    out.write(b"070701" + b"".join(b"%08X" % v for v in fields))
    out.write(encoded)
    out.write(b"\0" * (-(110 + len(encoded)) % 4))
    out.write(data)
    out.write(b"\0" * (-len(data) % 4))


def cmd_cpio(root, out_path):
    buf = io.BytesIO()
    ino = 1
    entries = []
    for dirpath, dirs, names in os.walk(root):
        dirs.sort()
        for n in sorted(dirs + names):
            full = os.path.join(dirpath, n)
            entries.append((os.path.relpath(full, root), full))
    entries.sort()
    seen = set()
    for rel, full in entries:
        st = os.lstat(full)
        seen.add(rel)
        if stat.S_ISLNK(st.st_mode):
            cpio_entry(buf, ino, rel, stat.S_IFLNK | 0o777, os.readlink(full).encode())
        elif stat.S_ISDIR(st.st_mode):
            cpio_entry(buf, ino, rel, stat.S_IFDIR | 0o755)
        elif stat.S_ISREG(st.st_mode):
            perm = 0o755 if st.st_mode & 0o111 else 0o644
            cpio_entry(buf, ino, rel, stat.S_IFREG | perm, open(full, "rb").read())
        else:
            die(f"unsupported file type in initramfs root: {rel}")
        ino += 1
    if "dev" not in seen:
        cpio_entry(buf, ino, "dev", stat.S_IFDIR | 0o755)
        ino += 1
    for rel, mode, major, minor in DEVICE_NODES:
        cpio_entry(buf, ino, rel, mode, rdev=(major, minor))
        ino += 1
    cpio_entry(buf, 0, "TRAILER!!!", 0)
    with open(out_path, "wb") as f:
        # mtime=0 keeps the archive reproducible.
        with gzip.GzipFile(fileobj=f, mode="wb", compresslevel=9, mtime=0) as gz:
            gz.write(buf.getvalue())


def main(argv):
    if len(argv) >= 3 and argv[0] == "vmlinux":
        cmd_vmlinux(argv[1], argv[2])
    elif len(argv) == 2 and argv[0] == "pvh":
        cmd_pvh(argv[1])
    elif len(argv) == 3 and argv[0] == "strip-pvh":
        cmd_strip_pvh(argv[1], argv[2])
    elif len(argv) >= 4 and argv[0] == "modules":
        cmd_modules(argv[1], argv[2], argv[3:])
    elif len(argv) == 3 and argv[0] == "cpio":
        cmd_cpio(argv[1], argv[2])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
