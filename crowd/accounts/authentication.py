"""API token authentication: DRF's token check, its lookup written once as SQL.

DRF's ``TokenAuthentication`` finds the token with ``select_related("user").get(key=...)``,
which the ORM compiles anew on every request: ~0.8 ms of CPU, more than the claim itself spends
in Python. A plain cursor and ``Model.from_db`` (how the ORM itself builds instances from rows)
cost a fraction of that; a raw queryset still spent half of it resolving its columns on every
call. The rules are DRF's, unchanged: the key must match a token exactly, the token's user
must be active; the answer is ``(user, token)`` with DRF's token model.
"""

from functools import cache

from django.db import connections, router
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from .models import User


@cache
def _lookup(alias: str) -> tuple[str, tuple, tuple]:
    """The statement, the user's field names in its column order, and each column's converters
    on this database (the ORM's, as a queryset applies them: SQLite's datetimes and booleans
    come back as text and integers)."""
    # Named columns, not u.*: the statement is prepared per connection, and a prepared u.*
    # fails once a migration adds a column to the user table.
    fields = User._meta.concrete_fields
    columns = ", ".join(f'u."{f.column}"' for f in fields)
    sql = (
        f'SELECT {columns} FROM "{Token._meta.db_table}" t'
        f' JOIN "{User._meta.db_table}" u ON u."id" = t."user_id" WHERE t."key" = %s'
    )
    connection = connections[alias]
    converters = []
    for field in fields:
        col = field.get_col(User._meta.db_table)
        found = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        converters.append((col, tuple(found)))
    return sql, tuple(f.attname for f in fields), tuple(converters)


def token_user(key: str) -> tuple[User, Token] | None:
    """The user holding exactly this key, active or not, and the token; None if nobody does.
    The token's creation time is left to load if someone reads it (nobody on the hot path)."""
    alias = router.db_for_read(Token)
    sql, names, converters = _lookup(alias)
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(sql, [key])
        row = cursor.fetchone()
    if row is None:
        return None
    values = []
    for value, (col, found) in zip(row, converters, strict=True):
        for convert in found:
            value = convert(value, col, connection)
        values.append(value)
    user = User.from_db(alias, names, values)
    token = Token.from_db(alias, ("key", "user_id"), (key, user.pk))
    token.user = user
    return user, token


class TokenAuthentication(authentication.TokenAuthentication):
    """``Authorization: Token <key>``, as DRF's, with the lookup above."""

    def authenticate_credentials(self, key):
        found = token_user(key)
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        user, token = found
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return user, token
