"""The error raised for missing, malformed or truncated raw data, and the file:row:field prefix it names."""


class DataError(ValueError):
    """Raw data is missing, malformed or truncated; the message names the file, the row and the field."""


def where(path: object, row: int | None = None, field: str | None = None) -> str:
    """``file:row 12: field 'text'`` prefix used by every DataError (rows are 1-based lines)."""
    parts = [str(path)]
    if row is not None:
        parts.append(f"row {row}")
    if field is not None:
        parts.append(f"field {field!r}")
    return ": ".join(parts)
