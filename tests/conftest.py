import os
import pathlib

from hypothesis import HealthCheck, settings

VECTORS = pathlib.Path(__file__).parent / "vectors"

# No per-example deadline: on a loaded 2-core machine a slow example is not a bug.
# In CI (CI=true) the examples are derandomized, so a run is reproducible and a
# submission cannot fail on an input nobody has seen; developers' runs keep
# exploring new inputs (and hypothesis' database replays any failure they find).
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", parent=settings.get_profile("dev"), derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("TLSKIT_HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
