"""Rendering pages: one Jinja2 environment (templates in ``openhep/web/templates``), filters
in the field's units, data embedded in a page as JSON, and the response helper every page
handler ends with."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from openhep import __version__
from openhep.web._deps import base_url
from openhep.web.pages._math import math_html, math_text

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB")

#: What JSON text must not hold raw inside an HTML element, and its ``\uXXXX`` escape (JSON
#: reads both the same; outside strings JSON text holds none of these characters): ``<``
#: starts ``</script>`` and ``<!--``, which in a script element swallows the rest of the page;
#: ``>`` and ``&`` end a comment or start a reference elsewhere in HTML; U+2028 and U+2029
#: end a line in JavaScript before ES2019.
_HTML_UNSAFE_IN_JSON = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def json_in_html(data: Any) -> Markup:
    """``data`` as JSON text safe inside an HTML ``<script type="application/…json">`` element
    (JSON-LD): nothing in it can end the element, open a comment or a tag, or start a
    reference. The one way pages embed data (it is also the templates' ``tojson`` filter)."""
    text = orjson.dumps(data).decode()
    for character, escaped in _HTML_UNSAFE_IN_JSON:
        # str.replace is a C loop: five of them cost less than one str.translate.
        text = text.replace(character, escaped)
    return Markup(text)  # noqa: S704 - JSON text escaped for HTML just above


def human_size(size: int | float | None) -> str:
    """``1234567`` → ``1.2 MB`` (SI units, as CODP shows sizes)."""
    if size is None:
        return ""
    value = float(size)
    for unit in _UNITS:
        if abs(value) < 1000 or unit == _UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def thousands(number: int | float | None) -> str:
    """``1234567`` → ``1,234,567``."""
    if number is None:
        return ""
    return f"{number:,}"


def query_string(params: dict[str, Any] | list[tuple[str, Any]]) -> str:
    """A URL query from a dict or pairs, leaving out empty values."""
    items = tuple(params.items() if isinstance(params, dict) else params)
    if all(type(k) is str and type(v) is str for k, v in items):
        return _encoded(items)
    return _encode(items)  # numbers, None, lists: few, and 1 == 1.0 == True as keys


def _encode(items: tuple[tuple[str, Any], ...]) -> str:
    return urlencode([(k, v) for k, v in items if v not in (None, "", [])], doseq=True)


#: Pages link to the same few hundred searches (badges, the home page's) over and over.
_encoded = lru_cache(maxsize=4096)(_encode)


# Jinja's own lookups: ``x.name`` of a dict tries the attribute first and reads the key after a
# caught AttributeError (about 0.6 us more than ``x["name"]``). The one place where that adds
# up, a search page's facet rows (about 1,000 of its 1,250 lookups), reads ``v["name"]``; the
# 130 to 300 attribute lookups left on a page (record, search, home) cost 0.1 to 0.2 ms of its
# 3 to 9 ms with the answer cache off, which an override of ``Environment.getattr`` saved.
environment = Environment(
    loader=PackageLoader("openhep.web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
environment.filters["human_size"] = human_size
environment.filters["thousands"] = thousands
environment.filters["math"] = math_html
environment.filters["math_text"] = math_text
# Jinja's own leaves U+2028/U+2029 raw: one helper for all JSON in pages.
environment.filters["tojson"] = json_in_html
environment.globals["query_string"] = query_string
# Not ``version``: pages have versions of their own (a record's), which a context variable of
# that name would put in the footer.
environment.globals["openhep_version"] = __version__


def render(
    request: Request, template: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """``template`` rendered with ``context`` plus ``request`` and ``root`` (the base URL)."""
    html = environment.get_template(template).render(
        request=request, root=base_url(request), **context
    )
    return HTMLResponse(html, status_code=status_code)
