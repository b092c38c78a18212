"""One module per alert source; the integration's kind picks it."""

from types import ModuleType

from . import generic
from .base import ParsedAlert, PayloadError

SOURCES: dict[str, ModuleType] = {
    "generic": generic,
}


def source_for_kind(kind: str) -> ModuleType:
    return SOURCES[kind]


__all__ = ["SOURCES", "ParsedAlert", "PayloadError", "source_for_kind"]
