from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.account import Account
from ...models.error import Error
from ...models.openbg_forced_status import (
    OpenbgForcedStatus,
)
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
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
        "method": "get",
        "url": "/account",
    }

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Account | Error | None:
    if response.status_code == 200:
        response_200 = Account.from_dict(response.json())

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
) -> Response[Account | Error]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    x_openbg_force_status: OpenbgForcedStatus | Unset = UNSET,
    x_openbg_retry_after: int | Unset = UNSET,
    x_openbg_latency_ms: int | Unset = UNSET,
    x_openbg_force_empty_balance: bool | Unset = UNSET,
    x_openbg_fail_times: int | Unset = UNSET,
    x_openbg_client_token: str | Unset = UNSET,
) -> Response[Account | Error]:
    """Fetch credit balance and free API calls

     Reports the account's credit balance, split by origin, and the number of free
    preview calls left this month. Balances are fractional (previews cost 0.25).
    remove.bg warns that the balance may lag a few seconds behind; clients that need an
    exact figure add up `X-Credits-Charged` themselves. The call costs 1 unit of the
    rate limit.

    Args:
        x_openbg_force_status (OpenbgForcedStatus | Unset): An error status the emulator can be
            told to answer (with `--test-controls`). Example: 429.
        x_openbg_retry_after (int | Unset):
        x_openbg_latency_ms (int | Unset):
        x_openbg_force_empty_balance (bool | Unset):
        x_openbg_fail_times (int | Unset):
        x_openbg_client_token (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Account | Error]
    """

    kwargs = _get_kwargs(
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
    x_openbg_force_status: OpenbgForcedStatus | Unset = UNSET,
    x_openbg_retry_after: int | Unset = UNSET,
    x_openbg_latency_ms: int | Unset = UNSET,
    x_openbg_force_empty_balance: bool | Unset = UNSET,
    x_openbg_fail_times: int | Unset = UNSET,
    x_openbg_client_token: str | Unset = UNSET,
) -> Account | Error | None:
    """Fetch credit balance and free API calls

     Reports the account's credit balance, split by origin, and the number of free
    preview calls left this month. Balances are fractional (previews cost 0.25).
    remove.bg warns that the balance may lag a few seconds behind; clients that need an
    exact figure add up `X-Credits-Charged` themselves. The call costs 1 unit of the
    rate limit.

    Args:
        x_openbg_force_status (OpenbgForcedStatus | Unset): An error status the emulator can be
            told to answer (with `--test-controls`). Example: 429.
        x_openbg_retry_after (int | Unset):
        x_openbg_latency_ms (int | Unset):
        x_openbg_force_empty_balance (bool | Unset):
        x_openbg_fail_times (int | Unset):
        x_openbg_client_token (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Account | Error
    """

    return sync_detailed(
        client=client,
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
    x_openbg_force_status: OpenbgForcedStatus | Unset = UNSET,
    x_openbg_retry_after: int | Unset = UNSET,
    x_openbg_latency_ms: int | Unset = UNSET,
    x_openbg_force_empty_balance: bool | Unset = UNSET,
    x_openbg_fail_times: int | Unset = UNSET,
    x_openbg_client_token: str | Unset = UNSET,
) -> Response[Account | Error]:
    """Fetch credit balance and free API calls

     Reports the account's credit balance, split by origin, and the number of free
    preview calls left this month. Balances are fractional (previews cost 0.25).
    remove.bg warns that the balance may lag a few seconds behind; clients that need an
    exact figure add up `X-Credits-Charged` themselves. The call costs 1 unit of the
    rate limit.

    Args:
        x_openbg_force_status (OpenbgForcedStatus | Unset): An error status the emulator can be
            told to answer (with `--test-controls`). Example: 429.
        x_openbg_retry_after (int | Unset):
        x_openbg_latency_ms (int | Unset):
        x_openbg_force_empty_balance (bool | Unset):
        x_openbg_fail_times (int | Unset):
        x_openbg_client_token (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Account | Error]
    """

    kwargs = _get_kwargs(
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
    x_openbg_force_status: OpenbgForcedStatus | Unset = UNSET,
    x_openbg_retry_after: int | Unset = UNSET,
    x_openbg_latency_ms: int | Unset = UNSET,
    x_openbg_force_empty_balance: bool | Unset = UNSET,
    x_openbg_fail_times: int | Unset = UNSET,
    x_openbg_client_token: str | Unset = UNSET,
) -> Account | Error | None:
    """Fetch credit balance and free API calls

     Reports the account's credit balance, split by origin, and the number of free
    preview calls left this month. Balances are fractional (previews cost 0.25).
    remove.bg warns that the balance may lag a few seconds behind; clients that need an
    exact figure add up `X-Credits-Charged` themselves. The call costs 1 unit of the
    rate limit.

    Args:
        x_openbg_force_status (OpenbgForcedStatus | Unset): An error status the emulator can be
            told to answer (with `--test-controls`). Example: 429.
        x_openbg_retry_after (int | Unset):
        x_openbg_latency_ms (int | Unset):
        x_openbg_force_empty_balance (bool | Unset):
        x_openbg_fail_times (int | Unset):
        x_openbg_client_token (str | Unset):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Account | Error
    """

    return (
        await asyncio_detailed(
            client=client,
            x_openbg_force_status=x_openbg_force_status,
            x_openbg_retry_after=x_openbg_retry_after,
            x_openbg_latency_ms=x_openbg_latency_ms,
            x_openbg_force_empty_balance=x_openbg_force_empty_balance,
            x_openbg_fail_times=x_openbg_fail_times,
            x_openbg_client_token=x_openbg_client_token,
        )
    ).parsed
