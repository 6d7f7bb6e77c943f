from http import HTTPStatus
from io import BytesIO
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.openbg_forced_status import (
    OpenbgForcedStatus,
)
from ...models.remove_bg_form import RemoveBgForm
from ...models.remove_bg_json import RemoveBgJson
from ...models.remove_bg_multipart import RemoveBgMultipart
from ...types import UNSET, File, Response, Unset


def _get_kwargs(
    *,
    body: RemoveBgMultipart | RemoveBgForm | RemoveBgJson | Unset = UNSET,
    x_openbg_force_status: OpenbgForcedStatus | Unset = UNSET,
    x_openbg_retry_after: int | Unset = UNSET,
    x_openbg_latency_ms: int | Unset = UNSET,
    x_openbg_force_empty_balance: bool | Unset = UNSET,
    x_openbg_fail_times: int | Unset = UNSET,
    x_openbg_client_token: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(x_openbg_force_status, Unset):
        headers["X-Openbg-Force-Status"] = str(x_openbg_force_status)

    if not isinstance(x_openbg_retry_after, Unset):
        headers["X-Openbg-Retry-After"] = str(x_openbg_retry_after)

    if not isinstance(x_openbg_latency_ms, Unset):
        headers["X-Openbg-Latency-Ms"] = str(x_openbg_latency_ms)

    if not isinstance(x_openbg_force_empty_balance, Unset):
        headers["X-Openbg-Force-Empty-Balance"] = (
            "true" if x_openbg_force_empty_balance else "false"
        )

    if not isinstance(x_openbg_fail_times, Unset):
        headers["X-Openbg-Fail-Times"] = str(x_openbg_fail_times)

    if not isinstance(x_openbg_client_token, Unset):
        headers["X-Openbg-Client-Token"] = x_openbg_client_token

    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/removebg",
    }

    if isinstance(body, RemoveBgMultipart):
        _kwargs["files"] = body.to_multipart()

        headers["Content-Type"] = "multipart/form-data; boundary=+++"
    if isinstance(body, RemoveBgForm):
        _kwargs["data"] = body.to_dict()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if isinstance(body, RemoveBgJson):
        _kwargs["json"] = body.to_dict()

        headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | File | None:
    if response.status_code == 200:
        response_200 = File(payload=BytesIO(response.content))

        return response_200

    if response.status_code == 400:
        response_400 = Error.from_dict(response.json())

        return response_400

    if response.status_code == 402:
        response_402 = Error.from_dict(response.json())

        return response_402

    if response.status_code == 403:
        response_403 = Error.from_dict(response.json())

        return response_403

    if response.status_code == 408:
        response_408 = Error.from_dict(response.json())

        return response_408

    if response.status_code == 413:
        response_413 = Error.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = Error.from_dict(response.json())

        return response_415

    if response.status_code == 422:
        response_422 = Error.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = Error.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = Error.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = Error.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Error | File]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: RemoveBgMultipart | RemoveBgForm | RemoveBgJson | Unset = UNSET,
    x_openbg_force_status: OpenbgForcedStatus | Unset = UNSET,
    x_openbg_retry_after: int | Unset = UNSET,
    x_openbg_latency_ms: int | Unset = UNSET,
    x_openbg_force_empty_balance: bool | Unset = UNSET,
    x_openbg_fail_times: int | Unset = UNSET,
    x_openbg_client_token: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Response[Error | File]:
    """Remove the background of an image

     Cuts the foreground subject out of one image and returns the result.

    **Source.** Exactly one of `image_file`, `image_file_b64` and `image_url` must be
    given (`missing_source` when none, `multiple_sources` when several). At most one of
    `bg_color`, `bg_image_url` and `bg_image_file` may be given (`multiple_bg_sources`).

    **Output mode.** The result is the image file itself (binary body, `Content-Type`
    after the chosen format) unless the request's `Accept` header asks for
    `application/json`, in which case the file comes base64-encoded inside a JSON
    object. Both modes carry the same response headers. (OpenAPI cannot describe the
    `Accept` header as a parameter; clients set it themselves.)

    **Credits.** A result within the preview tier (0.25 MP) costs 0.25 credits (or one of
    the account's monthly free calls, reported as `X-Credits-Charged: 0`); anything
    larger costs 1 credit. `size=auto` charges for what it delivered. Failed calls are
    free.

    **Rate limit.** The call consumes its input megapixels (rounded up, at least 1) from
    the 500-per-minute budget; see the `X-RateLimit-*` headers.

    Args:
        x_openbg_force_status (OpenbgForcedStatus | Unset): An error status the emulator can be
            told to answer (with `--test-controls`). Example: 429.
        x_openbg_retry_after (int | Unset):
        x_openbg_latency_ms (int | Unset):
        x_openbg_force_empty_balance (bool | Unset):
        x_openbg_fail_times (int | Unset):
        x_openbg_client_token (str | Unset):
        idempotency_key (str | Unset):
        body (RemoveBgMultipart): `POST /removebg` as `multipart/form-data` (the only encoding
            that carries files). Exactly one of `image_file`, `image_file_b64` and `image_url` (else
            400 `missing_source` / `multiple_sources`), and at most one of `bg_image_file`,
            `bg_image_url` and `bg_color` (else 400 `multiple_bg_sources`): the form and JSON
            encodings state this in their schemas; here it is prose only, because schemathesis (4.32)
            cannot evaluate `not`/`oneOf` over binary parts.
        body (RemoveBgForm): `POST /removebg` as `application/x-www-form-urlencoded`.
        body (RemoveBgJson): `POST /removebg` as `application/json`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | File]
    """

    kwargs = _get_kwargs(
        body=body,
        x_openbg_force_status=x_openbg_force_status,
        x_openbg_retry_after=x_openbg_retry_after,
        x_openbg_latency_ms=x_openbg_latency_ms,
        x_openbg_force_empty_balance=x_openbg_force_empty_balance,
        x_openbg_fail_times=x_openbg_fail_times,
        x_openbg_client_token=x_openbg_client_token,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: RemoveBgMultipart | RemoveBgForm | RemoveBgJson | Unset = UNSET,
    x_openbg_force_status: OpenbgForcedStatus | Unset = UNSET,
    x_openbg_retry_after: int | Unset = UNSET,
    x_openbg_latency_ms: int | Unset = UNSET,
    x_openbg_force_empty_balance: bool | Unset = UNSET,
    x_openbg_fail_times: int | Unset = UNSET,
    x_openbg_client_token: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Error | File | None:
    """Remove the background of an image

     Cuts the foreground subject out of one image and returns the result.

    **Source.** Exactly one of `image_file`, `image_file_b64` and `image_url` must be
    given (`missing_source` when none, `multiple_sources` when several). At most one of
    `bg_color`, `bg_image_url` and `bg_image_file` may be given (`multiple_bg_sources`).

    **Output mode.** The result is the image file itself (binary body, `Content-Type`
    after the chosen format) unless the request's `Accept` header asks for
    `application/json`, in which case the file comes base64-encoded inside a JSON
    object. Both modes carry the same response headers. (OpenAPI cannot describe the
    `Accept` header as a parameter; clients set it themselves.)

    **Credits.** A result within the preview tier (0.25 MP) costs 0.25 credits (or one of
    the account's monthly free calls, reported as `X-Credits-Charged: 0`); anything
    larger costs 1 credit. `size=auto` charges for what it delivered. Failed calls are
    free.

    **Rate limit.** The call consumes its input megapixels (rounded up, at least 1) from
    the 500-per-minute budget; see the `X-RateLimit-*` headers.

    Args:
        x_openbg_force_status (OpenbgForcedStatus | Unset): An error status the emulator can be
            told to answer (with `--test-controls`). Example: 429.
        x_openbg_retry_after (int | Unset):
        x_openbg_latency_ms (int | Unset):
        x_openbg_force_empty_balance (bool | Unset):
        x_openbg_fail_times (int | Unset):
        x_openbg_client_token (str | Unset):
        idempotency_key (str | Unset):
        body (RemoveBgMultipart): `POST /removebg` as `multipart/form-data` (the only encoding
            that carries files). Exactly one of `image_file`, `image_file_b64` and `image_url` (else
            400 `missing_source` / `multiple_sources`), and at most one of `bg_image_file`,
            `bg_image_url` and `bg_color` (else 400 `multiple_bg_sources`): the form and JSON
            encodings state this in their schemas; here it is prose only, because schemathesis (4.32)
            cannot evaluate `not`/`oneOf` over binary parts.
        body (RemoveBgForm): `POST /removebg` as `application/x-www-form-urlencoded`.
        body (RemoveBgJson): `POST /removebg` as `application/json`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | File
    """

    return sync_detailed(
        client=client,
        body=body,
        x_openbg_force_status=x_openbg_force_status,
        x_openbg_retry_after=x_openbg_retry_after,
        x_openbg_latency_ms=x_openbg_latency_ms,
        x_openbg_force_empty_balance=x_openbg_force_empty_balance,
        x_openbg_fail_times=x_openbg_fail_times,
        x_openbg_client_token=x_openbg_client_token,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: RemoveBgMultipart | RemoveBgForm | RemoveBgJson | Unset = UNSET,
    x_openbg_force_status: OpenbgForcedStatus | Unset = UNSET,
    x_openbg_retry_after: int | Unset = UNSET,
    x_openbg_latency_ms: int | Unset = UNSET,
    x_openbg_force_empty_balance: bool | Unset = UNSET,
    x_openbg_fail_times: int | Unset = UNSET,
    x_openbg_client_token: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Response[Error | File]:
    """Remove the background of an image

     Cuts the foreground subject out of one image and returns the result.

    **Source.** Exactly one of `image_file`, `image_file_b64` and `image_url` must be
    given (`missing_source` when none, `multiple_sources` when several). At most one of
    `bg_color`, `bg_image_url` and `bg_image_file` may be given (`multiple_bg_sources`).

    **Output mode.** The result is the image file itself (binary body, `Content-Type`
    after the chosen format) unless the request's `Accept` header asks for
    `application/json`, in which case the file comes base64-encoded inside a JSON
    object. Both modes carry the same response headers. (OpenAPI cannot describe the
    `Accept` header as a parameter; clients set it themselves.)

    **Credits.** A result within the preview tier (0.25 MP) costs 0.25 credits (or one of
    the account's monthly free calls, reported as `X-Credits-Charged: 0`); anything
    larger costs 1 credit. `size=auto` charges for what it delivered. Failed calls are
    free.

    **Rate limit.** The call consumes its input megapixels (rounded up, at least 1) from
    the 500-per-minute budget; see the `X-RateLimit-*` headers.

    Args:
        x_openbg_force_status (OpenbgForcedStatus | Unset): An error status the emulator can be
            told to answer (with `--test-controls`). Example: 429.
        x_openbg_retry_after (int | Unset):
        x_openbg_latency_ms (int | Unset):
        x_openbg_force_empty_balance (bool | Unset):
        x_openbg_fail_times (int | Unset):
        x_openbg_client_token (str | Unset):
        idempotency_key (str | Unset):
        body (RemoveBgMultipart): `POST /removebg` as `multipart/form-data` (the only encoding
            that carries files). Exactly one of `image_file`, `image_file_b64` and `image_url` (else
            400 `missing_source` / `multiple_sources`), and at most one of `bg_image_file`,
            `bg_image_url` and `bg_color` (else 400 `multiple_bg_sources`): the form and JSON
            encodings state this in their schemas; here it is prose only, because schemathesis (4.32)
            cannot evaluate `not`/`oneOf` over binary parts.
        body (RemoveBgForm): `POST /removebg` as `application/x-www-form-urlencoded`.
        body (RemoveBgJson): `POST /removebg` as `application/json`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | File]
    """

    kwargs = _get_kwargs(
        body=body,
        x_openbg_force_status=x_openbg_force_status,
        x_openbg_retry_after=x_openbg_retry_after,
        x_openbg_latency_ms=x_openbg_latency_ms,
        x_openbg_force_empty_balance=x_openbg_force_empty_balance,
        x_openbg_fail_times=x_openbg_fail_times,
        x_openbg_client_token=x_openbg_client_token,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: RemoveBgMultipart | RemoveBgForm | RemoveBgJson | Unset = UNSET,
    x_openbg_force_status: OpenbgForcedStatus | Unset = UNSET,
    x_openbg_retry_after: int | Unset = UNSET,
    x_openbg_latency_ms: int | Unset = UNSET,
    x_openbg_force_empty_balance: bool | Unset = UNSET,
    x_openbg_fail_times: int | Unset = UNSET,
    x_openbg_client_token: str | Unset = UNSET,
    idempotency_key: str | Unset = UNSET,
) -> Error | File | None:
    """Remove the background of an image

     Cuts the foreground subject out of one image and returns the result.

    **Source.** Exactly one of `image_file`, `image_file_b64` and `image_url` must be
    given (`missing_source` when none, `multiple_sources` when several). At most one of
    `bg_color`, `bg_image_url` and `bg_image_file` may be given (`multiple_bg_sources`).

    **Output mode.** The result is the image file itself (binary body, `Content-Type`
    after the chosen format) unless the request's `Accept` header asks for
    `application/json`, in which case the file comes base64-encoded inside a JSON
    object. Both modes carry the same response headers. (OpenAPI cannot describe the
    `Accept` header as a parameter; clients set it themselves.)

    **Credits.** A result within the preview tier (0.25 MP) costs 0.25 credits (or one of
    the account's monthly free calls, reported as `X-Credits-Charged: 0`); anything
    larger costs 1 credit. `size=auto` charges for what it delivered. Failed calls are
    free.

    **Rate limit.** The call consumes its input megapixels (rounded up, at least 1) from
    the 500-per-minute budget; see the `X-RateLimit-*` headers.

    Args:
        x_openbg_force_status (OpenbgForcedStatus | Unset): An error status the emulator can be
            told to answer (with `--test-controls`). Example: 429.
        x_openbg_retry_after (int | Unset):
        x_openbg_latency_ms (int | Unset):
        x_openbg_force_empty_balance (bool | Unset):
        x_openbg_fail_times (int | Unset):
        x_openbg_client_token (str | Unset):
        idempotency_key (str | Unset):
        body (RemoveBgMultipart): `POST /removebg` as `multipart/form-data` (the only encoding
            that carries files). Exactly one of `image_file`, `image_file_b64` and `image_url` (else
            400 `missing_source` / `multiple_sources`), and at most one of `bg_image_file`,
            `bg_image_url` and `bg_color` (else 400 `multiple_bg_sources`): the form and JSON
            encodings state this in their schemas; here it is prose only, because schemathesis (4.32)
            cannot evaluate `not`/`oneOf` over binary parts.
        body (RemoveBgForm): `POST /removebg` as `application/x-www-form-urlencoded`.
        body (RemoveBgJson): `POST /removebg` as `application/json`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | File
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
            x_openbg_force_status=x_openbg_force_status,
            x_openbg_retry_after=x_openbg_retry_after,
            x_openbg_latency_ms=x_openbg_latency_ms,
            x_openbg_force_empty_balance=x_openbg_force_empty_balance,
            x_openbg_fail_times=x_openbg_fail_times,
            x_openbg_client_token=x_openbg_client_token,
            idempotency_key=idempotency_key,
        )
    ).parsed
