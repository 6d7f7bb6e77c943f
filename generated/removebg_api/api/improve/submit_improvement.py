from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error import Error
from ...models.improve_form import ImproveForm
from ...models.improve_json import ImproveJson
from ...models.improve_multipart import ImproveMultipart
from ...models.improve_result import ImproveResult
from ...models.openbg_forced_status import (
    OpenbgForcedStatus,
)
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    body: ImproveMultipart | ImproveForm | ImproveJson | Unset = UNSET,
    x_openbg_force_status: OpenbgForcedStatus | Unset = UNSET,
    x_openbg_retry_after: int | Unset = UNSET,
    x_openbg_latency_ms: int | Unset = UNSET,
    x_openbg_force_empty_balance: bool | Unset = UNSET,
    x_openbg_fail_times: int | Unset = UNSET,
    x_openbg_client_token: str | Unset = UNSET,
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

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/improve",
    }

    if isinstance(body, ImproveMultipart):
        _kwargs["files"] = body.to_multipart()

        headers["Content-Type"] = "multipart/form-data; boundary=+++"
    if isinstance(body, ImproveForm):
        _kwargs["data"] = body.to_dict()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if isinstance(body, ImproveJson):
        _kwargs["json"] = body.to_dict()

        headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Error | ImproveResult | None:
    if response.status_code == 200:
        response_200 = ImproveResult.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Error.from_dict(response.json())

        return response_400

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
) -> Response[Error | ImproveResult]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: ImproveMultipart | ImproveForm | ImproveJson | Unset = UNSET,
    x_openbg_force_status: OpenbgForcedStatus | Unset = UNSET,
    x_openbg_retry_after: int | Unset = UNSET,
    x_openbg_latency_ms: int | Unset = UNSET,
    x_openbg_force_empty_balance: bool | Unset = UNSET,
    x_openbg_fail_times: int | Unset = UNSET,
    x_openbg_client_token: str | Unset = UNSET,
) -> Response[Error | ImproveResult]:
    """Submit an image to the Improvement Program

     Hands an image on which background removal did poorly to the Improvement Program,
    so that future models handle such images better. Submitting implies agreement to the
    program's conditions; improvements are best-effort. No background is removed and no
    credits are charged. At most 100 submissions per day per account (more on request).
    The same source rules as `POST /removebg` apply: exactly one of `image_file`,
    `image_file_b64` and `image_url`. Limits: 22 MB, 50 megapixels.

    Args:
        x_openbg_force_status (OpenbgForcedStatus | Unset): An error status the emulator can be
            told to answer (with `--test-controls`). Example: 429.
        x_openbg_retry_after (int | Unset):
        x_openbg_latency_ms (int | Unset):
        x_openbg_force_empty_balance (bool | Unset):
        x_openbg_fail_times (int | Unset):
        x_openbg_client_token (str | Unset):
        body (ImproveMultipart): `POST /improve` as `multipart/form-data` (the only encoding that
            carries a file). Exactly one of `image_file`, `image_file_b64` and `image_url` (else 400
            `missing_source` / `multiple_sources`; prose only, as for `RemoveBgMultipart`).
        body (ImproveForm): `POST /improve` as `application/x-www-form-urlencoded`.
        body (ImproveJson): `POST /improve` as `application/json`. A field that is `null` counts
            as absent.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | ImproveResult]
    """

    kwargs = _get_kwargs(
        body=body,
        x_openbg_force_status=x_openbg_force_status,
        x_openbg_retry_after=x_openbg_retry_after,
        x_openbg_latency_ms=x_openbg_latency_ms,
        x_openbg_force_empty_balance=x_openbg_force_empty_balance,
        x_openbg_fail_times=x_openbg_fail_times,
        x_openbg_client_token=x_openbg_client_token,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: ImproveMultipart | ImproveForm | ImproveJson | Unset = UNSET,
    x_openbg_force_status: OpenbgForcedStatus | Unset = UNSET,
    x_openbg_retry_after: int | Unset = UNSET,
    x_openbg_latency_ms: int | Unset = UNSET,
    x_openbg_force_empty_balance: bool | Unset = UNSET,
    x_openbg_fail_times: int | Unset = UNSET,
    x_openbg_client_token: str | Unset = UNSET,
) -> Error | ImproveResult | None:
    """Submit an image to the Improvement Program

     Hands an image on which background removal did poorly to the Improvement Program,
    so that future models handle such images better. Submitting implies agreement to the
    program's conditions; improvements are best-effort. No background is removed and no
    credits are charged. At most 100 submissions per day per account (more on request).
    The same source rules as `POST /removebg` apply: exactly one of `image_file`,
    `image_file_b64` and `image_url`. Limits: 22 MB, 50 megapixels.

    Args:
        x_openbg_force_status (OpenbgForcedStatus | Unset): An error status the emulator can be
            told to answer (with `--test-controls`). Example: 429.
        x_openbg_retry_after (int | Unset):
        x_openbg_latency_ms (int | Unset):
        x_openbg_force_empty_balance (bool | Unset):
        x_openbg_fail_times (int | Unset):
        x_openbg_client_token (str | Unset):
        body (ImproveMultipart): `POST /improve` as `multipart/form-data` (the only encoding that
            carries a file). Exactly one of `image_file`, `image_file_b64` and `image_url` (else 400
            `missing_source` / `multiple_sources`; prose only, as for `RemoveBgMultipart`).
        body (ImproveForm): `POST /improve` as `application/x-www-form-urlencoded`.
        body (ImproveJson): `POST /improve` as `application/json`. A field that is `null` counts
            as absent.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | ImproveResult
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
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: ImproveMultipart | ImproveForm | ImproveJson | Unset = UNSET,
    x_openbg_force_status: OpenbgForcedStatus | Unset = UNSET,
    x_openbg_retry_after: int | Unset = UNSET,
    x_openbg_latency_ms: int | Unset = UNSET,
    x_openbg_force_empty_balance: bool | Unset = UNSET,
    x_openbg_fail_times: int | Unset = UNSET,
    x_openbg_client_token: str | Unset = UNSET,
) -> Response[Error | ImproveResult]:
    """Submit an image to the Improvement Program

     Hands an image on which background removal did poorly to the Improvement Program,
    so that future models handle such images better. Submitting implies agreement to the
    program's conditions; improvements are best-effort. No background is removed and no
    credits are charged. At most 100 submissions per day per account (more on request).
    The same source rules as `POST /removebg` apply: exactly one of `image_file`,
    `image_file_b64` and `image_url`. Limits: 22 MB, 50 megapixels.

    Args:
        x_openbg_force_status (OpenbgForcedStatus | Unset): An error status the emulator can be
            told to answer (with `--test-controls`). Example: 429.
        x_openbg_retry_after (int | Unset):
        x_openbg_latency_ms (int | Unset):
        x_openbg_force_empty_balance (bool | Unset):
        x_openbg_fail_times (int | Unset):
        x_openbg_client_token (str | Unset):
        body (ImproveMultipart): `POST /improve` as `multipart/form-data` (the only encoding that
            carries a file). Exactly one of `image_file`, `image_file_b64` and `image_url` (else 400
            `missing_source` / `multiple_sources`; prose only, as for `RemoveBgMultipart`).
        body (ImproveForm): `POST /improve` as `application/x-www-form-urlencoded`.
        body (ImproveJson): `POST /improve` as `application/json`. A field that is `null` counts
            as absent.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Error | ImproveResult]
    """

    kwargs = _get_kwargs(
        body=body,
        x_openbg_force_status=x_openbg_force_status,
        x_openbg_retry_after=x_openbg_retry_after,
        x_openbg_latency_ms=x_openbg_latency_ms,
        x_openbg_force_empty_balance=x_openbg_force_empty_balance,
        x_openbg_fail_times=x_openbg_fail_times,
        x_openbg_client_token=x_openbg_client_token,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: ImproveMultipart | ImproveForm | ImproveJson | Unset = UNSET,
    x_openbg_force_status: OpenbgForcedStatus | Unset = UNSET,
    x_openbg_retry_after: int | Unset = UNSET,
    x_openbg_latency_ms: int | Unset = UNSET,
    x_openbg_force_empty_balance: bool | Unset = UNSET,
    x_openbg_fail_times: int | Unset = UNSET,
    x_openbg_client_token: str | Unset = UNSET,
) -> Error | ImproveResult | None:
    """Submit an image to the Improvement Program

     Hands an image on which background removal did poorly to the Improvement Program,
    so that future models handle such images better. Submitting implies agreement to the
    program's conditions; improvements are best-effort. No background is removed and no
    credits are charged. At most 100 submissions per day per account (more on request).
    The same source rules as `POST /removebg` apply: exactly one of `image_file`,
    `image_file_b64` and `image_url`. Limits: 22 MB, 50 megapixels.

    Args:
        x_openbg_force_status (OpenbgForcedStatus | Unset): An error status the emulator can be
            told to answer (with `--test-controls`). Example: 429.
        x_openbg_retry_after (int | Unset):
        x_openbg_latency_ms (int | Unset):
        x_openbg_force_empty_balance (bool | Unset):
        x_openbg_fail_times (int | Unset):
        x_openbg_client_token (str | Unset):
        body (ImproveMultipart): `POST /improve` as `multipart/form-data` (the only encoding that
            carries a file). Exactly one of `image_file`, `image_file_b64` and `image_url` (else 400
            `missing_source` / `multiple_sources`; prose only, as for `RemoveBgMultipart`).
        body (ImproveForm): `POST /improve` as `application/x-www-form-urlencoded`.
        body (ImproveJson): `POST /improve` as `application/json`. A field that is `null` counts
            as absent.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Error | ImproveResult
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
        )
    ).parsed
