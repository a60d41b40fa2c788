"""What pyproject.toml cannot say: the repository's ``mappings/`` and ``profiles/`` ship inside
the ``adapters`` package of a wheel (as ``adapters/mappings`` and ``adapters/profiles``).

The directories stay at the repository root, where SPEC §3 and §5 put them and where the
scripts and reviewers read them; :mod:`adapters.data_files` finds them in either place.  The rest
of the packaging (metadata, dependencies, the server's own data files) is in pyproject.toml.
"""

from setuptools import find_packages, setup

DATA_DIRECTORIES = {"adapters.mappings": "mappings", "adapters.profiles": "profiles"}

setup(
    packages=find_packages(include=["fhir_server*", "adapters*", "benchmarks*"]) + list(DATA_DIRECTORIES),
    package_dir=DATA_DIRECTORIES,
)
