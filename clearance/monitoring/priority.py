"""How the monitor process makes way for the gateway on a shared machine.

Always: ``monitor_nice`` steps lower, and the longest time slice Linux's scheduler
grants (EEVDF, Linux 6.12 and later). A task with a shorter slice that wakes up —
every thread serving a request — then takes the core from the monitor at once instead
of after the monitor's slice, while the monitor keeps its fair share of the CPU, so it
never starves. On the benchmark machine this took 0.6-1 ms off the gateway's p99 at
concurrency 1. Earlier kernels ignore the slice; elsewhere only the nice value applies.

Optionally (``monitor_idle_priority``), the process holding the lease moves into the
idle scheduling class: it then runs only on CPU time nothing else wants — and not at
all while something else keeps every core busy.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import struct
import sys

import structlog

log = structlog.get_logger(__name__)

SLICE_NS = 100_000_000
"""The slice asked for: 100 ms, the most the scheduler grants (the default is ~1-3 ms)."""
_SCHED_SETATTR = {"x86_64": 314, "aarch64": 274}
"""``sched_setattr``'s system call number, which Python's ``os`` does not wrap."""
_SCHED_OTHER = 0


def lower(nice: int) -> None:
    """``nice`` steps lower, with a long time slice. Call it before any thread starts:
    threads inherit both."""
    os.nice(nice)
    number = _SCHED_SETATTR.get(os.uname().machine)
    if sys.platform != "linux" or number is None:
        return
    # struct sched_attr: size, policy, flags, nice, priority, runtime (the slice), …
    current = os.getpriority(os.PRIO_PROCESS, 0)
    attr = struct.pack("=IIQiIQQQ", 48, _SCHED_OTHER, 0, current, 0, SLICE_NS, 0, 0)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(number, 0, attr, 0) != 0:
        error = ctypes.get_errno()
        log.warning("monitor_slice_unavailable", error=os.strerror(error))


def make_way() -> None:
    """Move this process into Linux's idle scheduling class (called when it takes the
    monitor's lease, with ``monitor_idle_priority``). A monitor standing by stays as it
    is: the texts it hands over must reach the holder within ``monitor_text_wait``."""
    try:
        threads = os.listdir("/proc/self/task")  # threads started later inherit the class
        for thread in threads:
            with contextlib.suppress(ProcessLookupError):  # one that ended meanwhile
                os.sched_setscheduler(int(thread), os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError) as exc:  # not Linux, or refused: nice alone
        log.warning("monitor_idle_priority_unavailable", error=str(exc))
