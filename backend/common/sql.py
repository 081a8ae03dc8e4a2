"""Quoted names for the few hand-written SQL statements, taken from the models, so that a
renamed table or column changes the statement with it. Values never go in: they are
parameters."""

from __future__ import annotations

from django.db import connection
from django.db.models import Model


def table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def column(model: type[Model], field: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(field).column)
