"""Uploaded files: checked by content against an allow-list, stored under random names,
named with an extension of the type their content is, served only as downloads."""

import re
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
# The extensions a file of each detected type may be named with; the first is the one it gets
# when its name has none of them. A name whose extension promises another type (evil.exe
# holding text, y.html, a PNG named .jpg) would be opened by the wrong program once downloaded.
EXTENSIONS = {
    "image/png": ("png",),
    "image/jpeg": ("jpg", "jpeg"),
    "image/gif": ("gif",),
    "image/webp": ("webp",),
    "application/pdf": ("pdf",),
    TEXT_TYPE: ("txt", "log", "csv", "md"),
}
# What a program would take for an extension after a dot: a short run of letters or digits.
_EXTENSION = re.compile(r"[^\W_]{1,10}")
# A dot inside the stem that starts an extension-like segment (shell.php.jpg, invoice.exe.pdf):
# some servers and tools honour every extension of a name, not only the last.
_INNER_EXTENSION = re.compile(r"\.(?=[^\W_]{1,10}(?:\.|$))")
MAX_NAME = 200


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


def _base_name(name: str) -> str:
    """The last path component, NFC, without control or format characters (such as the
    right-to-left override that shows "exe.pdf" for "fdp.exe") or surrounding spaces."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()


def safe_name(name: str) -> str:
    """A display name without directories, control characters or leading dots."""
    return _base_name(name).lstrip(".")[:MAX_NAME] or "file"


def _split(name: str) -> tuple[str, str]:
    stem, dot, extension = name.rpartition(".")
    if dot and _EXTENSION.fullmatch(extension):
        return stem, extension
    return name, ""


def name_for_type(name: str, content_type: str) -> str:
    """``name`` with exactly one extension, one of those of ``content_type``.

    The stem is kept; a wrong last extension is replaced (evil.exe -> evil.txt), unless the one
    before it is right (invoice.pdf.exe -> invoice.pdf); inner extensions are defused
    (shell.php.jpg -> shell_php.jpg); a name that is only an extension (.htaccess) becomes
    file.<extension>. Applying it twice changes nothing.
    """
    allowed = EXTENSIONS[content_type]
    # Windows drops trailing dots and spaces: "evil.exe." would be saved as evil.exe.
    name = _base_name(name).rstrip(". ")
    if name.startswith(".") and "." not in name.lstrip("."):
        stem, extension = "", name.lstrip(".")  # only an extension
    else:
        stem, extension = _split(name.lstrip("."))
    if extension.lower() not in allowed:
        inner_stem, inner_extension = _split(stem)
        if inner_extension.lower() in allowed:
            stem, extension = inner_stem, inner_extension
        else:
            extension = allowed[0]
    stem = _INNER_EXTENSION.sub("_", stem).strip(" .") or "file"
    return f"{stem[: MAX_NAME - len(extension) - 1]}.{extension}"


def content_disposition(name: str, content_type: str | None = None) -> str:
    """A download header whose file name cannot break out of the header or name a directory,
    and, given the served type, ends in one of its extensions (also for files stored before
    names were fixed on upload)."""
    name = name_for_type(name, content_type) if content_type in EXTENSIONS else safe_name(name)
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
    name = name_for_type(upload.name, content_type)
    return CheckedUpload(upload, name, content_type, upload.size)


def check_uploads(uploads: list[UploadedFile]) -> list[CheckedUpload]:
    """Validate the files of one message or raise ValidationError with a message for the user."""
    limit = settings.TICKETS_ATTACHMENTS_PER_MESSAGE
    if len(uploads) > limit:
        raise ValidationError(_("Attach at most %(limit)d files.") % {"limit": limit})
    return [check_upload(upload) for upload in uploads]
