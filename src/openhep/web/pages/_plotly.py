"""plotly.js as the portal serves it: the ``plotly`` package's own file, at an address that
names its version (``/vendor/plotly-<version>.min.js``), for the pages that plot."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

#: A year: the script's address changes with the plotly package's version.
PLOTLY_CACHE = "public, max-age=31536000, immutable"


@lru_cache(maxsize=1)
def plotly_script() -> tuple[str, Path]:
    """(the ``plotly`` package's version, the path of the plotly.min.js it ships), found
    without importing the package."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the plotly package is not installed: pip install 'plotly>=5.22'")
    path = Path(next(iter(spec.submodule_search_locations))) / "package_data" / "plotly.min.js"
    return importlib.metadata.version("plotly"), path


def plotly_url(root: str) -> str:
    """The address of the script under the portal's ``root``."""
    version, _ = plotly_script()
    return f"{root}/vendor/plotly-{quote(version)}.min.js"
