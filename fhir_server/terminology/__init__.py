"""Terminology: CodeSystems, ValueSets and ConceptMaps as data (expand, lookup, validate-code,
translate), used by validation (bindings), search (``:in``/``:below``) and the operations."""
