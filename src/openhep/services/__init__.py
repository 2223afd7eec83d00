"""The one way in for the web app and the command line: each use case a method of
:class:`Portal` (what visitors and clients ask of an instance), :class:`Curator` (what its
data curators do to it), :class:`Analyst` (histograms of its records' files) or
:class:`EventViewer` (the events of its records' iSpy and NanoAOD files, for the display)."""

from openhep.services._analyst import (
    AnalysableRecord,
    Analyst,
    HistogramAnswer,
    HistogramJob,
    HistogramQuery,
    HistogramQueryError,
    Variable,
    analysable_files,
    is_analysable,
)
from openhep.services._curator import Curator
from openhep.services._events import (
    DisplayableRecord,
    EventPage,
    EventQueryError,
    EventViewer,
    displayable_files,
    parse_file,
    parse_ids,
    parse_index,
    parse_page,
    parse_recid,
    parse_size,
)
from openhep.services._plot import histogram_csv, histogram_png
from openhep.services._portal import NamingRecord, Portal, RecordView, SitemapSource

__all__ = [
    "AnalysableRecord",
    "Analyst",
    "Curator",
    "DisplayableRecord",
    "EventPage",
    "EventQueryError",
    "EventViewer",
    "HistogramAnswer",
    "HistogramJob",
    "HistogramQuery",
    "HistogramQueryError",
    "NamingRecord",
    "Portal",
    "RecordView",
    "SitemapSource",
    "Variable",
    "analysable_files",
    "displayable_files",
    "histogram_csv",
    "histogram_png",
    "is_analysable",
    "parse_file",
    "parse_ids",
    "parse_index",
    "parse_page",
    "parse_recid",
    "parse_size",
]
