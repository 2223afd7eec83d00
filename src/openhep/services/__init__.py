"""The one way in for the web app and the command line: each use case a method of
:class:`Portal` (what visitors and clients ask of an instance) or :class:`Curator` (what its
data curators do to it)."""

from openhep.services._curator import Curator
from openhep.services._portal import NamingRecord, Portal, RecordView, SitemapSource

__all__ = ["Curator", "NamingRecord", "Portal", "RecordView", "SitemapSource"]
