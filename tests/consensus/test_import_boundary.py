"""workflows.consensus imports without Django, DRF or the crowd project (STYLE.md)."""

import pkgutil
import subprocess
import sys
from pathlib import Path

import workflows.consensus

ROOT = Path(__file__).resolve().parents[2]


def test_consensus_imports_with_django_unimportable():
    modules = sorted(
        m.name
        for m in pkgutil.walk_packages(workflows.consensus.__path__, "workflows.consensus.")
        if not m.name.endswith("__main__")
    )
    assert "workflows.consensus.merge" in modules and "workflows.consensus.coco" in modules
    script = "\n".join(
        [
            "import sys",
            "for name in ('django', 'crowd', 'rest_framework'):",
            "    sys.modules[name] = None",
            *[f"import {m}" for m in modules],
            "leaked = [m for m in sys.modules if m.split('.')[0] in "
            "('django', 'crowd', 'rest_framework') and sys.modules[m] is not None]",
            "assert not leaked, leaked",
            "print('ok')",
        ]
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_workflows_package_init_is_empty():
    assert (ROOT / "workflows" / "__init__.py").read_text().strip() == ""
