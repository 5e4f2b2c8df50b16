"""Admin API errors, in the same shape as the gateway's:
``{"error": {"message", "type", "param", "code"}}``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from clearance.errors import (
    AlreadyExists,
    AuthFailed,
    ClearanceError,
    InvalidInput,
    InvalidState,
    NotAllowed,
    NotFound,
)

_STATUS: list[tuple[type[ClearanceError], int, str]] = [
    (NotFound, 404, "not_found"),
    (AlreadyExists, 409, "already_exists"),
    (InvalidInput, 400, "invalid_request"),
    (InvalidState, 409, "invalid_state"),
    (NotAllowed, 403, "forbidden"),
]


def error_body(status: int, code: str, message: str, param: str | None = None) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "api_error"
    if status in (401, 403, 423):
        kind = "permission_error" if status == 403 else "authentication_error"
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": param, "code": code}},
        status_code=status,
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(AuthFailed)
    async def _auth(_request: Request, exc: AuthFailed) -> JSONResponse:
        response = error_body(exc.status, exc.code, exc.message)
        if exc.retry_after is not None:
            response.headers["retry-after"] = str(exc.retry_after)
        return response

    @app.exception_handler(ClearanceError)
    async def _clearance(_request: Request, exc: ClearanceError) -> JSONResponse:
        for cls, status, code in _STATUS:
            if isinstance(exc, cls):
                field = exc.field if isinstance(exc, InvalidInput) else None
                return error_body(status, code, exc.message, field)
        return error_body(500, "internal_error", exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        location = [str(part) for part in first.get("loc", ()) if part != "body"]
        param = ".".join(location) or None
        message = first.get("msg", "invalid request")
        if first.get("type") == "json_invalid":
            message = "The request body is not valid JSON."
        return error_body(
            400, "invalid_request", f"{param}: {message}" if param else message, param
        )

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        codes = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
        response = error_body(exc.status_code, codes.get(exc.status_code, "error"), str(exc.detail))
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def _internal(_request: Request, _exc: Exception) -> JSONResponse:
        return error_body(500, "internal_error", "The server failed to handle the request.")
