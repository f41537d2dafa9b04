import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_core_imports_no_ui_library():
    code = (
        "import sys, core, core.config, core.targets, core.data, core.model, core.trainer, core.engine, "
        "core.history, core.runs, core.bench, core.device\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'textual', 'plotext', 'rich', 'textual_plotext', 'tui'})\n"
        "print(bad)\nsys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
