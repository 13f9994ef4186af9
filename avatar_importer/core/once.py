"""Exactly-once creation of what the user pays for (avatars): tag, post, look before posting again.

The rule, shared by every service:

1. Every creation carries a tag made by the client (:func:`creation_tag`): Avatar SDK
   keeps it in the avatar's ``description``. The tag is saved in the job record
   (``cache/jobs/<id>.json``, key ``creation_tag``) *before* the POST, so a process killed
   in the middle of the POST leaves a record that knows what to look for.
2. The transport never repeats a creating POST whose outcome is unknown: after a 500, 502,
   504, 503 without ``Retry-After``, a read timeout, a reset or an unreadable answer it
   raises an error with ``in_doubt = True`` (see core/transport.py).
3. :func:`create_once` then looks the tag up in the user's list (every page): found, the
   avatar is adopted (the job goes on polling it); certainly absent (the whole list was
   read), the POST is sent again; the list cannot be read, the job stops with its record
   kept (state ``active``), and the next run (with or without ``--resume``: the same
   photo is the same job, see :meth:`~.stages.JobSpec.key`) looks again before posting.
   A record that already had a tag when the job started (a resumed job) is looked up
   before the first POST.

Limit (written down, not hidden): a gateway may answer before the service has finished
creating; the lookup comes after the retry policy's backoff, and a creation that appears
in the list only later than that can still be posted twice.

Threading: these functions run on the job's worker thread; they keep no state.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import AvatarImporterError, Cancelled
from .transport import RetryPolicy

T = TypeVar("T")

TAG_PREFIX = "avatar_importer job "
RECORD_KEY = "creation_tag"


def creation_tag(record: dict[str, Any]) -> tuple[str, bool]:
    """The job's creation tag and whether a POST carrying it may already have been sent.

    A record that has a tag keeps it (``True``: a previous run may have created the
    avatar, look it up first); otherwise a new tag ``avatar_importer job <uuid4 hex>`` is
    put in ``record`` (``False``). The caller saves the record before the POST."""
    tag = record.get(RECORD_KEY)
    if isinstance(tag, str) and tag.startswith(TAG_PREFIX):
        return tag, True
    tag = f"{TAG_PREFIX}{uuid.uuid4().hex}"
    record[RECORD_KEY] = tag
    return tag, False


def create_once(post: Callable[[], T], find: Callable[[], T | None], *,
                retry: RetryPolicy, wait: Callable[[float], None],
                look_first: bool = False, what: str = "the avatar") -> T:
    """``post()`` at most as often as it is certain that nothing was created.

    ``find()`` returns what a previous ``post()`` created (found by its tag) or None when it
    is certainly absent; it raises when it cannot tell. ``wait(seconds)`` sleeps (and
    raises ``Cancelled`` when the job is cancelled). Errors of ``post()`` that are not in
    doubt are raised at once; a doubt that lookups keep answering "absent" is posted again
    up to ``retry.max_attempts`` times, then the last error is raised."""
    if look_first:
        found = _look(find, None, what)
        if found is not None:
            return found
    attempt = 0
    while True:
        try:
            return post()
        except Cancelled:
            raise
        except AvatarImporterError as exc:
            if not exc.in_doubt:
                raise
            attempt += 1
            wait(retry.backoff(attempt - 1))
            found = _look(find, exc, what)
            if found is not None:
                return found
            if attempt >= retry.max_attempts:
                raise


def _look(find: Callable[[], T | None], doubt: AvatarImporterError | None,
          what: str) -> T | None:
    """``find()``; when it fails, its error says what is at stake (never post blindly)."""
    try:
        return find()
    except Cancelled:
        raise
    except AvatarImporterError as exc:
        cause = f" ({doubt.message})" if doubt is not None else ""
        exc.message = (f"{what[:1].upper()}{what[1:]} may have been created{cause} and the "
                       f"list of avatars could not be read to check: {exc.message}. Nothing "
                       "was posted again; run the job again (the same photo resumes it) "
                       "to check without paying twice")
        exc.args = (exc.message,)
        exc.in_doubt = False
        raise
