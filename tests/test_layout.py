"""The layout that shows the architecture: few modules at the root of `sms_ktp`, no import circle
among the project's modules, and import-linter contracts (pyproject.toml, run by `make test`)
that cover every folder, so a folder added later cannot slip past them."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sms_ktp", "flows", "gateway", "gsm7")
MAX_ROOT_MODULES = 8


def circles(imports: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module, and modules importing
    themselves (Tarjan's algorithm, iterative: the graph has hundreds of modules)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(imports):
        if start in index:
            continue
        work = [(start, iter(sorted(imports.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, targets = work[-1]
            for target in targets:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(imports.get(target, ())))))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1 or node in imports.get(node, ()):
                        found.append(sorted(group))
    return found


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True, cache_dir=None)


@pytest.fixture(scope="module")
def contracts() -> list[dict]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)["tool"]["importlinter"]["contracts"]


def subpackages(package: str) -> set[str]:
    """The folders and modules directly in `package`, as dotted names."""
    folder = ROOT / package.replace(".", "/")
    found = {f"{package}.{path.stem}" for path in folder.glob("*.py") if path.stem != "__init__"}
    found |= {f"{package}.{path.name}" for path in folder.iterdir()
              if (path / "__init__.py").is_file()}
    return found


def test_the_root_of_sms_ktp_holds_at_most_eight_modules():
    modules = sorted(path.name for path in (ROOT / "sms_ktp").glob("*.py"))
    assert len(modules) <= MAX_ROOT_MODULES, modules


def test_no_import_circle_among_the_projects_modules(graph):
    imports = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    assert circles(imports) == []


def test_the_circle_finder_finds_circles():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"a"}, "b": set()}) == [["a"]]
    assert circles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_every_folder_of_sms_ktp_has_a_place_in_the_layers(contracts):
    (layers,) = [c for c in contracts if c["type"] == "layers"]
    placed = {name.strip() for layer in layers["layers"]
              for name in layer.replace(":", "|").split("|")}
    assert placed == subpackages("sms_ktp")
    assert layers["layers"][0] == "sms_ktp.cli" and layers["layers"][-1] == "sms_ktp.domain"


def test_flows_may_import_of_sms_ktp_only_the_domain(contracts):
    (rule,) = [c for c in contracts if c.get("source_modules") == ["flows"]]
    assert set(rule["forbidden_modules"]) == subpackages("sms_ktp") - {"sms_ktp.domain"} | {
        "gateway"}


def test_the_edge_and_the_pure_parts_import_nothing_of_the_service(contracts):
    forbidden = {tuple(c["source_modules"]): set(c["forbidden_modules"])
                 for c in contracts if c["type"] == "forbidden"}
    assert forbidden[("gateway",)] >= {"sms_ktp", "flows"}
    assert forbidden[("gsm7",)] >= {"sms_ktp", "flows", "gateway"}
    assert forbidden[("sms_ktp.domain",)] >= {"flows", "gateway", "gsm7"}


def test_each_test_folder_mirrors_a_folder_of_the_package():
    for tests in (ROOT / "tests" / "sms_ktp").rglob("*"):
        if tests.is_dir() and tests.name != "__pycache__" and any(tests.glob("test_*.py")):
            package = ROOT / tests.relative_to(ROOT / "tests")
            assert (package / "__init__.py").is_file(), f"{tests} mirrors no package"
