"""Where a file not held here is fetched from: ``uri prefix -> https base`` rules.

A record lists files by their URI (``root://eospublic.cern.ch//eos/opendata/…``); when this
instance holds no good copy, a download of it is redirected to the file's *origin*: the HTTP(S)
address of the same bytes, made from the URI by the longest matching rule. The default is CODP's
own public HTTP gateway, the one ``cernopendata-client`` downloads from (it replaces
``root://eospublic.cern.ch/`` by ``https://opendata.cern.ch``; CODP's records link
``https://opendata.cern.ch/eos/opendata/…`` the same way). Files this instance publishes under
its own namespace (``…/eos/opendata/openhep/``, where uploads go) have no origin but here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from openhep.storage._paths import UnsafePathError, store_path

SETTING = "OPENHEP_FILE_ORIGINS"

#: The default rules: CODP's EOS over CODP's HTTPS gateway; uploads here (see
#: ``_service.ADDED_FILES_PREFIX``) have no other origin (an empty target).
DEFAULT_ORIGINS: tuple[tuple[str, str], ...] = (
    ("root://eospublic.cern.ch//eos/opendata/", "https://opendata.cern.ch/eos/opendata/"),
    ("root://eospublic.cern.ch//eos/opendata/openhep/", ""),
)

#: Characters left as they are in the path of an origin URL: RFC 3986's unreserved ones (which
#: ``quote`` keeps anyway), ``/`` and the sub-delimiters a path may hold. ``%``, ``?``, ``#``,
#: spaces and non-ASCII are percent-encoded, so the URL names exactly the URI's file.
_PATH_SAFE = "/!$&'()*+,;=:@"
#: A URI prefix: printable, no spaces or commas (which separate rules).
_PREFIX = re.compile(r"^[^\s,=\x00-\x1f\x7f]{1,1024}$")


class OriginRulesError(ValueError):
    """``OPENHEP_FILE_ORIGINS`` that cannot be used; the message says what to change."""


def _target(item: str, target: str) -> str:
    """``target`` checked as the base URL of an origin ('' for no origin)."""
    if not target:
        return ""
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OriginRulesError(
            f"{SETTING}: {item!r}: the origin must be an http:// or https:// URL with a host"
        )
    if parts.username is not None or parts.password is not None:
        raise OriginRulesError(
            f"{SETTING}: {item!r}: the origin must not carry credentials (they would be sent"
            " to every client)"
        )
    if parts.query or parts.fragment or "?" in target or "#" in target:
        raise OriginRulesError(f"{SETTING}: {item!r}: the origin has no '?query' or '#fragment'")
    if not target.endswith("/"):
        raise OriginRulesError(
            f"{SETTING}: {item!r}: end the origin with '/' (the rest of the URI is appended)"
        )
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        raise OriginRulesError(f"{SETTING}: {item!r}: the origin has no spaces or control codes")
    return target


@dataclass(frozen=True)
class OriginRules:
    """Ordered ``uri prefix -> origin base URL`` rules; the longest matching prefix wins, and a
    rule with an empty origin says files under it have none."""

    rules: tuple[tuple[str, str], ...] = DEFAULT_ORIGINS

    @classmethod
    def parse(cls, text: str | None) -> OriginRules:
        """Rules from ``OPENHEP_FILE_ORIGINS``: None (unset) gives the defaults, an empty or
        blank value no rules at all (files not held here are then answered 404)."""
        if text is None:
            return cls()
        if not text.strip():
            return cls(())
        rules: list[tuple[str, str]] = []
        for raw in text.split(","):
            item = raw.strip()
            prefix, sep, target = item.partition("=")
            if not sep or not _PREFIX.match(prefix):
                raise OriginRulesError(
                    f"{SETTING}: {item!r} is not 'uri-prefix=https-base' (rules are separated"
                    " by commas; the prefix has no spaces)"
                )
            rules.append((prefix, _target(item, target.strip())))
        if len({prefix for prefix, _ in rules}) != len(rules):
            raise OriginRulesError(f"{SETTING}: a URI prefix is given twice")
        return cls(tuple(rules))

    def url_of(self, uri: str) -> str | None:
        """The origin URL of the file at ``uri``, or None: no rule (or an empty one) covers it,
        or the rest of the URI is not a plain path (``..``, empty parts, control codes)."""
        best: tuple[str, str] | None = None
        for prefix, target in self.rules:
            if uri.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, target)
        if best is None or not best[1]:
            return None
        # ``root://host//eos/x`` and ``root://host/`` + ``/eos/x`` name the same file.
        rest = uri[len(best[0]) :].lstrip("/")
        try:
            store_path(rest)
        except UnsafePathError:
            return None
        return best[1] + quote(rest, safe=_PATH_SAFE)
