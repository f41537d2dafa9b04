import pytest

from fitscope.core.config import FitConfig
from fitscope.core.drivers.thread import ManualDriver
from fitscope.core.spec import RunSpec
from fitscope.tui.app import FitscopeApp

CPU = FitConfig().with_value("train.device", "cpu")


def manual_driver(spec: RunSpec) -> ManualDriver:
    return ManualDriver(spec)


def manual_app(cfg: FitConfig = CPU) -> FitscopeApp:
    """The app over a run stepped by hand in the test's thread: commands apply at once,
    ``app.driver.pump(n)`` trains, and Pilot never waits on training."""
    return FitscopeApp(cfg, engine_factory=manual_driver)


@pytest.fixture
def app():
    return manual_app()


@pytest.fixture
def make_app():
    return manual_app
