"""Sending one HTTP request and translating what goes wrong.

Every HTTP adapter sends through :func:`send`, so transport failures and
status codes mean the same thing everywhere:

====================================  =========================================
no usable URL, a header HTTP forbids  ``PermanentPartnerError`` (never sent)
connect error, connect timeout        ``TransientPartnerError`` (never sent)
read/write timeout, broken response   ``OutcomeUnknown`` (may have been acted on)
429, 503                              ``TransientPartnerError`` with retry_after
500, 502, 504                         ``OutcomeUnknown``
401, 403                              ``PermanentPartnerError``
anything else                         returned for the adapter to map
====================================  =========================================

A status listed in ``passthrough`` is returned too, for an adapter whose
partner gives it a business meaning (Rebrandly answers a slashtag that is
already taken with 403).

The original httpx error is chained.  Adapters take an injected
``httpx.Client``: tests hand in one routed by respx or pointed at a
loopback simulator.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Collection, Mapping
from typing import Any

import httpx

from fulfilment.core.errors import (
    OutcomeUnknown,
    PermanentPartnerError,
    TransientPartnerError,
)

__all__ = ["parse_retry_after", "send"]

_NOT_ACTED_ON = {429, 503}
_MAYBE_ACTED_ON = {500, 502, 504}
_FORBIDDEN = {401, 403}


def send(
    client: httpx.Client,
    partner: str,
    method: str,
    url: str,
    *,
    json: Any = None,
    params: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    passthrough: Collection[int] = (),
) -> httpx.Response:
    try:
        response = client.request(
            method, url, json=json, params=params, headers=headers, content=content
        )
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as error:
        raise PermanentPartnerError(
            f"no request can be made: {error}", partner=partner
        ) from error
    except httpx.LocalProtocolError as error:
        # h11 refuses to write what HTTP does not allow (a line break in a
        # header).  httpx computes every body's length itself, so the
        # refusal comes at the request line or headers, before any byte
        # left.  The refused value may be a credential: it is not quoted.
        raise PermanentPartnerError(
            "the request is not valid HTTP (LocalProtocolError: a header "
            "holds a character HTTP forbids); nothing was sent",
            partner=partner,
        ) from error
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
        raise TransientPartnerError(
            f"could not connect: {error}", partner=partner
        ) from error
    except (
        httpx.TimeoutException,
        httpx.RemoteProtocolError,
        httpx.ReadError,
    ) as error:
        raise OutcomeUnknown(
            f"no complete answer: {type(error).__name__} {error}", partner=partner
        ) from error
    except httpx.HTTPError as error:
        raise OutcomeUnknown(
            f"{type(error).__name__}: {error}", partner=partner
        ) from error

    status = response.status_code
    if status in passthrough:
        return response
    if status in _NOT_ACTED_ON:
        raise TransientPartnerError(
            _excerpt(response),
            partner=partner,
            status=status,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )
    if status in _MAYBE_ACTED_ON:
        raise OutcomeUnknown(_excerpt(response), partner=partner, status=status)
    if status in _FORBIDDEN:
        raise PermanentPartnerError(_excerpt(response), partner=partner, status=status)
    return response


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: a number of seconds
    (fractions allowed) or an HTTP date.  None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _excerpt(response: httpx.Response, limit: int = 300) -> str:
    text = response.text.strip().replace("\n", " ")
    if len(text) > limit:
        text = text[:limit] + "..."
    return text or response.reason_phrase
