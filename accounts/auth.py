"""Who is calling the JSON API: a Django session, or a Supabase access token.

Supabase signs its access tokens with the project's JWT secret (HS256); the
``sub`` claim is the ``auth.users`` id, which is our ``users.id``. A token is
accepted only with that algorithm, a valid signature, an ``exp`` in the
future and the configured audience; anything else is a 401 with a JSON body
saying why, never a fallback to anonymous.
"""

from __future__ import annotations

import uuid
from typing import Any

import jwt
from django.conf import settings
from django.http import HttpRequest
from ninja.security import HttpBearer, SessionAuth

from accounts.models import User
from core.errors import ServiceError


class AuthenticatedRequest(HttpRequest):
    """A request the API's auth has accepted: ``auth`` is the caller (for type checking only)."""

    auth: User


class SignedInRequest(HttpRequest):
    """A page request past ``login_required``: ``user`` is the signed-in person (for type checking only)."""

    user: User


class InvalidToken(ServiceError):
    code = "invalid_token"
    http_status = 401


def user_from_access_token(token: str) -> User:
    """The active user a Supabase-style access token names, or InvalidToken."""
    secret = settings.SUPABASE_JWT_SECRET
    if not secret:
        raise InvalidToken("Bearer tokens are not accepted: SUPABASE_JWT_SECRET is not configured.")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],  # never "none", never an algorithm the token picks
            audience=settings.JWT_AUDIENCE,
            options={"require": ["exp", "sub", "aud"]},
            leeway=settings.JWT_LEEWAY_SECONDS,
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("The access token has expired.") from None
    except jwt.InvalidAudienceError:
        raise InvalidToken("The access token is for another audience.") from None
    except jwt.InvalidAlgorithmError:
        raise InvalidToken("The access token must be signed with HS256.") from None
    except jwt.InvalidSignatureError:
        raise InvalidToken("The access token's signature is not valid.") from None
    except jwt.PyJWTError as exc:
        raise InvalidToken(f"The access token is not valid: {exc}.") from None
    try:
        user_id = uuid.UUID(str(claims["sub"]))
    except ValueError:
        raise InvalidToken("The access token's subject is not a user id.") from None
    user = User.objects.filter(id=user_id, is_active=True).first()
    if user is None:
        raise InvalidToken("The access token names no active user.")
    return user


NOT_AUTHENTICATED = "Sign in, or send an Authorization: Bearer token."


def api_caller(request: HttpRequest) -> User | None:
    """The user the JSON API will take this request for, found without reading its body.

    The API's own rules in its order (``versatools.api``: bearer, then
    session): an ``Authorization: Bearer`` token decides alone (an invalid
    one raises InvalidToken, never falls back to the session), else the
    session's active user, else None. Headers and the session cookie only,
    so ``versatools.middleware`` can refuse an upload before it is spooled.
    """
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":  # as ninja's HttpBearer splits the header
        return bearer_user(request, token)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_active:
        return user
    return None


def bearer_user(request: HttpRequest, token: str) -> User:
    """user_from_access_token, once per request: the upload middleware and the API's auth both ask."""
    cached = getattr(request, "_bearer_user", None)
    if cached is not None and cached[0] == token:
        return cached[1]
    user = user_from_access_token(token)
    request._bearer_user = (token, user)  # type: ignore[attr-defined]
    return user


class SupabaseBearerAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User:
        user = bearer_user(request, token)
        request.user = user
        return user


class SessionUserAuth(SessionAuth):
    """Django's session, for the same-site UI; CSRF is enforced on unsafe methods."""

    def authenticate(self, request: HttpRequest, key: str | None) -> User | None:
        user = request.user
        return user if user.is_authenticated and user.is_active else None
