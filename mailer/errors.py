"""The exception tree. Every error a user can cause is a `MailerError` with a message fit to print.

MailerError                  exit code 2, printed as one line (plus a hint), never a traceback
├── ConfigError          a bad or missing configuration value (names the key)
├── InputFileError       a bad input file (names file, line and a hint)
│   ├── IssueFormatError     an issue source file
│   └── CsvFileError         a CSV file that cannot be read as a whole
├── FilterError          a bad segment filter (names the flag)
├── NotFound             a federation, list, segment, subscriber… that does not exist
├── Conflict             something that already exists, or a forbidden change
├── OutputFileError      a file the mailer was asked to write cannot be written
├── TokenError           a personal link or bounce address that is forged, altered or expired
├── SendError            a message the relay did not take (carries the SMTP `.code`)
│   ├── TransientSendError   4xx, or the connection failed: worth trying again later
│   │   └── ConnectionFailed     no SMTP answer at all (refused, dropped, timed out)
│   └── PermanentSendError   5xx: trying again will not help (`.stage`: mail, rcpt or data)
└── DatabaseNotReady     (db/migrate.py) the schema is behind: run `mailer db upgrade`
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ConfigError",
    "Conflict",
    "ConnectionFailed",
    "CsvFileError",
    "FilterError",
    "InputFileError",
    "IssueFormatError",
    "MailerError",
    "NotFound",
    "OutputFileError",
    "PermanentSendError",
    "SendError",
    "TokenError",
    "TransientSendError",
]


class MailerError(Exception):
    """Root of every error this package raises on purpose."""

    exit_code = 2


class ConfigError(MailerError):
    """A configuration value is missing, unknown or invalid."""

    def __init__(self, key: str, message: str, *, source: str = "config") -> None:
        self.key = key
        self.source = source
        super().__init__(f"{source}: {key}: {message}")


class InputFileError(MailerError, ValueError):
    """An input file is wrong; the message names the file and, where known, the line."""

    def __init__(
        self, path: Path | str, line: int | None, message: str, *, hint: str | None = None
    ) -> None:
        self.path = Path(path)
        self.line = line
        self.message = message
        self.hint = hint
        where = f"{self.path}:{line}" if line is not None else str(self.path)
        text = f"{where}: {message}"
        if hint:
            text += f"\n  hint: {hint}"
        super().__init__(text)


class IssueFormatError(InputFileError):
    """An issue source file does not follow the documented format."""


class CsvFileError(InputFileError):
    """A CSV file cannot be imported as a whole (encoding, structure, header)."""


class FilterError(MailerError):
    """A segment filter names an unknown value or is malformed."""

    def __init__(self, flag: str, message: str) -> None:
        self.flag = flag
        super().__init__(f"{flag}: {message}")


class NotFound(MailerError):
    """A federation, organisation, list, segment or subscriber does not exist."""


class Conflict(MailerError):
    """The thing already exists, or the change is not allowed in its current state."""


class OutputFileError(MailerError):
    """A file the mailer was asked to write (rejects, export) cannot be written."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(f"{path}: cannot write: {reason}")


class TokenError(MailerError, ValueError):
    """A token whose signature, purpose or expiry does not check out."""


class SendError(MailerError):
    """The relay did not take a message; `.code` is its SMTP reply code (0 without one)."""

    def __init__(self, code: int, message: str, *, stage: str = "") -> None:
        self.code = code
        self.stage = stage  # "connect", "mail", "rcpt" or "data"
        self.reply = message
        super().__init__(f"{code} {message}".strip() if code else message)


class TransientSendError(SendError):
    """A temporary failure (4xx): the same message may be taken later."""


class ConnectionFailed(TransientSendError, ConnectionError):
    """No usable SMTP session: refused, dropped or timed out."""


class PermanentSendError(SendError):
    """A permanent failure (5xx) at `.stage`."""
