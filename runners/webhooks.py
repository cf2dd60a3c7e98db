"""The webhook receiver: a plain ASGI application that keeps what Shopify
pushes, answers at once, and reads it into the order store afterwards.

Shopify waits five seconds for a 2xx and then retries the same delivery
(8 times over 4 hours).  So the request path does as little as it can: it
checks the size, the shop and the signature, and keeps the delivery
durably in the :class:`~fulfilment.core.ports.WebhookInbox` before it
answers 200.  Reading the order in (and booking it, when
``book_on_receipt`` says so) happens after the answer, in one background
task that drains the inbox; ``fulfilment run process-webhooks`` drains it
too, so deliveries kept just before a crash are read by whichever runs
next.  Polling (fetch-new-orders) stays on as the reconciliation: what a
lost webhook missed, the next poll brings.

The answers, in the order they are decided:

=====  ====================================================================
413    the body is larger than ``max_body_bytes`` (``Content-Length`` or
       what arrived); nothing is kept
401    the shop domain is unknown, or the signature is missing or wrong
       under every secret the shop has; nothing is kept.  An unknown shop
       gets 401 rather than 404: without its secret the request is
       indistinguishable from a forged one, and a 404 would tell a prober
       which shops exist
200    a topic that carries no order: ignored, nothing kept
400    no ``X-Shopify-Webhook-Id`` (or one over 255 characters: Shopify's
       are UUIDs), or a body that is not a JSON object
       (signed, so it is logged with its webhook id); nothing kept
200    kept, or already kept under its webhook id (a duplicate)
503    the store could not keep it (Shopify retries it later)
=====  ====================================================================

The raw body is verified as it arrived; a proxy in front must pass it
unchanged.  Log lines name the webhook id, the store and the topic, never
the body (it holds phones and e-mail addresses) nor a secret.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs

from fulfilment.adapters.oms.shopify.mapping import CHANNEL
from fulfilment.adapters.oms.shopify.webhooks import (
    HMAC_HEADER,
    ORDER_TOPICS,
    SHOP_HEADER,
    TOPIC_HEADER,
    TRIGGERED_AT_HEADER,
    WEBHOOK_ID_HEADER,
    parse_body,
    verify,
)
from fulfilment.adapters.payloads import aware_time
from fulfilment.core.errors import ConfigurationError, StorageError
from fulfilment.core.ports import Clock, WebhookDelivery, WebhookInbox

from .config import Config
from .wiring import App

__all__ = [
    "MAX_WEBHOOK_ID",
    "Serving",
    "ShopKeys",
    "WebhookReceiver",
    "bind",
    "processor",
    "receiver_for",
    "serve",
    "serve_in_thread",
    "shop_keys",
]

log = logging.getLogger(__name__)

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@attrs.frozen
class ShopKeys:
    """Who a shop domain is: its store handle and the secrets that sign
    its deliveries (the current one first)."""

    store: str
    secrets: tuple[str, ...] = attrs.field(repr=False)


@attrs.frozen
class _Answer:
    status: int
    text: str


_TOO_LARGE = _Answer(413, "payload too large")
MAX_WEBHOOK_ID = 255
# How much of an unverified header a log line repeats.
_LOGGED = 80
_UNAUTHORISED = _Answer(401, "unauthorised")


def shop_keys(config: Config) -> dict[str, ShopKeys]:
    """The shops of *config* that have a ``webhooks`` table, by domain."""
    return {
        store.shop_domain(handle): ShopKeys(handle, store.webhooks.secrets())
        for handle, store in config.stores.items()
        if store.webhooks is not None
    }


class WebhookReceiver:
    """The ASGI application.  *process* reads kept deliveries into the
    order store (blocking; it runs in a worker thread, one run at a time)
    and is started after each delivery kept and once at start-up."""

    def __init__(
        self,
        *,
        shops: Mapping[str, ShopKeys],
        inbox: WebhookInbox,
        clock: Clock,
        max_body_bytes: int = 1_048_576,
        path: str = "/webhooks/shopify",
        process: Callable[[], object] | None = None,
    ) -> None:
        self._shops = {domain.lower(): keys for domain, keys in shops.items()}
        self._inbox = inbox
        self._clock = clock
        self._limit = max_body_bytes
        self._path = path
        self._process = process
        self._task: asyncio.Task[None] | None = None
        self._again = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            answer = await self._handle(scope, receive)
            await _respond(send, answer)

    async def drained(self) -> None:
        """Wait until the background processing has nothing left to do."""
        while self._task is not None and not self._task.done():
            await self._task

    # --- one request ---------------------------------------------------------

    async def _handle(self, scope: Scope, receive: Receive) -> _Answer:
        method = scope.get("method", "GET")
        if scope.get("path") == "/health" and method in ("GET", "HEAD"):
            return _Answer(200, "ok")
        if scope.get("path") != self._path:
            return _Answer(404, "not found")
        if method != "POST":
            return _Answer(405, "only POST is accepted here")
        headers = _headers(scope)
        body = await _read_body(receive, headers, self._limit)
        if body is None:
            log.warning(
                "webhooks.rejected reason=too_large shop=%s limit=%d",
                headers.get(SHOP_HEADER.lower(), "-"),
                self._limit,
            )
            return _TOO_LARGE
        answer = await self._accept(headers, body)
        if answer.status == 200 and answer.text == "kept":
            self._kick()
        return answer

    async def _accept(self, headers: Mapping[str, str], body: bytes) -> _Answer:
        domain = headers.get(SHOP_HEADER.lower(), "").strip().lower()
        webhook_id = headers.get(WEBHOOK_ID_HEADER.lower(), "").strip()
        topic = headers.get(TOPIC_HEADER.lower(), "").strip()
        shop = self._shops.get(domain)
        if shop is None:
            _rejected("unknown_shop", domain, webhook_id, topic)
            return _UNAUTHORISED
        if not verify(body, headers.get(HMAC_HEADER.lower()), shop.secrets):
            _rejected("bad_signature", domain, webhook_id, topic)
            return _UNAUTHORISED
        if topic not in ORDER_TOPICS:
            log.info(
                "webhooks.ignored webhook_id=%s store=%s topic=%s",
                webhook_id or "-",
                shop.store,
                topic or "-",
            )
            return _Answer(200, "ignored")
        if not webhook_id:
            _rejected("no_webhook_id", domain, webhook_id, topic)
            return _Answer(400, f"{WEBHOOK_ID_HEADER} is missing")
        if len(webhook_id) > MAX_WEBHOOK_ID:
            # The signature covers the body, not the headers: an id this long
            # is no Shopify delivery's, and would be kept as a key for good.
            _rejected("long_webhook_id", domain, webhook_id, topic)
            return _Answer(
                400, f"{WEBHOOK_ID_HEADER} is over {MAX_WEBHOOK_ID} characters"
            )
        payload = parse_body(body)
        if isinstance(payload, str):
            _rejected("malformed_body", domain, webhook_id, topic, payload)
            return _Answer(400, payload)
        delivery = WebhookDelivery(
            delivery_id=webhook_id,
            channel=CHANNEL,
            store=shop.store,
            topic=topic,
            received_at=self._clock.now(),
            body=body.decode("utf-8"),
            triggered_at=aware_time(headers.get(TRIGGERED_AT_HEADER.lower())),
        )
        try:
            new = await asyncio.to_thread(self._inbox.receive, delivery)
        except StorageError as error:
            # Not kept: Shopify retries a delivery that got no 2xx.
            log.error(
                "webhooks.store_failed webhook_id=%s store=%s topic=%s error=%s",
                webhook_id,
                shop.store,
                topic,
                error,
            )
            return _Answer(503, "could not keep the delivery; try again")
        log.info(
            "webhooks.received webhook_id=%s store=%s topic=%s new=%s",
            webhook_id,
            shop.store,
            topic,
            new,
        )
        return _Answer(200, "kept" if new else "duplicate")

    # --- processing after the answer -----------------------------------------

    def _kick(self) -> None:
        if self._process is None:
            return
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        """Run *process* until no delivery arrived during the last run."""
        assert self._process is not None
        while True:
            self._again = False
            try:
                await asyncio.to_thread(self._process)
            except Exception as error:  # kept deliveries wait for the next run
                log.exception("webhooks.processing_failed error=%s", error)
                return
            if not self._again:
                return

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # Deliveries kept before a crash are read first.
                self._kick()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.drained()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _headers(scope: Scope) -> dict[str, str]:
    return {
        name.decode("latin-1").lower(): value.decode("latin-1")
        for name, value in scope.get("headers", ())
    }


async def _read_body(
    receive: Receive, headers: Mapping[str, str], limit: int
) -> bytes | None:
    """The whole body, or None as soon as it is known to exceed *limit*."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Send, answer: _Answer) -> None:
    body = answer.text.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": answer.status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _rejected(
    reason: str, domain: str, webhook_id: str, topic: str, detail: str = ""
) -> None:
    """Log a refused request; the headers are the sender's, unverified, so
    each is cut short."""
    log.warning(
        "webhooks.rejected reason=%s shop=%s webhook_id=%s topic=%s%s",
        reason,
        _short(domain) or "-",
        _short(webhook_id) or "-",
        _short(topic) or "-",
        f" detail={detail!r}" if detail else "",
    )


def _short(text: str) -> str:
    return text if len(text) <= _LOGGED else text[:_LOGGED] + "..."


# --- wiring and serving ------------------------------------------------------


def receiver_for(
    config: Config,
    inbox: WebhookInbox,
    clock: Clock,
    process: Callable[[], object] | None = None,
) -> WebhookReceiver:
    """The receiver of *config*'s shops; a configuration naming none is an
    error (every delivery would be refused)."""
    shops = shop_keys(config)
    if not shops:
        raise ConfigurationError(
            f"{config.path}: no store has a [stores.<handle>.webhooks] table, "
            "so every delivery would be refused; add one with the app's secret"
        )
    return WebhookReceiver(
        shops=shops,
        inbox=inbox,
        clock=clock,
        max_body_bytes=config.webhooks.max_body_bytes,
        path=config.webhooks.path,
        process=process,
    )


def processor(app: App) -> Callable[[], object]:
    """What the receiver runs after each delivery kept: process-webhooks
    and, with ``book_on_receipt``, create-fulfilment-requests when it
    brought a new or changed order in."""

    def process() -> object:
        result = app.run("process-webhooks")
        outcomes = result.get("outcomes", {})
        brought = outcomes.get("inserted", 0) + outcomes.get("updated", 0)
        if app.config.webhooks.book_on_receipt and brought:
            return app.run("create-fulfilment-requests")
        return result

    return process


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on *host*:*port* (0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


@attrs.define
class Serving:
    """A receiver served by uvicorn in a thread (tests, the sandbox)."""

    server: Any
    thread: threading.Thread
    url: str

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def serve(app: WebhookReceiver) -> Any:
    """A uvicorn server for *app*, not started; ``.run(sockets=[sock])``
    serves on a socket from :func:`bind` until interrupted.  Raises
    ConfigurationError when uvicorn is not installed (the ``webhooks``
    extra)."""
    try:
        import uvicorn
    except ImportError as error:
        raise ConfigurationError(
            "serving webhooks needs uvicorn: "
            "pip install 'fulfilment-connector[webhooks]'"
        ) from error
    config = uvicorn.Config(
        app,
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


def serve_in_thread(
    app: WebhookReceiver, host: str = "127.0.0.1", port: int = 0
) -> Serving:
    """Serve *app* on *host*:*port* (0: a free port) in a daemon thread;
    returns once it accepts connections."""
    sock = bind(host, port)
    server = serve(app)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True
    )
    thread.start()
    for _ in range(500):
        if server.started:
            break
        thread.join(0.01)
    port = sock.getsockname()[1]
    return Serving(server, thread, f"http://{host}:{port}")
