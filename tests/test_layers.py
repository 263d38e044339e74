"""The layer check (tools/layers.py) passes on the tree and fails on a forbidden import."""

import shutil
import subprocess
import sys
from pathlib import Path

from tools import layers

ROOT = Path(__file__).resolve().parents[1]


def run_check(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tools.layers"],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_tree_keeps_its_layers():
    result = run_check(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def copy_tree(tmp_path) -> None:
    for package in ("crowd", "workflows", "tools"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )


def test_a_function_level_import_of_a_higher_layer_fails_the_check(tmp_path):
    copy_tree(tmp_path)
    services = tmp_path / "crowd" / "assignment" / "services.py"
    # Deferred, as the old cycle-dodging import of the budget was: the check must still see it.
    services.write_text(
        services.read_text()
        + "\n\ndef _release():\n    from crowd.pay.budget import budget_release\n\n"
        "    return budget_release\n"
    )
    result = run_check(tmp_path)
    assert result.returncode == 1
    assert "crowd.assignment.services:" in result.stdout
    assert "imports crowd.pay.budget (crowd.pay), a higher layer" in result.stdout


def test_a_function_level_import_of_another_app_fails_even_downwards(tmp_path):
    copy_tree(tmp_path)
    ledger = tmp_path / "crowd" / "pay" / "ledger.py"
    # pay may import projects, but at the top of the module, where a reader looks.
    ledger.write_text(
        ledger.read_text()
        + "\n\ndef _items():\n    def inner():\n        from workflows.projects import items\n\n"
        "        return items\n\n    return inner\n"
    )
    result = run_check(tmp_path)
    assert result.returncode == 1
    # Once, although the import sits in two nested functions.
    assert result.stdout.count("imports workflows.projects inside a function") == 1
    assert "crowd.pay.ledger:" in result.stdout


def test_a_module_belongs_to_its_apps_layer_and_entry_points_to_the_interfaces():
    assert layers.layer_of("crowd.pay.ledger") == "crowd.pay"
    assert layers.layer_of("crowd.accounts.models") == "crowd.accounts"
    assert layers.layer_of("crowd.accounts.access") == "crowd.accounts.access"
    assert layers.layer_of("crowd.pay.api") == layers.INTERFACES
    assert layers.layer_of("workflows.golden.exports.services") == "workflows.golden"
    assert layers.layer_of("crowd.pay.migrations.0001_initial") is None
    assert layers.layer_of("workflows.demo.seed") == layers.INTERFACES
    assert layers.layer_of("crowd.settings") == layers.INTERFACES
