"""Signing in with Google, or any OpenID Connect provider: the authorization code flow
with PKCE (S256), and the checks on the ID token it returns (signature from the
provider's keys, issuer, audience, expiry, nonce)."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any

import authlib.deprecate  # type: ignore[import-untyped]
import httpx
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

with warnings.catch_warnings():
    # authlib warns that it would rather use the httpx2 fork; plain httpx is what we have.
    warnings.simplefilter("ignore", authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
        AsyncOAuth2Client,
        OAuthError,
    )

SCOPE = "openid email profile"
METADATA_TTL_S = 3600.0
CLOCK_LEEWAY_S = 60
# Never "none", and never HMAC: with HS256 the key would be our own client secret.
ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"})


class SignInError(Exception):
    """The provider's answer cannot be used: the sign-in is refused."""


class ProviderUnavailableError(Exception):
    """The provider could not be reached or answered nonsense."""


@dataclass(frozen=True)
class Flow:
    """What the browser carries from the login redirect back to the callback."""

    state: str
    nonce: str
    code_verifier: str
    next_path: str


@dataclass(frozen=True)
class Identity:
    subject: str
    email: str
    email_verified: bool
    name: str | None
    picture_url: str | None


class OidcClient:
    """One configured provider; its discovery document and keys are cached."""

    def __init__(
        self, client_id: str, client_secret: str, discovery_url: str, timeout_s: float = 10.0
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self._discovery_url = discovery_url
        self._timeout_s = timeout_s
        self._metadata: dict[str, Any] | None = None
        self._jwks: dict[str, Any] | None = None
        self._fetched_at = 0.0

    def _oauth(self, redirect_uri: str) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self._client_secret,
            scope=SCOPE,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=self._timeout_s,
        )

    async def _get_json(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=self._timeout_s) as http:
                response = await http.get(url)
                response.raise_for_status()
                body = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise ProviderUnavailableError(f"{url}: {error!r}") from error
        if not isinstance(body, dict):
            raise ProviderUnavailableError(f"{url}: not a JSON object")
        return body

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None or time.monotonic() - self._fetched_at > METADATA_TTL_S:
            metadata = await self._get_json(self._discovery_url)
            needed = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
            if not all(isinstance(metadata.get(k), str) for k in needed):
                raise ProviderUnavailableError(
                    f"{self._discovery_url}: incomplete discovery document"
                )
            self._metadata, self._jwks, self._fetched_at = metadata, None, time.monotonic()
        return self._metadata

    async def _keys(self, refresh: bool = False) -> KeySet:
        if self._jwks is None or refresh:
            self._jwks = await self._get_json((await self.metadata())["jwks_uri"])
        try:
            return KeySet.import_key_set(self._jwks)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as error:
            raise ProviderUnavailableError(f"unusable key set: {error!r}") from error

    async def begin(self, redirect_uri: str, next_path: str) -> tuple[str, Flow]:
        """The provider's authorization URL, and the flow to keep until the callback."""
        metadata = await self.metadata()
        flow = Flow(
            state=generate_token(32),
            nonce=generate_token(32),
            code_verifier=generate_token(64),
            next_path=next_path,
        )
        async with self._oauth(redirect_uri) as oauth:
            url, _ = oauth.create_authorization_url(
                metadata["authorization_endpoint"],
                state=flow.state,
                code_verifier=flow.code_verifier,
                nonce=flow.nonce,
            )
        return str(url), flow

    async def finish(self, redirect_uri: str, code: str, flow: Flow) -> Identity:
        """Exchange the code (with the PKCE verifier) and check the ID token."""
        metadata = await self.metadata()
        async with self._oauth(redirect_uri) as oauth:
            try:
                token = await oauth.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=flow.code_verifier,
                )
            except OAuthError as error:
                raise SignInError(f"The provider refused the sign-in ({error.error}).") from error
            except (httpx.HTTPError, ValueError) as error:
                raise ProviderUnavailableError(f"token endpoint: {error!r}") from error
            id_token = token.get("id_token")
            if not isinstance(id_token, str):
                raise SignInError("The provider returned no ID token.")
            claims = await self._verified_claims(id_token, flow.nonce, token.get("access_token"))
            if "email" not in claims and metadata.get("userinfo_endpoint"):
                claims = await self._with_userinfo(oauth, metadata["userinfo_endpoint"], claims)
        return _identity(claims)

    async def _verified_claims(
        self, id_token: str, nonce: str, access_token: object
    ) -> dict[str, Any]:
        metadata = await self.metadata()
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        registry = JWSRegistry(
            algorithms=[a for a in offered if a in ALGORITHMS], strict_check_header=False
        )
        try:
            try:
                decoded = jwt.decode(id_token, await self._keys(), registry=registry)
            except InvalidKeyIdError:
                # The provider may have rotated its keys since we fetched them.
                decoded = jwt.decode(id_token, await self._keys(refresh=True), registry=registry)
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {
                    "iss": {"essential": True, "value": metadata["issuer"]},
                    "aud": {"essential": True, "value": self.client_id},
                    "sub": {"essential": True},
                    "exp": {"essential": True},
                    "iat": {"essential": True},
                    "nonce": {"essential": True},
                },
                {
                    "nonce": nonce,
                    "client_id": self.client_id,
                    "access_token": access_token if isinstance(access_token, str) else None,
                },
            )
            claims.validate(leeway=CLOCK_LEEWAY_S)
        except (JoseError, ValueError, TypeError) as error:
            raise SignInError(f"The ID token is not valid ({error}).") from error
        return dict(claims)

    async def _with_userinfo(
        self, oauth: AsyncOAuth2Client, url: str, claims: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            response = await oauth.get(url)
            response.raise_for_status()
            info = response.json()
        except (httpx.HTTPError, ValueError, OAuthError) as error:
            raise ProviderUnavailableError(f"userinfo: {error!r}") from error
        # Only claims about the same person may complete the ID token.
        if not isinstance(info, dict) or info.get("sub") != claims["sub"]:
            raise SignInError("The provider's user info is about someone else.")
        return {**info, **claims}


def _text(value: object, max_length: int) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = value.replace("\x00", "").strip()
    return cleaned[:max_length] or None


def _identity(claims: dict[str, Any]) -> Identity:
    email = _text(claims.get("email"), 254)
    subject = _text(claims.get("sub"), 255)
    if email is None or "@" not in email or subject is None:
        raise SignInError("The provider did not say who signed in (sub and email).")
    verified = claims.get("email_verified")
    picture = _text(claims.get("picture"), 2000)
    return Identity(
        subject=subject,
        email=email.lower(),
        # Some providers send the string "true".
        email_verified=verified is True or verified == "true",
        name=_text(claims.get("name"), 100),
        picture_url=picture if picture and picture.startswith("https://") else None,
    )
