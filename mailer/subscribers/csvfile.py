"""CSV files as staff really have them: UTF-8 with or without BOM, Windows-1252 from Excel,
UTF-16 "Unicode text"; `,`, `;` or tab as delimiter; French and Dutch column names.

`open_csv` checks the whole file's structure before anything is stored (one fast streaming
pass): a malformed file is refused as a whole, with the line, so nothing is half-imported.
"""

from __future__ import annotations

import codecs
import csv
import functools
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from mailer.errors import CsvFileError

__all__ = ["FIELD_LIMIT", "CsvSource", "column_key", "open_csv"]

FIELD_LIMIT = 1_000_000  # characters in one field: far above any real member file
_SAMPLE = 64 * 1024
_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class CsvSource:
    """A checked CSV file: its encoding, delimiter, normalised header and row count."""

    path: Path
    encoding: str
    delimiter: str
    columns: tuple[str, ...]  # normalised names ("" for an empty header cell)
    raw_columns: tuple[str, ...]  # as written in the file
    rows: int

    def records(self) -> Iterator[tuple[int, list[str]]]:
        """(first line of the record, fields) for every non-blank record after the header."""
        with self._open() as stream:
            reader = csv.reader(stream, delimiter=self.delimiter, strict=True)
            next(reader, None)  # the header
            last = reader.line_num
            for fields in reader:
                start, last = last + 1, reader.line_num
                if (fields and fields[0].strip()) or any(f.strip() for f in fields):
                    yield start, fields

    def _open(self) -> TextIO:
        return open(self.path, encoding=self.encoding, errors="replace", newline="")


@functools.lru_cache(maxsize=4096)
def column_key(name: str) -> str:
    """'Prénom ', 'E-mail', 'FIRST NAME' → 'prenom', 'e_mail', 'first_name'."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def open_csv(path: Path, *, aliases: Mapping[str, str], required: Sequence[str] = ()) -> CsvSource:
    """Detect the encoding and delimiter, check the structure, and map the header names."""
    try:
        size = path.stat().st_size
        with path.open("rb") as stream:
            sample = stream.read(_SAMPLE)
    except OSError as exc:
        raise CsvFileError(path, None, f"cannot read the file: {exc.strerror}") from None
    if size == 0 or not sample.strip(b"\xef\xbb\xbf \r\n\t"):
        raise CsvFileError(path, None, "the file is empty", hint="export the sheet again as CSV")
    encoding = _detect_encoding(path, sample)
    delimiter = _detect_delimiter(sample.decode(encoding, errors="replace"))
    csv.field_size_limit(FIELD_LIMIT)
    header: list[str] = []
    rows = 0
    with open(path, encoding=encoding, errors="replace", newline="") as stream:
        reader = csv.reader(stream, delimiter=delimiter, strict=True)
        start = 1
        try:
            for index, fields in enumerate(reader):
                if index == 0:
                    header = fields
                elif any(f.strip() for f in fields):
                    rows += 1
                start = reader.line_num + 1
        except csv.Error as exc:
            raise _structure_error(path, start, str(exc)) from None
    raw = tuple(h.strip() for h in header)
    columns = tuple(aliases.get(column_key(h), column_key(h)) for h in raw)
    named = [c for c in columns if c]
    duplicates = sorted({c for c in named if named.count(c) > 1})
    if duplicates:
        raise CsvFileError(
            path, 1, f"column {duplicates[0]!r} appears twice in the header",
            hint="remove or rename one of the two columns",
        )  # fmt: skip
    missing = [c for c in required if c not in columns]
    if missing:
        found = ", ".join(repr(h) for h in raw if h) or "nothing"
        raise CsvFileError(
            path,
            1,
            f"missing required column {missing[0]!r} (the header has {found})",
            hint=f"the first line must name the columns, one of them {missing[0]!r}",
        )
    return CsvSource(path, encoding, delimiter, columns, raw, rows)


def _detect_encoding(path: Path, sample: bytes) -> str:
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # Excel's "Unicode text" export
    if b"\0" in sample:
        raise CsvFileError(
            path,
            None,
            "this is a binary file, not CSV",
            hint="in Excel: File → Save as → CSV (semicolon or comma separated)",
        )
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return "cp1252"  # Excel's default "CSV" on Windows in Western Europe
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8-sig"


def _detect_delimiter(text: str) -> str:
    header = _first_record(text)
    counts = {d: _count_outside_quotes(header, d) for d in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _first_record(text: str) -> str:
    quoted = False
    for index, char in enumerate(text):
        if char == '"':
            quoted = not quoted
        elif char in "\r\n" and not quoted:
            return text[:index]
    return text


def _count_outside_quotes(line: str, delimiter: str) -> int:
    count, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            count += 1
    return count


def _structure_error(path: Path, line: int, message: str) -> CsvFileError:
    if "field larger than field limit" in message:
        return CsvFileError(
            path,
            line,
            f"a field is larger than {FIELD_LIMIT // 1_000_000} MB",
            hint="this does not look like a member list: check the file and its delimiter",
        )
    if "unexpected end of data" in message or "EOF" in message:
        return CsvFileError(
            path,
            line,
            "a quoted field that starts here is never closed",
            hint='check the quotes (") on this line: a value with a quote must double it ("")',
        )
    return CsvFileError(
        path, line, f"malformed CSV: {message}", hint='check the quotes (") on this line'
    )
