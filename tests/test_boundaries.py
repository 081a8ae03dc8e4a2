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
