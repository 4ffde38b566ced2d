"""Our protocol layer against botocore's own: random values must survive both ways.

Inputs: botocore's EC2 serializer writes a request for a random operation
with random valid input; our parser must read back the same values.
Outputs: our serializer writes a random output; botocore's EC2 parser must
read back the same values.
"""

from __future__ import annotations

import datetime
import urllib.parse

from botocore import parsers, serialize
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ec2proxy import protocol
from ec2proxy.ec2.model import service_model

OPERATIONS = sorted(service_model().operation_names)
MAX_DEPTH = 5

_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    max_size=12,
) | st.sampled_from(["", " padded ", "a&b<c>d", "x=1&y=2", "100%", "π", "line\nbreak", "tab\there"])
_STAMPS = st.datetimes(
    min_value=datetime.datetime(1971, 1, 1), max_value=datetime.datetime(2100, 1, 1),
    timezones=st.just(datetime.timezone.utc),
).map(lambda value: value.replace(microsecond=(value.microsecond // 1000) * 1000))
_SCALARS = {
    "string": _TEXT,
    "character": _TEXT,
    "integer": st.integers(-(2**31), 2**31 - 1),
    "long": st.integers(-(2**63), 2**63 - 1),
    "boolean": st.booleans(),
    "double": st.floats(allow_nan=False, allow_infinity=False),
    "float": st.floats(allow_nan=False, allow_infinity=False, width=32),
    "timestamp": _STAMPS,
    "blob": st.binary(max_size=24),
}


def values(shape, depth: int = 0, required: bool = False):
    """Random valid values of ``shape``; a required member is never empty."""
    kind = shape.type_name
    if kind == "structure":
        if depth >= MAX_DEPTH and not required:
            return st.just({})
        members = {name: values(member, depth + 1) for name, member in shape.members.items()}
        needed = {name: values(shape.members[name], depth + 1, True) for name in shape.required_members}
        for name in needed:
            members.pop(name, None)
        drawn = st.fixed_dictionaries(needed, optional=members)
        return drawn.filter(lambda value: without_empties(value) != {}) if required else drawn
    if kind == "list":
        if depth >= MAX_DEPTH and not required:
            return st.just([])
        return st.lists(values(shape.member, depth + 1, required), min_size=int(required), max_size=2)
    if kind == "map":
        return st.dictionaries(values(shape.key, depth + 1), values(shape.value, depth + 1), max_size=2)
    if kind == "string" and shape.enum:
        return st.sampled_from(shape.enum)
    return _SCALARS[kind]


def without_empties(value):
    """What a query request can carry: empty lists and structures send nothing."""
    if isinstance(value, dict):
        cleaned = {key: without_empties(item) for key, item in value.items()}
        return {key: item for key, item in cleaned.items() if item not in ({}, [])}
    if isinstance(value, list):
        return [item for item in map(without_empties, value) if item not in ({}, [])]
    return value


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), name=st.sampled_from(OPERATIONS))
def test_botocore_requests_parse_back_to_the_same_values(data, name):
    op = service_model().operation_model(name)
    if op.input_shape is None:
        return
    params = data.draw(values(op.input_shape))
    request = serialize.create_serializer("ec2", include_validation=False).serialize_to_request(params, op)
    encoded = urllib.parse.urlencode(request["body"])
    parsed = protocol.parse_input(op, urllib.parse.parse_qsl(encoded, keep_blank_values=True))
    assert parsed == without_empties(params)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data(), name=st.sampled_from(OPERATIONS))
def test_our_responses_parse_back_with_botocore(data, name):
    op = service_model().operation_model(name)
    if op.output_shape is None or not op.output_shape.members:
        return
    result = data.draw(values(op.output_shape))
    body = protocol.serialize_output(op, result, "req-1", "2016-11-15")
    parsed = parsers.create_parser("ec2").parse(
        {"body": body, "headers": {}, "status_code": 200}, op.output_shape
    )
    assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
    assert parsed == result


def test_error_envelope_parses_with_botocore():
    body = protocol.error_body("InvalidInstanceID.NotFound", "The instance 'i-1' <x> does not exist", "req-9")
    parsed = parsers.create_parser("ec2").parse({"body": body, "headers": {}, "status_code": 400}, None)
    assert parsed["Error"] == {"Code": "InvalidInstanceID.NotFound", "Message": "The instance 'i-1' <x> does not exist"}
    assert parsed["ResponseMetadata"]["RequestId"] == "req-9"


def test_empty_timestamps_are_left_out():
    op = service_model().operation_model("DescribeInstances")
    body = protocol.serialize_output(
        op, {"Reservations": [{"Instances": [{"InstanceId": "i-1", "LaunchTime": ""}]}]}, "r", "2016-11-15"
    )
    assert b"launchTime" not in body
