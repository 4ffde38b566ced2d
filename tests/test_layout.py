"""The shape of the code, as a newcomer reads it: no import circles (imports inside functions included), no
handler importing another handler, handler modules that fit a few screens, a dev cloud that shares no code
with the proxy it stands in for."""

from __future__ import annotations

import ast
import pathlib

import pytest

from tests.support import ROOT

PACKAGES = ("ec2proxy", "metadata")


def _modules() -> dict[str, pathlib.Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts or "__pycache__" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


def _imports(name: str, path: pathlib.Path, modules: dict) -> set[str]:
    """Every module of ours that ``name`` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names if alias.name in modules}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            for alias in node.names:
                target = f"{base}.{alias.name}"
                out.add(target if target in modules else base)
    return {m for m in out if m in modules and m != name}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    assert len(modules) > 80, "the source tree is not where the tests expect it"
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def test_no_module_imports_in_a_circle(graph):
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                raise AssertionError("import circle: " + " -> ".join(trail[trail.index(target):] + [target]))
            if target not in state:
                visit(target, trail + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_no_handler_imports_another_handler(graph):
    for module, targets in graph.items():
        if module.startswith("ec2proxy.handlers."):
            others = {t for t in targets if t.startswith("ec2proxy.handlers.")}
            assert not others, f"{module} imports {others}: what they share belongs in ec2proxy.readmodels"


def test_modules_fit_a_few_screens_and_functions_one():
    """No module of the product (the dev cloud and the metadata service included; migrations aside) over 600
    lines, no function over 80."""
    too_long = []
    for path in _modules().values():
        source = path.read_text()
        if len(source.splitlines()) > 600:
            too_long.append(f"{path.relative_to(ROOT)}: {len(source.splitlines())} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 80:
                too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: "
                                f"{node.end_lineno - node.lineno + 1} lines")
    assert too_long == []


def test_the_dev_cloud_shares_no_code_with_the_proxy(graph):
    for module, targets in graph.items():
        if module.startswith("ec2proxy.devcloud"):
            foreign = {t for t in targets if not t.startswith("ec2proxy.devcloud")}
            assert not foreign, f"{module} imports {foreign}"


# The layers, bottom up: the EC2 vocabulary and the request context at the bottom; the protocol, the
# database, the cloud clients and authentication above them; read models, then changes (state/), then
# handlers; the front door, then the runtime that wires the process at the top.
BELOW_THE_FRONT_DOOR = ("ec2proxy.handlers", "ec2proxy.readmodels", "ec2proxy.state", "ec2proxy.ec2",
                        "ec2proxy.cloud", "ec2proxy.db", "ec2proxy.protocol", "ec2proxy.auth", "ec2proxy.context",
                        "ec2proxy.config", "ec2proxy.keys")
DOES_IO = ("ec2proxy.cloud", "ec2proxy.db", "ec2proxy.readmodels", "ec2proxy.state", "ec2proxy.handlers",
           "ec2proxy.frontdoor", "ec2proxy.runtime", "ec2proxy.devcloud", "metadata")


def _package(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "ec2proxy" and len(parts) > 1 else parts[0]


def test_nothing_below_the_front_door_imports_it_or_the_runtime(graph):
    upward = sorted(f"{module} -> {target}" for module, targets in graph.items() for target in targets
                    if _package(module) in BELOW_THE_FRONT_DOOR
                    and _package(target) in ("ec2proxy.frontdoor", "ec2proxy.runtime"))
    assert upward == [], "the request context and the services interface are in ec2proxy.context"


def test_no_two_packages_import_each_other(graph):
    edges: dict[tuple[str, str], str] = {}
    for module, targets in graph.items():
        for target in targets:
            if _package(module) != _package(target):
                edges.setdefault((_package(module), _package(target)), f"{module} -> {target}")
    both = sorted(f"{edges[(a, b)]} and {edges[(b, a)]}" for a, b in edges if (b, a) in edges and a < b)
    assert both == []


def test_the_ec2_vocabulary_does_no_io(graph):
    """ec2/ says what EC2 means (ids, errors, filters, shapes); what calls a cloud or the database is a read
    model or a change."""
    doing = sorted(f"{module} -> {target}" for module, targets in graph.items() if module.startswith("ec2proxy.ec2.")
                   for target in targets if _package(target) in DOES_IO)
    assert doing == []
    for path in (ROOT / "ec2proxy" / "ec2").glob("*.py"):
        source = path.read_text()
        assert not any(f"import {lib}" in source or f"from {lib}" in source
                       for lib in ("sqlalchemy", "aiohttp", "socket")), path.name


def test_error_codes_are_named_in_one_place():
    """Every EC2 error code the proxy answers is a class or factory of ec2proxy.ec2.errors; elsewhere a code is
    named by that class, not written as a string (the dev cloud, which speaks OpenStack, aside)."""
    written = []
    for path in (ROOT / "ec2proxy").rglob("*.py"):
        if "devcloud" in path.parts or path.name == "errors.py" and path.parent.name == "ec2":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "code" and isinstance(node.value, ast.Constant):
                written.append(f"{path.relative_to(ROOT)}:{node.value.lineno} {node.value.value}")
    assert written == []


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)]


def test_handlers_open_no_sessions_and_read_models_write_nothing():
    """A handler says what changes; the state module that owns the rows writes them, in a transaction
    ``state.write`` (or a create's ``record``) opens. A read model only reads."""
    found = []
    for path in (ROOT / "ec2proxy" / "handlers").glob("*.py"):
        tree = ast.parse(path.read_text())
        found += [f"{path.name}:{call.lineno} opens a session" for call in _calls(tree)
                  if isinstance(call.func, ast.Attribute) and call.func.attr == "sessions"]
        found += [f"{path.name}:{node.lineno} imports sqlalchemy" for node in ast.walk(tree)
                  if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy")]
    for path in (ROOT / "ec2proxy" / "readmodels").glob("*.py"):
        tree = ast.parse(path.read_text())
        found += [f"{path.name}:{node.lineno} imports a write statement" for node in ast.walk(tree)
                  if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy")
                  and {a.name for a in node.names} & {"delete", "insert", "update"}]
        found += [f"{path.name}:{call.lineno} writes ({call.func.attr})" for call in _calls(tree)
                  if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name)
                  and call.func.value.id == "session" and call.func.attr in ("begin", "add", "add_all", "flush",
                                                                              "commit", "merge", "delete")]
    assert found == []
