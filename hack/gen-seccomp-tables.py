#!/usr/bin/env python3
"""Write src/seccomp/tables/*.rs: system call name -> number per architecture.

    python3 hack/gen-seccomp-tables.py

Sources, all on a Debian machine with gcc, linux-libc-dev and libseccomp2:
  * x86_64, x86 (i386) and x32: the kernel's uapi headers
    asm/unistd_64.h, asm/unistd_32.h and asm/unistd_x32.h;
  * aarch64: asm-generic/unistd.h with the __ARCH_WANT_* switches that
    arm64's own asm/unistd.h sets;
  * the numbers are evaluated by the C compiler, not parsed, so expressions
    such as (__X32_SYSCALL_BIT + 0) come out right;
  * system calls newer than the installed headers: the NEWER list below
    (numbers from the kernel's syscall tables), used only where the headers
    lack the name;
  * other.rs: names that libseccomp knows on some other architecture
    (arm, mips, ppc, s390, parisc, riscv...). keel has no numbers for them,
    but a profile naming one is valid, as it is for libseccomp: the name is
    skipped on every architecture where it does not exist. Read from the
    installed libseccomp through its syscall resolver.
"""

import ctypes
import ctypes.util
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "src", "seccomp", "tables")
X32_BIT = 0x40000000

# arm64's asm/unistd.h sets these before including asm-generic/unistd.h.
ARM64_WANTS = [
    "__ARCH_WANT_RENAMEAT",
    "__ARCH_WANT_NEW_STAT",
    "__ARCH_WANT_SET_GET_RLIMIT",
    "__ARCH_WANT_TIME32_SYSCALLS",
    "__ARCH_WANT_SYS_CLONE3",
    "__ARCH_WANT_MEMFD_SECRET",
]

# (name, number, ABIs): calls added after Linux 6.1, the headers Debian 12
# ships. "common" is every ABI here; x32 adds __X32_SYSCALL_BIT.
NEWER = [
    ("uretprobe", 335, ["x86_64"]),
    ("cachestat", 451, "common"),
    ("fchmodat2", 452, "common"),
    ("map_shadow_stack", 453, ["x86_64", "aarch64"]),
    ("futex_wake", 454, "common"),
    ("futex_wait", 455, "common"),
    ("futex_requeue", 456, "common"),
    ("statmount", 457, "common"),
    ("listmount", 458, "common"),
    ("lsm_get_self_attr", 459, "common"),
    ("lsm_set_self_attr", 460, "common"),
    ("lsm_list_modules", 461, "common"),
    ("mseal", 462, "common"),
    ("setxattrat", 463, "common"),
    ("getxattrat", 464, "common"),
    ("listxattrat", 465, "common"),
    ("removexattrat", 466, "common"),
    ("open_tree_attr", 467, "common"),
    ("file_getattr", 468, "common"),
    ("file_setattr", 469, "common"),
    ("listns", 470, "common"),
]

ARCHES = {
    # name: (cpp arguments, header to include)
    "x86_64": ([], "asm/unistd_64.h"),
    "x86": ([], "asm/unistd_32.h"),
    # asm/unistd.h defines the bit, but including it would pull in
    # unistd_64.h as well.
    "x32": (["-D__X32_SYSCALL_BIT=0x40000000"], "asm/unistd_x32.h"),
    "aarch64": (["-D" + w for w in ARM64_WANTS], "asm-generic/unistd.h"),
}

# libseccomp's names for the architectures keel has no numbers for.
LIBSECCOMP_OTHER = [
    "arm", "mips", "mipsel", "mips64", "mipsel64", "mips64n32",
    "mipsel64n32", "parisc", "parisc64", "ppc", "ppc64", "ppc64le",
    "s390", "s390x", "riscv64", "loongarch64", "m68k", "sh",
]


def header_table(cpp_args, header):
    """name -> number for every __NR_ macro the header defines."""
    defs = subprocess.run(
        ["cpp", "-dM", *cpp_args, "-include", header, "/dev/null"],
        check=True, capture_output=True, text=True).stdout
    names = sorted(set(re.findall(r"^#define __NR_([a-z0-9_]+) ", defs, re.M)))
    # Markers, not calls: the table size and arch-generic's private range.
    names = [n for n in names if n not in ("syscalls", "arch_specific_syscall")]
    lines = [f'printf("{n} %ld\\n", (long)(__NR_{n}));' for n in names]
    prelude = "".join(f"#define {w}\n" for w in cpp_args_defines(cpp_args))
    source = (prelude + f"#include <stdio.h>\n#include <{header}>\n"
              "int main(void) {\n" + "\n".join(lines) + "\nreturn 0;\n}\n")
    with tempfile.TemporaryDirectory() as tmp:
        c_file = os.path.join(tmp, "nr.c")
        exe = os.path.join(tmp, "nr")
        with open(c_file, "w") as f:
            f.write(source)
        subprocess.run(["cc", "-o", exe, c_file], check=True)
        out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    table = {}
    for line in out.splitlines():
        name, nr = line.split()
        table[name] = int(nr)
    return table


def cpp_args_defines(cpp_args):
    return [a[2:].replace("=", " ", 1) for a in cpp_args if a.startswith("-D")]


def add_newer(tables):
    for name, nr, abis in NEWER:
        for arch in (ARCHES if abis == "common" else abis):
            number = nr | X32_BIT if arch == "x32" else nr
            tables[arch].setdefault(name, number)


def libseccomp_names():
    """Every name libseccomp resolves on the architectures in LIBSECCOMP_OTHER."""
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2")
    libc = ctypes.CDLL(None)
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    lib.seccomp_syscall_resolve_num_arch.restype = ctypes.c_void_p
    lib.seccomp_syscall_resolve_num_arch.argtypes = [ctypes.c_uint32, ctypes.c_int]
    # Numbers start at 0, at 4000/5000/6000 on mips, and arm's private
    # calls sit at 0xf0000 and up.
    numbers = list(range(0, 8192)) + list(range(0xF0000, 0xF0100))
    names = set()
    for arch in LIBSECCOMP_OTHER:
        token = lib.seccomp_arch_resolve_name(arch.encode())
        if token == 0:
            continue  # this libseccomp predates the architecture
        for nr in numbers:
            ptr = lib.seccomp_syscall_resolve_num_arch(token, nr)
            if ptr:
                names.add(ctypes.string_at(ptr).decode())
                libc.free(ctypes.c_void_p(ptr))
    return names


HEADER = """// @generated by hack/gen-seccomp-tables.py: do not edit, run the script.
// {what}
"""


def write_table(arch, table):
    const = arch.upper()
    rows = "".join(f'    ("{n}", {table[n]:#x}),\n' if arch == "x32" else
                   f'    ("{n}", {table[n]}),\n' for n in sorted(table))
    text = (HEADER.format(what=f"System call numbers on {arch}, sorted by name.")
            + f"\npub static {const}: &[(&str, u32)] = &[\n{rows}];\n")
    with open(os.path.join(OUT, f"{arch}.rs"), "w") as f:
        f.write(text)


def write_other(names):
    rows = "".join(f'    "{n}",\n' for n in sorted(names))
    text = (HEADER.format(what="Names libseccomp knows only on architectures "
                          "keel has no numbers for, sorted.")
            + f"\npub static OTHER: &[&str] = &[\n{rows}];\n")
    with open(os.path.join(OUT, "other.rs"), "w") as f:
        f.write(text)


def main():
    os.makedirs(OUT, exist_ok=True)
    tables = {arch: header_table(*spec) for arch, spec in ARCHES.items()}
    add_newer(tables)
    known = set().union(*tables.values())
    for arch, table in tables.items():
        write_table(arch, table)
    write_other(libseccomp_names() - known)
    for arch, table in tables.items():
        print(f"{arch}: {len(table)} calls", file=sys.stderr)


if __name__ == "__main__":
    main()
