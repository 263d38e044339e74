"""Unknown query parameters are errors: ``?state=submitted`` where the filter is ``status`` is a
400 naming ``state`` and listing the parameters the endpoint knows, never every row silently.

:class:`KnownQueryParams` is the first of ``DEFAULT_FILTER_BACKENDS``, so it runs on every
generic view and viewset, wherever DRF filters a queryset: each list, and each object lookup
(``get_object()``), which covers detail actions too (a paginated sub-list, a diff).

Known are: DRF's ``format`` override, the paginator's parameters (``page``, ``page_size``),
the other filter backends' (the filterset's fields, ``search``, ``ordering``: what the OpenAPI
schema documents), and whatever the view reads from ``request.query_params`` itself, which it
declares in ``extra_query_params``, on the class or, for one action only, in ``@action``::

    @action(detail=True, methods=["get"], extra_query_params=("against",))
"""

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.filters import BaseFilterBackend
from rest_framework.settings import api_settings

from .exceptions import InvalidInput


def _paginator_params(view) -> set[str]:
    paginator = getattr(view, "paginator", None)
    if paginator is None:
        return set()
    names = (getattr(paginator, a, None) for a in dir(paginator) if a.endswith("_query_param"))
    return {n for n in names if isinstance(n, str)}


def _filterset_params(backend: DjangoFilterBackend, view, queryset) -> set[str]:
    filterset = backend.get_filterset_class(view, queryset)
    if filterset is None:
        return set()
    names = set()
    for name, f in filterset.base_filters.items():
        # Range filters read ``<name>_<suffix>`` (``_min``, ``_after``, ...), not ``<name>``.
        suffixes = getattr(f.field.widget, "suffixes", None)
        names |= {"_".join(filter(None, (name, s))) for s in suffixes} if suffixes else {name}
    return names


def known_query_params(view, queryset) -> set[str]:
    """Every query parameter ``view`` acts on, for ``queryset`` (see the module docstring)."""
    known = set(getattr(view, "extra_query_params", ()))
    if api_settings.URL_FORMAT_OVERRIDE:
        known.add(api_settings.URL_FORMAT_OVERRIDE)
    known |= _paginator_params(view)
    for backend_class in getattr(view, "filter_backends", ()):
        backend = backend_class()
        if isinstance(backend, KnownQueryParams):
            continue
        if isinstance(backend, DjangoFilterBackend):
            known |= _filterset_params(backend, view, queryset)
        else:
            parameters = backend.get_schema_operation_parameters(view)
            known |= {p["name"] for p in parameters if p.get("in") == "query"}
    return known


class KnownQueryParams(BaseFilterBackend):
    """Refuse (400 ``invalid``) a request with a query parameter its view does not know."""

    def filter_queryset(self, request, queryset, view):
        known = known_query_params(view, queryset)
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            names = ", ".join(f"'{n}'" for n in unknown)
            listed = ", ".join(sorted(known))
            raise InvalidInput(
                f"unknown query parameter{'s' if len(unknown) > 1 else ''} {names}; "
                f"this endpoint knows: {listed}",
                details={"unknown": unknown, "known": sorted(known)},
            )
        return queryset
