"""Deploy checks of this project's own settings (`manage.py check --deploy`)."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def bench_floor_view_off(app_configs, **kwargs):
    if getattr(settings, "BENCH_FLOOR_VIEW", False):
        return [
            checks.Warning(
                "BENCH_FLOOR_VIEW is on: /api/bench/floor/ is routed. It exists for `make bench` only.",
                hint="Unset BENCH_FLOOR_VIEW in production.",
                id="linklearn.W001",
            )
        ]
    return []
