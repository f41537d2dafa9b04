import pytest

from fitscope.core.config import FitConfig
from fitscope.core.engine import Engine
from fitscope.tui.app import FitscopeApp

CPU = FitConfig().with_value("train.device", "cpu")


def manual_app(cfg: FitConfig = CPU) -> FitscopeApp:
    """The app over an engine stepped by hand: deterministic, and Pilot never waits on training."""
    return FitscopeApp(cfg, engine_factory=lambda c: Engine(c, threaded=False))


@pytest.fixture
def app():
    return manual_app()


@pytest.fixture
def make_app():
    return manual_app


@pytest.fixture
def race_app():
    from fitscope.core.compare_engine import CompareEngine

    return FitscopeApp(CPU, engine_factory=lambda c: Engine(c, threaded=False),
                       race_factory=lambda m: CompareEngine(m, threaded=False))
