"""RunSpec: a base config, what varies and how many seeds — 1 to 64 members."""

import pytest

from fitscope.core.config import ConfigError, FitConfig
from fitscope.core.spec import MAX_MEMBERS, RunSpec, parse_values, parse_vary

CPU = FitConfig().with_values({"train.device": "cpu", "train.steps": 200})


def test_a_single_run_is_a_spec_with_nothing_varied():
    spec = RunSpec(CPU)
    (m,) = spec.members()
    assert not spec.racing
    assert spec.count() == 1
    assert m.label == "relu"  # named for what it is
    assert m.cfg == CPU
    assert m.seed == CPU.data.seed


def test_members_are_the_product_over_seeds():
    spec = RunSpec.race(CPU, {"model.activation": ["relu", "tanh"], "train.lr": [0.05, 0.2]}, seeds=3)
    ms = spec.members()
    assert spec.racing
    assert spec.count() == len(ms) == 12
    assert [m.label for m in ms[:4]] == ["relu 0.05 s0", "relu 0.05 s1", "relu 0.05 s2", "relu 0.2 s0"]
    assert ms[0].variant == "relu 0.05"
    assert ms[-1].variant == "tanh 0.2"
    assert [m.seed for m in ms[:3]] == [0, 1, 2]
    assert {m.cfg.model.init_seed for m in ms} == {0, 1, 2}
    assert {(m.cfg.model.activation, m.cfg.train.lr) for m in ms} == {
        ("relu", 0.05), ("relu", 0.2), ("tanh", 0.05), ("tanh", 0.2)}
    assert all(m.cfg.train.steps == 200 and m.cfg.train.device == "cpu" for m in ms)  # the base is kept


def test_one_seed_keeps_the_data_seeds_stream_and_plain_labels():
    ms = RunSpec.race(CPU, {"model.hidden": [(10, 10), (16,)]}).members()
    assert [m.label for m in ms] == ["10-10", "16"]
    assert all(m.cfg.model.init_seed == -1 for m in ms)


def test_values_parse_per_key():
    assert parse_values("model.activation", " relu, tanh ") == ["relu", "tanh"]
    assert parse_values("model.hidden", "10,10; 16") == [(10, 10), (16,)]
    assert parse_values("train.lr", "0.1,1e-2") == [0.1, 0.01]
    assert parse_vary(["train.lr=0.1,0.2", "model.activation=relu"]) == {
        "train.lr": [0.1, 0.2], "model.activation": ["relu"]}


@pytest.mark.parametrize("key,text,why", [
    ("model.activation", "", "none empty"),
    ("model.activation", "relu,,tanh", "none empty"),
    ("model.activation", "relu,tanh,relu", "lists relu twice"),
    ("model.activation", "relu,swish", "expected one of"),
    ("train.lr", "0.1,abc", "expected a number"),
    ("train.lr", "0.1,0.10", "lists 0.1 twice"),
    ("model.hidden", "10,10;0", "from 1 to 1024"),
    ("data.points", "10,20", "can vary"),
])
def test_bad_lists_are_clear_errors(key, text, why):
    with pytest.raises(ConfigError, match=why.replace("(", "\\(")):
        parse_values(key, text)


@pytest.mark.parametrize("items,why", [
    (["train.lr"], "expected KEY=V1,V2"),
    (["train.lr=0.1", "train.lr=0.2"], "is given twice"),
    (["data.seed=1,2"], "can vary"),
])
def test_bad_vary_items_are_clear_errors(items, why):
    with pytest.raises(ConfigError, match=why):
        parse_vary(items)


def test_at_most_64_members_and_only_keys_that_can_vary():
    lrs = [round(0.01 * (i + 1), 2) for i in range(16)]
    assert len(RunSpec.race(CPU, {"train.lr": lrs}, seeds=4).members()) == 64  # the most there can be
    with pytest.raises(ConfigError, match="at most 64 members"):
        RunSpec.race(CPU, {"train.lr": lrs + [0.5]}, seeds=4)  # 68
    with pytest.raises(ConfigError, match="at most 64 members"):
        RunSpec.race(CPU, {"train.lr": lrs[:13]}, seeds=5)  # 65
    with pytest.raises(ConfigError, match="from 1 to 64"):
        RunSpec.race(CPU, {}, seeds=MAX_MEMBERS + 1)
    with pytest.raises(ConfigError, match="from 1 to 64"):
        RunSpec(CPU, seeds=0).members()
    with pytest.raises(ConfigError, match="can vary"):
        RunSpec.race(CPU, {"data.points": [10, 20]})
    with pytest.raises(ConfigError, match="at most 64"):
        parse_values("train.lr", ",".join(str(0.001 * (i + 1)) for i in range(65)))


def test_a_huge_product_is_refused_before_anything_is_built():
    big = {"train.lr": [0.001 * (i + 1) for i in range(1000)], "model.init_seed": list(range(1000))}
    with pytest.raises(ConfigError, match="1000000"):
        RunSpec.race(CPU, big)


def test_bad_values_given_to_a_race_directly_are_checked():
    with pytest.raises(ConfigError, match="train.lr"):
        RunSpec.race(CPU, {"train.lr": [0.1, -1]})


def test_with_base_keeps_what_varies():
    spec = RunSpec.race(CPU, {"model.activation": ["relu", "tanh"]}, seeds=2)
    again = spec.with_base(CPU.with_value("train.steps", 50))
    assert again.vary == spec.vary
    assert again.seeds == 2
    assert [m.cfg.train.steps for m in again.members()] == [50] * 4


def test_race_table_is_set_apart_by_a_blank_line():
    """ctrl+w and a saved race's config.toml: `[race]` followed the last setting with no blank line."""
    from fitscope.core.spec import from_toml, to_toml

    spec = RunSpec.race(FitConfig(), {"model.activation": ["relu", "tanh"]}, seeds=2)
    text = to_toml(spec)
    assert "\n\n[race]" in text
    assert "\n\n\n[race]" not in text
    back = from_toml(text)
    assert back.vary == spec.vary
    assert back.seeds == 2
