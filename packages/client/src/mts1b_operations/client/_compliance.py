"""The compliance service's HTTP API: :class:`ComplianceClient` (reports, repairs, report files).

Example::

    from mts1b_operations.client import ComplianceClient

    async with ComplianceClient.from_env() as compliance:      # MTS_COMPLIANCE_URL, MTS_TOKEN
        page = await compliance.reports(fund_id="live-equities", regime="cat", status="rejected")
        for report in page.items:
            print(report.id, report.event_type, [str(p) for p in report.problems])
        fixed = await compliance.repair(page.items[0].id, {"deptType": "A"}, reason="desk code missing")
        files = await compliance.flush(fund_id="live-equities", regime="cat")
        for f in await compliance.files(status="pending"):
            print(f.name, f.record_count, f.deadline, f.overdue)

Errors are the SDK's tree: an unknown report is :class:`~._errors.NotFoundError`; a repair of a
report that is not rejected or failed is :class:`~._errors.ConflictError`; a repair that still
leaves problems is :class:`~._errors.BadRequestError` whose ``field`` names the first one (the
service's full list is in ``body``; :func:`repair_problems` reads it). Reads need role viewer,
repairs and flushes role operator.

The answer types (:class:`ReportView`, :class:`ReportPage`, :class:`ReportProblem`,
:class:`ReportFileView`) are core's wire shapes (``mts1b_operations.core.schemas.compliance_api``,
where they are named as in the service's OpenAPI schema: ``ReportList``, ``ProblemView``,
``FileView``), the Structs the service itself encodes; unknown fields from a newer service are
ignored.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import msgspec

from mts1b_operations.core.schemas.compliance_api import (
    FileList,
    FileView,
    ProblemView,
    ReportList,
    ReportView,
)

from ._config import ClientConfig
from ._errors import ApiError, ConfigurationError
from ._http import ServiceClient

if TYPE_CHECKING:
    from typing import Self

    import httpx

__all__ = [
    "ComplianceClient",
    "ReportFileView",
    "ReportPage",
    "ReportProblem",
    "ReportView",
    "repair_problems",
]


ReportProblem = ProblemView
"""Why a report cannot be filed (the service's ``ProblemView``); ``str()`` reads ``field: problem``."""
ReportPage = ReportList
"""A page of reports, oldest first; ``next_after_id`` continues it (None: this was the last)."""
ReportFileView = FileView
"""One file of reports as cut for a regime, fund and trade date, and its submission state (the
service's ``FileView``): ``deadline`` is when the regulator must have it (CAT: T+1 08:00 ET),
``overdue`` whether that passed before it was submitted, ``metadata_name`` / ``metadata_sha256``
the metadata file delivered right after it (CAT: ``<name>.meta.json``), if any."""


def repair_problems(error: ApiError) -> list[ReportProblem]:
    """The problems a refused repair (400) still leaves, as the service listed them; [] if none."""
    body = error.body
    found = body.get("problems") if isinstance(body, dict) else None
    extra = body.get("extra") if isinstance(body, dict) else None
    if found is None and isinstance(extra, dict):
        found = extra.get("problems")
    if not isinstance(found, list):
        return []
    try:
        return msgspec.convert(found, list[ReportProblem])
    except msgspec.ValidationError:
        return []


def _report_id(report_id: int) -> int:
    # bool is an int, and a str id would be interpolated unchecked into the path.
    if isinstance(report_id, bool) or not isinstance(report_id, int) or report_id < 1:
        raise ConfigurationError("report_id", f"must be a positive integer (got {report_id!r})")
    return report_id


class ComplianceClient(ServiceClient):
    """The ``mts1b-compliance`` API (``/v1/compliance/...``)."""

    @classmethod
    def from_env(
        cls, config: ClientConfig | None = None, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> Self:
        """A client of MTS_COMPLIANCE_URL with MTS_TOKEN (or the credentials file), see ``ClientConfig``."""
        return cls.for_service("compliance", config, transport=transport)

    async def reports(
        self,
        *,
        fund_id: str | None = None,
        regime: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        after_id: int | None = None,
    ) -> ReportPage:
        """One page of reports matching the filters (all of them when none is given), oldest first."""
        params = {
            "fund_id": fund_id,
            "regime": regime,
            "status": status,
            "limit": limit,
            "after_id": after_id,
        }
        return await self.get("/v1/compliance/reports", ReportPage, params=params)

    async def iter_reports(
        self,
        *,
        fund_id: str | None = None,
        regime: str | None = None,
        status: str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[ReportView]:
        """Every report matching the filters, a page at a time."""
        after: int | None = None
        while True:
            page = await self.reports(
                fund_id=fund_id, regime=regime, status=status, limit=page_size, after_id=after
            )
            for report in page.items:
                yield report
            if page.next_after_id is None or not page.items:
                return
            after = page.next_after_id

    async def report(self, report_id: int) -> ReportView:
        """One report by id (NotFoundError when there is none)."""
        return await self.get(f"/v1/compliance/reports/{_report_id(report_id)}", ReportView)

    async def repair(self, report_id: int, fields: Mapping[str, Any], *, reason: str) -> ReportView:
        """Rebuild a rejected or failed report with ``fields`` (the spec's names) set; the new report.

        The old report becomes superseded. The operator and ``reason`` go into the audit trail.
        """
        body = {"fields": dict(fields), "reason": reason}
        return await self.post(
            f"/v1/compliance/reports/{_report_id(report_id)}/repair", ReportView, body=body
        )

    async def files(
        self, *, fund_id: str | None = None, regime: str | None = None, status: str | None = None
    ) -> list[ReportFileView]:
        """The report files matching the filters, with their deadline and submission state."""
        params = {"fund_id": fund_id, "regime": regime, "status": status}
        return (await self.get("/v1/compliance/files", FileList, params=params)).items

    async def flush(self, *, fund_id: str | None = None, regime: str | None = None) -> list[ReportFileView]:
        """Cut files now from every pending valid report (of ``fund_id`` / ``regime``); the files cut."""
        body = {"fund_id": fund_id, "regime": regime}
        return (await self.post("/v1/compliance/files/flush", FileList, body=body)).items
