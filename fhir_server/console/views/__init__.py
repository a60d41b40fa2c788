"""View models: FHIR resources (as the signed-in user may read them) → what a screen shows.

Plain functions over a :class:`Source` (the console's FHIR client, or a fake in the unit
tests); they decide layout and wording only, never a business rule.
"""
