"""The performance harness of SPEC §8: ``python -m benchmarks`` or ``jiayi bench``.

One run builds the synthetic district at a chosen size, loads it through a real
``jiayi serve`` (transaction bundles over HTTP), measures reads, writes, the typical
searches and operations against the same database, and measures the floors (a bare Flask +
SQLAlchemy endpoint and a raw bulk INSERT) on the same machine in the same run.  See
``benchmarks/README.md`` for the latest table.
"""
