"""Reading a bounce kept as a file (.eml, a message saved from a mail client)."""

from __future__ import annotations

from pathlib import Path

from mailer.bounces.mime import MAX_MESSAGE_BYTES
from mailer.errors import InputFileError

__all__ = ["read_message_file"]


def read_message_file(path: Path) -> bytes:
    """The file's first `MAX_MESSAGE_BYTES` (all that parsing reads); `InputFileError` when it
    cannot be read (missing, a folder, no permission)."""
    try:
        with path.open("rb") as file:
            return file.read(MAX_MESSAGE_BYTES)
    except IsADirectoryError:
        raise InputFileError(path, None, "cannot read: is a folder, not a message file") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise InputFileError(path, None, f"cannot read: {reason}") from None
