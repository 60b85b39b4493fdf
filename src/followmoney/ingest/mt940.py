"""Adapter placeholder: being written (issue 3). Recognises nothing yet."""

FORMAT = "mt940"


def sniff(path, head):
    """Recognises nothing yet."""
    return False


def is_companion(path):
    """No companion files."""
    return False


def read(path, **options):
    """Not written yet."""
    raise NotImplementedError(f"{FORMAT} adapter not written yet")
