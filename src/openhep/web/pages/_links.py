"""Which site-relative paths this instance serves: the rest of a text's links go to the portal
the text came from (``OPENHEP_ORIGIN_URL``), marked external, instead of answering 404 here."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import cache
from importlib.resources import files
from urllib.parse import unquote

from openhep.model import RECID_PATTERN
from openhep.services import Portal
from openhep.web.pages import _content
from openhep.web.pages._sanitize import SiteLinks

_RECORD = re.compile(f"^/(?:record|api/records)/({RECID_PATTERN})$")
_DOC = re.compile(r"^/docs/([^/]+)$")
_NEWS = re.compile(r"^/news/([^/]+)$")
_EOS = re.compile(r"^/eos/opendata/(.+)$")
_STATIC = re.compile(r"^/static/([A-Za-z0-9_./-]{1,300})$")
#: Pages every instance serves, whatever it holds.
ALWAYS = frozenset(
    {"/", "/search", "/docs", "/glossary", "/news", "/api/records", "/api/news.xml", "/sitemap.xml"}
)


@cache
def _static_file(name: str) -> bool:
    if ".." in name.split("/"):
        return False
    return (files("openhep.web") / "static" / name).is_file()


def path_recids(paths: Iterable[str]) -> list[str]:
    """The recids that record paths among ``paths`` name (``/record/1``, ``/api/records/1``)."""
    return [m.group(1) for p in paths if (m := _RECORD.match(p))]


def foreign_paths(
    service: Portal, paths: Iterable[str], titles: Mapping[str, str] | None = None
) -> frozenset[str]:
    """Those of ``paths`` (site-relative, without query or fragment) that this instance does
    not serve: a batched look-up of the records, documents and files they name. ``titles``,
    when given, is :meth:`Portal.titles` of (at least) :func:`path_recids` of ``paths``, read
    already by the caller: the records are not looked up again."""
    wanted = set(paths) - ALWAYS
    if not wanted:
        return frozenset()
    served: set[str] = set()
    recids = {p: m.group(1) for p in wanted if (m := _RECORD.match(p))}
    if recids:
        public = titles if titles is not None else service.titles(list(set(recids.values())))
        served |= {p for p, recid in recids.items() if recid in public}
    docs = {p: m.group(1) for p in wanted if (m := _DOC.match(p))}
    if docs:
        held = service.document_slugs() | {page.slug for page in _content.pages("docs")}
        served |= {p for p, slug in docs.items() if slug in held}
    own_news = {page.slug for page in _content.pages("news")}
    served |= {p for p in wanted if (m := _NEWS.match(p)) and m.group(1) in own_news}
    eos = {p: "eos/opendata/" + unquote(m.group(1)) for p in wanted if (m := _EOS.match(p))}
    if eos:
        held_paths = service.held_paths(list(eos.values()))
        served |= {p for p, store in eos.items() if store in held_paths}
    served |= {p for p in wanted if (m := _STATIC.match(p)) and _static_file(m.group(1))}
    return frozenset(wanted - served)


def site_links(
    service: Portal,
    root: str,
    paths: Iterable[str],
    base: str,
    titles: Mapping[str, str] | None = None,
) -> SiteLinks:
    """How the links of a text naming ``paths``, shown on the page at path ``base``, are
    written on this instance (``titles``: see :func:`foreign_paths`)."""
    return SiteLinks(root, service.origin_url, foreign_paths(service, paths, titles), base)
