"""Sign-in. Google sign-in arrives with the gateway issue; the dev sign-in exists only in
the embedded stack of `relay up`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from relay_gateway import auth, repo
from relay_gateway.api.deps import PrincipalDep, StateDep
from relay_gateway.errors import ApiError

router = APIRouter(prefix="/auth", tags=["auth"])

DEV_EMAIL = "dev@relay.local"


def _set_cookie(response: Response, request: Request, token: str, days: int) -> None:
    response.set_cookie(
        auth.COOKIE,
        token,
        max_age=days * 86400,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


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
    user_id = await repo.user_id_by_email(state.pool, str(email))
    if user_id is None:
        raise ApiError(404, f"No user {email} in this installation.")
    token = auth.issue_token(
        state.settings.jwt_secret.get_secret_value(),
        user_id,
        str(email),
        state.settings.session_days,
    )
    response = RedirectResponse("/", status_code=303)
    _set_cookie(response, request, token, state.settings.session_days)
    return response


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
    return response


class Me(BaseModel):
    user_id: str
    email: str
    workspace_id: str
    workspace_name: str
    role: str


@router.get("/me", operation_id="get_me", response_model=Me)
async def me(principal: PrincipalDep) -> Me:
    return Me(
        user_id=str(principal.user_id),
        email=principal.email,
        workspace_id=str(principal.workspace_id),
        workspace_name=principal.workspace_name,
        role=principal.role,
    )
