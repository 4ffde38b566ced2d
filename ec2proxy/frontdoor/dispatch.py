"""The EC2 front door: one aiohttp handler from HTTP request to EC2 response.

Order of checks, as AWS does them: body and query syntax, signature and
credentials, rate limit, action, parameters, the caller's permission (the
policy), DryRun, then the handler. Every
failure leaves as the EC2 error envelope with a RequestID; an unexpected
exception is logged with its traceback and answered as ``InternalError``
without any Python detail.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import re
import time
from urllib.parse import parse_qsl

from aiohttp import hdrs, web

from ec2proxy import db, protocol
from ec2proxy.auth.signatures import HttpRequest, read_signature
from ec2proxy.cloud import BackendError
from ec2proxy.context import RequestContext
from ec2proxy.ec2 import errors
from ec2proxy.frontdoor.actions import handler_for
from ec2proxy.frontdoor.services import FrontDoorServices as Services

LOG = logging.getLogger("ec2proxy.api")


_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}")
_XML = "text/xml; charset=UTF-8"
_REQUEST_ID = "x-amzn-RequestId"


async def _read_params(request: web.BaseRequest, services: Services) -> tuple[bytes, list[tuple[str, str]]]:
    limit = services.config.api.max_body_size
    length = request.content_length
    if length is not None and length > limit:
        raise errors.RequestEntityTooLarge(f"The request body is larger than {limit} bytes")
    # Usually the parser already holds the whole body: taken at once, no timer. Otherwise the wait is
    # bounded by header_timeout (a body trickled forever would hold a place) and cut short when the worker stops.
    body = request.content.read_nowait(length) if length else b""
    if length is None or len(body) < length:
        body += await _wait_for_body(request, None if length is None else length - len(body), services)
    max_fields = services.config.api.max_parameters
    params: list[tuple[str, str]] = []
    try:
        for text in (request.rel_url.raw_query_string, body.decode("utf-8")):
            if text:
                params += parse_qsl(text, keep_blank_values=True, max_num_fields=max_fields, errors="strict")
    except UnicodeDecodeError:
        raise errors.MalformedQueryString("The request is not valid UTF-8") from None
    except ValueError:
        raise errors.InvalidQueryParameter(f"A request may carry at most {max_fields} parameters") from None
    if len(params) > max_fields:
        raise errors.InvalidQueryParameter(f"A request may carry at most {max_fields} parameters")
    if len({key for key, _ in params}) != len(params):  # lists are numbered (X.1, X.2): a repeat is never meant
        seen: set[str] = set()
        for key, _ in params:
            if key in seen:
                raise errors.InvalidQueryParameter(f"The parameter {key[:64]} appears more than once")
            seen.add(key)
    return body, params


async def _wait_for_body(request: web.BaseRequest, missing: int | None, services: Services) -> bytes:
    """The ``missing`` bytes of the body (all of it when chunked), waited for within [api] header_timeout."""
    limit = services.config.api.max_body_size
    deadline = asyncio.timeout(0.2 if services.stopping else services.config.api.header_timeout)
    services.body_reads.add(deadline)
    try:
        async with deadline:
            if missing is None:  # chunked: aiohttp stops reading at client_max_size
                return await request.read()
            return await request.content.readexactly(missing)
    except TimeoutError:
        if services.stopping:  # the rest of the body will not be read: the client may retry elsewhere
            raise errors.Unavailable("The service is restarting. Please try again.") from None
        raise errors.RequestTimeout("The request body did not arrive in time.") from None
    except web.HTTPRequestEntityTooLarge:
        raise errors.RequestEntityTooLarge(f"The request body is larger than {limit} bytes") from None
    except asyncio.IncompleteReadError:
        raise errors.MalformedQueryString("The request body is shorter than its Content-Length") from None
    finally:
        services.body_reads.discard(deadline)


def _first(params: list[tuple[str, str]], name: str) -> str | None:
    for key, value in params:
        if key == name:
            return value
    return None


async def handle(request: web.BaseRequest, services: Services) -> web.Response:
    started = time.perf_counter()
    request_id = services.request_ids.next()
    action, version, project, service = "-", protocol.API_VERSION, "-", "ec2"
    try:
        body, params = await _read_params(request, services)
        action = _first(params, "Action") or "-"
        version = _first(params, "Version") or protocol.API_VERSION
        if not _VERSION.fullmatch(version):
            version = protocol.API_VERSION
            raise errors.InvalidParameterValue("Version must be a date such as 2016-11-15")
        url = request.rel_url
        headers = request.headers
        http = HttpRequest(request.method, headers.get("Host") or request.host, url.raw_path,
                           url.raw_query_string, headers, body, params)
        config = services.config
        now = datetime.datetime.now(datetime.timezone.utc)
        signature = read_signature(http, now, config.auth.max_skew, config.regions)
        service = signature.service  # ec2, or sts on the same endpoint (ec2proxy.ec2.model)
        identity = await services.credentials.identify(signature)
        project = identity.project_id
        if services.limiter.enabled and not services.limiter.allow(project):
            raise errors.RequestLimitExceeded("Request limit exceeded.")
        if action == "-":
            raise errors.MissingAction("The request must contain the parameter Action")
        op = protocol.operation(action, service)
        if op is None:
            raise errors.InvalidAction(f"The action {action[:64]} is not valid for this web service.")
        values = protocol.parse_input(op, params)
        handler = handler_for(action, service)
        if handler is None:
            raise errors.UnsupportedOperation(f"The action {action} is not supported by this cloud.")
        # Before DryRun and before the handler: a refusal answers the DryRun question and writes nothing.
        services.policy.authorize(f"{service}:{action}", identity.project_id, identity.user_id, identity.roles)
        ctx = RequestContext(
            request_id=request_id,
            action=action,
            identity=identity,
            region=signature.region or config.api.region,
            services=services,
            dry_run=bool(values.get("DryRun")),
            extra={"endpoint": f"{request.scheme}://{http.host}"},
        )
        if ctx.dry_run and not handler.checks_dry_run:
            raise errors.DryRunOperation()
        result = await handler.fn(ctx, values)
        payload = protocol.serialize_output(op, result, request_id, version)
        response = _xml_response(payload, request_id)
        code = "OK"
    except errors.EC2Error as exc:
        code = exc.code
        response = _error_response(exc, request_id, service)
    except BackendError as exc:
        LOG.warning("request %s (%s): %s", request_id, action, exc)
        code = exc.ec2().code
        response = _error_response(exc.ec2(), request_id, service)
    except Exception as exc:  # noqa: BLE001  the boundary: no Python detail leaves the process
        if db.unavailable(exc):
            LOG.warning("request %s (%s): database unavailable: %s", request_id, action, type(exc).__name__)
            failure: errors.EC2Error = errors.Unavailable("The service is unavailable. Please try again shortly.")
        else:
            LOG.exception("request %s (%s) failed", request_id, action)
            failure = errors.InternalError()
        code = failure.code
        response = _error_response(failure, request_id, service)
    elapsed = time.perf_counter() - started
    known = action in protocol.operation_names(service)
    services.metrics.observe(action if known else "-", code, elapsed)
    if services.access_log is not None:
        services.access_log.record(request_id, action, project, response.status, code, elapsed, known)
    return response


def _error_response(exc: errors.EC2Error, request_id: str, service: str = "ec2") -> web.Response:
    return _xml_response(protocol.error_body(exc.code, exc.message, request_id, service), request_id, exc.status)


def _xml_response(body: bytes, request_id: str, status: int = 200) -> web.Response:
    return web.Response(body=body, status=status, headers={hdrs.CONTENT_TYPE: _XML, _REQUEST_ID: request_id})
