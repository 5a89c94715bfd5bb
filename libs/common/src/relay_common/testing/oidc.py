"""A local OpenID Connect provider for tests: a real HTTP server on 127.0.0.1.

It has no sign-in page: ``/authorize`` signs in at once whoever the test put in
``provider.user`` and redirects back with a code. ``/token`` checks the client, the
code, the redirect URI and the PKCE verifier like Google does, and returns an RS256 ID
token signed with the key published at ``/jwks``. Tests of what a client must refuse
make it misbehave: ``claim_overrides`` (a wrong nonce, audience, expiry...),
``signing`` (another key under the same kid, ``alg: none``, HS256 with the client
secret) and ``authorize_error``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlencode
from uuid import uuid4

import uvicorn
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from joserfc.jws import JWSRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

Signing = Literal["valid", "foreign_key", "none", "hs256_client_secret"]


@dataclass
class OidcUser:
    """The person the provider says signed in."""

    email: str
    name: str | None = "Test Person"
    sub: str = field(default_factory=lambda: f"local-{uuid4().hex}")
    email_verified: bool = True
    picture: str | None = "https://pictures.example.com/me.png"


@dataclass(frozen=True)
class _Grant:
    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    user: OidcUser


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _with_params(url: str, params: dict[str, str]) -> str:
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


class OidcProvider:
    def __init__(
        self,
        client_id: str = "relay-test-client.apps.local",
        client_secret: str | None = None,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret or secrets.token_urlsafe(32)
        self.user: OidcUser | None = None
        self.claim_overrides: dict[str, Any] = {}
        """Put into (a value) or taken out of (None) the next ID tokens."""
        self.signing: Signing = "valid"
        self.authorize_error: str | None = None
        """Answer /authorize with this OAuth error (e.g. access_denied) instead of a code."""
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        kid = f"local-{uuid4().hex[:8]}"
        self._key = RSAKey.generate_key(2048, {"kid": kid, "use": "sig", "alg": "RS256"})
        # Same kid, different key: only the signature can tell them apart.
        self._foreign_key = RSAKey.generate_key(2048, {"kid": kid, "use": "sig", "alg": "RS256"})
        self._codes: dict[str, _Grant] = {}
        self._access_tokens: dict[str, OidcUser] = {}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    @property
    def issuer(self) -> str:
        return self.base_url

    @property
    def discovery_url(self) -> str:
        return f"{self.base_url}/.well-known/openid-configuration"

    def gateway_env(self) -> dict[str, str]:
        """Environment for a gateway that signs in with this provider."""
        return {
            "GOOGLE_CLIENT_ID": self.client_id,
            "GOOGLE_CLIENT_SECRET": self.client_secret,
            "GATEWAY_GOOGLE_DISCOVERY_URL": self.discovery_url,
        }

    def behave(self) -> None:
        """Back to a well-behaved provider."""
        self.claim_overrides = {}
        self.signing = "valid"
        self.authorize_error = None

    # --- HTTP endpoints ---------------------------------------------------------------

    async def _configuration(self, _: Request) -> Response:
        base = self.base_url
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{base}/authorize",
                "token_endpoint": f"{base}/token",
                "jwks_uri": f"{base}/jwks",
                "userinfo_endpoint": f"{base}/userinfo",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "email", "profile"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "code_challenge_methods_supported": ["S256"],
                "claims_supported": [
                    "iss",
                    "aud",
                    "sub",
                    "email",
                    "email_verified",
                    "name",
                    "picture",
                    "nonce",
                    "iat",
                    "exp",
                ],
            }
        )

    async def _authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        self.authorize_requests.append(params)
        redirect_uri = params.get("redirect_uri", "")
        if params.get("client_id") != self.client_id or not redirect_uri.startswith("http"):
            # Never redirect to an address an unknown client names.
            return PlainTextResponse("unknown client or redirect_uri", status_code=400)

        def back(**answer: str) -> Response:
            if "state" in params:
                answer["state"] = params["state"]
            return RedirectResponse(_with_params(redirect_uri, answer), status_code=302)

        if self.authorize_error:
            return back(error=self.authorize_error)
        if params.get("response_type") != "code":
            return back(error="unsupported_response_type")
        if "openid" not in params.get("scope", "").split():
            return back(error="invalid_scope")
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return back(error="invalid_request", error_description="PKCE S256 is required")
        if self.user is None:
            return back(error="access_denied")
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Grant(
            client_id=self.client_id,
            redirect_uri=redirect_uri,
            code_challenge=params["code_challenge"],
            nonce=params.get("nonce"),
            user=self.user,
        )
        return back(code=code)

    def _client_of(self, request: Request, form: dict[str, str]) -> tuple[str, str]:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            decoded = base64.b64decode(credentials).decode()
            client_id, _, secret = decoded.partition(":")
            return unquote(client_id), unquote(secret)
        return form.get("client_id", ""), form.get("client_secret", "")

    async def _token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        self.token_requests.append(form)
        client_id, secret = self._client_of(request, form)
        if client_id != self.client_id or not hmac.compare_digest(secret, self.client_secret):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if form.get("grant_type") != "authorization_code":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        grant = self._codes.pop(form.get("code", ""), None)  # a code works once
        verifier = form.get("code_verifier", "")
        challenge = _b64url(hashlib.sha256(verifier.encode()).digest())
        if (
            grant is None
            or grant.client_id != client_id
            or grant.redirect_uri != form.get("redirect_uri")
            or not hmac.compare_digest(challenge, grant.code_challenge)
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        access_token = secrets.token_urlsafe(24)
        self._access_tokens[access_token] = grant.user
        return JSONResponse(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": "openid email profile",
                "id_token": self._id_token(grant),
            },
            headers={"Cache-Control": "no-store"},
        )

    def _id_token(self, grant: _Grant) -> str:
        now = int(time.time())
        user = grant.user
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "azp": self.client_id,
            "sub": user.sub,
            "email": user.email,
            "email_verified": user.email_verified,
            "name": user.name,
            "picture": user.picture,
            "iat": now,
            "exp": now + 3600,
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        claims.update(self.claim_overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        if self.signing == "none":
            header = _b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
            return f"{header}.{_b64url(json.dumps(claims).encode())}."
        if self.signing == "hs256_client_secret":
            # The classic confusion: an HMAC "signed" with a secret the client knows.
            return jwt.encode(
                {"alg": "HS256", "kid": self._key.kid},
                claims,
                OctKey.import_key(self.client_secret),
                registry=JWSRegistry(algorithms=["HS256"]),
            )
        key = self._foreign_key if self.signing == "foreign_key" else self._key
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)

    async def _jwks(self, _: Request) -> Response:
        return JSONResponse({"keys": [self._key.as_dict(private=False)]})

    async def _userinfo(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        user = self._access_tokens.get(token) if scheme.lower() == "bearer" else None
        if user is None:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        info = {
            "sub": user.sub,
            "email": user.email,
            "email_verified": user.email_verified,
            "name": user.name,
            "picture": user.picture,
        }
        return JSONResponse({k: v for k, v in info.items() if v is not None})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self._configuration),
                Route("/authorize", self._authorize),
                Route("/token", self._token, methods=["POST"]),
                Route("/jwks", self._jwks),
                Route("/userinfo", self._userinfo, methods=["GET", "POST"]),
            ]
        )

    # --- running ---------------------------------------------------------------------

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(self.app(), log_level="warning", access_log=False, lifespan="off")
        server = uvicorn.Server(config)
        # Its own thread and loop (where uvicorn leaves signal handlers alone), so it
        # answers even while the test's loop waits on a call that needs it.
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="oidc-provider", daemon=True
        )
        self._server = server
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the local OpenID Connect provider did not start")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            await asyncio.to_thread(self._thread.join, 10)
            self._server = self._thread = None

    async def __aenter__(self) -> OidcProvider:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
