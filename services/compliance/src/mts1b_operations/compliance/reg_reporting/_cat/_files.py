"""CAT submission files: the data file (bzip2-compressed NDJSON), its name, its metadata file.

Followed: *CAT Reporting Technical Specifications for Industry Members* v4.1.0, the file
submission section (file names, data file, metadata file: §6 of the v4.x editions) and the file
integrity error codes of its appendix (1101-1128). The spec's own text of §6 could not be
retrieved when this was written; docs/operations/compliance-cat.md ("The metadata file") lists
the sources used and exactly what is assumed.

Data file: ``{CAT Submitter ID}_{CAT Reporter IMID}_{File Generation Date}_{Group}_{File Kind}_``
``{File Number}.json.bz2`` (e.g. ``ABCD12345_FIRM_20261125_fund1_OrderEvents_000001.json.bz2``),
NDJSON compressed with bzip2 as CAT requires. The File Generation Date is the Eastern date the
file is generated (cut), not the trading day its events belong to: a late cut of an older day's
reports carries the day it is made. The File Number is the service's sequence; the store moves it on when the
name is taken (two trading days cut the same day), since CAT refuses a base name it already
accepted (error 1103).

Metadata file: the data file's name with ``.meta.json`` in place of ``.json.bz2``; uncompressed
JSON: ``type`` "META", ``submitter``, ``reporter``, ``fileGenerationDate`` (the name's date, a
Date: YYYYMMDD number), ``fileVersion`` (the spec version of the records), ``doneForDay`` (false:
the service may cut another file the same day) and ``files``: one entry with the data file's
``fileName``, ``recordCount`` and ``compressedHash`` (SHA-256, hex, of the ``.json.bz2`` bytes).
It must reach CAT after its data file (error 1122: a metadata file naming a data file not
received) and within 2 hours of it (1101 after 30 minutes, 1121 after 2 hours).
"""

from __future__ import annotations

import bz2
import hashlib
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, Final

from mts1b_operations.core.funds import Fund

from .._model import MetadataFile, Report, ReportFile
from ._calendar import report_deadline
from ._formats import cat_date, dumps, eastern_date

__all__ = [
    "DATA_MEDIA_TYPE",
    "FILE_KIND",
    "FILE_VERSION",
    "METADATA_MEDIA_TYPE",
    "METADATA_TYPE",
    "file_group",
    "generation_date",
    "metadata_file",
    "render_data_file",
]

FILE_KIND: Final = "OrderEvents"
FILE_VERSION: Final = "4.1.0"
"""The specification version the records follow (the metadata's ``fileVersion``)."""
METADATA_TYPE: Final = "META"
DATA_MEDIA_TYPE: Final = "application/x-bzip2"
METADATA_MEDIA_TYPE: Final = "application/json"
_DATA_SUFFIX: Final = ".json.bz2"
_METADATA_SUFFIX: Final = ".meta.json"
_NAME_DATE: Final = re.compile(r"(\d{4})(\d{2})(\d{2})_")


def file_group(fund: Fund) -> str:
    """The Group name component: the fund's ``cat_file_group``, else its id's letters and digits."""
    configured = fund.compliance.cat_file_group
    if configured is not None:
        return configured
    return re.sub(r"[^A-Za-z0-9]", "", fund.fund_id)[:20] or "fund"


def generation_date(now: datetime | None = None) -> date:
    """The File Generation Date of a file made at ``now`` (default: now): its Eastern date."""
    return eastern_date(now or datetime.now(UTC))


def _submitter(fund: Fund) -> str:
    compliance = fund.compliance
    submitter = compliance.cat_submitter_id or compliance.cat_subscriber_id
    if submitter is None:
        raise ValueError(f"fund {fund.fund_id!r}: compliance.cat_submitter_id is not configured")
    return str(submitter)


def _reporter(fund: Fund) -> str:
    imid = fund.compliance.cat_reporter_imid
    if imid is None:
        raise ValueError(f"fund {fund.fund_id!r}: compliance.cat_reporter_imid is not configured")
    return imid


def data_file_name(fund: Fund, generated_on: date, sequence: int) -> str:
    if not 1 <= sequence <= 999_999:
        raise ValueError(f"sequence: {sequence} is outside 1..999999 (the File Number has 6 digits)")
    parts = (
        _submitter(fund),
        _reporter(fund),
        str(cat_date(generated_on)),
        file_group(fund),
        FILE_KIND,
        f"{sequence:06d}",
    )
    return "_".join(parts) + _DATA_SUFFIX


def _metadata(
    data_name: str, content: bytes, record_count: int, *, fund: Fund, generated_on: date
) -> MetadataFile:
    body: dict[str, Any] = {
        "type": METADATA_TYPE,
        "submitter": _submitter(fund),
        "reporter": _reporter(fund),
        "fileGenerationDate": cat_date(generated_on),
        "fileVersion": FILE_VERSION,
        "doneForDay": False,
        "files": [
            {
                "fileName": data_name,
                "recordCount": record_count,
                "compressedHash": hashlib.sha256(content).hexdigest(),
            }
        ],
    }
    return MetadataFile(
        name=data_name.removesuffix(_DATA_SUFFIX) + _METADATA_SUFFIX,
        content=(dumps(body) + "\n").encode(),
        media_type=METADATA_MEDIA_TYPE,
    )


def render_data_file(
    reports: Sequence[Report],
    *,
    fund: Fund,
    trade_date: date,
    sequence: int,
    generated_on: date | None = None,
) -> ReportFile:
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
    generated_on = generated_on or generation_date()
    name = data_file_name(fund, generated_on, sequence)
    text = "".join(f"{report.line}\n" for report in reports)
    content = bz2.compress(text.encode(), compresslevel=9)
    return ReportFile(
        regime="cat",
        fund_id=fund.fund_id,
        name=name,
        content=content,
        trade_date=trade_date,
        sequence=sequence,
        record_count=len(reports),
        deadline=report_deadline(trade_date),
        media_type=DATA_MEDIA_TYPE,
        report_keys=tuple(report.report_key for report in reports),
        metadata=_metadata(name, content, len(reports), fund=fund, generated_on=generated_on),
    )


def metadata_file(data_file: ReportFile, *, fund: Fund) -> tuple[str, bytes]:
    """The metadata file (name, JSON content) of ``data_file``, a CAT data file of ``fund``.

    A function of the data file alone (its name, bytes and record count): the same data file
    always gives the same metadata file, byte for byte.
    """
    if data_file.regime != "cat":
        raise ValueError(f"data_file.regime: {data_file.regime!r} is not cat")
    prefix = f"{_submitter(fund)}_{_reporter(fund)}_"
    rest = data_file.name.removeprefix(prefix)
    found = _NAME_DATE.match(rest)
    if not data_file.name.endswith(_DATA_SUFFIX) or rest == data_file.name or found is None:
        raise ValueError(
            f"data_file.name: {data_file.name!r} is not a CAT data file name of fund {fund.fund_id!r} "
            f"({prefix}YYYYMMDD_..{_DATA_SUFFIX})"
        )
    try:
        generated_on = date(*(int(part) for part in found.groups()))
    except ValueError:
        raise ValueError(f"data_file.name: {data_file.name!r} has no valid File Generation Date") from None
    meta = _metadata(
        data_file.name, data_file.content, data_file.record_count, fund=fund, generated_on=generated_on
    )
    return meta.name, meta.content
