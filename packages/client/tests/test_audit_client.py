"""AuditClient reads the service's answers byte for byte into core's wire shapes.

The bytes are those the service answered (captured from the running service; their shape is
pinned in services/audit/tests/service/test_wire_shapes.py), served through httpx.MockTransport;
services/audit/tests/service/test_client.py runs the client against the service itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import msgspec
import pytest

from mts1b_operations.client import (
    AuditCheckpointInfo,
    AuditClient,
    AuditPage,
    AuditProof,
    AuditRecord,
    AuditTrail,
    AuditVerification,
    ClientConfig,
    DrillReportRecorded,
    ServiceUnavailableError,
    UnexpectedResponseError,
)

TRAIL = (
    b'{"subject_id":"ord-0","count":2,"entries":[{"sequence":0,"timestamp":"2026-11-25'
    b'T14:30:57.801669Z","timestamp_us":1795617057801669,"actor":"mts1b-oms","action":'
    b'"order_rejected","subject_id":"ord-0","data":{"i":0},"prev_hash":"00000000000000'
    b'00000000000000000000000000000000000000000000000000","hash":"b1cda750ea1436da1de6'
    b'69e1a6c1c9ebfcf652661681e112110948250c9d31e4","canonical":"{\\"action\\":\\"order_r'
    b'ejected\\",\\"actor\\":\\"mts1b-oms\\",\\"data\\":{\\"i\\":0},\\"prev\\":\\"0000000000000000'
    b'000000000000000000000000000000000000000000000000\\",\\"seq\\":0,\\"subject\\":\\"ord-0'
    b'\\",\\"ts\\":1795617057801669,\\"v\\":1}"},{"sequence":2,"timestamp":"2026-11-25T14:3'
    b'0:57.819439Z","timestamp_us":1795617057819439,"actor":"mts1b-oms","action":"orde'
    b'r_rejected","subject_id":"ord-0","data":{"i":2},"prev_hash":"5629fa38ced600ecc82'
    b'983ca6826458847881f2cd224002016c279484abd7dc3","hash":"c3206d8bdba65a9425e587518'
    b'e3df2dd0e1b871f7940310b476e39bc62f5ebae","canonical":"{\\"action\\":\\"order_reject'
    b'ed\\",\\"actor\\":\\"mts1b-oms\\",\\"data\\":{\\"i\\":2},\\"prev\\":\\"5629fa38ced600ecc8298'
    b'3ca6826458847881f2cd224002016c279484abd7dc3\\",\\"seq\\":2,\\"subject\\":\\"ord-0\\",\\"'
    b'ts\\":1795617057819439,\\"v\\":1}"}]}'
)
PAGE = (
    b'{"from_sequence":1,"limit":2,"count":2,"entries":[{"sequence":1,"timestamp":"202'
    b'6-11-25T14:30:57.818109Z","timestamp_us":1795617057818109,"actor":"mts1b-oms","a'
    b'ction":"order_rejected","subject_id":"ord-1","data":{"i":1},"prev_hash":"b1cda75'
    b'0ea1436da1de669e1a6c1c9ebfcf652661681e112110948250c9d31e4","hash":"5629fa38ced60'
    b'0ecc82983ca6826458847881f2cd224002016c279484abd7dc3","canonical":"{\\"action\\":\\"'
    b'order_rejected\\",\\"actor\\":\\"mts1b-oms\\",\\"data\\":{\\"i\\":1},\\"prev\\":\\"b1cda750e'
    b'a1436da1de669e1a6c1c9ebfcf652661681e112110948250c9d31e4\\",\\"seq\\":1,\\"subject\\":'
    b'\\"ord-1\\",\\"ts\\":1795617057818109,\\"v\\":1}"},{"sequence":2,"timestamp":"2026-11-'
    b'25T14:30:57.819439Z","timestamp_us":1795617057819439,"actor":"mts1b-oms","action'
    b'":"order_rejected","subject_id":"ord-0","data":{"i":2},"prev_hash":"5629fa38ced6'
    b'00ecc82983ca6826458847881f2cd224002016c279484abd7dc3","hash":"c3206d8bdba65a9425'
    b'e587518e3df2dd0e1b871f7940310b476e39bc62f5ebae","canonical":"{\\"action\\":\\"order'
    b'_rejected\\",\\"actor\\":\\"mts1b-oms\\",\\"data\\":{\\"i\\":2},\\"prev\\":\\"5629fa38ced600'
    b'ecc82983ca6826458847881f2cd224002016c279484abd7dc3\\",\\"seq\\":2,\\"subject\\":\\"ord'
    b'-0\\",\\"ts\\":1795617057819439,\\"v\\":1}"}],"next_from_sequence":3}'
)
CHECKPOINT = (
    b'{"tree_size":3,"sequence":2,"head_hash":"c3206d8bdba65a9425e587518e3df2dd0e1b871'
    b'f7940310b476e39bc62f5ebae","merkle_root":"0d893f0ddfe5462f5d1d63440307a9feacf297'
    b'424dabd2ecdd3847ae53c29654","note":"mts1b-operations/audit\\n3\\nDYk/Dd/lRi9dHWNEA'
    b"wep/qzyl0JNq9Ls3ThHrlPCllQ=\\nchain-head c3206d8bdba65a9425e587518e3df2dd0e1b871f"
    b"7940310b476e39bc62f5ebae\\n\\n\xe2\x80\x94 mts1b-operations/audit UhfH7IwAWc2Es26HoJigQqg5G"
    b'7Dz4TOMNNbWp71yX8pCAJp4QXmgd64r0662lDjgNfy3qbrPnR2JjIQj2YCw7hCegAU=\\n","key_id":'
    b'"5217c7ec","signed_at":"2026-11-25T14:30:58.643092Z","verifier_key":"mts1b-opera'
    b'tions/audit+5217c7ec+AbEePYzSpr2N0LogVLwHhDMrKV0sw1iSDoMvKbQqPjDs"}'
)
INTACT = (
    b'{"ok":true,"from_sequence":0,"verified":3,"head_sequence":2,"head_hash":"c3206d8'
    b'bdba65a9425e587518e3df2dd0e1b871f7940310b476e39bc62f5ebae","checkpoint_tree_size'
    b'":3}'
)
PROOF = (
    b'{"sequence":1,"entry_hash":"5629fa38ced600ecc82983ca6826458847881f2cd224002016c2'
    b'79484abd7dc3","tree_size":3,"path":["2abf4dc73ee96adde37b37b12197607fa443ae53a74'
    b'55637da0c7283393456af","7f91423d60d32223188938ccc2fbaf72d94b6eeeb5c32b1befc2d322'
    b'aaa86df0"],"checkpoint":"mts1b-operations/audit\\n3\\nDYk/Dd/lRi9dHWNEAwep/qzyl0JN'
    b"q9Ls3ThHrlPCllQ=\\nchain-head c3206d8bdba65a9425e587518e3df2dd0e1b871f7940310b476"
    b"e39bc62f5ebae\\n\\n\xe2\x80\x94 mts1b-operations/audit UhfH7IwAWc2Es26HoJigQqg5G7Dz4TOMNNbW"
    b'p71yX8pCAJp4QXmgd64r0662lDjgNfy3qbrPnR2JjIQj2YCw7hCegAU=\\n","canonical":"{\\"acti'
    b'on\\":\\"order_rejected\\",\\"actor\\":\\"mts1b-oms\\",\\"data\\":{\\"i\\":1},\\"prev\\":\\"b1'
    b'cda750ea1436da1de669e1a6c1c9ebfcf652661681e112110948250c9d31e4\\",\\"seq\\":1,\\"sub'
    b'ject\\":\\"ord-1\\",\\"ts\\":1795617057818109,\\"v\\":1}","verifier_key":"mts1b-operati'
    b'ons/audit+5217c7ec+AbEePYzSpr2N0LogVLwHhDMrKV0sw1iSDoMvKbQqPjDs"}'
)
BROKEN = (
    b'{"ok":false,"from_sequence":0,"sequence":1,"reason":"hash mismatch: the stored h'
    b"ash 5629fa38ced600ec... is not the SHA-256 of the stored canonical bytes (93b313"
    b'e57567f51e...); the entry\'s content was changed","kind":"hash_mismatch"}'
)
RECORDED = (
    b'{"drill_id":"drill-1","report_sha256":"ababababababababababababababababababababa'
    b'bababababababababababab","recorded_by":"operator:olga","sequence":3,"entry_hash"'
    b':"5aba8c15967ccc48efe320d3dc353a284473f9f7aa320803497b7b29a117c50e","created":tr'
    b"ue}"
)
STREAM_INTACT = (
    b'{"progress":{"verified":0,"total":3}}\n{"progress":{"verified":3,"total":3}}\n' + INTACT + b"\n"
)
STREAM_BROKEN = b'{"progress":{"verified":0,"total":4}}\n' + BROKEN + b"\n"
STREAM_FAILED = (
    b'{"progress":{"verified":0,"total":4}}\n'
    b'{"status_code":503,"detail":"verification did not finish: gone"}\n'
)
Answer = tuple[int, bytes]


def serving(answers: dict[str, Answer | Callable[[], Answer]]) -> AuditClient:
    def handler(request: httpx.Request) -> httpx.Response:
        found = answers.get(request.url.path)
        if found is None:
            return httpx.Response(404, json={"status_code": 404, "detail": "no", "extra": {}})
        status, body = found() if callable(found) else found
        media = "application/x-ndjson" if request.url.path.endswith("/stream") else "application/json"
        return httpx.Response(status, content=body, headers={"content-type": media})

    config = ClientConfig(audit_url="http://audit.test:8101", token="mts_op", get_attempts=1)
    return AuditClient.from_config(config, transport=httpx.MockTransport(handler))


ANSWERS: dict[str, Answer | Callable[[], Answer]] = {
    "/v1/audit/trail": (200, TRAIL),
    "/v1/audit/entries": (200, PAGE),
    "/v1/audit/checkpoints/latest": (200, CHECKPOINT),
    "/v1/audit/proof/1": (200, PROOF),
    "/v1/audit/drill-reports": (201, RECORDED),
    "/v1/audit/verify": (200, INTACT),
    "/v1/audit/verify/stream": (200, STREAM_INTACT),
}


async def test_every_answer_decodes_and_encodes_back_to_the_same_bytes() -> None:
    async with serving(ANSWERS) as audit:
        trail = await audit.trail("ord-0")
        page = await audit.entries(1, 2)
        checkpoint = await audit.latest_checkpoint()
        proof = await audit.proof(1)
        recorded = await audit.record_drill_report("drill-1", "ab" * 32, funds=["paper-momentum"])
    assert isinstance(trail, AuditTrail)
    assert [type(e) for e in trail.entries] == [AuditRecord, AuditRecord]
    assert all(entry.hash_matches() for entry in (*trail.entries, *page.entries))
    assert [e.sequence for e in page.entries] == [1, 2]
    assert page.entries[0].prev_hash == trail.entries[0].hash
    assert isinstance(page, AuditPage)
    assert page.next_from_sequence == 3
    assert isinstance(checkpoint, AuditCheckpointInfo)
    assert checkpoint.head_hash == trail.entries[1].hash
    assert "\u2014 mts1b-operations/audit " in checkpoint.note
    assert isinstance(proof, AuditProof)
    assert (proof.entry_hash, proof.canonical) == (page.entries[0].hash, page.entries[0].canonical)
    assert isinstance(recorded, DrillReportRecorded)
    assert (recorded.sequence, recorded.created) == (3, True)
    # Every field the service sends is kept, in the service's order and encoding.
    for decoded, wire in (
        (trail, TRAIL),
        (page, PAGE),
        (checkpoint, CHECKPOINT),
        (proof, PROOF),
        (recorded, RECORDED),
    ):
        assert msgspec.json.encode(decoded) == wire


async def test_a_verification_reads_either_answer_plain_or_streamed() -> None:
    progress: list[tuple[int, int]] = []
    async with serving(ANSWERS) as audit:
        plain = await audit.verify()
        streamed = await audit.verify(progress=lambda done, total: progress.append((done, total)))
    intact = AuditVerification(
        ok=True,
        from_sequence=0,
        verified=3,
        head_sequence=2,
        head_hash="c3206d8bdba65a9425e587518e3df2dd0e1b871f7940310b476e39bc62f5ebae",
        checkpoint_tree_size=3,
    )
    assert plain == streamed == intact
    assert progress == [(0, 3), (3, 3)]

    broken = {"/v1/audit/verify": (409, BROKEN), "/v1/audit/verify/stream": (200, STREAM_BROKEN)}
    async with serving(broken) as audit:
        plain = await audit.verify()
        streamed = await audit.verify(progress=lambda done, total: None)
    assert plain == streamed
    assert (plain.ok, plain.sequence, plain.kind, plain.verified) == (False, 1, "hash_mismatch", None)
    assert (plain.reason or "").startswith("hash mismatch: the stored hash ")
    assert json.loads(msgspec.json.encode(plain))["from_sequence"] == 0


async def test_a_verify_answer_of_the_wrong_shape_or_an_error_line_is_an_error() -> None:
    wrong = {
        "/v1/audit/verify": (409, b'{"ok":false,"from_sequence":0,"reason":"no sequence"}'),
        "/v1/audit/verify/stream": (200, STREAM_FAILED),
    }
    async with serving(wrong) as audit:
        with pytest.raises(UnexpectedResponseError, match="VerifyBroken"):
            await audit.verify()
        with pytest.raises(ServiceUnavailableError, match="did not finish"):
            await audit.verify(progress=lambda done, total: None)


async def test_fields_a_newer_service_adds_are_ignored() -> None:
    newer = INTACT[:-1] + b',"signed_checkpoints":[3],"took":0.5}'
    async with serving({"/v1/audit/verify": (200, newer)}) as audit:
        assert (await audit.verify()).verified == 3


def test_the_answer_types_are_cores_wire_shapes() -> None:
    # The service encodes these very Structs: one definition, nothing to keep in step by hand.
    from mts1b_operations.core.schemas import audit_api

    assert (AuditRecord, AuditTrail, AuditPage, AuditProof, AuditCheckpointInfo, DrillReportRecorded) == (
        audit_api.EntryView,
        audit_api.TrailView,
        audit_api.EntriesPage,
        audit_api.ProofView,
        audit_api.CheckpointView,
        audit_api.DrillReportRecorded,
    )
