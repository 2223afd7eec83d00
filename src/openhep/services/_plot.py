"""A histogram answer as a file: a PNG drawn with matplotlib in the CMS style of mplhep, and
CSV (one row per bin).

Drawing uses matplotlib's object API on an Agg canvas (no pyplot, no GUI backend, nothing per
thread). matplotlib's style parameters are one process-wide dictionary, so the few lines that
read them under mplhep's style hold :data:`_STYLE_LOCK`: two threads drawing at once would
otherwise see each other's style half set.
"""

from __future__ import annotations

import csv
import io
import threading

from openhep.services._analyst import HistogramAnswer

#: Held while matplotlib's global style is set to mplhep's CMS style and a figure is drawn.
_STYLE_LOCK = threading.Lock()
#: The PNG's size in inches and its resolution: 1000 x 800 pixels.
FIGURE_INCHES = (10.0, 8.0)
DPI = 100


def histogram_png(answer: HistogramAnswer, *, log: bool = False) -> bytes:
    """The histogram of ``answer`` as a PNG: its bins as steps with their statistical errors,
    the expression (and selection) on the axes, the record in the corner, CMS Open Data style.
    """
    import matplotlib as mpl
    import mplhep
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    result, job = answer.result, answer.job
    counts = np.asarray(result.counts, dtype=float)
    errors = np.sqrt(np.asarray(result.sumw2, dtype=float))
    edges = np.asarray(result.edges, dtype=float)
    with _STYLE_LOCK, mpl.rc_context(mplhep.style.CMS):
        figure = Figure(figsize=FIGURE_INCHES, dpi=DPI)
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        mplhep.histplot(counts, edges, yerr=errors, ax=axes, histtype="step", label="events")
        axes.set_xlabel(_shorten(job.query.expression, 60))
        axes.set_ylabel(f"Events / {(edges[-1] - edges[0]) / len(counts):.4g}")
        if log:
            axes.set_yscale("log")
            positive = counts[counts > 0]
            if positive.size:
                axes.set_ylim(bottom=max(positive.min() * 0.5, 0.1))
        else:
            axes.set_ylim(bottom=0)
        axes.set_xlim(edges[0], edges[-1])
        mplhep.cms.label("Open Data", data=True, ax=axes, rlabel=f"record {job.query.recid}")
        lines = [f"{result.entries:,} entries"]
        if job.query.selection:
            lines.append(_shorten(job.query.selection, 50))
        axes.legend(title="\n".join(lines), loc="upper right", fontsize="small")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
    return buffer.getvalue()


def histogram_csv(answer: HistogramAnswer) -> str:
    """The bins of ``answer`` as CSV: ``low,high,count,sumw2``, one row a bin (under- and
    overflow are in the JSON answer)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["low", "high", "count", "sumw2"])
    result = answer.result
    edges = result.edges
    for i, (count, sumw2) in enumerate(zip(result.counts, result.sumw2, strict=True)):
        writer.writerow(
            [repr(float(edges[i])), repr(float(edges[i + 1])), _num(count), _num(sumw2)]
        )
    return out.getvalue()


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
