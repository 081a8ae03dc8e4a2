"""Dependencies point one way: ml <- workers -> backend. The web process never loads torch,
and ml never imports Django, Celery, backend or workers."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imported_modules(package: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_ml_imports_nothing_from_the_web_side():
    assert (
        _imported_modules("ml") & {"django", "rest_framework", "celery", "backend", "workers"}
        == set()
    )


def test_backend_never_imports_workers_or_torch_directly():
    assert _imported_modules("backend") & {"workers", "torch", "cv2"} == set()


def test_web_process_does_not_load_torch():
    code = (
        "import sys, django, os\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'backend.config.settings')\n"
        "from backend.config.wsgi import application\n"
        "from django.urls import get_resolver\n"
        "get_resolver().url_patterns\n"
        "heavy = sorted(m for m in ('torch', 'cv2', 'workers') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


# --- no silent probes: a missing piece of the project fails loudly --------------------------

PROJECT_PACKAGES = ("backend", "workers", "ml", "frontend")


def _probes(path: Path) -> list[str]:
    """Project imports guarded by `except ImportError`, and `hasattr(<module>, ...)` probes."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            catches_import_error = any(
                isinstance(h.type, ast.Name) and h.type.id in ("ImportError", "ModuleNotFoundError")
                for h in node.handlers
            )
            imports_project = any(
                (isinstance(n, ast.ImportFrom) and (n.module or "").startswith(PROJECT_PACKAGES))
                or (
                    isinstance(n, ast.Import)
                    and any(a.name.startswith(PROJECT_PACKAGES) for a in n.names)
                )
                for stmt in node.body
                for n in ast.walk(stmt)
            )
            if catches_import_error and imports_project:
                found.append(f"{path}:{node.lineno} import guarded by except ImportError")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "hasattr"
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id in ("services", "selectors", "models", "tasks")
        ):
            found.append(f"{path}:{node.lineno} hasattr probe of a project module")
    return found


def test_no_python_code_probes_for_parts_of_the_project():
    probes = [
        probe
        for package in PROJECT_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
        for probe in _probes(path)
    ]
    assert probes == []


def test_the_front_end_has_no_fallbacks_for_missing_endpoints():
    scripts = sorted((ROOT / "frontend" / "static").rglob("*.js"))
    assert scripts
    offenders = [
        f"{path.name}: {phrase}"
        for path in scripts
        for phrase in ("isMissing", "not available on this server", "may not have landed")
        if phrase in path.read_text()
    ]
    assert offenders == []


# --- the apps' one order: each imports only the apps before it ----------------------------

APP_ORDER = ("common", "accounts", "catalogue", "therapy", "recommendations", "reports")


def _backend_apps_imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        names = (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else []
        )
        for name in names:
            parts = name.split(".")
            if len(parts) > 1 and parts[0] == "backend" and parts[1] in APP_ORDER:
                found.add(parts[1])
    return found


def app_order_violations(root: Path = ROOT / "backend") -> list[str]:
    out = []
    for rank, app in enumerate(APP_ORDER):
        for path in sorted((root / app).rglob("*.py")):
            for other in _backend_apps_imported(path):
                if APP_ORDER.index(other) > rank:
                    out.append(f"{path.relative_to(root.parent)} imports backend.{other}")
    return out


def test_each_app_imports_only_the_apps_before_it():
    assert app_order_violations() == []


def test_the_order_check_catches_an_app_importing_one_above_it(tmp_path: Path):
    (tmp_path / "catalogue").mkdir(parents=True)
    for app in APP_ORDER:
        (tmp_path / app).mkdir(exist_ok=True)
    (tmp_path / "catalogue" / "bad.py").write_text("from backend.reports import views\n")
    (tmp_path / "reports" / "fine.py").write_text("import backend.catalogue.models\n")
    found = app_order_violations(tmp_path)
    assert found == [f"{tmp_path.name}/catalogue/bad.py imports backend.reports"]
