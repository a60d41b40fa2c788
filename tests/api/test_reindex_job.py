"""$reindex as a background job (issue 18): the request answers 202 at once, and a slow
rebuild (made slow on purpose) does not hold the request or the next one."""

from __future__ import annotations

import threading

from fhir_server.operations.reindex_job import BackgroundReindex


class _SlowRepository:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.types: list[str | None] = []

    def reindex(self, res_type=None, res_id=None) -> int:
        self.release.wait(timeout=60)
        self.types.append(res_type)
        return 1


def test_type_level_reindex_answers_before_the_job_ends(app, client):
    background: BackgroundReindex = app.extensions["jiayi.reindex"]
    slow = _SlowRepository()
    real, background.repository = background.repository, slow
    try:
        response = client.post("/fhir/Patient/$reindex")
        assert response.status_code == 202
        assert response.get_json()["issue"][0]["severity"] == "information"
        assert client.get("/fhir/metadata").status_code == 200  # the worker serves on meanwhile
        job = response.get_json()["issue"][0]["diagnostics"].split("(job ")[1].split(")")[0]
        assert background.jobs[job].is_alive()
        slow.release.set()
        background.jobs[job].join(timeout=60)
        assert slow.types == ["Patient"]
    finally:
        background.repository = real
