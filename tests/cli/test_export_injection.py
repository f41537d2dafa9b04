"""A run folder someone sent you is data: exporting it never writes its text into code.

A formula whose tail hid behind `#` (which Python's parser drops, so an allow-list over the tree
never saw it) once closed the exported script's docstring and ran `os.system`; a folder name
went into the docstring the same way. Each crafted run here is exported, its script's tree
compared with a plain run's (the same statements, only string values may differ), and run.
"""

import ast
import hashlib
import json
import shutil
import subprocess
import sys

import pytest
from test_cli import ENV, fitscope

PAYLOAD = '__import__("os").system("touch {marker}")'
NASTY = [
    '"""; {p}; """',
    "'''; {p}; '''",
    '\\"""\n{p}\n#',
    "x\n{p}\n",
    "\\\n{p}",
    "a\u2028{p}\u2029b",
    "x\x85{p}",
    "# {p}",
    "tab\t{p}\x0b\x0c",
]


def strings_blanked(source: str) -> str:
    """The script's tree with every string's value blanked: what runs, whatever the text says."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            node.value = ""
    return ast.dump(tree)


def trained(folder, *args):
    r = fitscope("run", "--steps", "3", "--quiet", "--out", str(folder), "--set", "train.device=cpu", *args)
    assert r.returncode == 0, r.stderr
    return folder


def run_script(path, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(path)], cwd=cwd, env={**ENV, "MPLBACKEND": "Agg"},
                          capture_output=True, text=True, timeout=120)


def assert_exports_safely(folder, plain_folder, tmp_path, marker):
    r = fitscope("export", str(folder))
    assert r.returncode == 0, r.stderr
    plain = fitscope("export", str(plain_folder))
    assert plain.returncode == 0, plain.stderr
    assert strings_blanked(r.stdout) == strings_blanked(plain.stdout)  # no statement of the folder's own
    script = tmp_path / "fit.py"
    script.write_text(r.stdout)
    done = run_script(script, tmp_path)
    assert done.returncode == 0, done.stderr
    assert not marker.exists()


@pytest.mark.parametrize("nasty", NASTY[:5], ids=range(5))
def test_a_crafted_folder_name_stays_a_string(tmp_path, nasty):
    marker = tmp_path / "PWNED"
    plain = trained(tmp_path / "plain")
    name = nasty.format(p=PAYLOAD.format(marker=marker)).replace("/", "|")
    crafted = tmp_path / name
    shutil.copytree(plain, crafted)
    assert_exports_safely(crafted, plain, tmp_path, marker)


def test_a_crafted_data_file_name_stays_a_string(tmp_path):
    marker = tmp_path / "PWNED"
    data = "x,y\n" + "".join(f"{i / 20},{(i / 20) ** 2}\n" for i in range(-20, 21))
    (tmp_path / "plain.csv").write_text(data)
    name = NASTY[0].format(p=PAYLOAD.format(marker=marker)).replace("/", "|") + ".csv"
    (tmp_path / name).write_text(data)
    plain = trained(tmp_path / "plain", "--data", str(tmp_path / "plain.csv"))
    crafted = trained(tmp_path / "crafted", "--data", str(tmp_path / name))
    assert_exports_safely(crafted, plain, tmp_path, marker)


def test_a_crafted_race_folder_stays_strings(tmp_path):
    marker = tmp_path / "PWNED"
    r = fitscope("compare", "--quiet", "--steps", "3", "--out", str(tmp_path / "race"), "--seeds", "2",
                 "--vary", "model.activation=relu,tanh", "--set", "train.device=cpu")
    assert r.returncode == 0, r.stderr
    crafted = tmp_path / NASTY[2].format(p=PAYLOAD.format(marker=marker)).replace("/", "|")
    shutil.copytree(tmp_path / "race", crafted)
    assert_exports_safely(crafted, tmp_path / "race", tmp_path, marker)


def rewrite_saved(folder, name: str, text: str) -> None:
    """A file of a save replaced, with its hash fixed in run.json: what a crafter can always do."""
    (folder / name).write_text(text)
    index = json.loads((folder / "run.json").read_text())
    index["files"][name] = hashlib.sha256(text.encode()).hexdigest()
    (folder / "run.json").write_text(json.dumps(index))


@pytest.mark.parametrize("nasty", NASTY, ids=range(len(NASTY)))
def test_a_crafted_formula_is_refused_in_one_line_and_writes_no_script(tmp_path, nasty):
    marker = tmp_path / "PWNED"
    folder = trained(tmp_path / "run")
    formula = "x**3 - x**2 " + nasty.format(p=PAYLOAD.format(marker=marker))
    config = (folder / "config.toml").read_text()
    assert 'target = "cubic"' in config
    rewrite_saved(folder, "config.toml", config.replace('target = "cubic"', f"target = {json.dumps(formula)}"))
    r = fitscope("export", str(folder))
    assert r.returncode == 2, r.stdout
    assert r.stdout == "", r.stdout
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "data.target" in r.stderr, r.stderr
    assert "column" in r.stderr, r.stderr
    assert not marker.exists()


def test_the_hash_comment_that_hid_the_payload_is_refused_with_its_column():
    from fitscope.core.data import targets
    from fitscope.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"'#' at column 13"):
        targets.check('x**3 - x**2 #"""; __import__("os").system("touch PWNED"); """')
    for bad, col in (("x\n+1", 2), ("x +\\\n1", 4), ("sin(x)\u2028", 7), ("x\x00", 2)):
        with pytest.raises(ConfigError, match=f"at column {col}"):
            targets.check(bad)
    assert targets.render("x**3 - x**2") == "x ** 3 - x ** 2"
    assert targets.render("cubic") == "x ** 3 - x ** 2"  # a preset's formula
