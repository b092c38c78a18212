"""The one matcher implementation: routes, silences, maintenance windows and inhibit rules all
decide "does this alert match?" here.

A matcher list is JSON, `[{"field": "labels.env", "op": "=", "value": "prod"}, ...]`; every
matcher of a list must hold, and an empty list matches every alert. Fields are the normalized
alert fields (FIELDS) or `labels.<name>`. Ops, Alertmanager's four plus two:

- `=` / `!=`  the value equals / does not equal
- `=~` / `!~` the regular expression matches / does not match the *whole* value (anchored at
  both ends like Alertmanager's; `.` also matches a newline, for multi-line descriptions)
- `exists` / `absent`  the field has / has no non-empty value

A missing field or label counts as the empty string, as in Alertmanager: `labels.env != prod`
holds for an alert without an `env` label, and `labels.env = ""` is the same as `absent`.

Pure: no database access. Compiled lists are cached by their JSON, so a regex is compiled once
per process however many rules and alerts use it.
"""

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

FIELDS = (
    "name",
    "summary",
    "description",
    "severity",
    "source",
    "service",
    "status",
    "integration",
    "kind",
    "team",
)
LABEL_PREFIX = "labels."
OPS = ("=", "!=", "=~", "!~", "exists", "absent")
VALUE_OPS = frozenset(("=", "!=", "=~", "!~"))
MAX_VALUE_LENGTH = 1000
SHOWN_LENGTH = 60

Fields = Mapping[str, Any]
_NO_LABELS: Mapping[str, str] = {}


class MatcherError(ValueError):
    """A matcher list that cannot be used; the message names the offending matcher."""


def field_error(name: Any) -> str | None:
    """Why `name` is not a field a matcher (or a group key) may use; None when it is one."""
    if not isinstance(name, str) or not name:
        return "the field must be a non-empty string"
    if name.startswith(LABEL_PREFIX):
        return None if name[len(LABEL_PREFIX) :] else "a label field needs a name: labels.<name>"
    if name not in FIELDS:
        return f"unknown field {name!r}; use one of {', '.join(FIELDS)} or labels.<name>"
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def field_value(fields: Fields, name: str) -> str:
    """The value of a field or `labels.<name>` as text; "" when missing."""
    if name.startswith(LABEL_PREFIX):
        return _text(fields.get("labels", _NO_LABELS).get(name[len(LABEL_PREFIX) :]))
    return _text(fields.get(name))


def _shown(value: str) -> str:
    if not value:
        return '""'
    return value if len(value) <= SHOWN_LENGTH else f"{value[: SHOWN_LENGTH - 1]}…"


@dataclass(frozen=True, slots=True)
class Matcher:
    field: str
    op: str
    value: str
    # The fast check used on the batch path; `explain` uses it too, then adds the reason.
    test: Callable[[Fields], bool] = field(compare=False, repr=False)

    def describe(self) -> str:
        if self.op in VALUE_OPS:
            return f"{self.field} {self.op} {_shown(self.value)}"
        return f"{self.field} {self.op}"

    def explain(self, fields: Fields) -> tuple[bool, str]:
        ok = self.test(fields)
        if ok:
            return True, f"{self.describe()} ✓"
        actual = field_value(fields, self.field)
        seen = f"was {_shown(actual)!r}" if actual else "absent"
        return False, f"{self.describe()} ✗ ({seen})"

    def as_json(self) -> dict[str, str]:
        if self.op in VALUE_OPS:
            return {"field": self.field, "op": self.op, "value": self.value}
        return {"field": self.field, "op": self.op}


def _test_for(name: str, op: str, value: str, regex: re.Pattern | None) -> Callable[[Fields], bool]:
    """One closure per matcher. The batch path runs hundreds of these per alert, so each reads
    its value inline, without another call: field values are strings (alert_fields makes them
    so), except the integration's id, which is compared as text."""
    if name == "integration":

        def get(f: Fields) -> str:
            return _text(f.get("integration"))

        tests = {
            "=": lambda f: get(f) == value,
            "!=": lambda f: get(f) != value,
            "=~": lambda f: regex.fullmatch(get(f)) is not None,
            "!~": lambda f: regex.fullmatch(get(f)) is None,
            "exists": lambda f: get(f) != "",
            "absent": lambda f: get(f) == "",
        }
    elif name.startswith(LABEL_PREFIX):
        key = name[len(LABEL_PREFIX) :]
        tests = {
            "=": lambda f: (f.get("labels", _NO_LABELS).get(key) or "") == value,
            "!=": lambda f: (f.get("labels", _NO_LABELS).get(key) or "") != value,
            "=~": lambda f: regex.fullmatch(f.get("labels", _NO_LABELS).get(key) or "") is not None,
            "!~": lambda f: regex.fullmatch(f.get("labels", _NO_LABELS).get(key) or "") is None,
            "exists": lambda f: bool(f.get("labels", _NO_LABELS).get(key)),
            "absent": lambda f: not f.get("labels", _NO_LABELS).get(key),
        }
    else:
        tests = {
            "=": lambda f: (f.get(name) or "") == value,
            "!=": lambda f: (f.get(name) or "") != value,
            "=~": lambda f: regex.fullmatch(f.get(name) or "") is not None,
            "!~": lambda f: regex.fullmatch(f.get(name) or "") is None,
            "exists": lambda f: bool(f.get(name)),
            "absent": lambda f: not f.get(name),
        }
    return tests[op]


def _matcher_of(tests: tuple[Callable[[Fields], bool], ...], *, never: bool) -> Callable:
    """One callable for a list of tests. The batch path calls it for every route and alert, so
    the usual short lists skip the loop (and its extra call) altogether."""
    if never:
        return lambda fields: False
    if not tests:
        return lambda fields: True
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda fields: first(fields) and second(fields)

    def every(fields: Fields) -> bool:
        # A plain loop: all() over a generator costs a third more.
        for test in tests:  # noqa: SIM110
            if not test(fields):
                return False
        return True

    return every


class CompiledMatchers:
    """A validated matcher list, ready to test alerts' field dicts (see alert_fields)."""

    __slots__ = ("error", "matchers", "matches")

    def __init__(self, matchers: Iterable[Matcher] = (), *, error: str = ""):
        self.matchers: tuple[Matcher, ...] = tuple(matchers)
        # Set for a stored list that no longer compiles: it then matches nothing, so that one
        # broken rule cannot stop the batch, and the tester shows why.
        self.error = error
        #: matches(fields) -> bool, the batch path's check: the cheapest callable for the list.
        self.matches: Callable[[Fields], bool] = _matcher_of(
            () if error else tuple(m.test for m in self.matchers), never=bool(error)
        )

    @classmethod
    def invalid(cls, message: str) -> "CompiledMatchers":
        return cls(error=message)

    def explain(self, fields: Fields) -> tuple[bool, list[str]]:
        """Whether the alert matches, and one reason per matcher (all of them, not only up to
        the first failure, so a manager sees everything that would need to change)."""
        if self.error:
            return False, [f"invalid matchers: {self.error}"]
        if not self.matchers:
            return True, ["no matchers: matches every alert"]
        results = [matcher.explain(fields) for matcher in self.matchers]
        return all(ok for ok, _ in results), [reason for _, reason in results]

    def describe(self) -> str:
        if self.error:
            return f"invalid: {self.error}"
        return ", ".join(m.describe() for m in self.matchers) or "every alert"

    def as_json(self) -> list[dict[str, str]]:
        """The normalized list, as it should be stored."""
        return [matcher.as_json() for matcher in self.matchers]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CompiledMatchers):
            return NotImplemented
        return self.matchers == other.matchers and self.error == other.error

    def __hash__(self) -> int:
        return hash((self.matchers, self.error))

    def __repr__(self) -> str:
        return f"<CompiledMatchers {self.describe()}>"


def _compile_one(raw: Any, number: int) -> Matcher:
    if not isinstance(raw, Mapping):
        raise MatcherError(f"matcher {number} must be an object with field, op and value")
    where = f"matcher {number}"
    unknown = sorted(str(key) for key in raw if key not in ("field", "op", "value"))
    if unknown:
        raise MatcherError(f"{where}: unknown keys {', '.join(unknown)}; use field, op, value")
    name, op, value = raw.get("field"), raw.get("op"), raw.get("value")
    if problem := field_error(name):
        raise MatcherError(f"{where}: {problem}")
    where = f"{where} ({name} {op})" if isinstance(op, str) else f"{where} ({name})"
    if op not in OPS:
        raise MatcherError(f"{where}: unknown op {op!r}; use one of {' '.join(OPS)}")
    if op not in VALUE_OPS:
        if value not in (None, ""):
            raise MatcherError(f"{where}: takes no value")
        return Matcher(name, op, "", _test_for(name, op, "", None))
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MatcherError(f"{where}: the value must be a string")
    value = str(value)
    where = f"matcher {number} ({name} {op} {_shown(value)})"
    if len(value) > MAX_VALUE_LENGTH:
        raise MatcherError(f"{where}: the value is longer than {MAX_VALUE_LENGTH} characters")
    regex = None
    if op in ("=~", "!~"):
        try:
            regex = re.compile(value, re.DOTALL)
        except re.error as exc:
            raise MatcherError(f"{where}: invalid regular expression: {exc}") from exc
    return Matcher(name, op, value, _test_for(name, op, value, regex))


@lru_cache(maxsize=4096)
def _compile_cached(key: str) -> CompiledMatchers:
    raw = json.loads(key)
    if not isinstance(raw, list):
        raise MatcherError("matchers must be a list of {field, op, value} objects")
    return CompiledMatchers(_compile_one(item, number) for number, item in enumerate(raw, 1))


def compile_matchers(raw: Any) -> CompiledMatchers:
    """Validate and compile a matcher list (MatcherError naming the matcher). Cached by the
    list's JSON: the same list costs one dict lookup after the first time."""
    if isinstance(raw, CompiledMatchers):
        return raw
    if raw is None:
        raw = []
    if not isinstance(raw, list | tuple):
        raise MatcherError("matchers must be a list of {field, op, value} objects")
    try:
        key = json.dumps(raw, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise MatcherError(f"matchers must be plain JSON: {exc}") from exc
    return _compile_cached(key)


def alert_fields(alert: Any, *, integration: Any = None, team: str | None = None) -> dict[str, Any]:
    """The plain field dict matchers read, from an `Alert`, a `ParsedAlert` or a mapping of
    normalized fields (the routing tester's input; ValueError when it is malformed).

    `integration` supplies `integration` (its id), `kind`, `team` (its team's slug) and the
    default severity of a ParsedAlert without one; an Alert's own integration is used when it
    is not given. Pass the integration with its team loaded, or `team`, to avoid a query.
    """
    if isinstance(alert, Mapping):
        values = _fields_from_mapping(alert)
    else:
        values = {
            name: _text(getattr(alert, name, ""))
            for name in ("name", "summary", "description", "severity", "source", "service")
        }
        values["status"] = _text(getattr(alert, "status", "")) or "firing"
        values["labels"] = {str(k): _text(v) for k, v in (alert.labels or {}).items()}
        if integration is None:
            integration = getattr(alert, "integration", None)
    if integration is not None:
        values["integration"] = integration.pk
        values["kind"] = integration.kind
        values["team"] = integration.team.slug if team is None else team
        if not values["severity"]:
            values["severity"] = integration.default_severity
    elif team is not None:
        values["team"] = team
    return values


def _fields_from_mapping(data: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(str(key) for key in data if key not in FIELDS and key != "labels")
    if unknown:
        raise ValueError(
            f"unknown alert fields {', '.join(unknown)}; use {', '.join(FIELDS)} and labels"
        )
    values: dict[str, Any] = {}
    for name in FIELDS:
        value = data.get(name)
        if isinstance(value, Mapping | list):
            raise ValueError(f"alert field {name!r} must be a string")
        values[name] = None if name == "integration" and value in (None, "") else _text(value)
    if values["integration"] is not None:
        if not str(values["integration"]).isdecimal():
            raise ValueError("alert field 'integration' must be an integration id")
        values["integration"] = int(values["integration"])
    values["status"] = values["status"] or "firing"
    labels = data.get("labels") or {}
    if not isinstance(labels, Mapping) or any(
        isinstance(v, Mapping | list) for v in labels.values()
    ):
        raise ValueError("alert field 'labels' must be an object of strings")
    values["labels"] = {str(k): _text(v) for k, v in labels.items()}
    return values
