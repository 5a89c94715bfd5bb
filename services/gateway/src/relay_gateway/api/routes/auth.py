"""Sessions: signing in (Google in ``google.py``; the dev sign-in of `relay up`), the
caller's identity, switching workspace, signing out."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from relay_gateway import auth
from relay_gateway.api.deps import GatewayState, MemberDep, PrincipalDep, StateDep, rate_limit
from relay_gateway.errors import ApiError
from relay_gateway.repo import principals

router = APIRouter(prefix="/auth", tags=["auth"])

DEV_EMAIL = "dev@relay.local"


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def limit_sign_in(request: Request, state: GatewayState) -> None:
    await rate_limit(state, f"sign-in:{client_ip(request)}", state.settings.sign_in_per_minute)


def cookies_secure(request: Request, state: GatewayState) -> bool:
    """Cookies are Secure when browsers reach us over https (directly or via a proxy)."""
    public_url = state.settings.public_url or ""
    return request.url.scheme == "https" or public_url.startswith("https:")


def start_session(
    response: Response,
    request: Request,
    state: GatewayState,
    user_id: UUID,
    email: str,
    workspace_id: UUID | None,
) -> Response:
    """Put a new session (token and CSRF cookies) on ``response``."""
    days = state.settings.session_days
    token, csrf = state.keys.issue(user_id, email, workspace_id, days)
    secure = cookies_secure(request, state)
    response.set_cookie(
        auth.COOKIE,
        token,
        max_age=days * 86400,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
    # Readable by the dashboard's script, which echoes it in X-CSRF-Token: a page of
    # another site can neither read it nor set the header.
    response.set_cookie(
        auth.CSRF_COOKIE,
        csrf,
        max_age=days * 86400,
        httponly=False,
        samesite="lax",
        secure=secure,
        path="/",
    )
    return response


@router.get(
    "/dev",
    operation_id="dev_sign_in",
    status_code=303,
    response_class=RedirectResponse,
    responses={303: {"description": "Signed in: a session cookie and a redirect to /"}},
)
async def dev_sign_in(
    request: Request,
    state: StateDep,
    email: Annotated[str, Query(max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")] = DEV_EMAIL,
) -> Response:
    """Sign in without Google. Only in the embedded mode of `relay up`; 404 otherwise."""
    if not state.settings.common.relay_embedded:
        raise ApiError(404, "Not found.")
    await limit_sign_in(request, state)
    user_id = await principals.user_id_by_email(state.pool, str(email))
    if user_id is None:
        raise ApiError(404, f"No user {email} in this installation.")
    return start_session(
        RedirectResponse("/", status_code=303), request, state, user_id, str(email), None
    )


@router.post(
    "/sign-out",
    operation_id="sign_out",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Signed out"}},
)
async def sign_out() -> Response:
    response = Response(status_code=204)
    response.delete_cookie(auth.COOKIE, path="/")
    response.delete_cookie(auth.CSRF_COOKIE, path="/")
    return response


class SignInOptions(BaseModel):
    google: bool
    dev: bool


@router.get("/options", operation_id="sign_in_options", response_model=SignInOptions)
async def sign_in_options(state: StateDep) -> SignInOptions:
    """Which ways to sign in this installation offers (for the sign-in page)."""
    return SignInOptions(
        google=bool(state.settings.google_client_id),
        dev=state.settings.common.relay_embedded,
    )


class Me(BaseModel):
    user_id: UUID | None
    email: str | None
    workspace_id: UUID
    workspace_name: str
    role: str
    scopes: list[str]
    is_platform_admin: bool


@router.get("/me", operation_id="get_me", response_model=Me)
async def me(principal: PrincipalDep) -> Me:
    return Me(
        user_id=principal.user_id,
        email=principal.email,
        workspace_id=principal.workspace_id,
        workspace_name=principal.workspace_name,
        role=principal.role,
        scopes=sorted(principal.scopes),
        is_platform_admin=principal.is_platform_admin,
    )


@router.post(
    "/workspace/{workspace_id}",
    operation_id="switch_workspace",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Now working in that workspace (new session cookie)"}},
)
async def switch_workspace(
    workspace_id: UUID, request: Request, principal: MemberDep, state: StateDep
) -> Response:
    """Work in another workspace the caller is an active member of."""
    assert principal.user_id is not None
    assert principal.email is not None
    target = await principals.for_user(
        state.pool, principal.user_id, workspace_id, state.admin_emails
    )
    if target is None or target.workspace_id != workspace_id:
        raise ApiError(404, "No such workspace.")
    return start_session(
        Response(status_code=204),
        request,
        state,
        principal.user_id,
        principal.email,
        workspace_id,
    )
