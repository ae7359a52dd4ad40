"""One exception type for bad input, so the CLI can print it without a traceback."""


class LabkitError(ValueError):
    """Bad input or a missing resource, with a message that says what was expected."""
