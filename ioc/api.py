"""API-wide pieces: the error shape and the permission for managers."""

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import permissions
from rest_framework.exceptions import ValidationError
from rest_framework.views import exception_handler as drf_exception_handler

from teams.selectors import user_is_manager

log = logging.getLogger("ioc.api")


def exception_handler(exc, context):
    """Every API error is JSON with an `error` message; DRF's `detail` is kept alongside."""
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    request = context.get("request")
    if response.status_code == 403 and request is not None:
        log.warning(
            "forbidden: user=%s %s %s",
            getattr(request.user, "pk", None),
            request.method,
            request.path,
        )
    if isinstance(exc, ValidationError):
        response.data = {"error": "invalid input", "fields": response.data}
    elif isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"error": str(response.data["detail"]), **response.data}
    return response


def invalid(exc: DjangoValidationError) -> ValidationError:
    """A service's ValidationError as the API's 400 with fields."""
    if hasattr(exc, "error_dict"):
        return ValidationError(exc.message_dict)
    return ValidationError({"non_field_errors": exc.messages})


class IsManagerOrReadOnly(permissions.BasePermission):
    """Reading is for any authenticated user; writing for managers and administrators."""

    message = "only managers and administrators may do this"

    def has_permission(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return user_is_manager(user=request.user)
