"""The one filter engine: EC2 ``Filter.N.Name/Value.M`` over plain items.

A resource family declares its filters as data: filter name -> a function
giving the item's value(s) for it. Values within a filter are OR-ed, filters
are AND-ed, ``*`` and ``?`` are wildcards (``\\`` escapes them), and an
unknown filter name is ``InvalidParameterValue``, never a 500.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

from ec2proxy.ec2 import errors, model, timestamps

T = TypeVar("T")

Getter = Callable[[Any], Any]


MAX_FILTERS = 50  # per request
MAX_VALUES = 200  # per filter
MAX_VALUE_LENGTH = 1024

_ANY = None  # a "?" in a compiled chunk
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


@dataclasses.dataclass(frozen=True, slots=True)
class Glob:
    """A wildcard value split at its ``*``s into chunks (``?`` kept as ``_ANY``).

    Matched by placing each chunk at its leftmost fit after the previous one:
    at most the value's length times the pattern's, never the exponential
    backtracking a regular expression of ``.*`` runs can take.
    """

    chunks: tuple[tuple[str | None, ...], ...]

    def fullmatch(self, text: str) -> bool:
        if len(self.chunks) == 1:
            (only,) = self.chunks
            return len(text) == len(only) and _fits(only, text, 0)
        first, *middle, last = self.chunks
        if len(first) + len(last) > len(text) or not _fits(first, text, 0) \
                or not _fits(last, text, len(text) - len(last)):
            return False
        at, end = len(first), len(text) - len(last)
        for chunk in middle:
            at = _find(chunk, text, at, end)
            if at < 0:
                return False
            at += len(chunk)
        return True


def _fits(chunk: tuple[str | None, ...], text: str, at: int) -> bool:
    return all(c is _ANY or c == text[at + i] for i, c in enumerate(chunk))


def _find(chunk: tuple[str | None, ...], text: str, start: int, end: int) -> int:
    if _ANY not in chunk:
        return text.find("".join(chunk), start, end)  # type: ignore[arg-type]
    for at in range(start, end - len(chunk) + 1):
        if _fits(chunk, text, at):
            return at
    return -1


@functools.lru_cache(maxsize=4096)
def _pattern(value: str) -> Glob | str:
    if "*" not in value and "?" not in value:
        return value.replace("\\\\", "\\")
    chunks: list[tuple[str | None, ...]] = []
    current: list[str | None] = []
    i = 0
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            current.append(value[i + 1])
            i += 2
            continue
        if char == "*":
            chunks.append(tuple(current))
            current = []
        else:
            current.append(_ANY if char == "?" else char)
        i += 1
    chunks.append(tuple(current))
    return Glob(tuple(chunks))


def text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def matches(values: Sequence[str], actual: Any) -> bool:
    """Does ``actual`` (a scalar or a list of scalars) match any of ``values``?"""
    if actual is None:
        return False
    candidates = actual if isinstance(actual, (list, tuple, set, frozenset)) else (actual,)
    for want in values:
        pattern = _pattern(want)
        for candidate in candidates:
            if candidate is None:
                continue
            got = text(candidate)
            if pattern == got if isinstance(pattern, str) else pattern.fullmatch(got):
                return True
    return False


def path(dotted: str) -> Getter:
    """A getter for a dotted member path into an output dict; lists on the way are searched."""
    keys = dotted.split(".")

    def get(item):
        values = [item]
        for key in keys:
            found = []
            for value in values:
                value = value.get(key) if isinstance(value, dict) else None
                if isinstance(value, list):
                    found.extend(value)
                elif value is not None:
                    found.append(value)
            values = found
        return values

    return get


def absent(item: Any) -> list:
    """The getter of a filter AWS documents for something this cloud never has (spot requests, outposts,
    capacity reservations...): accepted, and nothing matches it."""
    return []


def constant(value: Any) -> Getter:
    """The getter of a filter whose value is the same for everything in this cloud (ENA support...)."""
    return lambda item: [value]


def times(dotted: str) -> Getter:
    """A getter for timestamps, compared as the text EC2 shows (``2024-01-02T03:04:05.000Z``)."""
    get = path(dotted)
    return lambda item: [timestamps.ec2_text(stamp) for stamp in get(item)]


def compile_filters(
    filters: Iterable[Mapping[str, Any]] | None, spec: Mapping[str, Getter], action: str | None = None
) -> list[tuple[Getter, list[str]]]:
    """Check filter names and values against ``spec``; returns (getter, values) pairs. A name the AWS reference
    lists for ``action`` that ``spec`` does not know is a feature this cloud lacks: accepted, matching
    nothing (newer botocore releases document filters for newer AWS features)."""
    compiled = []
    filters = list(filters or ())
    if len(filters) > MAX_FILTERS:
        raise errors.InvalidParameterValue(f"A request may carry at most {MAX_FILTERS} filters")
    for item in filters:
        name = item.get("Name")
        values = item.get("Values") or []
        if len(values) > MAX_VALUES:
            raise errors.InvalidParameterValue(f"A filter may carry at most {MAX_VALUES} values")
        if any(len(value) > MAX_VALUE_LENGTH for value in values):
            raise errors.InvalidParameterValue(f"A filter value is at most {MAX_VALUE_LENGTH} characters long")
        if not name:
            raise errors.InvalidParameterValue("A filter must have a Name")
        getter = spec.get(name)
        if getter is None and name.startswith("tag:") and "tag:" in spec:
            key = name[4:]
            tags = spec["tag:"]
            getter = lambda obj, key=key, tags=tags: tags(obj, key)  # noqa: E731
        if getter is None:  # the legacy camel-case spelling some clients still send (isDefault, instanceType)
            getter = spec.get(_CAMEL.sub(lambda m: "-" + m.group(1).lower(), name))
        if getter is None and action is not None and name in model.documented_filters(action):
            getter = absent
        if getter is None:
            raise errors.InvalidParameterValue(f"The filter '{name[:64]}' is invalid")
        if not values:
            raise errors.InvalidParameterValue(f"The filter '{name[:64]}' needs at least one value")
        compiled.append((getter, list(values)))
    return compiled


def _itself(item: Any) -> Any:
    return item


def apply(items: Iterable[T], compiled: list[tuple[Getter, list[str]]],
          of: Callable[[T], Any] = _itself) -> list[T]:
    """The items every filter matches; ``of``: where an item's EC2 shape is (a record's ``shape``)."""
    if not compiled:
        return list(items)
    return [item for item in items if all(matches(values, get(of(item))) for get, values in compiled)]


def by_ids(items: list[T], member: str, wanted: Sequence[str], missing: Callable[[str], Exception],
           of: Callable[[T], Any] = _itself) -> list[T]:
    """The items whose ``member`` is among ``wanted`` (all items when nothing is asked for);
    the first id asked for and not there raises ``missing(id)``."""
    if not wanted:
        return items
    known = {of(item)[member] for item in items}
    for value in wanted:
        if value not in known:
            raise missing(value)
    chosen = set(wanted)
    return [item for item in items if of(item)[member] in chosen]
