"""Domain errors. Framework-free: services raise these, one handler renders them."""

from __future__ import annotations


class ArchonError(Exception):
    """Base error; `status` is the HTTP status an adapter should use."""

    status: int = 500
    error: str = "internal_error"

    def __init__(self, message: str, *, detail: object | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotFound(ArchonError):
    status = 404
    error = "not_found"


class Conflict(ArchonError):
    status = 409
    error = "conflict"


class Invalid(ArchonError):
    status = 422
    error = "invalid"


class BadRequest(ArchonError):
    status = 400
    error = "bad_request"


class TooLarge(ArchonError):
    status = 413
    error = "too_large"


class UnsupportedType(ArchonError):
    status = 415
    error = "unsupported_media_type"


class Unavailable(ArchonError):
    status = 503
    error = "unavailable"


class ConfigurationError(ArchonError):
    """Start-up refused because of the configuration; the message is one line for the operator."""

    status = 500
    error = "configuration_error"
