"""Domain errors raised by services, and the one place that turns any error into an API body.

Every API error has the same shape::

    {"error": {"code": "not_eligible", "message": "...", "details": {...}}}
"""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A business rule refused the request. Subclasses set the HTTP status and a stable code."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "domain_error"

    def __init__(self, message: str, *, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidInput(DomainError):
    code = "invalid"


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"


class Forbidden(DomainError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "forbidden"


class Conflict(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"


class NotEligible(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "not_eligible"


class NothingForYou(NotEligible):
    """No task can be handed to this worker now; ``reason`` says why, in a stable code."""

    code = "nothing_for_you"

    def __init__(self, reason: str, message: str, *, details: dict | None = None):
        super().__init__(message, details={"reason": reason, **(details or {})})
        self.reason = reason


class AlreadySubmitted(Conflict):
    code = "already_submitted"


class PayloadTooLarge(DomainError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "payload_too_large"


def _body(code: str, message: str, details=None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _first_message(detail) -> str:
    """A human sentence from DRF's nested detail: the first leaf, prefixed with its field."""
    if isinstance(detail, dict):
        for field, value in detail.items():
            inner = _first_message(value)
            return inner if field == "non_field_errors" else f"{field}: {inner}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def api_exception_handler(exc, context):
    """DRF exception handler: domain errors, validation errors and DRF errors, one shape."""
    if isinstance(exc, DomainError):
        return Response(_body(exc.code, exc.message, exc.details), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, IntegrityError):
        # A constraint caught what validation missed (usually a race): a conflict, not a 500.
        logger.warning("integrity error at the API edge: %s", exc)
        return Response(
            _body("conflict", "the request conflicts with existing data"),
            status=status.HTTP_409_CONFLICT,
        )
    elif isinstance(exc, OperationalError | InterfaceError):
        # The database went away, restarted or gave up on a lock: the transaction rolled back
        # whole, and Django drops the broken connection when the request ends. Retryable.
        logger.warning("database unavailable at the API edge: %s", exc)
        return Response(
            _body("unavailable", "the database is unavailable right now; try again shortly"),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "1"},
        )
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = _body("invalid", _first_message(exc.detail), exc.detail)
    else:
        code = getattr(exc, "default_code", "error")
        detail = exc.detail if hasattr(exc, "detail") else str(exc)
        response.data = _body(code, str(detail))
    if response.status_code in (401, 403):
        request = context.get("request")
        logger.info(
            "refused %s %s for %s: %s",
            getattr(request, "method", "?"),
            getattr(request, "path", "?"),
            getattr(getattr(request, "user", None), "pk", None),
            response.data["error"]["code"],
        )
    return response
