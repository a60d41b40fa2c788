"""The machine a run measured (the numbers mean nothing without it)."""

from __future__ import annotations

import contextlib
import os
import platform
import sqlite3


def machine_info(url: str) -> dict:
    return {
        "nproc": os.cpu_count(),
        "memory_gb": round(_meminfo_kb("MemTotal") / 1024 / 1024, 1),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": _postgres_version(url),
        "platform": platform.platform(),
        "load_average_start": list(os.getloadavg()),
    }


def _meminfo_kb(key: str) -> int:
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def _cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _postgres_version(url: str) -> str | None:
    if "postgres" not in url:
        return None
    from sqlalchemy import create_engine, text

    from fhir_server.storage.db import normalize_url

    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            return conn.execute(text("SHOW server_version")).scalar_one()
    except Exception:  # noqa: BLE001
        return None
    finally:
        engine.dispose()
