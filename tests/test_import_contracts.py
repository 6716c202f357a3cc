"""The declared layers hold: `lint-imports` (import-linter) keeps every contract in pyproject.toml.

The contracts: API, UI, admin and commands sit above services and selectors, which sit above models
and pure modules; the apps reach each other's insides only through those; the UI imports no API
module; the site's core imports no app API; no import cycles. A second test plants violations in a
copy of the source to show the contracts catch them. No database needed.
"""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("accounts", "memories", "graph", "mem0g_site", "ui")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(where: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(where / "pyproject.toml"), "--no-cache"],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(where), "PATH": "/usr/bin:/bin", "NO_COLOR": "1", "COLUMNS": "200"},
    )


def test_the_import_contracts_are_kept():
    run = lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def test_a_broken_layer_fails_the_contracts(tmp_path):
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    # A model reading through a selector, the UI importing an API module, and a cycle.
    with (tmp_path / "memories" / "models.py").open("a") as models:
        models.write("\nfrom memories.selectors import memory_get  # noqa\n")
    with (tmp_path / "ui" / "views" / "__init__.py").open("a") as views:
        views.write("\nfrom memories.api.serializers import memories_data  # noqa\n")
    with (tmp_path / "memories" / "embedding.py").open("a") as embedding:
        embedding.write("\nfrom memories import search  # noqa\n")
    run = lint_imports(tmp_path)
    assert run.returncode != 0
    report = " ".join(run.stdout.split())
    assert "memories.models -> memories.selectors" in report
    assert "ui.views -> memories.api.serializers" in report
    assert "No import cycles between the modules of a package BROKEN" in report
