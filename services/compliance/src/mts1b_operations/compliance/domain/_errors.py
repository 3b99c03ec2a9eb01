"""Why a compliance request is refused; the HTTP layer maps each to its status code."""

from __future__ import annotations

from collections.abc import Sequence

from ..reg_reporting._model import FieldProblem

__all__ = [
    "ComplianceError",
    "InvalidRequestError",
    "NotRepairableError",
    "RepairRejectedError",
    "ReportNotFoundError",
]


class ComplianceError(Exception):
    """Base of the refusals below."""


class InvalidRequestError(ComplianceError, ValueError):
    """A parameter or body field is malformed or unknown; ``field`` names it (HTTP 400)."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class ReportNotFoundError(ComplianceError, LookupError):
    """No report has this id (HTTP 404)."""

    def __init__(self, report_id: int) -> None:
        self.report_id = report_id
        super().__init__(f"no report with id {report_id}")


class NotRepairableError(ComplianceError):
    """The report's state does not allow a repair (HTTP 409)."""

    def __init__(self, report_id: int, reason: str) -> None:
        self.report_id = report_id
        self.reason = reason
        super().__init__(f"report {report_id} cannot be repaired: {reason}")


class RepairRejectedError(ComplianceError):
    """The repaired report still has problems; nothing was stored (HTTP 400 naming the first field)."""

    def __init__(self, report_id: int, problems: Sequence[FieldProblem]) -> None:
        self.report_id = report_id
        self.problems = tuple(problems)
        listed = "; ".join(str(problem) for problem in self.problems) or "no report was built"
        super().__init__(f"the repair of report {report_id} still leaves problems: {listed}")

    @property
    def field(self) -> str:
        return self.problems[0].field if self.problems else "fields"
