"""R² goes through the one formatter: fixed digits like the losses, a floor instead of -5.92e+04."""

import pytest

from fitscope.tui.formatting import r2


@pytest.mark.parametrize(("value", "text"), [
    (0.99812, "0.998"), (-1.25, "-1.250"), (-6.79e-07, "0.000"), (-59200.0, "<-99"), (-99.0, "-99.000"),
    (None, "—"), (float("nan"), "nan"), (1.0, "1.000"),
])
def test_r2_reads_like_the_losses(value, text):
    assert r2(value) == text
