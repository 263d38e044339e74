"""The layer check: no module imports a module of a higher layer, function-level imports included.

Layers, bottom first (docs/architecture.md draws them and says why each sits where it does):

    consensus < common < accounts < projects < access < webhooks < assignment < qualifications
        < labeling < golden < pay < reports < pipeline < interfaces

``access`` is the accounts app's policy module (crowd.accounts.access): users and roles sit at
the bottom, the policy that asks which projects a user may see sits above projects.

A module may import its own layer and any lower one. ``interfaces`` are the entry points: every
module named api, views, serializers, admin, urls, apps, tasks or pages (or ending in ``_api``,
``_views``, ``_serializers``), management commands, the demo app, and the ``crowd`` project
modules (settings, urls, wsgi, asgi, celery). Migrations are not checked: Django generates them.

grimp (import-linter's graph engine) builds the graph from every import statement in the source,
including those inside function bodies, so a deferred import cannot hide a cycle.

A second rule keeps imports where a reader looks for them: an import inside a function may not
cross apps (the few that must are listed in DEFERRED_ALLOWED with their reason).

Run ``python -m tools.layers``: it prints every violation (importer -> imported, line, layers)
and exits 1 if there is any.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

import grimp

PACKAGES = ("crowd", "workflows")

APP_LAYERS = (
    "workflows.consensus",
    "crowd.common",
    "crowd.accounts",
    "workflows.projects",
    "crowd.accounts.access",
    "workflows.webhooks",
    "crowd.assignment",
    "crowd.qualifications",
    "crowd.labeling",
    "workflows.golden",
    "crowd.pay",
    "workflows.reports",
    "workflows.pipeline",
)
INTERFACES = "interfaces"
LAYERS = (*APP_LAYERS, INTERFACES)

INTERFACE_NAMES = {"api", "views", "serializers", "admin", "urls", "apps", "tasks", "pages"}
INTERFACE_SUFFIXES = ("_api", "_views", "_serializers")
INTERFACE_PACKAGES = ("workflows.demo",)

# Imports that cross layers on purpose, each with its reason (docs/architecture.md lists them).
ALLOWED: dict[tuple[str, str], str] = {}

# Function-level imports of another app, each with its reason (docs/architecture.md lists them).
# None today: docs/architecture.md says why the one function-level import left stays (in-app).
DEFERRED_ALLOWED: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Violation:
    importer: str
    imported: str
    line_number: int
    line: str
    importer_layer: str
    imported_layer: str

    def __str__(self) -> str:
        return (
            f"{self.importer}:{self.line_number} ({self.importer_layer}) imports "
            f"{self.imported} ({self.imported_layer}), a higher layer: {self.line.strip()}"
        )


def layer_of(module: str) -> str | None:
    """The layer a module belongs to; None for modules the check ignores (migrations)."""
    parts = module.split(".")
    if "migrations" in parts:
        return None
    last = parts[-1]
    if (
        last in INTERFACE_NAMES
        or last.endswith(INTERFACE_SUFFIXES)
        or "management" in parts
        or module.startswith(INTERFACE_PACKAGES)
    ):
        return INTERFACES
    # The longest matching prefix: crowd.accounts.access before crowd.accounts.
    for app in sorted(APP_LAYERS, key=len, reverse=True):
        if module == app or module.startswith(app + "."):
            return app
    # The crowd and workflows packages themselves and the project modules beside the apps.
    return INTERFACES


def import_graph(packages: tuple[str, ...] = PACKAGES):
    return grimp.build_graph(*packages, cache_dir=None)


def check(graph) -> list[Violation]:
    """Imports of a higher layer in ``graph`` (see :func:`import_graph`)."""
    rank = {layer: i for i, layer in enumerate(LAYERS)}
    violations = []
    for importer in sorted(graph.modules):
        importer_layer = layer_of(importer)
        if importer_layer is None:
            continue
        for imported in sorted(graph.find_modules_directly_imported_by(importer)):
            imported_layer = layer_of(imported)
            if imported_layer is None or rank[imported_layer] <= rank[importer_layer]:
                continue
            if (importer, imported) in ALLOWED:
                continue
            for detail in graph.get_import_details(importer=importer, imported=imported):
                violations.append(
                    Violation(
                        importer,
                        imported,
                        detail["line_number"],
                        detail["line_contents"],
                        importer_layer,
                        imported_layer,
                    )
                )
    return violations


def app_of(module: str) -> str:
    """The app (or project package) a module belongs to: its first two name parts."""
    return ".".join(module.split(".")[:2])


def _module_file(module: str) -> Path | None:
    """The module's source file, found without importing anything (a top-level spec only)."""
    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)
    base = Path(next(iter(spec.submodule_search_locations))).joinpath(*rest)
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def _deferred_imports(tree: ast.Module, module: str, is_package: bool) -> set[tuple[int, str]]:
    """(line, imported module) of every import statement inside a function body (a nested
    function's imports are inside its outer function's too: the set counts them once)."""
    found = set()
    for scope in ast.walk(tree):
        if not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(scope):
            if isinstance(node, ast.Import):
                found.update((node.lineno, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = module if is_package else module.rsplit(".", 1)[0]
                    parts = package.split(".")
                    parts = parts[: len(parts) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                found.add((node.lineno, base))
    return found


def check_deferred(graph, packages: tuple[str, ...] = PACKAGES) -> list[str]:
    """Function-level imports of another of our apps, except those listed as allowed."""
    problems = []
    for module in sorted(graph.modules):
        if layer_of(module) is None:
            continue
        path = _module_file(module)
        if path is None:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, imported in sorted(_deferred_imports(tree, module, path.name == "__init__.py")):
            if not imported.startswith(tuple(p + "." for p in packages)):
                continue
            if app_of(imported) == app_of(module) or (module, imported) in DEFERRED_ALLOWED:
                continue
            problems.append(
                f"{module}:{line} imports {imported} inside a function: import it at the top, "
                "or record it in DEFERRED_ALLOWED with its reason"
            )
    return problems


def main() -> int:
    graph = import_graph()
    violations = [*map(str, check(graph)), *check_deferred(graph)]
    for violation in violations:
        print(violation)
    if violations:
        print(f"{len(violations)} import(s) break the layers (see tools/layers.py)")
        return 1
    print("layers: no module imports a higher layer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
