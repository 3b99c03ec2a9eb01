"""ServiceClient's own behaviour against httpx.MockTransport: decoding, error mapping, retries.

MockTransport stands in for the network here (the SDK's unit tests); test_live_service.py runs
the same client against a real service process.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable

import httpx
import msgspec
import pytest

from mts1b_operations.client import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ClientConfig,
    ConfigurationError,
    ConflictError,
    MtsError,
    NotFoundError,
    PermissionDeniedError,
    ServiceClient,
    ServiceUnavailableError,
    TimeoutError,
    TransportError,
    UnexpectedResponseError,
)


class Halt(msgspec.Struct, frozen=True):
    halt_id: str
    active: bool


class Calls:
    def __init__(self, answer: Callable[[httpx.Request, int], httpx.Response]) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request, len(self.requests))


def client(calls: Calls, **kwargs: object) -> ServiceClient:
    options: dict[str, object] = {"backoff": 0.0, "max_backoff": 0.0, **kwargs}
    return ServiceClient("http://halt.test", transport=httpx.MockTransport(calls), **options)  # type: ignore[arg-type]


def json_answer(status: int, body: object) -> Callable[[httpx.Request, int], httpx.Response]:
    return lambda request, n: httpx.Response(status, json=body)


async def test_get_decodes_into_the_named_type_and_sends_the_token() -> None:
    calls = Calls(json_answer(200, [{"halt_id": "h1", "active": True}]))
    async with client(calls, token="mts_secret") as halt:
        halts = await halt.get("/v1/halts", list[Halt], params={"active": True, "fund": None})
    assert halts == [Halt("h1", True)]
    request = calls.requests[0]
    assert request.headers["authorization"] == "Bearer mts_secret"
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"].startswith("mts1b-operations-client")
    assert request.url.path == "/v1/halts"
    assert dict(request.url.params) == {"active": "true"}


async def test_no_token_sends_no_authorization_header() -> None:
    calls = Calls(json_answer(200, {"halt_id": "h", "active": False}))
    async with client(calls) as halt:
        await halt.get("/v1/halts/h", Halt)
    assert "authorization" not in calls.requests[0].headers


async def test_post_sends_a_struct_as_json_and_decodes_the_answer() -> None:
    calls = Calls(lambda request, n: httpx.Response(201, content=request.content))
    async with client(calls) as halt:
        echoed = await halt.post("/v1/halts", Halt, body=Halt("h2", True))
        await halt.post("/v1/halts", body={"x": 1})  # no type: the answer is not decoded
    assert echoed == Halt("h2", True)
    assert calls.requests[0].headers["content-type"] == "application/json"
    assert msgspec.json.decode(calls.requests[0].content) == {"halt_id": "h2", "active": True}


@pytest.mark.parametrize(
    ("status", "body", "kind", "code", "message", "field"),
    [
        (
            400,
            {
                "status_code": 400,
                "detail": "Validation failed for POST /v1/halts",
                "extra": [{"message": "Expected `str`, got `int`", "key": "fund_id", "source": "body"}],
            },
            BadRequestError,
            "bad_request",
            "Validation failed for POST /v1/halts: Expected `str`, got `int`",
            "fund_id",
        ),
        (
            400,
            {
                "status_code": 400,
                "detail": "reason: must not be empty",
                "extra": {"code": "x", "field": "reason"},
            },
            BadRequestError,
            "x",
            "reason: must not be empty",
            "reason",
        ),
        (
            401,
            {
                "status_code": 401,
                "detail": "the token of operator 'bob' was revoked",
                "extra": {"code": "token_revoked"},
            },
            AuthenticationError,
            "token_revoked",
            "the token of operator 'bob' was revoked",
            None,
        ),
        (
            403,
            {"status_code": 403, "detail": "needs role 'operator'", "extra": {"code": "insufficient_role"}},
            PermissionDeniedError,
            "insufficient_role",
            "needs role 'operator'",
            None,
        ),
        (404, {"status_code": 404, "detail": "Not Found"}, NotFoundError, "not_found", "Not Found", None),
        (
            409,
            {"code": "already_halted", "message": "fund is halted"},
            ConflictError,
            "already_halted",
            "fund is halted",
            None,
        ),
        (422, {"detail": "bad"}, BadRequestError, "unprocessable", "bad", None),
        (
            500,
            {"status_code": 500, "detail": "Internal Server Error"},
            ApiError,
            "http_500",
            "Internal Server Error",
            None,
        ),
        (
            503,
            {"status_code": 503, "detail": "draining"},
            ServiceUnavailableError,
            "service_unavailable",
            "draining",
            None,
        ),
    ],
)
async def test_error_answers_map_to_the_tree(
    status: int, body: object, kind: type[ApiError], code: str, message: str, field: str | None
) -> None:
    calls = Calls(json_answer(status, body))
    async with client(calls, get_attempts=1) as halt:
        with pytest.raises(kind) as caught:
            await halt.post("/v1/halts", body={"fund_id": 1})
    error = caught.value
    assert type(error) is kind
    assert isinstance(error, MtsError)
    assert (error.status, error.code, error.message, error.field) == (status, code, message, field)
    assert error.method == "POST"
    assert error.url == "http://halt.test/v1/halts"
    assert str(status) in str(error)


async def test_a_non_json_error_body_still_maps() -> None:
    calls = Calls(lambda request, n: httpx.Response(502, text="<html>Bad Gateway</html>"))
    async with client(calls, get_attempts=1) as halt:
        with pytest.raises(ServiceUnavailableError) as caught:
            await halt.get("/v1/halts", list[Halt])
    assert caught.value.code == "bad_gateway"
    assert caught.value.message == "<html>Bad Gateway</html>"


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_get_is_retried_on_gateway_and_unavailable_answers(status: int) -> None:
    def answer(request: httpx.Request, n: int) -> httpx.Response:
        return httpx.Response(status) if n < 3 else httpx.Response(200, json={"halt_id": "h", "active": True})

    calls = Calls(answer)
    async with client(calls, get_attempts=3) as halt:
        assert await halt.get("/v1/halts/h", Halt) == Halt("h", True)
    assert len(calls.requests) == 3


async def test_get_gives_up_after_its_attempts() -> None:
    calls = Calls(json_answer(503, {"detail": "starting"}))
    async with client(calls, get_attempts=4) as halt:
        with pytest.raises(ServiceUnavailableError, match="starting"):
            await halt.get("/v1/halts", list[Halt])
    assert len(calls.requests) == 4


async def test_get_is_retried_on_transport_errors() -> None:
    def answer(request: httpx.Request, n: int) -> httpx.Response:
        if n == 1:
            raise httpx.ConnectError("connection refused", request=request)
        if n == 2:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(200, json={"halt_id": "h", "active": False})

    calls = Calls(answer)
    async with client(calls) as halt:
        assert await halt.get("/v1/halts/h", Halt) == Halt("h", False)
    assert len(calls.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 500])
async def test_get_is_not_retried_on_other_errors(status: int) -> None:
    calls = Calls(json_answer(status, {"detail": "no"}))
    async with client(calls, get_attempts=5) as halt:
        with pytest.raises(ApiError):
            await halt.get("/v1/halts", list[Halt])
    assert len(calls.requests) == 1


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_non_idempotent_methods_are_never_retried(method: str) -> None:
    unavailable = Calls(json_answer(503, {"detail": "busy"}))
    async with client(unavailable, get_attempts=5) as halt:
        with pytest.raises(ServiceUnavailableError):
            await halt.send(method, "/v1/halts", body={"a": 1})
    assert len(unavailable.requests) == 1

    def refuse(request: httpx.Request, n: int) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    refused = Calls(refuse)
    async with client(refused, get_attempts=5) as halt:
        with pytest.raises(TransportError, match="ConnectError"):
            await halt.send(method, "/v1/halts")
    assert len(refused.requests) == 1


async def test_a_post_timeout_says_the_outcome_is_unknown() -> None:
    def slow(request: httpx.Request, n: int) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    calls = Calls(slow)
    async with client(calls) as halt:
        with pytest.raises(TimeoutError, match="may or may not have been applied") as caught:
            await halt.post("/v1/halts", body={})
    assert isinstance(caught.value, TransportError)
    assert isinstance(caught.value, builtins.TimeoutError)
    assert len(calls.requests) == 1


async def test_get_timeouts_exhaust_into_a_timeout_error() -> None:
    def slow(request: httpx.Request, n: int) -> httpx.Response:
        raise httpx.ConnectTimeout("slow", request=request)

    calls = Calls(slow)
    async with client(calls, get_attempts=2) as halt:
        with pytest.raises(TimeoutError, match=r"no answer to GET http://halt\.test/v1/halts in time"):
            await halt.get("/v1/halts", list[Halt])
    assert len(calls.requests) == 2


async def test_an_answer_of_the_wrong_shape_is_an_unexpected_response() -> None:
    calls = Calls(json_answer(200, {"halt_id": 7}))
    async with client(calls) as halt:
        with pytest.raises(UnexpectedResponseError, match="not a valid Halt") as caught:
            await halt.get("/v1/halts/h", Halt)
    assert caught.value.status == 200
    not_json = Calls(lambda request, n: httpx.Response(200, text="hello"))
    async with client(not_json) as halt:
        with pytest.raises(UnexpectedResponseError):
            await halt.get("/v1/halts/h", Halt)


async def test_a_redirect_is_not_followed_silently() -> None:
    calls = Calls(lambda request, n: httpx.Response(307, headers={"Location": "http://elsewhere/"}))
    async with client(calls) as halt:
        with pytest.raises(UnexpectedResponseError, match="307"):
            await halt.get("/v1/halts", list[Halt])


def test_bad_construction_arguments_name_the_field() -> None:
    with pytest.raises(ConfigurationError, match=r"^base_url: must be an http"):
        ServiceClient("halt.local:8101")
    with pytest.raises(ConfigurationError, match=r"^read_timeout: "):
        ServiceClient("http://h", read_timeout=0)
    with pytest.raises(ConfigurationError, match=r"^connect_timeout: "):
        ServiceClient("http://h", connect_timeout=-1)
    with pytest.raises(ConfigurationError, match=r"^get_attempts: "):
        ServiceClient("http://h", get_attempts=0)
    with pytest.raises(ConfigurationError, match=r"^token: "):
        ServiceClient("http://h", token="mts_a b")


async def test_for_service_uses_the_config() -> None:
    calls = Calls(json_answer(200, {"halt_id": "h", "active": True}))
    config = ClientConfig(audit_url="http://audit.test:9", token="mts_tok")
    async with ServiceClient.for_service("audit", config, transport=httpx.MockTransport(calls)) as audit:
        assert audit.base_url == "http://audit.test:9"
        await audit.get("/v1/x", Halt)
    assert calls.requests[0].url == "http://audit.test:9/v1/x"
    assert calls.requests[0].headers["authorization"] == "Bearer mts_tok"
    with pytest.raises(ConfigurationError, match=r"^service: must be one of halt, audit"):
        ServiceClient.for_service("oms", config)  # type: ignore[arg-type]
