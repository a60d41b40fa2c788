"""Where an export's files live: ``<JIAYI_EXPORT_DIR>/<job id>/``, one folder per job.

Every process that serves status URLs or runs jobs must see the same folder (one machine, or
a shared volume).  A file name is checked against the shapes the writer makes before any path
is built from it, so a download URL can never point outside the job's folder.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

_NAME = re.compile(r"^[A-Za-z]{1,64}-\d{1,6}\.ndjson$")
_JOB = re.compile(r"^[0-9a-f]{32}$")
ERRORS = "OperationOutcome"  # the error file is <ERRORS>-1.ndjson


class ExportFolder:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def of(self, job_id: str) -> Path:
        if not _JOB.match(job_id):
            raise ValueError("not a job id")
        return self.root / job_id

    def file(self, job_id: str, name: str) -> Path | None:
        """The file ``name`` of the job, if the name is one the writer makes and the file exists."""
        if not _JOB.match(job_id) or not _NAME.match(name):
            return None
        path = self.root / job_id / name
        return path if path.is_file() else None

    def remove(self, job_id: str) -> None:
        if _JOB.match(job_id):
            shutil.rmtree(self.root / job_id, ignore_errors=True)


def is_job_id(value: str) -> bool:
    return bool(_JOB.match(value))
