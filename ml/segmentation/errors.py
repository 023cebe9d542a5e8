"""User-facing errors. The CLI prints their message on one line and exits 2; nothing is written."""


class SegmentationError(Exception):
    """A problem with the user's input or environment, described in one line."""
