"""`fitscope run` with the compiled kernels says it compiles before the first step waits for it
(the note came in the first snapshot, which headless read before it subscribed: never printed)."""

import re

import pytest
from test_cli import fitscope

from fitscope.core.engine import compiled

from support.oracle import assert_printed_lesson_loss

pytestmark = pytest.mark.compiled


def test_run_notes_the_compile_before_the_first_step_and_how_long_it_took(monkeypatch):
    monkeypatch.setattr(compiled, "_READY", set())  # as a fresh process: nothing compiled yet
    r = fitscope("run", "--no-save", "--set", "train.kernels=compiled", "--set", "train.device=cpu")
    assert r.returncode == 0, r.stderr
    notes = [line for line in r.stderr.splitlines() if line.startswith("fitscope: note:")]
    assert notes[0].startswith("fitscope: note: compiling the training step (torch.compile)… ~"), r.stderr
    assert notes[1].startswith("fitscope: note: compiled the training step in "), r.stderr
    final = re.search(r"final loss ([0-9.]+)", r.stdout)
    assert final is not None, r.stdout
    assert_printed_lesson_loss(final.group(1))
