"""Where the lab keeps things: one place for the environment variables that move them.

$LABKIT_HOME   converted models, rationale caches, fetched data (default ~/.cache/labkit)
$LABKIT_DATA   the real datasets (default $LABKIT_HOME/data, where `labkit data fetch` puts them)
"""

from __future__ import annotations

import os
from pathlib import Path


def labkit_home() -> Path:
    """``$LABKIT_HOME`` or ``~/.cache/labkit``."""
    return Path(os.environ.get("LABKIT_HOME") or "~/.cache/labkit").expanduser()


def data_home() -> Path:
    """``$LABKIT_DATA`` or ``$LABKIT_HOME/data``."""
    value = os.environ.get("LABKIT_DATA")
    return Path(value).expanduser() if value else labkit_home() / "data"
