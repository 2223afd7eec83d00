"""Analysis beside the data: histograms of expressions over ROOT (TTree, RNTuple) and CSV
files, read in chunks of only the branches needed, filled in this process, a process pool
or a Dask cluster; validated-runs filters; results cached by content. No catalogue, no web
here: callers give file locations (the service layer resolves records to them)."""

from openhep.analysis._cache import (
    ANALYSIS_FORMAT_VERSION,
    ResultCache,
    cache_key,
)
from openhep.analysis._errors import (
    AnalysisCancelled,
    AnalysisError,
    AnalysisTimeout,
)
from openhep.analysis._executors import (
    DaskExecutor,
    Executor,
    ExecutorUnavailable,
    InlineExecutor,
    ProcessExecutor,
    executor_from_settings,
)
from openhep.analysis._expression import (
    MAX_EXPRESSION_LENGTH,
    Column,
    CompiledExpression,
    ExpressionError,
    compile_expression,
)
from openhep.analysis._histogram import (
    histogram,
    run_histogram,
)
from openhep.analysis._readers import (
    Source,
    open_source,
)
from openhep.analysis._request import (
    MAX_BINS,
    HistogramRequest,
    HistogramResult,
    Progress,
)
from openhep.analysis._runs import (
    ValidatedRuns,
)

__all__ = [
    "ANALYSIS_FORMAT_VERSION",
    "MAX_BINS",
    "MAX_EXPRESSION_LENGTH",
    "AnalysisCancelled",
    "AnalysisError",
    "AnalysisTimeout",
    "Column",
    "CompiledExpression",
    "DaskExecutor",
    "Executor",
    "ExecutorUnavailable",
    "ExpressionError",
    "HistogramRequest",
    "HistogramResult",
    "InlineExecutor",
    "ProcessExecutor",
    "Progress",
    "ResultCache",
    "Source",
    "ValidatedRuns",
    "cache_key",
    "compile_expression",
    "executor_from_settings",
    "histogram",
    "open_source",
    "run_histogram",
]
