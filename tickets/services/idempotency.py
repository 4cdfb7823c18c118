"""Ticket creation safe to retry: a client's key (the API's Idempotency-Key, the site form's
one-time nonce) maps one request to one ticket, even when the retry races the original."""

import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from tickets.attachments import CheckedUpload
from tickets.models import IdempotencyKey, Ticket
from tickets.services import normalize_email, ticket_create

MAX_KEY_LENGTH = IdempotencyKey._meta.get_field("key").max_length
_MAX_SCOPE_LENGTH = IdempotencyKey._meta.get_field("scope").max_length


class IdempotencyConflict(Exception):
    """The key was already used for a different request."""


def idempotency_scope(*, user: AbstractBaseUser | None = None, email: str = "") -> str:
    """Whose keys these are: a signed-in user's, or a guest's by their email. Keys of different
    callers never collide."""
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    scope = f"guest:{normalize_email(email)}"
    if len(scope) > _MAX_SCOPE_LENGTH:  # long addresses are legal; keep the scope a fixed size
        scope = "guest:sha256:" + hashlib.sha256(normalize_email(email).encode()).hexdigest()
    return scope


def request_fingerprint(data: Any) -> str:
    """SHA-256 of the request body as canonical JSON (sorted keys, one value per single-valued
    form field, files by name, size and content), so a retry matches whatever its encoding."""
    return hashlib.sha256(
        json.dumps(_canonical(data), sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, CheckedUpload):  # a form's cleaned attachment
        value = value.file
    if hasattr(value, "getlist"):  # QueryDict (form or multipart body)
        return {
            key: _canonical(values[0] if len(values) == 1 else values)
            for key, values in ((key, value.getlist(key)) for key in value)
        }
    if isinstance(value, Mapping):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(item) for item in value]
    if isinstance(value, UploadedFile):
        digest = hashlib.sha256()
        for chunk in value.chunks():
            digest.update(chunk)
        value.seek(0)
        return {"file": value.name, "size": value.size, "sha256": digest.hexdigest()}
    return value


def _replay(*, scope: str, key: str, request_hash: str) -> Ticket | None:
    stored = (
        IdempotencyKey.objects.filter(scope=scope, key=key)
        .select_related("ticket__customer")
        .first()
    )
    if stored is None:
        return None
    if stored.request_hash != request_hash:
        raise IdempotencyConflict
    return stored.ticket


def ticket_create_idempotent(
    *, scope: str, key: str, request_hash: str, **ticket: Any
) -> tuple[Ticket, bool]:
    """(ticket, created). Without a key this is ``ticket_create``. With one, the first request
    creates the ticket and stores the key; a retry with the same body returns that ticket; the
    same key with another body raises IdempotencyConflict."""
    return create_once(
        scope=scope, key=key, request_hash=request_hash, create=lambda: ticket_create(**ticket)
    )


def create_once(
    *, scope: str, key: str, request_hash: str, create: Callable[[], Ticket]
) -> tuple[Ticket, bool]:
    """(ticket, created): ``create()`` once per (scope, key); see ticket_create_idempotent."""
    if not key:
        return create(), True
    if existing := _replay(scope=scope, key=key, request_hash=request_hash):
        return existing, False
    try:
        # One transaction: a ticket never exists without its key, and a duplicate key rolls the
        # ticket back (with its after-commit notifications).
        with transaction.atomic():
            created = create()
            IdempotencyKey.objects.create(
                scope=scope, key=key, request_hash=request_hash, ticket=created
            )
    except IntegrityError:
        # A concurrent request with the same key committed first: its ticket is the answer.
        if existing := _replay(scope=scope, key=key, request_hash=request_hash):
            return existing, False
        raise
    return created, True
