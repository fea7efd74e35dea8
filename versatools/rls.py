"""Let PostgreSQL enforce ownership for our own read paths (defense in depth).

Django connects as the owner of the tables, and owners are not subject to row
level security: every query Django runs sees every row, and correctness rests
on each queryset's ``filter(user=...)``. Inside :func:`rls_as_user` the
database takes over that job, exactly as it does for Supabase's Data API: the
transaction runs as the ``authenticated`` role with the user's id in
``request.jwt.claims``, so the policies in ``sql/rls/`` apply and a query that
forgot its filter still returns only the caller's rows.

Everything is transaction-local (``set_config(..., true)``, the equivalent of
``SET LOCAL``): safe behind pgbouncer in transaction mode, and a reused
connection leaves the block with its own role and no claims.

For read paths only (selectors, GET views). Writes go through the services,
which run as Django's own role; ``authenticated`` may not write most tables.
On SQLite there are no roles: the helpers run the code unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any
from uuid import UUID

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.http import HttpRequest, HttpResponse

AUTHENTICATED_ROLE = "authenticated"
ANON_ROLE = "anon"

_SET = "SELECT set_config('role', %s, true), set_config('request.jwt.claims', %s, true)"


@contextmanager
def rls_as_user(user_id: UUID | str | None, *, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Run the block in a transaction as ``authenticated`` (or ``anon`` for ``None``).

    Opens a transaction (a savepoint when one is already open). On the way out
    the role and claims are restored to what they were, so that code after the
    block in an enclosing transaction runs as Django's own role again; a block
    that raises is rolled back, which undoes them too.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    if user_id is None:
        role, claims = ANON_ROLE, {"role": ANON_ROLE}
    else:
        role, claims = AUTHENTICATED_ROLE, {"sub": str(user_id), "role": AUTHENTICATED_ROLE, "aud": "authenticated"}
    # Outermost (a request's usual case): the commit or rollback at the end of
    # the block resets role and claims by itself, so one statement suffices.
    nested = connection.in_atomic_block
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            if nested:
                cursor.execute("SELECT current_setting('role'), current_setting('request.jwt.claims', true)")
                previous_role, previous_claims = cursor.fetchone()
            cursor.execute(_SET, [role, json.dumps(claims)])
        yield
        # Only needed when an outer transaction continues after the block;
        # a transaction already marked for rollback will undo them anyway.
        if nested and not connection.needs_rollback:
            with connection.cursor() as cursor:
                cursor.execute(_SET, [previous_role, previous_claims or ""])


def rls_protected(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Decorate a read-only view so that its queries run under :func:`rls_as_user`.

    ``request.user`` (and with it the session) is loaded before the role
    switch: ``authenticated`` may not read sessions or password hashes. A
    lazily rendered response is rendered inside the block; streaming
    responses would escape it, so do not use this on them.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        user_id = user.pk if user.is_authenticated else None
        with rls_as_user(user_id):
            response = view(request, *args, **kwargs)
            render = getattr(response, "render", None)
            if callable(render):
                response = render()
        return response

    return wrapped


class RLSReadMiddleware:
    """Runs safe-method requests under ``path_prefix`` (``/api/``) through :func:`rls_protected`.

    Place it after ``AuthenticationMiddleware``. Unsafe methods pass through
    untouched: they call services, which write as Django's own role.
    """

    path_prefix = "/api/"
    methods = frozenset({"GET", "HEAD", "OPTIONS"})

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.protected_response = rls_protected(get_response)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in self.methods and request.path.startswith(self.path_prefix):
            return self.protected_response(request)
        return self.get_response(request)
