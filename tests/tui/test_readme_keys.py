"""The README's key list and the key table (tui/keys.py) name the same keys."""

import re
from pathlib import Path

from fitscope.tui import keys

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_keys() -> set[str]:
    """The keys in backticks in the README's key list: from ``Keys:`` to the command palette's key."""
    text = README.read_text()
    paragraph = text[text.index("Keys: "):]
    paragraph = paragraph[:paragraph.index("(`ctrl+p`).") + len("(`ctrl+p`).")]
    found = set()
    for token in re.findall(r"`([^`]+)`", paragraph):
        if token.endswith("/") and len(token) > 1:  # a folder (runs/)
            continue
        found.update(token.split("/") if "/" in token and len(token) > 1 and token != "/" else [token])
    return found


def table_keys() -> set[str]:
    found = set()
    for row in keys.KEYS:
        if row.key.isdigit():
            continue  # 1 … 9: written `1`–`9`
        found.add(keys.shown(row.key))
    return found | {"1", "9"}


def test_every_key_in_the_table_is_in_the_readme_and_back():
    readme, table = readme_keys(), table_keys()
    assert table - readme == set(), "keys the README does not list"
    assert {k for k in readme - table if not k.endswith("/")} == set(), "keys the README lists that the table has not"


def test_the_table_has_the_leaderboards_keys():
    assert {("m", "board"), ("home", "board"), ("end", "board")} <= {(row.key, row.where) for row in keys.KEYS}
