"""Readers for configuration from the environment that fail loudly.

Every reader raises ``ImproperlyConfigured`` naming the variable when a value
is present but unusable, so a typo in a deployment stops the process at start
instead of surfacing as a strange error at the first request.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import dj_database_url
import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

SUPPORTED_SCHEMES = ("postgres", "postgresql", "pgsql", "sqlite")
SUPPORTED_ENGINES = ("django.db.backends.postgresql", "django.db.backends.sqlite3")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str | None = None, *, required: bool = False) -> str | None:
    value = env.str(name, default=None)
    if value is None or value == "":
        if required:
            raise ImproperlyConfigured(f"Set the {name} environment variable.")
        return default
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = env.str(name, default=None)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}.")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = env.str(name, default=None)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}.") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, got {value}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = env.str(name, default=None)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default)
    assert value is not None
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}; got {value!r}.")
    return value


def database_from_url(name: str, url: str, *, conn_max_age: int) -> dict[str, Any]:
    """Turn a database URL into a Django ``DATABASES`` entry.

    Understands Supabase's pooled form ``...?pgbouncer=true``: the parameter is
    not a libpq option, so it is stripped, and the connection is configured for
    PgBouncer in transaction mode, where consecutive transactions of one client
    may run on different server connections:

    - no server-side cursors (a named cursor lives on one server connection
      beyond its transaction, so ``.iterator()`` fetches client-side chunks),
    - no prepared statements (psycopg prepares after 5 executions by default;
      a prepared statement exists on one server connection only),
    - nothing is ``SET`` per session: everything request-scoped uses
      ``SET LOCAL`` / ``set_config(..., true)`` inside a transaction.
    """
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from None
    if parts.scheme not in SUPPORTED_SCHEMES:
        raise ImproperlyConfigured(
            f"{name} must be a postgres:// or sqlite:/// URL, got {parts.scheme or 'no'} scheme."
        )
    query = parse_qsl(parts.query, keep_blank_values=True)
    pgbouncer = any(k == "pgbouncer" and v.lower() in _TRUE for k, v in query)
    cleaned = url
    if any(k == "pgbouncer" for k, _ in query):
        kept = [(k, v) for k, v in query if k != "pgbouncer"]
        cleaned = urlunsplit(parts._replace(query=urlencode(kept)))
    try:
        config: dict[str, Any] = dict(
            dj_database_url.parse(
                cleaned,
                conn_max_age=conn_max_age,
                conn_health_checks=conn_max_age > 0,
                disable_server_side_cursors=pgbouncer,
            )
        )
    except (ValueError, KeyError) as exc:
        raise ImproperlyConfigured(f"{name} is not a valid database URL: {exc}") from None
    if config.get("ENGINE") not in SUPPORTED_ENGINES:
        raise ImproperlyConfigured(f"{name} must be a postgres:// or sqlite:/// URL, got scheme {parts.scheme!r}.")
    if config["ENGINE"] == "django.db.backends.postgresql" and not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} must name a database, e.g. postgres://user@host:5432/dbname.")
    if pgbouncer:
        config.setdefault("OPTIONS", {})["prepare_threshold"] = None
    return config


EMAIL_SCHEMES = ("smtp", "smtps", "smtp+tls", "smtp+ssl", "consolemail", "filemail", "memorymail", "dummymail")


def email_from_url(name: str, url: str) -> dict[str, Any]:
    """Turn a mail URL (``smtp+tls://user:password@host:587``) into Django's ``EMAIL_*`` settings.

    django-environ's schemes; an SMTP URL must name its host. Percent-encode
    a user or password holding ``@`` or ``:``.
    """
    scheme = url.partition("://")[0]
    if "://" not in url or scheme not in EMAIL_SCHEMES:
        raise ImproperlyConfigured(f"{name} must be a mail URL with one of the schemes {', '.join(EMAIL_SCHEMES)}.")
    try:
        config: dict[str, Any] = dict(environ.Env.email_url_config(url))
    except (ValueError, ImproperlyConfigured) as exc:
        raise ImproperlyConfigured(f"{name} is not a valid mail URL: {exc}") from None
    if scheme.startswith("smtp") and not config.get("EMAIL_HOST"):
        raise ImproperlyConfigured(
            f"{name} must name the SMTP host, e.g. smtp+tls://user:password@smtp.example.com:587."
        )
    # Django wants strings where the URL has nothing.
    for key in ("EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "EMAIL_HOST"):
        config[key] = config.get(key) or ""
    if config.get("EMAIL_PORT") is None:
        config.pop("EMAIL_PORT", None)
    return config


def oauth_app(provider: str, id_variable: str, secret_variable: str) -> dict[str, str] | None:
    """One OAuth client from a pair of variables, or None when neither is set.

    Half a pair is a mistake worth stopping for: the provider would silently
    not be offered.
    """
    client_id = env_str(id_variable)
    secret = env_str(secret_variable)
    if client_id is None and secret is None:
        return None
    if client_id is None or secret is None:
        missing = id_variable if client_id is None else secret_variable
        raise ImproperlyConfigured(
            f"Set {missing} too: {provider} sign-in needs both {id_variable} and {secret_variable}."
        )
    return {"client_id": client_id, "secret": secret, "key": ""}
