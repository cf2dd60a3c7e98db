"""How a failed HTTP request is classified: a request that never left this
machine is never reported as one the partner may have acted on.

These use real httpx clients: the URL problems fail before any socket is
opened, and the header problem is sent towards a loopback listener that
records every byte it receives."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
import respx

from fulfilment.adapters.http import send
from fulfilment.core.errors import (
    OutcomeUnknown,
    PermanentPartnerError,
    TransientPartnerError,
)


class Listener:
    """A loopback socket that accepts one connection and keeps what it
    reads until the peer closes it."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.received = b""
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        connection, _ = self._socket.accept()
        connection.settimeout(5)
        with connection:
            while chunk := connection.recv(4096):
                self.received += chunk

    def close(self) -> bytes:
        self._thread.join(timeout=5)
        self._socket.close()
        return self.received


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


@pytest.mark.parametrize(
    "url",
    ["127.0.0.1:8706/sms/2/text/advanced", "ftp://127.0.0.1/x", "http://[::1"],
)
def test_a_url_no_request_can_use_is_a_setup_error_not_an_unknown_outcome(
    url: str,
) -> None:
    with httpx.Client() as client, pytest.raises(PermanentPartnerError) as broken:
        send(client, "infobip", "POST", url, json={})

    assert broken.value.partner == "infobip"
    assert not isinstance(broken.value, TransientPartnerError)


def test_a_header_http_cannot_carry_is_refused_before_a_byte_is_sent(
    listener: Listener,
) -> None:
    url = f"http://127.0.0.1:{listener.port}/sms"

    with httpx.Client() as client, pytest.raises(PermanentPartnerError) as broken:
        send(client, "infobip", "POST", url, headers={"Authorization": "App k\r\nX"})

    assert listener.close() == b""
    assert "LocalProtocolError" in str(broken.value)
    # The refused header may be a credential: it is not quoted.
    assert "App k" not in str(broken.value)


def test_a_refused_connection_is_transient_because_nothing_was_sent() -> None:
    with socket.create_server(("127.0.0.1", 0)) as closed:
        port = closed.getsockname()[1]
    url = f"http://127.0.0.1:{port}/sms"

    with httpx.Client() as client, pytest.raises(TransientPartnerError) as refused:
        send(client, "infobip", "POST", url, json={})

    assert not isinstance(refused.value, OutcomeUnknown)


def test_a_broken_answer_after_the_request_went_out_is_an_unknown_outcome() -> None:
    with respx.mock(assert_all_called=True) as router:
        router.post("https://sms.test/send").mock(
            side_effect=httpx.RemoteProtocolError("peer closed")
        )
        with httpx.Client() as client, pytest.raises(OutcomeUnknown):
            send(client, "infobip", "POST", "https://sms.test/send", json={})
