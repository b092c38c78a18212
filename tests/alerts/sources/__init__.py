"""Each source's parser, on recorded and documented payloads."""


def parse_one(parse, payload, headers=None, **kwargs):
    """What a source's `parse` makes of a payload that must carry exactly one alert."""
    alerts = parse(payload, {} if headers is None else headers, **kwargs)
    assert len(alerts) == 1, alerts
    return alerts[0]
