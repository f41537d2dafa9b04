"""What importing the engine pulls in, checked in a fresh interpreter each time."""

import json
import pkgutil
import subprocess
import sys

import fitscope.core

UI = ["textual", "plotext", "rich", "textual_plotext", "fitscope.tui"]
TORCH_FREE = ["fitscope.core.drivers.process", "fitscope.core.config", "fitscope.core.snapshot", "fitscope.core.spec",
              "fitscope.core.commands", "fitscope.core.drivers.tracker", "fitscope.core.data.targets"]


def loaded_after_importing(modules: list[str], tmp_path) -> set[str]:
    """The top-level packages (and fitscope's subpackages) in sys.modules after the imports."""
    code = (f"import importlib, json, sys\nfor m in {modules!r}:\n    importlib.import_module(m)\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    # run outside the repository, so only the installed fitscope package can be found
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    names = json.loads(result.stdout)
    return {n.split(".")[0] for n in names} | {".".join(n.split(".")[:2]) for n in names}


def test_every_core_module_imports_no_ui_library(tmp_path):
    modules = sorted(m.name for m in pkgutil.walk_packages(fitscope.core.__path__, "fitscope.core.") if not m.ispkg)
    assert {"fitscope.core.engine.run", "fitscope.core.drivers.worker", "fitscope.core.engine.kernels",
            "fitscope.core.bench"} <= set(modules)
    loaded = loaded_after_importing(modules, tmp_path)
    assert "torch" in loaded
    assert "fitscope.core" in loaded
    assert not loaded & set(UI), sorted(loaded & set(UI))


def test_the_app_side_of_the_engine_imports_no_torch(tmp_path):
    loaded = loaded_after_importing(TORCH_FREE, tmp_path)
    assert "numpy" in loaded
    assert "fitscope.core" in loaded
    assert "torch" not in loaded
