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

For read paths only: every GET of the JSON API runs inside it through
:func:`rls_api_reads`. Writes go through the services, which run as Django's
own role; ``authenticated`` may not write most tables. On SQLite there are no
roles: the helpers run the code unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any
from uuid import UUID

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Status

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


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def rls_api_reads(view: Callable[..., Any]) -> Callable[..., Any]:
    """Run a JSON API read view under :func:`rls_as_user` as the caller ninja authenticated.

    Registered once for the whole API (``versatools.api``, ninja's
    ``add_decorator(..., mode="operation")``), so a new read endpoint is
    covered without anyone remembering to wrap it. Ninja calls the wrapped
    function after authentication and input validation: the session and
    ``users`` lookups of ``accounts.auth`` have run as Django's own role
    (``authenticated`` may read neither ``django_session`` nor
    ``users.password``), and the block holds the selectors only.

    - The caller is ``request.auth``; an endpoint with ``auth=None`` (the
      plan catalog) runs as ``anon`` even for a signed-in visitor: a public
      endpoint reads what the public may read.
    - Unsafe methods pass through: writes call services, which write tables
      ``authenticated`` may not, as Django's own role.
    - Ninja serializes the result after the view returns, outside the
      block, so querysets in it are evaluated here; views return evaluated
      data otherwise (a foreign key left for the serializer to fetch would
      be read as the owner). A response returned as is (a file download)
      keeps working after the transaction ends: a file handle is not tied
      to it.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if request.method not in SAFE_METHODS:
            return view(request, *args, **kwargs)
        # ninja sets request.auth only when the operation authenticated.
        caller = getattr(request, "auth", None)
        with rls_as_user(getattr(caller, "pk", None)):
            return _evaluated(view(request, *args, **kwargs))

    return wrapped


def _evaluated(result: Any) -> Any:
    """``result`` with every queryset in it (under a Status, a dict, a list) turned into a list."""
    if isinstance(result, QuerySet):
        return list(result)
    if isinstance(result, Status):
        return Status(result.status_code, _evaluated(result.value))
    if isinstance(result, dict):
        return {key: _evaluated(value) for key, value in result.items()}
    if isinstance(result, list | tuple):
        return type(result)(_evaluated(item) for item in result)
    return result


def rls_page_reads(view: Callable[..., Any]) -> Callable[..., Any]:
    """Run a signed-in person's page GET under :func:`rls_as_user` as them (the pages' twin of rls_api_reads).

    Applied to the pages people use in ``versatools.urls``. The session and
    the user are loaded first, as Django's own role (``authenticated`` may read
    neither ``django_session`` nor ``users.password``); then the view, its
    selectors and its template run as the person, so a page that forgot a
    filter still shows only their rows. A visitor's page (the hub, the plans)
    reads only the public catalog and runs as Django's role; unsafe methods
    pass through to the services, like the API's.
    """

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        user = request.user
        if request.method not in SAFE_METHODS or not user.is_authenticated:
            return view(request, *args, **kwargs)
        with rls_as_user(user.pk):
            return view(request, *args, **kwargs)

    return wrapped
