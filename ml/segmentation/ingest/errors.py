"""Spark's read failures as one line a user can act on: the file, the record where the reader can say it,
and the cause, never the JVM's stack trace."""

from __future__ import annotations

import re
from pathlib import Path

from segmentation.ingest import readers

_USER_RAISED = re.compile(r"(segmentation:[a-z0-9-]+)\|(.*?)\|(\d+)")
_FAILED_FILE = re.compile(r"reading file (\S+?)\.?\s+(?:SQLSTATE|\n|$)")
_CAUSE = re.compile(r"^(?:Caused by: )?((?:java|org|scala)\.[\w.$]+(?:Exception|Error)): ?(.*)$", re.MULTILINE)


def multiline_source(exc: BaseException, sources: list[readers.Source]) -> Path | None:
    """The CSV source whose first read stopped on a record spanning several lines, if that is the error."""
    for marker, path, _line in _USER_RAISED.findall(str(exc)):
        if marker == readers.MULTILINE_MARKER:
            return next((s.path for s in sources if str(s.path) == path), None)
    return None


def read_error_message(exc: BaseException, source_files: list[str], encoding: str) -> str:
    text = str(exc)
    for marker, path, line in _USER_RAISED.findall(text):
        if marker == readers.NOT_UTF8_MARKER:
            return readers.not_encoded_message(path, "utf-8", int(line))
    found = _FAILED_FILE.search(text)
    path = found.group(1).removeprefix("file://").removeprefix("file:") if found else _guess_file(text, source_files)
    causes = [(name, message.strip()) for name, message in _CAUSE.findall(text)]
    root = causes[-1] if causes else None
    cause = f"{root[0].rsplit('.', 1)[-1]}: {root[1]}" if root and root[1] else (root[0] if root else "")
    if "EOF" in cause or "ZLIB" in cause.upper() or "Not in GZIP format" in cause:
        hint = "the file is truncated or not a valid gzip file"
    elif "MalformedInput" in cause or "CharacterCoding" in cause:
        hint = f"the file is not valid {encoding}; pass its encoding with --encoding"
    else:
        hint = "it cannot be read"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    detail = cause or first
    return f"{path or 'an input file'}: {hint} ({detail[:200]})"


def _guess_file(text: str, source_files: list[str]) -> str | None:
    return next((name for name in source_files if name in text), None)
