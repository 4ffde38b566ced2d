"""The one filter engine: EC2 ``Filter.N.Name/Value.M`` over plain items.

A resource family declares its filters as data: filter name -> a function
giving the item's value(s) for it. Values within a filter are OR-ed, filters
are AND-ed, ``*`` and ``?`` are wildcards (``\\`` escapes them), and an
unknown filter name is ``InvalidParameterValue``, never a 500.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Callable, Iterable, Mapping, Sequence

from ec2proxy import errors

Getter = Callable[[Any], Any]


@functools.lru_cache(maxsize=4096)
def _pattern(value: str) -> re.Pattern | str:
    if "*" not in value and "?" not in value:
        return value.replace("\\\\", "\\")
    out, i = [], 0
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value):
            out.append(re.escape(value[i + 1]))
            i += 2
            continue
        out.append(".*" if char == "*" else "." if char == "?" else re.escape(char))
        i += 1
    return re.compile("".join(out), re.DOTALL)


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


def compile_filters(
    filters: Iterable[Mapping[str, Any]] | None, spec: Mapping[str, Getter]
) -> list[tuple[Getter, list[str]]]:
    """Check filter names and values against ``spec``; returns (getter, values) pairs."""
    compiled = []
    for item in filters or ():
        name = item.get("Name")
        values = item.get("Values") or []
        if not name:
            raise errors.InvalidParameterValue("A filter must have a Name")
        getter = spec.get(name)
        if getter is None and name.startswith("tag:") and "tag:" in spec:
            key = name[4:]
            tags = spec["tag:"]
            getter = lambda obj, key=key, tags=tags: tags(obj).get(key)  # noqa: E731
        if getter is None:
            raise errors.InvalidParameterValue(f"The filter '{name[:64]}' is invalid")
        if not values:
            raise errors.InvalidParameterValue(f"The filter '{name[:64]}' needs at least one value")
        compiled.append((getter, list(values)))
    return compiled


def apply(items: Iterable[Any], compiled: list[tuple[Getter, list[str]]]) -> list[Any]:
    if not compiled:
        return list(items)
    return [item for item in items if all(matches(values, get(item)) for get, values in compiled)]


def by_ids(items: list[dict], member: str, wanted: Sequence[str], missing: Callable[[str], Exception]) -> list[dict]:
    """The items whose ``member`` is among ``wanted`` (all items when nothing is asked for);
    the first id asked for and not there raises ``missing(id)``."""
    if not wanted:
        return items
    known = {item[member] for item in items}
    for value in wanted:
        if value not in known:
            raise missing(value)
    chosen = set(wanted)
    return [item for item in items if item[member] in chosen]
