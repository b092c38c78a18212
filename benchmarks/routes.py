"""The routing rules the benchmarks add, global and per integration.

Each rule has two or three matchers (an equality on the service, a regex on a label, sometimes
a negative regex on the name), as a floor's real rules do, on services the benchmark's alerts
never carry: every alert is then tested against every rule before it falls through to its
integration's default, which is the most routing can cost. Call after django.setup().
"""


def routes_replace(count: int, *, team, integration) -> None:
    """Replace every rule except default routes with `count` rules."""
    from alerts.models import Route
    from alerts.routing import routes_cache_clear

    Route.objects.exclude(is_default=True).delete()
    Route.objects.bulk_create(
        Route(
            name=f"bench rule {n}",
            position=n,
            matchers=[
                {"field": "service", "op": "=", "value": f"unrouted-{n:03d}"},
                {"field": "labels.env", "op": "=~", "value": "prod|staging"},
                *([{"field": "name", "op": "!~", "value": "Test.*"}] if n % 3 == 0 else []),
            ],
            team=team,
            integration=integration if n % 2 else None,
        )
        for n in range(count)
    )
    routes_cache_clear()
