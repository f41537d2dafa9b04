"""The app's process never loads torch: the worker does, while the first frame is drawn."""

import subprocess
import sys

import pytest

CHECK = """
import sys
import {modules}
heavy = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
print(heavy[:5])
sys.exit(1 if heavy else 0)
"""


@pytest.mark.parametrize("modules", [
    "fitscope.tui.app",
    "fitscope.tui.cli",
    "fitscope.tui.app, fitscope.tui.cli, fitscope.core.drivers.process",  # all the app's process needs
])
def test_importing_the_app_does_not_import_torch(modules):
    r = subprocess.run([sys.executable, "-c", CHECK.format(modules=modules)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, f"importing {modules} loaded torch: {r.stdout}{r.stderr}"
