"""The emulator's ASGI application: all routers, error handlers in each service's shape, the middleware."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from btp_infra.sandbox import api_accounts, api_control, api_entitlements, api_sm, api_uaa
from btp_infra.sandbox.errors import ApiError, error_for_path
from btp_infra.sandbox.middleware import RouteTable, SandboxMiddleware
from btp_infra.sandbox.runtime import Runtime
from btp_infra.sandbox.service_manager import ServiceManager


def _respond(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def create_app(rt: Runtime) -> SandboxMiddleware:
    app = FastAPI(title="btp-infra sandbox", openapi_url=None, docs_url=None, redoc_url=None)
    sm = ServiceManager(rt)
    routers = [
        api_uaa.router(rt),
        api_accounts.router(rt, sm),
        api_entitlements.router(rt),
        api_sm.router(rt, sm),
    ]
    table = RouteTable([route for r in routers for route in r.routes if isinstance(route, APIRoute)])
    for api in [*routers, api_control.router(rt, table.listing)]:
        app.include_router(api)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _respond(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in err.get('loc', ()))}: {err.get('msg', 'invalid')}"
            for err in exc.errors()
        )
        return _respond(error_for_path(request.url.path, 400, f"invalid request: {problems}"))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return _respond(error_for_path(request.url.path, exc.status_code, str(exc.detail)))

    return SandboxMiddleware(app, rt, table)
