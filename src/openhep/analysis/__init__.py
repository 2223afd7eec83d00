"""Analysis beside the data: the safe expression language over NanoAOD, ROOT and CSV columns."""

from openhep.analysis._expression import (
    MAX_EXPRESSION_LENGTH,
    Column,
    CompiledExpression,
    ExpressionError,
    compile_expression,
)

__all__ = [
    "MAX_EXPRESSION_LENGTH",
    "Column",
    "CompiledExpression",
    "ExpressionError",
    "compile_expression",
]
