"""A deterministic synthetic district for demos, tests and benchmarks (SPEC §8).

``generate_district(seed, residents, as_of)`` returns a :class:`District` whose
``resources()`` and ``transaction_bundles()`` stream FHIR R4 resources — organisations,
family-doctor teams, service packages, residents in households, contracts, chronic
follow-ups, referrals, hospital slots — all clearly synthetic (province code 99,
unallocated phone prefix 100).
"""

from .district import DEFAULT_AS_OF, DEFAULT_SEED, District, generate_district

__all__ = ["DEFAULT_AS_OF", "DEFAULT_SEED", "District", "generate_district"]
