"""Typed Python values -> EC2 XML, by walking an output shape.

Mirrors what botocore's EC2 parser reads: structure members under their
``locationName``, lists as ``<item>`` children, ISO-8601 timestamps,
``true``/``false`` booleans, base64 blobs. ``None`` members are left out, and
so are empty timestamps (an empty timestamp element breaks botocore). Writers
are compiled once per shape and append to one list of strings, joined once:
a DescribeInstances of thousands of instances is a hot path.
"""

from __future__ import annotations

import base64
import datetime
import functools
import re
from typing import Any, Callable

import botocore.model

Writer = Callable[[Any, list], None]

_XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
# Characters XML 1.0 cannot carry are dropped; CR is kept as a reference so
# parsers do not fold it into LF.
_CONTROL: dict[int, str | None] = {c: None for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)}
_CONTROL.update({0x0D: "&#13;", 0xFFFE: None, 0xFFFF: None})
_CONTROL.update({c: None for c in range(0xD800, 0xE000)})


_NEEDS_ESCAPE = re.compile("[&<>\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(text: str) -> str:
    if _NEEDS_ESCAPE.search(text) is None:  # nearly every value: ids, names, states, addresses
        return text
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").translate(_CONTROL)


def serialize_output(
    op: botocore.model.OperationModel, data: dict | None, request_id: str, version: str
) -> bytes:
    """The full response document for ``op``: EC2's, or the query protocol's (STS) when ``op`` is of it."""
    name = op.name
    if op.metadata["protocol"] == "query":
        return _query_output(op, data, request_id)
    out = [
        _XML_HEAD,
        f'<{name}Response xmlns="http://ec2.amazonaws.com/doc/{version}/">',
        f"<requestId>{escape(request_id)}</requestId>",
    ]
    shape = op.output_shape
    if shape is not None and shape.members:
        _writer(shape)(data or {}, out)
    else:
        out.append("<return>true</return>")
    out.append(f"</{name}Response>")
    return "".join(out).encode("utf-8")


def _query_output(op: botocore.model.OperationModel, data: dict | None, request_id: str) -> bytes:
    shape = op.output_shape
    wrapper = shape.serialization.get("resultWrapper", f"{op.name}Result") if shape is not None else None
    out = [_XML_HEAD, f'<{op.name}Response xmlns="{_query_namespace(op.metadata)}">']
    if shape is not None and wrapper:
        out.append(f"<{wrapper}>")
        _writer(shape)(data or {}, out)
        out.append(f"</{wrapper}>")
    out.append(f"<ResponseMetadata><RequestId>{escape(request_id)}</RequestId></ResponseMetadata>")
    out.append(f"</{op.name}Response>")
    return "".join(out).encode("utf-8")


def _query_namespace(metadata: dict) -> str:
    return f"https://{metadata['endpointPrefix']}.amazonaws.com/doc/{metadata['apiVersion']}/"


def error_body(code: str, message: str, request_id: str, service: str = "ec2") -> bytes:
    """The error document: EC2's ``Response/Errors/Error``, or the query protocol's ``ErrorResponse``."""
    if service != "ec2":
        kind = "Receiver" if code in ("InternalError", "InternalFailure", "Unavailable", "ServiceUnavailable") \
            else "Sender"
        return (
            f'{_XML_HEAD}<ErrorResponse xmlns="https://{service}.amazonaws.com/doc/"><Error><Type>{kind}</Type>'
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{escape(request_id)}</RequestId></ErrorResponse>"
        ).encode("utf-8")
    return (
        f"{_XML_HEAD}<Response><Errors><Error><Code>{escape(code)}</Code>"
        f"<Message>{escape(message)}</Message></Error></Errors>"
        f"<RequestID>{escape(request_id)}</RequestID></Response>"
    ).encode("utf-8")


# by service model and shape name: two services may name different shapes alike
_compiled: dict[tuple[int, str], Writer] = {}


def _writer(shape: botocore.model.Shape) -> Writer:
    key = (id(shape._shape_resolver), shape.name)  # the model's resolver: one per service, loaded once
    fn = _compiled.get(key)
    if fn is None:
        slot: list[Writer] = []
        _compiled[key] = lambda value, out: slot[0](value, out)
        fn = _BUILDERS.get(shape.type_name, _write_string_factory)(shape)
        slot.append(fn)
        _compiled[key] = fn
    return fn


def _build_structure(shape: botocore.model.StructureShape) -> Writer:
    fields = {}
    for name, member in shape.members.items():
        tag = member.serialization.get("name", name)
        flat = member.type_name == "list" and member.serialization.get("flattened")
        if flat:
            tag = member.member.serialization.get("name", tag)
        skip_empty = member.type_name == "timestamp"
        fields[name] = (f"<{tag}>", f"</{tag}>", _writer(member), flat, skip_empty)
    field = fields.get

    def write(value: dict, out: list) -> None:
        # The members present, in the value's order (parsers read by name): an Instance has about 70
        # members in the model and half of them set; keys of ours ('_row'...) are not members and are left out.
        for name, item in value.items():
            spec = field(name)
            if spec is None or item is None:
                continue
            open_tag, close_tag, writer, flat, skip_empty = spec
            if skip_empty and item == "":
                continue
            if flat:
                for element in item:
                    out.append(open_tag)
                    writer.member(element, out)  # type: ignore[attr-defined]
                    out.append(close_tag)
                continue
            out.append(open_tag)
            writer(item, out)
            out.append(close_tag)

    return write


class Prerendered(dict):
    """A list element whose XML was written before (``render``): the writer copies ``xml`` as it is; the
    dict holds what the handler still reads (ids for grouping and paging)."""

    __slots__ = ("xml",)

    def __init__(self, xml: str, **known: Any):
        super().__init__(known)
        self.xml = xml


def render(shape: botocore.model.Shape, value: Any) -> str:
    """The XML of one value of ``shape`` (without its element), for ``Prerendered``."""
    out: list[str] = []
    _writer(shape)(value, out)
    return "".join(out)


def _build_list(shape: botocore.model.ListShape) -> Writer:
    tag = shape.member.serialization.get("name", "item")
    open_tag, close_tag = f"<{tag}>", f"</{tag}>"
    member = _writer(shape.member)

    def write(value: list, out: list) -> None:
        for element in value:
            if element is None:
                continue
            out.append(open_tag)
            if isinstance(element, Prerendered):
                out.append(element.xml)
            else:
                member(element, out)
            out.append(close_tag)

    write.member = member  # type: ignore[attr-defined]  # used for flattened lists
    return write


def _build_map(shape: botocore.model.MapShape) -> Writer:
    key_tag = shape.key.serialization.get("name", "key")
    value_tag = shape.value.serialization.get("name", "value")
    key_writer, value_writer = _writer(shape.key), _writer(shape.value)

    def write(value: dict, out: list) -> None:
        for key, item in value.items():
            out.append(f"<entry><{key_tag}>")
            key_writer(key, out)
            out.append(f"</{key_tag}><{value_tag}>")
            value_writer(item, out)
            out.append(f"</{value_tag}></entry>")

    return write


def _write_string(value: Any, out: list) -> None:
    out.append(escape(value if type(value) is str else str(value)))


def _write_string_factory(shape: botocore.model.Shape) -> Writer:
    return _write_string


def _write_integer(value: Any, out: list) -> None:
    out.append(str(int(value)))


def _write_float(value: Any, out: list) -> None:
    out.append(repr(float(value)))


def _write_boolean(value: Any, out: list) -> None:
    out.append("true" if value else "false")


@functools.lru_cache(maxsize=4096)  # instances launched together share their launch time
def format_timestamp(value: datetime.datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as EC2 writes it."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    else:
        value = value.astimezone(datetime.timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _write_timestamp(value: Any, out: list) -> None:
    if isinstance(value, datetime.datetime):
        out.append(format_timestamp(value))
    elif isinstance(value, (int, float)):
        out.append(format_timestamp(datetime.datetime.fromtimestamp(value, datetime.timezone.utc)))
    else:
        out.append(escape(str(value)))


def _write_blob(value: Any, out: list) -> None:
    raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    out.append(base64.b64encode(raw).decode("ascii"))


_BUILDERS: dict[str, Callable[[Any], Writer]] = {
    "structure": _build_structure,
    "list": _build_list,
    "map": _build_map,
    "string": _write_string_factory,
    "character": _write_string_factory,
    "integer": lambda shape: _write_integer,
    "long": lambda shape: _write_integer,
    "float": lambda shape: _write_float,
    "double": lambda shape: _write_float,
    "boolean": lambda shape: _write_boolean,
    "timestamp": lambda shape: _write_timestamp,
    "blob": lambda shape: _write_blob,
}
