"""Cap the memory of the *current* process (the report process), on Windows and Linux.

Called once by the report process (:mod:`.worker`) before it renders anything,
never by the client itself. Past the cap an allocation fails with
``MemoryError``, which the report process reports as "used more than … MB".

- **Windows**: the process puts itself in a Job Object with a per-process
  committed-memory limit (``kernel32`` through :mod:`ctypes`, which every
  Python has).
- **Linux**: ``RLIMIT_AS``, the address-space limit, set through psutil
  (``prlimit``), so the client imports no POSIX-only module.

The cap is the memory the process already has (Python and Jinja, measured at
the start) plus ``extra`` bytes for the render itself.
"""

from __future__ import annotations

import ctypes
import sys

import psutil

__all__ = ["limit_memory"]


def limit_memory(extra: int) -> bool:
    """Allow this process ``extra`` more bytes than it has now; False if the system cannot."""
    if sys.platform == "win32":
        return _limit_windows(extra)
    return _limit_posix(extra)


# ---------------------------------------------------------------- elsewhere


def _limit_posix(extra: int) -> bool:
    # psutil sets RLIMIT_AS through prlimit(2), so no POSIX-only module is imported.
    me = psutil.Process()
    if not hasattr(psutil, "RLIMIT_AS"):
        return False
    cap = me.memory_info().vms + extra
    _soft, hard = me.rlimit(psutil.RLIMIT_AS)
    if hard != psutil.RLIM_INFINITY:
        cap = min(cap, hard)
    try:
        me.rlimit(psutil.RLIMIT_AS, (cap, hard))
    except (ValueError, OSError, psutil.Error):
        return False
    return True


# -------------------------------------------------------------- Windows only
# The structures of kernel32's job and memory calls, spelt with fixed-size types so
# they can be checked anywhere (only the calls need Windows). Sizes on 64-bit
# Windows: 64, 48, 144 and 72 bytes.

DWORD = ctypes.c_uint32
HANDLE = ctypes.c_void_p


class IoCounters(ctypes.Structure):
    _fields_ = [(name, ctypes.c_ulonglong) for name in (
        "ReadOperationCount", "WriteOperationCount", "OtherOperationCount",
        "ReadTransferCount", "WriteTransferCount", "OtherTransferCount",
    )]  # fmt: skip


class BasicLimits(ctypes.Structure):
    _fields_ = [
        ("PerProcessUserTimeLimit", ctypes.c_int64),
        ("PerJobUserTimeLimit", ctypes.c_int64),
        ("LimitFlags", DWORD),
        ("MinimumWorkingSetSize", ctypes.c_size_t),
        ("MaximumWorkingSetSize", ctypes.c_size_t),
        ("ActiveProcessLimit", DWORD),
        ("Affinity", ctypes.c_size_t),
        ("PriorityClass", DWORD),
        ("SchedulingClass", DWORD),
    ]


class ExtendedLimits(ctypes.Structure):
    _fields_ = [
        ("BasicLimitInformation", BasicLimits),
        ("IoInfo", IoCounters),
        ("ProcessMemoryLimit", ctypes.c_size_t),
        ("JobMemoryLimit", ctypes.c_size_t),
        ("PeakProcessMemoryUsed", ctypes.c_size_t),
        ("PeakJobMemoryUsed", ctypes.c_size_t),
    ]


class MemoryCounters(ctypes.Structure):
    _fields_ = [
        ("cb", DWORD),
        ("PageFaultCount", DWORD),
        *[(name, ctypes.c_size_t) for name in (
            "PeakWorkingSetSize", "WorkingSetSize", "QuotaPeakPagedPoolUsage",
            "QuotaPagedPoolUsage", "QuotaPeakNonPagedPoolUsage", "QuotaNonPagedPoolUsage",
            "PagefileUsage", "PeakPagefileUsage",
        )],
    ]  # fmt: skip


def _limit_windows(extra: int) -> bool:
    job_object_extended_limit_information = 9
    job_object_limit_process_memory = 0x100

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32.GetCurrentProcess.restype = HANDLE
    kernel32.CreateJobObjectW.restype = HANDLE
    kernel32.CreateJobObjectW.argtypes = [ctypes.c_void_p, ctypes.c_wchar_p]
    kernel32.SetInformationJobObject.argtypes = [
        HANDLE, ctypes.c_int, ctypes.c_void_p, DWORD,
    ]  # fmt: skip
    kernel32.AssignProcessToJobObject.argtypes = [HANDLE, HANDLE]
    kernel32.K32GetProcessMemoryInfo.argtypes = [
        HANDLE, ctypes.c_void_p, DWORD,
    ]  # fmt: skip

    me = kernel32.GetCurrentProcess()
    counters = MemoryCounters(cb=ctypes.sizeof(MemoryCounters))
    committed = 64 * 1024 * 1024
    if kernel32.K32GetProcessMemoryInfo(me, ctypes.byref(counters), counters.cb):
        committed = counters.PagefileUsage  # the process's committed (private) bytes
    job = kernel32.CreateJobObjectW(None, None)
    if not job:
        return False
    limits = ExtendedLimits()
    limits.BasicLimitInformation.LimitFlags = job_object_limit_process_memory
    limits.ProcessMemoryLimit = committed + extra
    ok = kernel32.SetInformationJobObject(
        job, job_object_extended_limit_information, ctypes.byref(limits), ctypes.sizeof(limits)
    ) and kernel32.AssignProcessToJobObject(job, me)
    # The job's handle is left open: the job lasts as long as this process.
    return bool(ok)
