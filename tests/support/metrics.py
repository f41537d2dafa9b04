"""metrics.csv as the tests read it: a plain CSV, by column name (as pandas or csv.DictReader would)."""

import csv
from pathlib import Path


def rows(folder) -> list[dict[str, str]]:
    with open(Path(folder) / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def column(folder, name: str, member: str | None = None) -> list[str]:
    return [r[name] for r in rows(folder) if member is None or r["member"] == member]
