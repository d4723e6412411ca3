"""What this machine is: the CPU's model, vendor and vector extensions, and
the installed versions of libraries. Read by the bench's machine line and by
the BLAS plan's key, so both describe a machine the same way."""

from __future__ import annotations

import importlib.metadata
import platform

#: vector extensions worth naming, widest first (Linux flags)
_ISA_FLAGS = (
    ("amx_tile", "AMX"),
    ("avx512_bf16", "AVX-512 BF16"),
    ("avx512f", "AVX-512"),
    ("avx2", "AVX2"),
    ("avx", "AVX"),
    ("asimd", "NEON"),
    ("sve", "SVE"),
)


def cpuinfo_field(field: str) -> str:
    """The first value of ``field`` in /proc/cpuinfo, or '' (not Linux)."""
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.split(":", 1)[0].strip() == field:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo, else what ``platform`` knows."""
    return cpuinfo_field("model name") or platform.processor() or platform.machine()


def cpu_vendor() -> str:
    """The CPU's vendor id (``GenuineIntel``, ``AuthenticAMD``, ...), or ''."""
    return cpuinfo_field("vendor_id")


def is_intel() -> bool:
    """Whether the CPU is Intel's: Linux's vendor id, else what ``platform``
    says (Windows names the vendor there)."""
    vendor = cpu_vendor()
    if vendor:
        return vendor == "GenuineIntel"
    return "intel" in platform.processor().lower()


def vector_isa() -> str:
    """The widest vector extensions the CPU reports, e.g. ``AVX-512, AMX``."""
    flags = set((cpuinfo_field("flags") or cpuinfo_field("Features")).split())
    names = [name for flag, name in _ISA_FLAGS if flag in flags]
    wide = [n for n in names if n not in ("AVX", "AVX2")] or names[:1]
    return ", ".join(wide) or platform.machine()


def version(distribution: str) -> str:
    """An installed distribution's version, or ``"not installed"``: package
    metadata, not an import (importing torch or jax just for its version
    would cost seconds and load their thread pools)."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"
