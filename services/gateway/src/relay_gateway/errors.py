"""One error body everywhere: ``{"code", "message", "details"}``."""

from __future__ import annotations

from typing import Any

import asyncpg
from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from relay_common.logging import get_logger

log = get_logger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    503: "unavailable",
}


class ErrorBody(BaseModel):
    """The body of every error response."""

    code: str = Field(description="Stable machine-readable code, e.g. not_found.")
    message: str = Field(description="What went wrong, for people.")
    details: Any = Field(default=None, description="Field errors and other specifics.")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": code.replace("_", " ")}
    for status, code in (
        (400, "bad_request"),
        (401, "unauthenticated"),
        (403, "forbidden"),
        (404, "not_found"),
        (409, "conflict"),
        (422, "invalid_request"),
        (429, "rate_limited"),
    )
}
"""Documented on every API route, so clients (and schemathesis) know the error shape."""


class ApiError(HTTPException):
    def __init__(
        self, status: int, message: str, *, code: str | None = None, details: Any = None
    ) -> None:
        super().__init__(status, message)
        self.code = code or _CODES.get(status, "error")
        self.details = details


def _body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = getattr(exc, "code", None) or _CODES.get(exc.status_code, "error")
        return JSONResponse(
            _body(code, str(exc.detail), getattr(exc, "details", None)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse(
            _body("invalid_request", "The request is not valid.", details), status_code=422
        )

    @app.exception_handler(asyncpg.DataError)
    async def unstorable(_: Request, exc: asyncpg.DataError) -> JSONResponse:
        # e.g. a NUL character, which PostgreSQL text cannot hold: the input is at fault.
        return JSONResponse(
            _body("bad_request", "The request holds characters that cannot be stored."),
            status_code=400,
        )

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", error=repr(exc))
        return JSONResponse(_body("internal", "Something went wrong."), status_code=500)
