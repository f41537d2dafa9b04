"""`fitscope check`: the GPU path's checks printed as they finish, a summary, exit 1 on any FAIL."""

from __future__ import annotations

import json
import time

from fitscope.core.checks.suite import NO_GPU, Checks, Result, environment


def check(device: str, quick: bool, as_json: bool) -> int:
    def line(result: Result) -> None:
        if not as_json:
            print(result.line(), flush=True)

    start = time.monotonic()
    checks = Checks(device, quick, line)
    env = environment(checks)
    if not as_json:
        print(f"fitscope check on {checks.device} ({'CUDA graphs' if checks.gpu else 'eager blocks'}; torch "
              f"{env['torch']}{', ' + env['gpu'] if 'gpu' in env else ''})", flush=True)
    results = checks.run()
    counts = {s: sum(r.status == s for r in results) for s in ("PASS", "FAIL", "SKIP")}
    failed = [r.name for r in results if r.status == "FAIL"]
    seconds = time.monotonic() - start
    summary = f"{len(results)} checks in {seconds:.0f} s: {counts['PASS']} passed, {counts['FAIL']} failed, " \
              f"{counts['SKIP']} skipped"
    if checks.asked_gpu and not checks.gpu:
        summary += f" — {NO_GPU}: the CPU half ran with eager blocks, the GPU checks were skipped"
    if failed:
        summary += "; failed: " + ", ".join(failed)
    if as_json:
        print(json.dumps({"env": env, "quick": quick, "seconds": round(seconds, 1), "passed": counts["PASS"],
                          "failed": counts["FAIL"], "skipped": counts["SKIP"], "summary": summary,
                          "results": [{"check": r.name, "status": r.status, "detail": r.detail, **r.figures}
                                      for r in results]}, default=str))
    else:
        print(summary)
    return 1 if failed else 0
