"""The SQL form of the comparators (the fast claim's) agrees with the Python form (the general
path's) on every comparator, held or not, below, at and above the value, in and out of the list."""

import itertools
import json

import pytest
from django.db import connection

from crowd.qualifications.models import Comparator
from crowd.qualifications.selectors import comparator_holds, comparator_holds_sql

pytestmark = [pytest.mark.django_db, pytest.mark.requires_postgres]

EXPRESSION = comparator_holds_sql(
    comparator="%(comparator)s::text",
    held="%(held)s::boolean",
    actual="%(actual)s::integer",
    value="%(value)s::integer",
    values="%(values)s::jsonb",
)


@pytest.mark.parametrize("comparator", Comparator.values)
def test_sql_and_python_agree(comparator):
    value, values = 2, [1, 3]
    disagree = []
    with connection.cursor() as cursor:
        for held, actual in itertools.product([True, False], [-1, 0, 1, 2, 3, 4]):
            params = {
                "comparator": comparator,
                "held": held,
                "actual": actual,
                "value": value,
                "values": json.dumps(values),
            }
            cursor.execute(f"SELECT {EXPRESSION}", params)
            in_sql = cursor.fetchone()[0]
            in_python = comparator_holds(
                comparator, actual if held else None, value=value, values=values
            )
            if in_sql is not in_python:
                disagree.append((held, actual, in_sql, in_python))
    assert disagree == []
