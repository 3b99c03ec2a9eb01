"""CAT submission files: the data file (bzip2-compressed NDJSON), its name, its metadata file.

Data file names follow the spec's convention
``{CAT Submitter ID}_{CAT Reporter IMID}_{File Generation Date}_{Group}_{File Kind}_{File Number}.json.bz2``
(e.g. ``ABCD12345_FIRM_20261125_fund1_OrderEvents_000001.json.bz2``): the File Number is the
file's sequence for the fund and day, so a file name never repeats. The File Generation Date is
the CAT trading day the file covers (files are cut for one trading day; keeping the name a
function of the reports makes rendering pure and repeatable). CAT requires data files to be
bzip2-compressed. Each data file travels with a metadata file of the same name ending in
``.meta.json`` that states the record count and the SHA-256 of the compressed data file.
"""

from __future__ import annotations

import bz2
import hashlib
import re
from collections.abc import Sequence
from datetime import date
from typing import Final

from mts1b_operations.core.funds import Fund

from .._model import Report, ReportFile
from ._calendar import report_deadline
from ._formats import cat_date, dumps

__all__ = ["DATA_MEDIA_TYPE", "FILE_KIND", "file_group", "metadata_file", "render_data_file"]

FILE_KIND: Final = "OrderEvents"
DATA_MEDIA_TYPE: Final = "application/x-bzip2"
_DATA_SUFFIX: Final = ".json.bz2"


def file_group(fund: Fund) -> str:
    """The Group name component: the fund's ``cat_file_group``, else its id's letters and digits."""
    configured = fund.compliance.cat_file_group
    if configured is not None:
        return configured
    return re.sub(r"[^A-Za-z0-9]", "", fund.fund_id)[:20] or "fund"


def _submitter(fund: Fund) -> str:
    compliance = fund.compliance
    submitter = compliance.cat_submitter_id or compliance.cat_subscriber_id
    if submitter is None:
        raise ValueError(f"fund {fund.fund_id!r}: compliance.cat_submitter_id is not configured")
    return str(submitter)


def data_file_name(fund: Fund, trade_date: date, sequence: int) -> str:
    imid = fund.compliance.cat_reporter_imid
    if imid is None:
        raise ValueError(f"fund {fund.fund_id!r}: compliance.cat_reporter_imid is not configured")
    if not 1 <= sequence <= 999_999:
        raise ValueError(f"sequence: {sequence} is outside 1..999999 (the File Number has 6 digits)")
    parts = (
        _submitter(fund),
        imid,
        str(cat_date(trade_date)),
        file_group(fund),
        FILE_KIND,
        f"{sequence:06d}",
    )
    return "_".join(parts) + _DATA_SUFFIX


def render_data_file(reports: Sequence[Report], *, fund: Fund, trade_date: date, sequence: int) -> ReportFile:
    if not reports:
        raise ValueError("reports: a CAT file needs at least one report")
    for i, report in enumerate(reports):
        if report.regime != "cat":
            raise ValueError(f"reports[{i}]: regime {report.regime!r} is not cat")
        if not report.is_valid:
            raise ValueError(f"reports[{i}]: report {report.report_key} is rejected and cannot be filed")
        if report.fund_id != fund.fund_id:
            raise ValueError(f"reports[{i}]: belongs to fund {report.fund_id!r}, not {fund.fund_id!r}")
        if report.trade_date != trade_date:
            raise ValueError(f"reports[{i}]: trade date {report.trade_date} is not {trade_date}")
    text = "".join(f"{report.line}\n" for report in reports)
    return ReportFile(
        regime="cat",
        fund_id=fund.fund_id,
        name=data_file_name(fund, trade_date, sequence),
        content=bz2.compress(text.encode(), compresslevel=9),
        trade_date=trade_date,
        sequence=sequence,
        record_count=len(reports),
        deadline=report_deadline(trade_date),
        media_type=DATA_MEDIA_TYPE,
        report_keys=tuple(report.report_key for report in reports),
    )


def metadata_file(data_file: ReportFile, *, fund: Fund) -> tuple[str, bytes]:
    """The metadata file that accompanies ``data_file``: its name and its JSON content."""
    if not data_file.name.endswith(_DATA_SUFFIX):
        raise ValueError(f"data_file.name: {data_file.name!r} is not a CAT data file name")
    name = data_file.name.removesuffix(_DATA_SUFFIX) + ".meta.json"
    content = {
        "type": "MetaData",
        "submitter": _submitter(fund),
        "reporter": fund.compliance.cat_reporter_imid,
        "fileGenerationDate": cat_date(data_file.trade_date),
        "dataFileName": data_file.name,
        "recordCount": data_file.record_count,
        "compressedHash": hashlib.sha256(data_file.content).hexdigest(),
    }
    return name, (dumps(content) + "\n").encode()
