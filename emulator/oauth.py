"""The partner OAuth 2.0 server's state: codes, logins (token families), access tokens, and what tests check.

Clarify documents (`../shared/api/clarify-crm.md`, "Base and auth", from the API guide) the authorization code
grant with PKCE and refresh tokens at `https://auth1.clarify.ai/oauth2/authorize` and `/oauth2/token` (form
bodies), scopes `openid profile email offline_access`, and `Authorization: Bearer` on API calls. Everything else
here follows the RFCs strictly, so a client that passes against it is right against any conforming server:

- authorize (RFC 6749 §4.1, RFC 8252 §7.3): the client id must be ours and the redirect a loopback IP literal
  with any port and the path `/callback`; PKCE with S256 (RFC 7636) and a `state` are required (RFC 9700
  §2.1.1: no `plain`). Consent is given at once.
- code exchange: a code works once, within 60 s, with the redirect URI it was issued for and a verifier that
  hashes to its challenge; a code used twice revokes what it issued (RFC 6749 §4.1.2). Only a grant that
  includes `offline_access` brings a refresh token (OpenID Connect Core §11).
- refresh (RFC 9700 §4.14.2): each refresh token works once and is replaced; one used again after it was
  replaced revokes the whole login (every refresh and access token of its family). `refresh_grace_seconds`
  (off by default) is the grace servers offer for a client whose answer was lost (Auth0's reuse interval,
  Okta's grace period, Cognito's RetryGracePeriodSeconds, Airlock's grace period): the token just replaced
  works again within the grace while nothing issued for it was used; that voids the unused pair and issues a
  new one. Only the immediately preceding token has a grace (older ones are reuse).
- access tokens live `access_token_seconds` on the emulator's clock (tests advance it); an expired, revoked or
  voided one is refused with 401.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from emulator.clock import Clock
from emulator.config import EmulatorConfig

SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
REDIRECT_PATH = "/callback"
CODE_SECONDS = 60.0
_LOOPBACK = frozenset({"127.0.0.1", "::1"})


class OAuthFailure(Exception):
    """An RFC 6749 error answer: HTTP status, `error` code and `error_description`."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str
    expires_at: float
    family: str | None = None  # set once redeemed


@dataclass
class _Family:
    """One login: the refresh tokens that replaced each other, and the access tokens they brought."""

    client_id: str
    scope: str
    generation: int = 0  # one per issued pair
    current: str | None = None  # the refresh token that works now
    previous: str | None = None  # the one it replaced (the only one a grace applies to)
    rotated_at: float = 0.0
    current_used: bool = False  # anything of the current generation was used (its access or refresh token)
    refresh_expires_at: float | None = None
    voided: set[int] = field(default_factory=set)  # generations replaced through a grace: their tokens are dead
    revoked: bool = False


@dataclass
class _Access:
    family: str
    generation: int
    expires_at: float


@dataclass
class _Record:
    """What tests check: how each authorization was asked for, and how refresh tokens were used."""

    authorizations: list[dict[str, Any]] = field(default_factory=list)
    exchanges: int = 0
    refreshes: int = 0
    graceful_reuses: int = 0
    reuses_detected: int = 0
    refresh_uses: Counter[str] = field(default_factory=Counter)  # by refresh token
    issued: list[str] = field(default_factory=list)  # every code and token handed out


class OAuthServer:
    """Thread-safe: the API and the token endpoint run on the server's threads, tests read from theirs."""

    def __init__(self, config: Callable[[], EmulatorConfig], clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._codes: dict[str, _Code] = {}
        self._families: dict[str, _Family] = {}
        self._refresh: dict[str, str] = {}  # refresh token -> family
        self._access: dict[str, _Access] = {}
        self._record = _Record()

    # -- authorize ----------------------------------------------------------------------------------------
    def check_client_and_redirect(self, client_id: str | None, redirect_uri: str | None) -> None:
        """Before anything may be redirected (RFC 6749 §4.1.2.1): our client, a loopback redirect."""
        if client_id != self._config().oauth_client_id:
            raise OAuthFailure(400, "invalid_client", f"unknown client_id {client_id!r}")
        if not redirect_uri or not _loopback(redirect_uri):
            raise OAuthFailure(
                400, "invalid_request", f"redirect_uri must be http://127.0.0.1:<port>{REDIRECT_PATH} (RFC 8252)"
            )

    def authorize(self, params: dict[str, str]) -> str:
        """The code for a consented authorization request (its client and redirect already checked)."""
        scope = params.get("scope", "")
        with self._lock:
            self._record.authorizations.append(
                {
                    "redirect_uri": params.get("redirect_uri"),
                    "scope": scope,
                    "state": bool(params.get("state")),
                    "code_challenge_method": params.get("code_challenge_method"),
                }
            )
        if params.get("response_type") != "code":
            raise OAuthFailure(400, "unsupported_response_type", "response_type must be code")
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            raise OAuthFailure(400, "invalid_request", "PKCE is required: code_challenge, code_challenge_method=S256")
        if not params.get("state"):
            raise OAuthFailure(400, "invalid_request", "state is required")
        _check_scope(scope)
        code = _secret("code")
        with self._lock:
            self._codes[code] = _Code(
                params["client_id"],
                params["redirect_uri"],
                params["code_challenge"],
                scope,
                self._clock.now() + CODE_SECONDS,
            )
            self._record.issued.append(code)
        return code

    # -- token ----------------------------------------------------------------------------------------------
    def check_client(self, client_id: str | None, client_secret: str | None) -> str:
        cfg = self._config()
        if client_id != cfg.oauth_client_id or (cfg.oauth_client_secret or None) != (client_secret or None):
            raise OAuthFailure(401, "invalid_client", "client authentication failed")
        return client_id

    def exchange(self, client_id: str, form: dict[str, str]) -> dict[str, Any]:
        """`grant_type=authorization_code`."""
        with self._lock:
            code = self._codes.get(form.get("code", ""))
            if code is None or code.client_id != client_id:
                raise OAuthFailure(400, "invalid_grant", "unknown authorization code")
            if code.family is not None:  # used twice: someone else may have it
                self._revoke(code.family)
                raise OAuthFailure(400, "invalid_grant", "authorization code already used")
            if self._clock.now() > code.expires_at:
                raise OAuthFailure(400, "invalid_grant", "authorization code expired")
            if form.get("redirect_uri") != code.redirect_uri:
                raise OAuthFailure(400, "invalid_grant", "redirect_uri differs from the authorization request")
            if _s256(form.get("code_verifier", "")) != code.challenge:
                raise OAuthFailure(400, "invalid_grant", "PKCE verification failed (code_verifier)")
            family = _secret("login")
            self._families[family] = _Family(client_id, code.scope)
            code.family = family
            self._record.exchanges += 1
            return self._issue(family)

    def refresh(self, client_id: str, form: dict[str, str]) -> dict[str, Any]:
        """`grant_type=refresh_token`, with rotation, reuse detection and the optional grace."""
        token = form.get("refresh_token", "")
        with self._lock:
            self._record.refresh_uses[token] += 1
            name = self._refresh.get(token)
            family = self._families.get(name) if name else None
            if family is None or family.client_id != client_id:
                raise OAuthFailure(400, "invalid_grant", "unknown refresh token")
            if family.revoked:
                raise OAuthFailure(400, "invalid_grant", "the login was revoked")
            now = self._clock.now()
            if family.refresh_expires_at is not None and now > family.refresh_expires_at:
                raise OAuthFailure(400, "invalid_grant", "the refresh token expired")
            if not set(form.get("scope", family.scope).split()) <= set(family.scope.split()):
                raise OAuthFailure(400, "invalid_scope", "a refresh cannot widen the scope")
            if token == family.current:
                family.previous, family.rotated_at = token, now
            elif not self._graceful(family, token, now):
                self._record.reuses_detected += 1
                self._revoke(name)  # type: ignore[arg-type]
                raise OAuthFailure(400, "invalid_grant", "refresh token reused: the login is revoked")
            self._record.refreshes += 1
            return self._issue(name)  # type: ignore[arg-type]

    def _graceful(self, family: _Family, token: str, now: float) -> bool:
        """The just-replaced token again, within the grace, nothing of its successor used: the answer was lost."""
        grace = self._config().refresh_grace_seconds
        if token != family.previous or grace <= 0 or now - family.rotated_at > grace or family.current_used:
            return False
        self._record.graceful_reuses += 1
        family.voided.add(family.generation)
        return True

    def _issue(self, name: str) -> dict[str, Any]:
        """A new pair for the family (its earlier unused pair is void from now on); the token answer."""
        cfg = self._config()
        family = self._families[name]
        family.generation += 1
        family.current_used = False
        access = _secret("at")
        now = self._clock.now()
        self._access[access] = _Access(name, family.generation, now + cfg.access_token_seconds)
        answer: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": cfg.access_token_seconds,
            "scope": family.scope,
        }
        self._record.issued.append(access)
        if "offline_access" in family.scope.split():
            refresh = _secret("rt")
            self._refresh[refresh] = name
            family.current = refresh
            answer["refresh_token"] = refresh
            self._record.issued.append(refresh)
            if cfg.refresh_token_seconds is not None:
                family.refresh_expires_at = now + cfg.refresh_token_seconds
                answer["refresh_token_expires_in"] = cfg.refresh_token_seconds
        return answer

    # -- the API side ---------------------------------------------------------------------------------------
    def bearer(self, token: str) -> str | None:
        """The login an access token belongs to, or None when it is not one of ours; OAuthFailure when dead."""
        with self._lock:
            entry = self._access.get(token)
            if entry is None:
                return None
            family = self._families[entry.family]
            if family.revoked:
                raise OAuthFailure(401, "invalid_token", "the login was revoked")
            if entry.generation in family.voided or self._clock.now() > entry.expires_at:
                raise OAuthFailure(401, "invalid_token", "the access token expired")
            if entry.generation == family.generation:
                family.current_used = True
            return entry.family

    def revoke_all(self) -> int:
        """The user took the app's access away: every login is revoked. How many were live."""
        with self._lock:
            live = [name for name, family in self._families.items() if not family.revoked]
            for name in live:
                self._revoke(name)
            return len(live)

    def _revoke(self, name: str) -> None:
        self._families[name].revoked = True

    # -- what tests check -----------------------------------------------------------------------------------
    def report(self) -> dict[str, Any]:
        with self._lock:
            r = self._record
            return {
                "authorizations": list(r.authorizations),
                "exchanges": r.exchanges,
                "refreshes": r.refreshes,
                "graceful_reuses": r.graceful_reuses,
                "reuses_detected": r.reuses_detected,
                "max_refresh_token_uses": max(r.refresh_uses.values(), default=0),
                "logins": len(self._families),
                "revoked": sum(f.revoked for f in self._families.values()),
            }

    def issued(self) -> list[str]:
        """Every code and token this server handed out (tests look for them where none may be)."""
        with self._lock:
            return list(self._record.issued)


def _secret(kind: str) -> str:
    return f"{kind}-{secrets.token_urlsafe(24)}"


def _s256(verifier: str) -> str:
    if not 43 <= len(verifier) <= 128:
        return ""
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _loopback(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme == "http" and parts.hostname in _LOOPBACK and parts.path == REDIRECT_PATH


def _check_scope(scope: str) -> None:
    unknown = set(scope.split()) - SCOPES
    if unknown:
        raise OAuthFailure(400, "invalid_scope", f"unknown scope(s): {' '.join(sorted(unknown))}")
