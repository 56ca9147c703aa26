"""The body of a scoring request: read within a size and a time limit, before any parsing,
and the 4xx answers about it, which list a few errors and never echo large input.

Starlette's `request.body()` reads whatever arrives; so the size is checked twice: the declared
`Content-Length` at once, and the bytes counted while they stream in (a chunked body declares
none). JSON is UTF-8 (RFC 8259, which also says a `charset` parameter has no effect), so a
declared charset is ignored and bytes that are not UTF-8 get a 400.
"""

import asyncio
import math

from starlette.requests import ClientDisconnect

MAX_ERRORS = 10  # errors listed in a 422; the answer also says how many there were
MAX_ECHO_CHARS = 40  # longer input values are not repeated back

__all__ = ["ClientDisconnect", "RequestProblem", "read_body", "validation_problem"]


class RequestProblem(Exception):
    """A 4xx answer about the request: its status and JSON body."""

    def __init__(self, status, detail, **extra):
        super().__init__(detail)
        self.status, self.body = status, {"detail": detail, **extra}


async def read_body(request, max_bytes, timeout_seconds):
    """The raw body; 413 past `max_bytes`, 408 when it has not all arrived in time.
    ClientDisconnect when the client goes away mid-upload."""
    declared = request.headers.get("content-length")
    if declared is not None and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    chunks, size = [], 0
    try:
        async with asyncio.timeout(timeout_seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise _too_large(max_bytes)
                chunks.append(chunk)
    except TimeoutError:
        raise RequestProblem(
            408, f"The request body did not arrive within {timeout_seconds} s "
            "(serve.body_timeout_seconds).",
        ) from None  # fmt: skip
    return b"".join(chunks)


def _too_large(max_bytes):
    return RequestProblem(
        413, f"The request body is larger than {max_bytes} bytes (serve.max_body_bytes): "
        "send fewer records per request.",
    )  # fmt: skip


def validation_problem(error, body):
    """A pydantic ValidationError of the body as a 422 (or a 400 for bytes that are not
    UTF-8): the first MAX_ERRORS errors, each naming its field."""
    errors = error.errors(include_url=False)
    if errors[0]["type"] == "json_invalid":
        _fail_unless_utf8(body)
    listed = [_plain(e) for e in errors[:MAX_ERRORS]]
    return RequestProblem(422, listed, error_count=error.error_count())


def _fail_unless_utf8(body):
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as bad:
        raise RequestProblem(
            400, f"The body is not UTF-8 (byte {bad.start}): JSON is UTF-8 (RFC 8259), "
            "whatever charset the Content-Type declares.",
        ) from None  # fmt: skip


def _plain(error):
    """loc, msg and type of one error, plus its input when that is a short plain value."""
    plain = {"loc": ["body", *error["loc"]], "msg": error["msg"], "type": error["type"]}
    if "input" in error and _short(error["input"]):
        plain["input"] = error["input"]
    return plain


def _short(value):
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) < 10**15  # 10**400 is long (and no float)
    if isinstance(value, float):
        return math.isfinite(value) and abs(value) < 1e15  # NaN has no JSON
    return isinstance(value, str) and len(value) <= MAX_ECHO_CHARS
