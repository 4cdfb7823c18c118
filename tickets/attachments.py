"""Uploaded files: checked by content against an allow-list, stored under random names,
served only as downloads."""

import os
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

# (magic bytes, content type). Checked on the file's first bytes, never its name or the
# browser's claimed type. SVG, HTML and anything scriptable are not on the list.
SIGNATURES = [
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
]
TEXT_TYPE = "text/plain"
SNIFF_BYTES = 8192


@dataclass(frozen=True)
class CheckedUpload:
    file: UploadedFile
    name: str
    content_type: str
    size: int


def _sniff(head: bytes) -> str | None:
    for magic, content_type in SIGNATURES:
        if head.startswith(magic):
            return content_type
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "image/webp"
    if b"\x00" not in head:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(head) - 4:  # not just a character cut at the sniff boundary
                return None
            text = head[: exc.start].decode("utf-8")
        if not text.lstrip().lower().startswith(("<svg", "<?xml", "<!doctype", "<html", "<script")):
            return TEXT_TYPE
    return None


def safe_name(name: str) -> str:
    """A display name without directories, control characters or leading dots."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip().lstrip(".")
    return name[:200] or "file"


def content_disposition(name: str) -> str:
    """A download header whose file name cannot break out of the header or name a directory."""
    name = safe_name(name)
    fallback = "".join(
        ch if ch.isascii() and ch.isprintable() and ch not in '"\\;%' else "_" for ch in name
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def check_upload(upload: UploadedFile) -> CheckedUpload:
    """Validate one upload or raise ValidationError with a message for the user."""
    max_bytes = settings.TICKETS_ATTACHMENT_MAX_BYTES
    name = safe_name(upload.name)
    if upload.size is None or upload.size > max_bytes:
        raise ValidationError(
            _("“%(name)s” is larger than %(limit)d MB.")
            % {"name": name, "limit": max_bytes // 2**20}
        )
    if upload.size == 0:
        raise ValidationError(_("“%(name)s” is empty.") % {"name": name})
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
    upload.seek(0)
    content_type = _sniff(head)
    if content_type is None:
        raise ValidationError(
            _("“%(name)s” is not an allowed file type (images, PDF or plain text).")
            % {"name": name}
        )
    if content_type == TEXT_TYPE and not os.path.splitext(name)[1]:
        name += ".txt"
    return CheckedUpload(upload, name, content_type, upload.size)


def check_uploads(uploads: list[UploadedFile]) -> list[CheckedUpload]:
    limit = settings.TICKETS_ATTACHMENTS_PER_MESSAGE
    if len(uploads) > limit:
        raise ValidationError(_("Attach at most %(limit)d files.") % {"limit": limit})
    return [check_upload(upload) for upload in uploads]
