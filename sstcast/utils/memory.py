"""How much memory this process may still use: the machine's, capped by its cgroup (a
container's or a Slurm job's limit), which is what the kernel's out-of-memory killer
enforces."""

from __future__ import annotations

from pathlib import Path

import psutil

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max" (v2) means no limit


def cgroup_free_bytes(root: Path = CGROUP_ROOT, proc_cgroup: Path | None = None) -> int | None:
    """Bytes left under this process's cgroup memory limit (v2 ``memory.max`` minus
    ``memory.current``, or v1 ``memory.limit_in_bytes`` minus ``memory.usage_in_bytes``);
    None where no limit is set or none can be read. Limits of the parent groups count too."""
    proc_cgroup = proc_cgroup or Path("/proc/self/cgroup")
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    free: list[int] = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, rel = parts
        if hierarchy == "0" and controllers == "":  # cgroup v2: one unified tree
            base, files = root, ("memory.max", "memory.current")
        elif "memory" in controllers.split(","):  # cgroup v1: the memory controller's tree
            base, files = root / "memory", ("memory.limit_in_bytes", "memory.usage_in_bytes")
        else:
            continue
        group = base / rel.lstrip("/")
        while True:  # this group and its parents, up to the tree's root
            limit, used = _read_int(group / files[0]), _read_int(group / files[1])
            if limit is not None and used is not None and limit < 2**60:  # v1 "no limit" ≈ 2**63
                free.append(max(0, limit - used))
            if group == base or base not in group.parents:
                break
            group = group.parent
    return min(free) if free else None


def available_bytes() -> int:
    """Memory this process can still allocate on the host: the machine's available memory,
    or less where a cgroup limit is closer."""
    avail = int(psutil.virtual_memory().available)
    limit = cgroup_free_bytes()
    return min(avail, limit) if limit is not None else avail


def human_bytes(n: float) -> str:
    """Bytes for messages: ``13.8 GiB``, ``880 MiB``, ``2.4 MiB``."""
    if n >= 2**30:
        return f"{n / 2**30:.1f} GiB"
    return f"{n / 2**20:.0f} MiB" if n >= 10 * 2**20 else f"{n / 2**20:.1f} MiB"
