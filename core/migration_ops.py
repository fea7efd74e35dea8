"""Migration operations that apply SQL kept in the top-level ``sql/`` folder.

SQL that the ORM cannot say (foreign keys with ON DELETE CASCADE, RLS
policies, triggers) lives in ``sql/<concern>/<name>.sql`` with its reverse in
``<name>.reverse.sql``, one concern per file. These operations read the files
when migrations load, and apply them on PostgreSQL only: on SQLite, the
zero-setup development database, they are no-ops.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

from core.sqlfiles import read_sql


class RunSQLFile(migrations.RunSQL):
    """``RunSQL`` of ``sql/<name>.sql``, reversed by ``sql/<name>.reverse.sql``.

    ``vendor="sqlite"`` applies the file on SQLite only instead (by convention
    ``sql/<dir>/sqlite/<name>.sql``); it is passed as a single statement, since
    a trigger body holds semicolons that a statement splitter would cut.
    """

    def __init__(self, name: str, *, reversible: bool = True, vendor: str = "postgresql") -> None:
        self.sql_name = name
        self.vendor = vendor
        reverse = read_sql(f"{name}.reverse") if reversible else None
        if vendor == "sqlite":
            super().__init__(sql=[read_sql(name)], reverse_sql=[reverse] if reverse is not None else None)
        else:
            super().__init__(sql=read_sql(name), reverse_sql=reverse)

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        kwargs: dict[str, Any] = {} if self.vendor == "postgresql" else {"vendor": self.vendor}
        return (self.__class__.__qualname__, [self.sql_name], kwargs)

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == self.vendor:
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == self.vendor:
            super().database_backwards(app_label, schema_editor, from_state, to_state)

    def describe(self) -> str:
        where = "PostgreSQL" if self.vendor == "postgresql" else "SQLite"
        return f"Apply sql/{self.sql_name}.sql ({where} only)"


class ReapplySQLFile(RunSQLFile):
    """Apply ``sql/<name>.sql`` again after an operation that undid it, in both directions.

    Django's AlterField on a foreign key drops and recreates the constraint,
    losing the ON DELETE CASCADE that ``sql/cascade/`` installed. Wrap such an
    operation: ``*ReapplySQLFile.around(AlterField(...), "cascade/history")``
    puts the file after it going forwards and after its reversal going back.

    Likewise on SQLite (``vendor="sqlite"``), where Django adds a NOT NULL
    column by rebuilding the table, which drops the table's triggers.
    """

    def __init__(self, name: str, *, forwards: bool, vendor: str = "postgresql") -> None:
        self.sql_name = name
        self.vendor = vendor
        self.forwards = forwards
        sql: Any = read_sql(name) if vendor == "postgresql" else [read_sql(name)]
        migrations.RunSQL.__init__(
            self,
            sql=sql if forwards else migrations.RunSQL.noop,
            reverse_sql=migrations.RunSQL.noop if forwards else sql,
        )

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        kwargs: dict[str, Any] = {"forwards": self.forwards}
        if self.vendor != "postgresql":
            kwargs["vendor"] = self.vendor
        return (self.__class__.__qualname__, [self.sql_name], kwargs)

    @classmethod
    def around(
        cls, operation: migrations.operations.base.Operation, name: str, *, vendor: str = "postgresql"
    ) -> list[Any]:
        return [cls(name, forwards=False, vendor=vendor), operation, cls(name, forwards=True, vendor=vendor)]
