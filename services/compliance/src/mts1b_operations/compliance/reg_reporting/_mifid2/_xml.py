"""ISO 20022 XML for RTS 22: auth.016.001.01 transactions, the head.001.001.01 business application
header, and the head.003.001.01 ``BizData`` envelope ESMA and the NCAs expect around them.

Each part is serialised with its own default namespace (``<AppHdr xmlns="...head.001.001.01">``),
the way the published samples look, rather than with generated ``ns0:`` prefixes: elements are
built unqualified and the part's root carries the ``xmlns`` declaration (ElementTree refuses a
default namespace together with unqualified attributes such as ``Ccy``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Final

__all__ = [
    "AUTH016",
    "HEAD001",
    "HEAD003",
    "MESSAGE_DEFINITION",
    "render_document",
    "transaction_element",
    "transaction_xml",
]

AUTH016: Final = "urn:iso:std:iso:20022:tech:xsd:auth.016.001.01"
HEAD001: Final = "urn:iso:std:iso:20022:tech:xsd:head.001.001.01"
HEAD003: Final = "urn:iso:std:iso:20022:tech:xsd:head.003.001.01"
MESSAGE_DEFINITION: Final = "auth.016.001.01"


def _child(parent: ET.Element, tag: str) -> ET.Element:
    """The last child with ``tag``, or a new one: paths arriving in schema order nest correctly."""
    if len(parent) and parent[-1].tag == tag:
        return parent[-1]
    return ET.SubElement(parent, tag)


def transaction_element(kind: str, record: Mapping[str, str]) -> ET.Element:
    """``<Tx><New>...</New></Tx>`` (or ``Cxl``) from a record keyed by dotted element paths."""
    tx = ET.Element("Tx")
    body = ET.SubElement(tx, kind)
    for path, value in record.items():
        elements, _, attribute = path.partition("@")
        node = body
        for tag in elements.split("."):
            node = _child(node, tag)
        if attribute:
            node.set(attribute, value)
        else:
            node.text = value
    return tx


def _tostring(element: ET.Element, namespace: str) -> str:
    element.set("xmlns", namespace)
    ET.indent(element)
    return ET.tostring(element, encoding="unicode")


def transaction_xml(kind: str, record: Mapping[str, str]) -> str:
    """One transaction as a standalone XML fragment (the report's ``line``)."""
    return _tostring(transaction_element(kind, record), AUTH016)


def _organisation(parent: ET.Element, tag: str, identifier: str, scheme: str) -> None:
    node = ET.SubElement(parent, tag)
    for name in ("OrgId", "Id", "OrgId", "Othr"):
        node = ET.SubElement(node, name)
    ET.SubElement(node, "Id").text = identifier
    scheme_name = ET.SubElement(node, "SchmeNm")
    ET.SubElement(scheme_name, "Prtry").text = scheme


def _application_header(*, sender_lei: str, authority: str, message_id: str, created: datetime) -> ET.Element:
    header = ET.Element("AppHdr")
    _organisation(header, "Fr", sender_lei, "LEI")
    _organisation(header, "To", authority, "NCA")
    ET.SubElement(header, "BizMsgIdr").text = message_id
    ET.SubElement(header, "MsgDefIdr").text = MESSAGE_DEFINITION
    ET.SubElement(header, "CreDt").text = created.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return header


def render_document(
    transactions: Iterable[tuple[str, Mapping[str, str]]],
    *,
    sender_lei: str,
    authority: str,
    message_id: str,
    created: datetime,
) -> bytes:
    """The whole file: BizData/Hdr/AppHdr and BizData/Pyld/Document/FinInstrmRptgTxRpt/Tx*."""
    header = _application_header(
        sender_lei=sender_lei, authority=authority, message_id=message_id, created=created
    )
    document = ET.Element("Document")
    report = ET.SubElement(document, "FinInstrmRptgTxRpt")
    for kind, record in transactions:
        report.append(transaction_element(kind, record))
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<BizData xmlns="{HEAD003}">\n'
        f"<Hdr>\n{_tostring(header, HEAD001)}\n</Hdr>\n"
        f"<Pyld>\n{_tostring(document, AUTH016)}\n</Pyld>\n"
        "</BizData>\n"
    )
    return text.encode("utf-8")
