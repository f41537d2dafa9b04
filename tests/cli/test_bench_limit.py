"""`fitscope bench --limit`: the whole step against its matmuls alone; keys and signs, never speeds."""

import json

from test_cli import fitscope


def test_bench_limit_reports_step_vs_gemm_for_both_nets():
    r = fitscope("bench", "--limit", "--json", "--quick", "--rounds", "2", "--set", "train.device=cpu")
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["cores"] > 0
    assert result["rounds"] == 2
    for net in ("big", "large"):
        k = result[net]
        assert k["threads"] > 0
        assert k["matmul_mflop_per_step"] > 0
        for key in ("step_vs_gemm", "step_steps_per_s", "gemm_steps_per_s", "gemm_gflop_per_s"):
            assert 0 < k[key]["min"] <= k[key]["median"] <= k[key]["max"], key
    text = fitscope("bench", "--limit", "--quick", "--rounds", "1", "--set", "train.device=cpu").stdout
    assert "step_vs_gemm" in text
    assert "1-16-16-1 on 1,000 points" in text
