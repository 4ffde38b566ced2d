"""The EC2 Query protocol (and STS's query protocol), driven by botocore's service models.

``query`` turns request parameters into typed values by walking an
operation's input shape; ``xml`` writes any output shape as EC2 XML. Neither
knows anything about instances or volumes.
"""

from ec2proxy.ec2.model import API_VERSION, SERVICES, VERSIONS, operation, operation_names, service_model
from ec2proxy.protocol.query import parse_input
from ec2proxy.protocol.xml import Prerendered, error_body, render, serialize_output

__all__ = [
    "API_VERSION",
    "Prerendered",
    "SERVICES",
    "VERSIONS",
    "error_body",
    "operation",
    "operation_names",
    "parse_input",
    "render",
    "serialize_output",
    "service_model",
]
