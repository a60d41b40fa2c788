"""The parser's modules import in one direction: result parameters and the parse state never
import the parser (no cycle), and nothing keeps a process-wide registry of parameters."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

from fhir_server import search

SEARCH = Path(search.__file__).parent


def _imports(module: str) -> set[str]:
    tree = ast.parse((SEARCH / f"{module}.py").read_text(encoding="utf-8"))
    found = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    return found | {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}


def test_result_params_and_parse_state_do_not_import_the_parser():
    for module in ("result_params", "parse_state"):
        assert "fhir_server.search.parser" not in _imports(module), module


def test_no_process_wide_registry_is_left():
    registry = importlib.import_module("fhir_server.search.registry")
    assert not {"current", "set_current", "_current"} & set(vars(registry))
    assert "registry_module" not in (SEARCH / "parser.py").read_text(encoding="utf-8")
