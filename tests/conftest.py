import os

from hypothesis import settings

os.environ.setdefault("NO_COLOR", "1")

# the same examples on every run: a property test that finds a new case fails where it is run on
# purpose (HYPOTHESIS_PROFILE=explore), never at random in CI
settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
