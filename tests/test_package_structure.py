"""The package's shape, checked rather than promised (issue 10):

* one error vocabulary: no two public exception or event classes share a name with
  any other public class, and every error the public API can raise is importable
  from ``tlskit`` itself;
* no import cycle between tlskit modules, and lower layers never import upper ones
  (providers < pki < engine/ca < io < bench < cli, DESIGN.md);
* no test module imports another (shared helpers live in support modules).

The import graph is read from the source with ``ast`` (every import statement,
including those inside functions and ``if TYPE_CHECKING:`` blocks: a cycle that only
a lazy import hides is still a cycle a reader has to untangle).
"""

from __future__ import annotations

import ast
import collections
import importlib
import inspect
import pathlib
import pkgutil

import tlskit
from tlskit.errors import TLSError
from tlskit.events import Event

PACKAGE_DIR = pathlib.Path(tlskit.__file__).parent

#: Exception classes that never leave tlskit: each is caught inside the package
#: (where, says the value) and turned into one of the public errors.
INTERNAL_EXCEPTIONS = {
    "tlskit._der.DERError": "every caller maps it to DecodeError / CertificateError / KeyLoadError",
    "tlskit.pki.names.InvalidName": "caught in tlskit.pki.policy (NameConstraintViolation / MalformedCertificate)",
    "tlskit.pki.names.InvalidConstraint": "caught in tlskit.pki.policy",
    "tlskit.ca.index.DuplicateSerial": "caught in tlskit.ca (a fresh serial is drawn)",
    "tlskit.ca.acme.problems.AcmeProblem": "caught in tlskit.ca.acme.service, sent as an RFC 8555 problem document",
    "tlskit.bench.floor.Unsupported": "bench-internal: a benchmark row the provider cannot run",
    "tlskit.bench.report.PlotUnavailable": "caught in tlskit.cli.bench_cmd",
    "tlskit.bench.worker.PinMismatch": "bench-internal: a row that negotiated other parameters",
}


def _modules():
    names = [tlskit.__name__]
    names += [info.name for info in pkgutil.walk_packages(tlskit.__path__, "tlskit.")]
    return [importlib.import_module(name) for name in names]


def _public_classes():
    """(qualified name, class) of every public class defined in a tlskit module."""
    for module in _modules():
        for name, obj in vars(module).items():
            if inspect.isclass(obj) and obj.__module__ == module.__name__ and not name.startswith("_"):
                yield f"{module.__name__}.{name}", obj


def _is_vocabulary(cls: type) -> bool:
    return issubclass(cls, (BaseException, Event))


def test_no_exception_or_event_class_shares_its_name():
    by_name = collections.defaultdict(list)
    for qualified, cls in _public_classes():
        by_name[cls.__name__].append((qualified, cls))
    clashes = {
        name: sorted(q for q, _ in entries)
        for name, entries in by_name.items()
        if len(entries) > 1 and any(_is_vocabulary(cls) for _, cls in entries)
    }
    assert clashes == {}


def test_every_public_error_is_importable_from_tlskit():
    missing = []
    for qualified, cls in _public_classes():
        if not issubclass(cls, BaseException) or qualified in INTERNAL_EXCEPTIONS:
            continue
        if getattr(tlskit, cls.__name__, None) is not cls or cls.__name__ not in tlskit.__all__:
            missing.append(qualified)
    assert missing == [], "add these to tlskit/__init__.py (or, if caught inside tlskit, to INTERNAL_EXCEPTIONS)"


def test_internal_exceptions_are_not_part_of_the_tls_error_family():
    # A TLSError or a warning reaches the user by design; it cannot be "internal".
    classes = dict(_public_classes())
    for qualified in INTERNAL_EXCEPTIONS:
        assert qualified in classes, f"{qualified} no longer exists: drop it from INTERNAL_EXCEPTIONS"
        assert not issubclass(classes[qualified], (TLSError, Warning))


def test_error_aliases_are_one_class():
    from tlskit import pki, providers

    assert pki.KeyLoadError is providers.KeyLoadError is tlskit.KeyLoadError
    assert issubclass(tlskit.KeyLoadError, tlskit.ConfigurationError)
    assert issubclass(tlskit.UnsupportedAlgorithm, tlskit.ConfigurationError)
    # a certificate's bad signature is a bad signature, told to the peer as bad_certificate
    assert issubclass(pki.BadCertificateSignature, tlskit.BadSignatureError)
    assert pki.BadCertificateSignature("x").alert == tlskit.AlertDescription.bad_certificate


# ---------------------------------------------------------------------------
# Import graph


def _module_files() -> dict[str, tuple[pathlib.Path, bool]]:
    files = {}
    for path in PACKAGE_DIR.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        files[".".join(parts)] = (path, is_package)
    return files


def import_graph() -> dict[str, set[str]]:
    """module -> the tlskit modules it imports (``from pkg import mod`` counts as
    importing ``pkg.mod`` when that is a module, else ``pkg``)."""
    files = _module_files()
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in files.items():
        package = name if is_package else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                for alias in node.names:
                    sub = f"{module}.{alias.name}"
                    targets.add(sub if sub in files else module)
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_cycle_finder_finds_a_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_graph_is_read_from_the_source():
    graph = import_graph()
    assert "tlskit.errors" in graph["tlskit.pki.errors"]
    assert "tlskit.errors" in graph["tlskit.providers.registry"]
    assert graph["tlskit.errors"] == set()  # the bottom of the package imports nothing from it


def test_no_import_cycle_in_tlskit():
    assert find_cycles(import_graph()) == []


#: DESIGN.md's layers, bottom first; a module may import its own layer and lower ones.
#: The ``tlskit`` facade re-exports up to the io layer; the ACME service serves over
#: tlskit.io, so it sits above io although it lives in the ca package (nothing else in
#: tlskit.ca may import it); the trace renderers present the engine's records to the CLI.
#: A package not listed here is not checked until it is given its layer.
LAYERS = {
    "tlskit.errors": 0,
    "tlskit._der": 0,
    "tlskit._oids": 0,
    "tlskit.events": 0,
    "tlskit.providers": 1,
    # the provider conformance kit drives handshakes: a test library above the engine
    # that nothing in tlskit imports
    "tlskit.providers.testing": 4,
    "tlskit.pki": 2,
    "tlskit.engine": 3,
    "tlskit.ca": 3,
    "tlskit.ca.acme": 5,
    "tlskit.io": 4,
    "tlskit.aio": 4,
    "tlskit.trace": 4,
    "tlskit": 4,
    "tlskit.bench": 5,
    "tlskit.httpx": 5,
    "tlskit.cli": 6,
}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    for cut in range(len(parts), 0, -1):
        layer = LAYERS.get(".".join(parts[:cut]))
        if layer is not None and (cut > 1 or module == "tlskit"):
            return layer
    return None


def test_lower_layers_never_import_upper_ones():
    upward = []
    for module, targets in import_graph().items():
        for target in targets:
            below, above = _layer(module), _layer(target)
            if below is not None and above is not None and above > below:
                upward.append(f"{module} -> {target}")
    assert sorted(upward) == []


def test_no_test_module_imports_another():
    # Shared helpers and fixtures live in support modules (tests/*_support.py, io_peers,
    # certs, pki_factory, conftest): a test module is never imported for its helpers.
    tests_dir = pathlib.Path(__file__).parent
    offenders = []
    for path in sorted(tests_dir.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            offenders += [f"{path.name} imports {name}" for name in names if name.split(".")[0].startswith("test_")]
    assert offenders == []
