"""`fitscope check --quick`, as CI runs it on a machine without CUDA (and as it runs on one with it):
a line per check, a summary, exit 1 exactly when a check failed."""

import json
import re
import subprocess
import sys

import pytest
import torch

from fitscope.core.checks import suite as check_mod
from fitscope.tui import check_cmd

LINE = re.compile(r"^(PASS|FAIL|SKIP) [a-z_]+(\[[a-z0-9+]+\])?: \S.*$")
GPU_ONLY = {"wrong_device_refused", "graph_on_a_second_gpu", "move_cpu_gpu_cpu", "memory_budget", "bench_graph_vs_eager"}


@pytest.fixture(scope="module")
def plain():
    return subprocess.run([sys.executable, "-m", "fitscope.tui.cli", "check", "--quick"], capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def as_json():
    return subprocess.run([sys.executable, "-m", "fitscope.tui.cli", "check", "--quick", "--json"],
                          capture_output=True, text=True, timeout=300)


def test_a_line_per_check_a_summary_and_the_exit_code(plain):
    head, *lines, summary = plain.stdout.strip().splitlines()
    assert head.startswith("fitscope check on ")
    assert all(LINE.match(line) for line in lines), [line for line in lines if not LINE.match(line)]
    failed = {line.split()[1].rstrip(":") for line in lines if line.startswith("FAIL")}
    assert not failed, failed
    assert plain.returncode == (1 if failed else 0)
    assert re.match(rf"^{len(lines)} checks in \d+ s: \d+ passed, {len(failed)} failed, \d+ skipped", summary)
    skipped = {line.split()[1].rstrip(":") for line in lines if line.startswith("SKIP")}
    if not torch.cuda.is_available():
        assert skipped == GPU_ONLY
        assert all(line.endswith(": no GPU (CUDA is not available here)") for line in lines if line.startswith("SKIP"))
        assert "the CPU half ran with eager blocks, the GPU checks were skipped" in summary
    assert plain.stderr == ""


def test_json_is_one_object_with_every_check(as_json, plain):
    result = json.loads(as_json.stdout)
    names = [line.split()[1].rstrip(":") for line in plain.stdout.strip().splitlines()[1:-1]]
    assert [r["check"] for r in result["results"]] == names
    assert {r["status"] for r in result["results"]} <= {"PASS", "FAIL", "SKIP"}
    assert result["failed"] == sum(r["status"] == "FAIL" for r in result["results"])
    assert as_json.returncode == (1 if result["failed"] else 0)
    assert result["env"]["blocks"] == ("graph" if torch.cuda.is_available() else "eager")


def test_a_check_that_breaks_is_a_fail_and_exit_1(monkeypatch, capsys):
    def broken():
        raise RuntimeError("CUDA error: an illegal memory access\nmore")

    monkeypatch.setattr(check_mod.Checks, "all", lambda self: [lambda: self.add("fine", True, "ok"),
                                                               lambda: self.add("skipped", None, "why"), broken])
    assert check_cmd.check("cpu", True, False) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[1:4] == ["PASS fine: ok", "SKIP skipped: why",
                        "FAIL broken: RuntimeError: CUDA error: an illegal memory access"]
    assert out[-1].endswith("1 passed, 1 failed, 1 skipped; failed: broken")


@pytest.mark.parametrize("device", ["mps", "cuda:x", "cuda:", "gpu"])
def test_a_device_that_is_not_cuda_or_cpu_is_named(capsys, device):
    from fitscope.tui import cli

    assert cli.main(["check", "--device", device]) == 2
    assert capsys.readouterr().err.strip() == f"fitscope: --device: '{device}' is not valid — expected cuda, cuda:N or cpu"
