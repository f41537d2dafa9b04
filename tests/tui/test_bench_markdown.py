"""docs/bench.md is written from the benches' results, not typed: the page shows what they measured."""

from fitscope.tui.bench_markdown import render

ENGINE = {"cores": 2, "kernels": "fast", "threads": 1, "rounds": 5, "ratio_spread": {"min": 5.1, "median": 6.2, "max": 7.3},
          "engine_steps_per_s": 20000.0, "bare_steps_per_s": 3225.0, "snapshots_per_s": 19.5,
          "inside_cost_spread": {"min": 0.011, "median": 0.024, "max": 0.05},
          "engine_vs_stepping": {"lesson": {"min": 0.7, "median": 0.72, "max": 0.8},
                                 "big": {"min": 0.6, "median": 0.63, "max": 0.66}}}
RACE = {"k": 8, "rounds": 3, "speedup_spread": {"min": 2.5, "median": 2.87, "max": 3.1}, "speedup_vs_autograd": 4.4,
        "mixed_vs_single_activation": 0.81}
STARTUP = {"rounds": 3, "first_frame_vs_import_torch": 0.42, "first_frame_s": 0.61, "import_torch_s": 1.45}


def test_page_carries_every_measured_figure_with_its_spread():
    page = render(ENGINE, RACE, STARTUP, {"torch": "2.13.0"})
    assert page.startswith("# Measured figures")
    assert "2 cores" in page
    assert "torch 2.13.0" in page
    assert "5.1× / **6.2×** / 7.3×" in page
    assert "20,000 vs 3,225 steps/s" in page
    assert "1.1 % / **2.4 %** / 5 %" in page
    assert "lesson's net | 0.7× / **0.72×** / 0.8×" in page
    assert "10,000 points | 0.6× / **0.63×** / 0.66×" in page
    assert "race of 8 vs 8 sequential fast runs | 2.5× / **2.87×** / 3.1×" in page
    assert "0.42× (0.61 s vs 1.45 s)" in page


def test_page_without_startup_figures_leaves_the_row_out():
    page = render(ENGINE, RACE, None, {})
    assert "first frame" not in page
    assert "race of 8" in page


SPREAD = {"min": 0.9, "median": 1.1, "max": 1.2}
COMPILED = {"compile_s": {"cold": {"min": 14.0, "median": 15.5, "max": 17.0},
                          "warm": {"min": 2.0, "median": 2.5, "max": 3.0}},
            **{net: {"threads": 1, "compiled": True, "compiled_vs_fast": SPREAD} for net in ("lesson", "big", "large")}}
LIMIT = {net: {"threads": 2, "step_vs_gemm": {"min": 0.5, "median": 0.55, "max": 0.6}, "gemm_gflop_per_s": {"median": 70.0}}
         for net in ("big", "large")}


def test_page_carries_the_compiled_path_and_the_matmul_floor():
    page = render({**ENGINE, "compiled": COMPILED}, RACE, None, {}, LIMIT)
    assert "vs fast, 1-256-256-1 on 100,000 points, 1 thread(s) | 0.9× / **1.1×** / 1.2× |" in page
    assert "14 s / **15.5 s** / 17 s / 2 s / **2.5 s** / 3 s" in page
    assert ("its matmuls alone, 1-64-64-1 on 10,000 points, 2 thread(s) | 0.5× / **0.55×** / 0.6× "
            "(matmuls 70 GFLOP/s)") in page
    assert "`fitscope bench --limit --json`" in page
    failed = {**COMPILED, "lesson": {**COMPILED["lesson"], "compiled": False}}
    assert "the compile failed" in render({**ENGINE, "compiled": failed}, RACE, None, {})
