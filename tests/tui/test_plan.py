"""plan(): what each setting edit means for the run, checked on plain values (no Textual, no engine)."""

from __future__ import annotations

from fitscope.core.config import FitConfig
from fitscope.core.spec import RunSpec
from fitscope.tui.plan import LIVE_KEYS, Live, Move, Refusal, Reset, Unchanged, plan, short

BASE = FitConfig()
SOLO = RunSpec(BASE)
RACE = RunSpec.race(BASE, {"train.lr": [1e-3, 1e-2]})


def test_a_live_key_keeps_the_run_going() -> None:
    step = plan(SOLO, "train.steps", "123")
    assert isinstance(step, Live)
    assert step.key == "train.steps"
    assert step.spec.base.train.steps == 123
    assert step.spec.vary == SOLO.vary


def test_another_key_resets_with_a_reason_for_the_log() -> None:
    step = plan(SOLO, "data.points", "64")
    assert isinstance(step, Reset)
    assert step.spec.base.data.points == 64
    assert step.why == "data.points = 64: reset"


def test_the_device_moves_the_run() -> None:
    # "cpu" is the one device every machine has; whether another exists is the engine's to say
    step = plan(RunSpec(BASE.with_value("train.device", "auto")), "train.device", "cpu")
    assert isinstance(step, Move)
    assert step.spec.base.train.device == "cpu"


def test_the_same_value_changes_nothing() -> None:
    step = plan(SOLO, "train.steps", str(BASE.train.steps))
    assert step == Unchanged(BASE)


def test_a_bad_value_is_refused_under_its_field() -> None:
    step = plan(SOLO, "data.points", "lots")
    assert isinstance(step, Refusal)
    assert step.field == "data.points"
    assert step.severity == "error"
    assert "data.points" in step.message


def test_a_cross_field_refusal_goes_under_the_field_that_names_it() -> None:
    step = plan(SOLO, "data.x_min", "5")  # above x_max: the core blames x_max
    assert isinstance(step, Refusal)
    assert step.field == "data.x_max"


def test_a_raced_key_is_refused_with_a_notice_not_a_field_error() -> None:
    step = plan(RACE, "train.lr", "0.5")
    assert isinstance(step, Refusal)
    assert step.field is None
    assert "start a new race (c)" in step.message


def test_a_race_keeps_what_it_varies_through_a_reset() -> None:
    step = plan(RACE, "data.points", "64")
    assert isinstance(step, Reset)
    assert step.spec.vary == RACE.vary


def test_live_keys_include_the_device_the_form_marks_live() -> None:
    assert {"train.lr", "train.steps", "train.device"} == set(LIVE_KEYS)


def test_short_values_for_the_log() -> None:
    assert short((1, 2)) == "1, 2"
    assert short("x" * 40) == "x" * 27 + "..."
