import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fitscope.core import config as config_mod
from fitscope.core.config import ConfigError, FitConfig


def test_defaults_are_the_lesson():
    cfg = FitConfig()
    assert (cfg.data.target, cfg.data.points, cfg.data.x_min, cfg.data.x_max) == ("cubic", 300, -1.0, 1.0)
    assert (cfg.data.noise, cfg.data.noise_level, cfg.data.seed) == ("uniform", 0.2, 0)
    assert cfg.model.hidden == (10, 10)
    assert cfg.model.activation == "relu"
    t = cfg.train
    assert (t.optimizer, t.lr, t.loss, t.steps, t.batch_size, t.device) == ("sgd", 0.2, "mse", 300, 0, "auto")


def test_toml_round_trip():
    cfg = FitConfig().with_values({"model.hidden": "32, 16, 8", "train.lr": "1e-3", "train.optimizer": "adam",
                                   "data.target": "sin(3*x) + 0.3*x**2", "data.noise": "gaussian"})
    again = config_mod.from_toml(config_mod.to_toml(cfg))
    assert again == cfg
    assert again.model.hidden == (32, 16, 8)


@pytest.mark.parametrize("key,value,fragment", [
    ("model.hidden", "[0]", "from 1 to 1024"),
    ("model.hidden", "[]", "1 to 8 layer"),
    ("model.hidden", "1,2,3,4,5,6,7,8,9", "1 to 8 layer"),
    ("model.hidden", "[2000]", "from 1 to 1024"),
    ("train.lr", "-1", "(0, 100]"),
    ("train.lr", "0", "(0, 100]"),
    ("train.lr", "nan", "(0, 100]"),
    ("data.points", "abc", "whole number"),
    ("data.points", "0", "from 1 to 1000000"),
    ("data.points", "2.5", "whole number"),
    ("model.activation", "swish", "one of: relu"),
    ("train.optimizer", "lbfgs", "one of: sgd"),
    ("train.momentum", "1", "[0, 1)"),
    ("train.device", "tpu", "auto, cpu, cuda"),
    ("train.batch_size", "-3", "'full'"),
    ("data.noise", "pink", "uniform, gaussian, none"),
])
def test_bad_values_name_field_value_and_what_is_allowed(key, value, fragment):
    with pytest.raises(ConfigError) as err:
        FitConfig().with_value(key, value)
    msg = str(err.value)
    assert msg.startswith(key + ":")
    assert repr(value) in msg
    assert fragment in msg
    assert err.value.field == key
    assert err.value.value == value


def test_unknown_key_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown setting.*train.lr"):
        config_mod.parse_assignment("train.lrr=0.1")


def test_assignment_without_equals():
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        config_mod.parse_assignment("train.lr")


def test_typed_values_from_toml_go_through_the_same_checks():
    with pytest.raises(ConfigError, match="train.steps"):
        config_mod.from_toml("[train]\nsteps = -5\n")
    with pytest.raises(ConfigError, match="data.points"):
        config_mod.from_toml("[data]\npoints = true\n")
    with pytest.raises(ConfigError, match="unknown section"):
        config_mod.from_toml("[optim]\nlr = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        config_mod.from_toml("[data\n")


def test_x_range_must_be_increasing():
    with pytest.raises(ConfigError, match="data.x_max.*greater than data.x_min"):
        FitConfig().with_values({"data.x_min": 1, "data.x_max": 0})


def test_batch_size_full_and_hidden_forms():
    cfg = FitConfig().with_values({"train.batch_size": "full", "model.hidden": "[64]"})
    assert cfg.train.batch_size == 0
    assert cfg.model.hidden == (64,)
    assert FitConfig().with_value("model.hidden", 16).model.hidden == (16,)


@settings(max_examples=300, deadline=None)
@given(key=st.sampled_from(config_mod.keys()), raw=st.one_of(st.text(max_size=30), st.integers(), st.floats(),
                                                    st.booleans(), st.lists(st.integers(), max_size=10)))
def test_any_typed_value_is_accepted_or_a_config_error(key, raw):
    try:
        cfg = FitConfig().with_value(key, raw)
    except ConfigError as exc:
        assert exc.field.startswith(key.split(".")[0]) or exc.field == "data.target"
    else:
        assert config_mod.from_toml(config_mod.to_toml(cfg)) == cfg


def test_kernels_default_to_fast_and_take_autograd():
    assert FitConfig().train.kernels == "fast"
    assert FitConfig().with_value("train.kernels", " Autograd ").train.kernels == "autograd"
    with pytest.raises(ConfigError, match="train.kernels.*one of: fast, autograd"):
        FitConfig().with_value("train.kernels", "cuda")


def test_config_error_is_one_class_that_crosses_a_pipe():
    import pickle

    from fitscope.core import errors

    assert ConfigError is errors.ConfigError  # config re-exports it: one class to catch
    with pytest.raises(ConfigError) as err:
        FitConfig().with_value("train.lr", "abc")
    again = pickle.loads(pickle.dumps(err.value))
    assert type(again) is ConfigError
    assert str(again) == str(err.value)
    assert (again.field, again.value, again.allowed) == ("train.lr", "abc", err.value.allowed)
