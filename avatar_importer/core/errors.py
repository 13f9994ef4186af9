"""One error hierarchy for the whole add-on.

Every error carries a plain-words ``message`` meant for the user (operator reports, the
batch script's stderr and JSON report). Messages never contain secrets: tokens and client
secrets are not interpolated anywhere in this module's users.
"""

from __future__ import annotations


class AvatarImporterError(Exception):
    """Base class. ``str(err)`` is the user-facing message."""

    #: short machine-readable kind, used in reports
    kind = "error"
    #: True when a request that creates something (a POST) may have been carried out by
    #: the service although no good answer came back (500, 502, 504, read timeout, reset
    #: after sending): the caller must look before creating again (see core/once.py)
    in_doubt = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --- bad input (local) -----------------------------------------------------------------


class InputError(AvatarImporterError):
    """Something the user handed us is unusable (photo, file, option)."""

    kind = "input"


class ConfigError(InputError):
    """Missing or invalid configuration (credentials, base URL, cache directory)."""

    kind = "config"


class UnsafeArchiveError(InputError):
    """An archive entry would land outside its target, or the archive is too large."""

    kind = "unsafe_archive"


class UnsafeUriError(InputError):
    """A GLB references a file outside its own folder, an absolute path or a URL."""

    kind = "unsafe_uri"


class GlbFormatError(InputError):
    """A file that should be a GLB is not one, or is truncated."""

    kind = "bad_glb"


# --- the remote service --------------------------------------------------------------


class ApiError(AvatarImporterError):
    """The service answered with an error status; ``detail`` is the server's own text."""

    kind = "api"

    def __init__(self, message: str, *, status: int | None = None, detail: str = "",
                 url: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.detail = detail
        self.url = url


class BadRequestError(ApiError):
    kind = "bad_request"


class AuthenticationError(ApiError):
    kind = "authentication"


class PaymentRequiredError(ApiError):
    kind = "payment_required"


class PermissionDeniedError(ApiError):
    kind = "permission_denied"


class NotFoundError(ApiError):
    kind = "not_found"


class ThrottledError(ApiError):
    kind = "throttled"


class ServerError(ApiError):
    kind = "server_error"


class ProtocolError(ApiError):
    """The service answered something we cannot read (malformed JSON, an HTML page...)."""

    kind = "protocol"


class NetworkError(AvatarImporterError):
    """The service could not be reached (refused, reset, timed out) after our retries."""

    kind = "network"


class RemoteJobFailed(AvatarImporterError):
    """The service reports the avatar or export as Failed / Timed Out."""

    kind = "remote_failed"


class DeadlineExceeded(AvatarImporterError):
    """A stage took longer than its deadline."""

    kind = "deadline"


class Cancelled(AvatarImporterError):
    """The user cancelled the job."""

    kind = "cancelled"

    def __init__(self, message: str = "Cancelled by the user") -> None:
        super().__init__(message)


class OfflineError(AvatarImporterError):
    """Online access is disabled in Blender's preferences."""

    kind = "offline"


class ImportFailed(AvatarImporterError):
    """Blender's glTF importer failed; nothing of the attempt is left in the scene."""

    kind = "import_failed"


# --- classification for farms (batch exit codes) ---------------------------------------

#: failure kinds that may succeed if tried again later: the network, the service being
#: down or throttling, a deadline, an unreadable answer (a proxy page), another worker
#: holding the row. Everything else (bad photo, rejected credentials, plan limits, a
#: failed computation) fails the same way again.
TRANSIENT_KINDS = frozenset({NetworkError.kind, ServerError.kind, ThrottledError.kind,
                             DeadlineExceeded.kind, ProtocolError.kind, "busy"})

EXIT_OK = 0
EXIT_FAILED = 1  # some row failed permanently
EXIT_USAGE = 2  # bad options or manifest
EXIT_TEMPFAIL = 75  # EX_TEMPFAIL: only transient failures; retrying can succeed


def is_transient(kind: str) -> bool:
    return kind in TRANSIENT_KINDS


def exit_code_for(failed_kinds: list[str]) -> int:
    """0 when nothing failed; 75 when every failure is transient; else 1."""
    if not failed_kinds:
        return EXIT_OK
    return EXIT_TEMPFAIL if all(is_transient(k) for k in failed_kinds) else EXIT_FAILED
