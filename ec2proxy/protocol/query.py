"""Query-string parameters -> typed Python values, by walking an input shape.

``Filter.1.Value.2=x`` becomes ``{"Filters": [{"Values": [..., "x"]}]}``: the
flat keys are first folded into a tree on ``.``, then the operation's input
shape walks the tree, one small function per shape type, compiled once per
shape. Wire names follow botocore's EC2 serializer (``queryName``, else the
capitalised ``locationName``, else the member name); lists are ``.N``
(1-based), optionally under a ``member``/``item`` level as query-style tools
send them.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import math
import re
from typing import Any, Callable, Iterable

import botocore.model

from ec2proxy.ec2 import errors

# Keys that carry the request envelope or the signature, never action input.
ENVELOPE_KEYS = frozenset(
    {
        "Action",
        "Version",
        "AWSAccessKeyId",
        "SignatureVersion",
        "SignatureMethod",
        "Signature",
        "Timestamp",
        "Expires",
        "SecurityToken",
    }
)

_LEAF = None  # the tree key holding a node's own value
_INT = re.compile(r"[+-]?[0-9]{1,19}")
_LIMITS = {"integer": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}

Parser = Callable[[dict, str], Any]


def parse_input(op: botocore.model.OperationModel, items: Iterable[tuple[str, str]]) -> dict:
    """Typed input for ``op`` from (key, value) pairs; envelope keys are skipped."""
    tree: dict = {}
    for key, value in items:
        if key in ENVELOPE_KEYS or key.startswith("X-Amz-"):
            continue
        node = tree
        for part in key.split("."):
            node = node.setdefault(part, {})
        node.setdefault(_LEAF, value)  # the first of duplicate keys wins
    shape = op.input_shape
    if shape is None:
        if tree:
            raise errors.UnknownParameter(f"The parameter {_show(next(iter(tree)))} is not recognized")
        return {}
    return _parser(shape)(tree, "")


def _show(text: str, limit: int = 64) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def wire_name(shape: botocore.model.Shape, default: str) -> str:
    """The name botocore's EC2 serializer gives a structure member on input."""
    ser = shape.serialization
    if "queryName" in ser:
        return ser["queryName"]
    if "name" in ser:
        name = ser["name"]
        return name[0].upper() + name[1:]
    return default


_compiled: dict[str, Parser] = {}


def _parser(shape: botocore.model.Shape) -> Parser:
    fn = _compiled.get(shape.name)
    if fn is None:
        # A placeholder first, so a recursive shape refers back to itself.
        slot: list[Parser] = []
        _compiled[shape.name] = lambda node, path: slot[0](node, path)
        fn = _BUILDERS.get(shape.type_name, _build_string)(shape)
        slot.append(fn)
        _compiled[shape.name] = fn
    return fn


def _build_structure(shape: botocore.model.StructureShape) -> Parser:
    members = {
        wire_name(member, name): (name, _parser(member)) for name, member in shape.members.items()
    }
    required = [
        (name, wire_name(shape.members[name], name)) for name in shape.required_members
    ]

    def parse(node: dict, path: str) -> dict:
        if _LEAF in node:
            raise errors.InvalidParameterValue(f"The parameter {_show(path)} must be a structure, not a value")
        out = {}
        for key, child in node.items():
            entry = members.get(key)
            if entry is None:
                raise errors.UnknownParameter(f"The parameter {_show(_join(path, key))} is not recognized")
            out[entry[0]] = entry[1](child, _join(path, key))
        for name, wire in required:
            if name not in out:
                raise errors.MissingParameter(
                    f"The request must contain the parameter {_join(path, wire)}"
                )
        return out

    return parse


def _indexed(node: dict, path: str) -> list[tuple[int, dict]]:
    if len(node) == 1 and ("member" in node or "item" in node):
        node = node.get("member") or node["item"]
    if _LEAF in node:
        raise errors.InvalidParameterValue(
            f"The parameter {_show(path)} is a list: send {_show(path)}.1, {_show(path)}.2, ..."
        )
    out = []
    for key, child in node.items():
        if not (key.isascii() and key.isdigit() and key[0] != "0" and len(key) <= 6):
            raise errors.UnknownParameter(f"The parameter {_show(_join(path, key))} is not recognized")
        out.append((int(key), child))
    out.sort(key=lambda pair: pair[0])
    return out


def _build_list(shape: botocore.model.ListShape) -> Parser:
    member = _parser(shape.member)

    def parse(node: dict, path: str) -> list:
        return [member(child, f"{path}.{i}") for i, child in _indexed(node, path)]

    return parse


def _build_map(shape: botocore.model.MapShape) -> Parser:
    key_name = wire_name(shape.key, "key")
    value_name = wire_name(shape.value, "value")
    key_parser, value_parser = _parser(shape.key), _parser(shape.value)

    def parse(node: dict, path: str) -> dict:
        if not shape.serialization.get("flattened") and set(node) == {"entry"}:
            node = node["entry"]
        out = {}
        for i, entry in _indexed(node, path):
            where = f"{path}.{i}"
            if set(entry) - {key_name, value_name} or key_name not in entry:
                raise errors.InvalidParameterValue(f"The parameter {_show(where)} needs {key_name} and {value_name}")
            value = value_parser(entry[value_name], f"{where}.{value_name}") if value_name in entry else None
            out[key_parser(entry[key_name], f"{where}.{key_name}")] = value
        return out

    return parse


def _scalar(convert: Callable[[str, str, botocore.model.Shape], Any]) -> Callable[[botocore.model.Shape], Parser]:
    def build(shape: botocore.model.Shape) -> Parser:
        def parse(node: dict, path: str) -> Any:
            if len(node) != 1 or _LEAF not in node:
                extra = next(key for key in node if key is not _LEAF)
                raise errors.UnknownParameter(f"The parameter {_show(_join(path, extra))} is not recognized")
            return convert(node[_LEAF], path, shape)

        return parse

    return build


def _bad(path: str, value: str, what: str) -> errors.EC2Error:
    return errors.InvalidParameterValue(f"Invalid value '{_show(value)}' for {_show(path)}: {what}")


def _to_string(value: str, path: str, shape: botocore.model.Shape) -> str:
    return value


def _to_integer(value: str, path: str, shape: botocore.model.Shape) -> int:
    if not _INT.fullmatch(value):
        raise _bad(path, value, "expected an integer")
    number = int(value)
    low, high = _LIMITS.get(shape.type_name, _LIMITS["long"])
    if not low <= number <= high:
        raise _bad(path, value, "out of range")
    return number


def _to_float(value: str, path: str, shape: botocore.model.Shape) -> float:
    try:
        number = float(value)
    except ValueError:
        raise _bad(path, value, "expected a number") from None
    if not math.isfinite(number):
        raise _bad(path, value, "expected a finite number")
    return number


def _to_boolean(value: str, path: str, shape: botocore.model.Shape) -> bool:
    lowered = value.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise _bad(path, value, "expected true or false")


def _to_timestamp(value: str, path: str, shape: botocore.model.Shape) -> datetime.datetime:
    try:
        if _INT.fullmatch(value):
            return datetime.datetime.fromtimestamp(int(value), datetime.timezone.utc)
        stamp = datetime.datetime.fromisoformat(value)
    except (ValueError, OverflowError, OSError):
        raise _bad(path, value, "expected an ISO 8601 timestamp") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.timezone.utc)
    return stamp


def _to_blob(value: str, path: str, shape: botocore.model.Shape) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(path, value, "expected base64") from None


_build_string = _scalar(_to_string)

_BUILDERS: dict[str, Callable[[Any], Parser]] = {
    "structure": _build_structure,
    "list": _build_list,
    "map": _build_map,
    "string": _build_string,
    "character": _build_string,
    "integer": _scalar(_to_integer),
    "long": _scalar(_to_integer),
    "float": _scalar(_to_float),
    "double": _scalar(_to_float),
    "boolean": _scalar(_to_boolean),
    "timestamp": _scalar(_to_timestamp),
    "blob": _scalar(_to_blob),
}
