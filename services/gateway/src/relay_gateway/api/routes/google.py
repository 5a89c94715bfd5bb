"""Signing in with Google (OpenID Connect, authorization code flow with PKCE).

The flow's secrets (state, nonce, PKCE verifier) travel in a short-lived signed cookie,
not in server memory, so whichever gateway replica gets the callback can finish it.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from relay_common.logging import get_logger
from relay_gateway.api.deps import GatewayState, StateDep
from relay_gateway.api.routes.auth import cookies_secure, limit_sign_in, start_session
from relay_gateway.errors import ApiError, ErrorBody
from relay_gateway.oidc import Flow, OidcClient, ProviderUnavailableError, SignInError
from relay_gateway.repo import accounts

log = get_logger(__name__)

router = APIRouter(prefix="/auth/google", tags=["auth"])

FLOW_COOKIE = "relay_google_flow"
FLOW_MAX_AGE_S = 600
# A path on this site: "/" then anything but a second "/" at the start, backslashes,
# whitespace or control characters (browsers read "/\\x" and "/\t/x" as another host).
NEXT_PATTERN = r"^/(?:[^/\\\s\x00-\x1f\x7f][^\\\s\x00-\x1f\x7f]*)?$"
PROVIDER_ERROR = re.compile(r"[a-z_]{1,64}")

_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorBody, "description": "the identity provider is unreachable"},
}
_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"model": ErrorBody, "description": "rate limited"},
    **_UNAVAILABLE,
}


def get_provider(request: Request, state: StateDep) -> OidcClient:
    """The configured provider (404 not_configured without GOOGLE_CLIENT_ID)."""
    settings = state.settings
    if not settings.google_client_id:
        raise ApiError(404, "Sign-in with Google is not configured here.", code="not_configured")
    provider: OidcClient | None = getattr(request.app.state, "oidc_provider", None)
    if provider is None:
        # One per app, so the discovery document and keys are fetched once.
        provider = OidcClient(
            settings.google_client_id,
            settings.google_client_secret.get_secret_value(),
            settings.google_discovery_url,
        )
        request.app.state.oidc_provider = provider
    return provider


ProviderDep = Annotated[OidcClient, Depends(get_provider)]


def _flows(state: GatewayState) -> URLSafeTimedSerializer:
    settings = state.settings
    # Earlier keys still verify (the last one signs), so a key rotation mid-flow is harmless.
    keys = [k.get_secret_value() for k in settings.jwt_previous_secrets]
    return URLSafeTimedSerializer(
        [*keys, settings.jwt_secret.get_secret_value()], salt="relay-google-sign-in"
    )


def _read_flow(request: Request, state: GatewayState) -> Flow | None:
    value = request.cookies.get(FLOW_COOKIE)
    if not value:
        return None
    try:
        return Flow(**_flows(state).loads(value, max_age=FLOW_MAX_AGE_S))
    except (BadSignature, TypeError):
        return None


def _callback_path(request: Request) -> str:
    return str(request.app.url_path_for("google_sign_in_callback"))


def _redirect_uri(request: Request, state: GatewayState) -> str:
    base = state.settings.public_url or str(request.base_url)
    return base.rstrip("/") + _callback_path(request)


def _forget_flow(request: Request, response: Response) -> Response:
    response.delete_cookie(FLOW_COOKIE, path=_callback_path(request))
    return response


@router.get(
    "/login",
    operation_id="google_sign_in",
    status_code=303,
    response_class=RedirectResponse,
    responses={303: {"description": "On to Google's sign-in page"}, **_LIMITED},
)
async def google_sign_in(
    request: Request,
    state: StateDep,
    provider: ProviderDep,
    next_path: Annotated[
        str,
        Query(
            alias="next",
            max_length=500,
            pattern=NEXT_PATTERN,
            description="Where to go once signed in: a path on this site.",
        ),
    ] = "/",
) -> Response:
    """Start signing in with Google. Anyone may call it; rate-limited per IP address."""
    await limit_sign_in(request, state)
    try:
        url, flow = await provider.begin(_redirect_uri(request, state), next_path)
    except ProviderUnavailableError as error:
        log.warning("google_unavailable", error=str(error))
        raise ApiError(503, "Google cannot be reached; try again shortly.") from error
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        FLOW_COOKIE,
        _flows(state).dumps(asdict(flow)),
        max_age=FLOW_MAX_AGE_S,
        httponly=True,
        # Lax: the cookie must come back on Google's top-level redirect to the callback.
        samesite="lax",
        secure=cookies_secure(request, state),
        path=_callback_path(request),
    )
    return response


@router.get(
    "/callback",
    name="google_sign_in_callback",
    operation_id="google_sign_in_callback",
    status_code=303,
    response_class=RedirectResponse,
    responses={
        303: {
            "description": "Signed in (session cookies) and on to `next`; or back to "
            "/?sign_in_error=... when the person did not sign in at Google"
        },
        **_UNAVAILABLE,
    },
)
async def google_sign_in_callback(
    request: Request,
    state: StateDep,
    provider: ProviderDep,
    code: Annotated[str | None, Query(max_length=2048)] = None,
    returned_state: Annotated[str | None, Query(alias="state", max_length=512)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
) -> Response:
    """Where Google sends the browser back. Checks the state, exchanges the code, checks
    the ID token, then signs the person in (a newcomer gets a workspace of their own).

    A browser (``Accept: text/html``) that cannot be signed in goes back to the sign-in
    page with ``?sign_in_error=<code>``, which explains it; other clients get the error."""
    try:
        return await _finish_sign_in(request, state, provider, code, returned_state, error)
    except ApiError as failure:
        if "text/html" not in request.headers.get("accept", ""):
            raise
        back = RedirectResponse(f"/?sign_in_error={failure.code}", status_code=303)
        return _forget_flow(request, back)


async def _finish_sign_in(
    request: Request,
    state: GatewayState,
    provider: OidcClient,
    code: str | None,
    returned_state: str | None,
    error: str | None,
) -> Response:
    flow = _read_flow(request, state)
    if error is not None:
        # The person cancelled or Google refused: back to the sign-in page, which says so.
        reason = error if PROVIDER_ERROR.fullmatch(error) else "failed"
        return _forget_flow(request, RedirectResponse(f"/?sign_in_error={reason}", 303))
    if (
        flow is None
        or returned_state is None
        or not hmac.compare_digest(flow.state.encode(), returned_state.encode())
    ):
        raise ApiError(
            400,
            "This sign-in expired or was not started in this browser; start again.",
            code="bad_state",
        )
    if not code:
        raise ApiError(400, "Google sent no authorization code.")
    try:
        identity = await provider.finish(_redirect_uri(request, state), code, flow)
    except SignInError as failure:
        log.warning("google_sign_in_refused", reason=str(failure))
        raise ApiError(401, str(failure), code="sign_in_failed") from failure
    except ProviderUnavailableError as failure:
        log.warning("google_unavailable", error=str(failure))
        raise ApiError(503, "Google cannot be reached; try again shortly.") from failure
    if not identity.email_verified:
        raise ApiError(
            403, "Google has not verified this email address.", code="email_not_verified"
        )
    try:
        signed_in = await accounts.sign_in_with_google(state.pool, identity)
    except accounts.DeactivatedError as refused:
        raise ApiError(
            403, "This account has been deactivated; ask your workspace owner.", code="deactivated"
        ) from refused
    except accounts.LinkedElsewhereError as refused:
        raise ApiError(
            403,
            "This email address is linked to another Google account.",
            code="linked_elsewhere",
        ) from refused
    log.info(
        "google_signed_in",
        user_id=str(signed_in.user_id),
        new_workspace=str(signed_in.workspace_id) if signed_in.workspace_id else None,
    )
    response = start_session(
        RedirectResponse(flow.next_path, status_code=303),
        request,
        state,
        signed_in.user_id,
        signed_in.email,
        signed_in.workspace_id,
    )
    return _forget_flow(request, response)
