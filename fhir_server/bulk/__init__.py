"""FHIR Bulk Data export (Bulk Data Access IG 2.0.0 on R4; SPEC §2.3, §7; issue 20).

- :mod:`.kickoff`: the kick-off parameters, checked and parsed into an :class:`ExportRequest`;
- :mod:`.jobs`: the job rows (queued → running → completed | failed; cancelled), leases;
- :mod:`.selection`: which rows of one type an export reads (filters, reach, patients) as SQL;
- :mod:`.ndjson`: the files of one type, split by size, resumable at a checkpoint;
- :mod:`.runner`: a worker's loop over one job, type by type and page by page;
- :mod:`.manifest`: the status answers and the completion manifest;
- :mod:`.files`: where the files live and when they expire;
- :mod:`.operation`: ``$export`` at system, Patient and Group level;
- :mod:`.load`: an export read back into an empty server (``jiayi load DIR``).
"""
