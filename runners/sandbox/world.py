"""The sandbox world: every partner simulator on loopback, one data folder.

A :class:`SandboxWorld` serves the Shopify simulator (four stores), the
Amazon Selling Partner API (one seller in three marketplaces), one
simulator per delivery partner (the built-in ones and any a plugin
registers), the two SMS providers, the link shortener and an SMTP mail sink,
all on ``127.0.0.1``.  Their state lives in ``<data_dir>/`` (mail as
``.eml`` files under ``<data_dir>/mail/``) and the ports they used in
``<data_dir>/ports.json``, so a second start over the same folder continues
the same world at the same addresses, and a configuration written for it
stays valid.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import signal
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fulfilment.core.clock import SystemClock
from fulfilment.core.errors import ConfigurationError
from fulfilment.core.ports import Clock

from ..plugins import Registry
from ..usage import UsageError
from .mail import MailSink
from .server import SimServer, Simulator

__all__ = [
    "AMAZON_STORES",
    "SANDBOX_PARTNERS",
    "STORES",
    "SandboxWorld",
    "ports_of",
    "serve_forever",
]

log = logging.getLogger(__name__)

# Store handle -> (country, currency, time zone, locale, partner or "").
STORES: Mapping[str, tuple[str, str, str, str, str]] = {
    "shemsiworld": ("MA", "MAD", "Africa/Casablanca", "fr", "aramex"),
    "shemsi-egypt": ("EG", "EGP", "Africa/Cairo", "ar", "flextock"),
    "shemsi-uae": ("AE", "AED", "Asia/Dubai", "en", "farfill"),
    "shemsi-lebanon": ("LB", "USD", "Asia/Beirut", "ar", ""),
}
# Store handle -> its SMS provider: Infobip where its local routes are the
# usual choice, Twilio elsewhere.
SMS_PROVIDERS: Mapping[str, str] = {
    "shemsiworld": "twilio",
    "shemsi-egypt": "infobip",
    "shemsi-uae": "twilio",
    "shemsi-lebanon": "infobip",
}
STORE_NAMES: Mapping[str, str] = {
    "shemsiworld": "Shemsi World",
    "shemsi-egypt": "Shemsi Egypt",
    "shemsi-uae": "Shemsi UAE",
    "shemsi-lebanon": "Shemsi Lebanon",
}
# The Amazon stores, one per marketplace of the sandbox seller: same shape
# as STORES.  Merchant-fulfilled orders in the UAE and Egypt go to the same
# partners as the Shopify stores there; Saudi Arabia has no partner yet.
AMAZON_STORES: Mapping[str, tuple[str, str, str, str, str]] = {
    "amazon-ae": ("AE", "AED", "Asia/Dubai", "en", "farfill"),
    "amazon-eg": ("EG", "EGP", "Africa/Cairo", "ar", "flextock"),
    "amazon-sa": ("SA", "SAR", "Asia/Riyadh", "ar", ""),
}
SANDBOX_PARTNERS = ("aramex", "flextock", "farfill")
NOTIFIERS = ("twilio", "infobip", "rebrandly", "typeform")
UNPACED = {"requests_per_second": 1000.0}
# What each NPS category earns in the sandbox, and each store's monthly
# budget for it (the UAE's is small, to show the cap at work).
DISCOUNTS: Mapping[str, Mapping[str, Any]] = {
    "promoter": {"percent": 10, "valid_days": 60},
    "passive": {"percent": 15, "valid_days": 45},
    "detractor": {"percent": 20, "valid_days": 30},
}
BUDGETS: Mapping[str, int] = {
    "shemsiworld": 2000,
    "shemsi-egypt": 10000,
    "shemsi-uae": 50,
    "shemsi-lebanon": 200,
}
MAIL = "mail"
# The sandbox's rate sources: name -> (simulator, options).  Lebanon's
# parallel-market pound comes from a second Open Exchange Rates-shaped feed.
RATE_SOURCES: Mapping[str, tuple[str, Mapping[str, Any]]] = {
    "ecb": ("ecb", {}),
    "oxr": ("openexchangerates", {}),
    "metals": ("metalpriceapi", {}),
    "lbp-market": ("openexchangerates", {"feed": "market"}),
}
# Which source serves which currency, official and market.
RATE_SERVE: Mapping[str, str] = {
    "EUR": "ecb",
    "GBP": "ecb",
    "MAD": "oxr",
    "EGP": "oxr",
    "AED": "oxr",
    "LBP": "oxr",
    "SAR": "oxr",
    "XAU": "metals",
    "XAG": "metals",
}
RATE_MARKET: Mapping[str, str] = {"LBP": "lbp-market"}


class SandboxWorld:
    def __init__(
        self,
        data_dir: Path,
        *,
        registry: Registry | None = None,
        clock: Clock | None = None,
        partners: Iterable[str] = SANDBOX_PARTNERS,
        ports: Mapping[str, int] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UsageError(
                f"{self.data_dir}: cannot use as a data folder ({error.strerror})"
            ) from error
        self._lock = _FolderLock(self.data_dir / ".lock")
        self.clock = clock or SystemClock()
        registry = registry or Registry.discover()
        classes = registry.simulators()
        wanted = ["shopify", "amazon", *partners, *NOTIFIERS]
        rate_classes = {name: sim for name, (sim, _) in RATE_SOURCES.items()}
        missing = [
            name for name in [*wanted, *rate_classes.values()] if name not in classes
        ]
        if missing:
            raise ConfigurationError(
                f"no simulator registered for {', '.join(missing)}"
            )
        self.simulators: dict[str, Simulator] = {
            name: classes[name](data_dir=self.data_dir, clock=self.clock)
            for name in wanted
        }
        for name, (sim, options) in RATE_SOURCES.items():
            self.simulators[name] = classes[sim](
                data_dir=self.data_dir, clock=self.clock, **options
            )
        self.servers: dict[str, SimServer] = {}
        self.ports = dict(ports or {})
        self.mail: MailSink | None = None

    @property
    def shopify(self) -> Any:
        return self.simulators["shopify"]

    @property
    def amazon(self) -> Any:
        return self.simulators["amazon"]

    @property
    def typeform(self) -> Any:
        return self.simulators["typeform"]

    @property
    def urls(self) -> dict[str, str]:
        urls = {name: server.url for name, server in self.servers.items()}
        if self.mail is not None:
            urls[MAIL] = f"smtp://{self.mail.host}:{self.mail.port}"
        return urls

    def lock(self) -> None:
        """Claim the data folder for this process (done by ``start`` too);
        call it before changing the world's state."""
        self._lock.take()

    def start(self) -> SandboxWorld:
        self._lock.take()
        remembered = self._remembered_ports()
        for name, simulator in self.simulators.items():
            if name in self.ports:
                # Ports a configuration names must be the ones served.
                self.servers[name] = _serve_exactly(simulator, self.ports[name])
            else:
                self.servers[name] = _serve(simulator, remembered.get(name, 0))
        self.mail = _mail_sink(
            self.data_dir, self.ports.get(MAIL), remembered.get(MAIL, 0)
        )
        (self.data_dir / "ports.json").write_text(
            json.dumps({n: int(u.rsplit(":", 1)[1]) for n, u in self.urls.items()})
        )
        log.info(
            "sandbox.started %s", " ".join(f"{n}={u}" for n, u in self.urls.items())
        )
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()
        if self.mail is not None:
            self.mail.stop()
            self.mail = None
        self._lock.release()

    def __enter__(self) -> SandboxWorld:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def config(self, *, database: str = "fulfilment.sqlite3") -> dict[str, Any]:
        """A complete configuration (as TOML-ready data) for this world."""
        shopify_url = self.urls["shopify"]
        stores = {}
        for handle, (country, currency, zone, locale, partner) in STORES.items():
            stores[handle] = {
                "channel": "shopify",
                "country": country,
                "currency": currency,
                "timezone": zone,
                "locale": locale,
                "partner": partner if partner in self.simulators else "",
                "name": STORE_NAMES[handle],
                "discount_budget": BUDGETS[handle],
                "sms": SMS_PROVIDERS[handle],
                "mail": "smtp",
                "links": "rebrandly",
                "source": self.shopify.sandbox_settings(shopify_url, handle),
            }
        amazon = self.amazon.sandbox_settings(self.urls["amazon"])
        for handle, (country, currency, zone, locale, partner) in AMAZON_STORES.items():
            # Amazon buyers are never messaged: no SMS, mail or links.
            stores[handle] = {
                "channel": "amazon",
                "country": country,
                "currency": currency,
                "timezone": zone,
                "locale": locale,
                "partner": partner if partner in self.simulators else "",
                "name": f"Shemsi on Amazon.{country.lower()}",
                "source": dict(amazon),
            }
        partners = {
            name: self.simulators[name].sandbox_settings(self.urls[name])
            for name in self.simulators
            if name not in ("shopify", "amazon", *NOTIFIERS, *RATE_SOURCES)
        }
        rate_sources = {
            name: {
                "adapter": sim,
                **self.simulators[name].sandbox_settings(self.urls[name]),
            }
            for name, (sim, _) in RATE_SOURCES.items()
        }
        notifiers = {
            name: self.simulators[name].sandbox_settings(self.urls[name])
            for name in NOTIFIERS
        }
        assert self.mail is not None, "start the world before asking its config"
        return {
            "environment": "sandbox",
            "storage": {"backend": "sqlite", "path": database},
            # Orders loaded from a file may be years old; read them all.
            "intake": {"first_run_lookback_days": 3650},
            # The simulators answer at once; waiting long helps nobody.
            "retry": {
                "attempts": 3,
                "initial_wait_seconds": 0.05,
                "max_wait_seconds": 1.0,
                "max_elapsed_seconds": 10.0,
            },
            "stores": stores,
            "partners": partners,
            "sms": {"twilio": notifiers["twilio"], "infobip": notifiers["infobip"]},
            "mail": {
                "smtp": self.mail.sandbox_settings(self.mail.host, self.mail.port)
            },
            # The simulators answer at once and limit no one: pacing their
            # calls at a real account's rate would only make the demo wait.
            "links": {"rebrandly": {**notifiers["rebrandly"], **UNPACED}},
            "nps": {"survey": "typeform"},
            "surveys": {"typeform": {**notifiers["typeform"], **UNPACED}},
            "discounts": {"prefix": "MERCI", **DISCOUNTS},
            "rates": {
                "pivot": "USD",
                "reporting_currency": "USD",
                "backfill_days": 31,
                "sources": rate_sources,
                "serve": dict(RATE_SERVE),
                "market": dict(RATE_MARKET),
            },
            "sandbox": {"data_dir": str(self.data_dir), **self.urls},
        }

    def _remembered_ports(self) -> dict[str, int]:
        path = self.data_dir / "ports.json"
        if not path.exists():
            return {}
        try:
            return {k: int(v) for k, v in json.loads(path.read_text()).items()}
        except (ValueError, AttributeError, TypeError):
            log.warning("sandbox.ports_unreadable path=%s", path)
            return {}


class _FolderLock:
    """One world per data folder: a second process serving the same folder
    would share its state files and overwrite them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: Any = None

    def take(self) -> None:
        if self._file is not None:
            return
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise UsageError(
                f"{self.path.parent} is already being served by another process; "
                "stop it first or use another --data-dir"
            ) from None
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def _serve(simulator: Simulator, port: int) -> SimServer:
    """Serve on the remembered port when it is free, else on a new one."""
    try:
        return SimServer(simulator, port).start()
    except OSError:
        log.warning("sandbox.port_taken sim=%s port=%d", simulator.name, port)
        return SimServer(simulator, 0).start()


def _mail_sink(data_dir: Path, exact: int | None, remembered: int) -> MailSink:
    """The SMTP sink on the configured port, else the remembered one when it
    is free, else a new one."""
    for port in [exact] if exact else [remembered, 0]:
        try:
            return MailSink(data_dir=data_dir, port=port).start()
        except OSError as error:
            if exact:
                raise UsageError(
                    f"cannot serve mail on 127.0.0.1:{port} as the configuration "
                    f"says ({error.strerror}); stop what uses it"
                ) from error
            log.warning("sandbox.port_taken sim=mail port=%d", port)
    raise AssertionError("unreachable: port 0 is always free")


def _serve_exactly(simulator: Simulator, port: int) -> SimServer:
    try:
        return SimServer(simulator, port).start()
    except OSError as error:
        raise UsageError(
            f"cannot serve {simulator.name} on 127.0.0.1:{port} as the "
            f"configuration says ({error.strerror}); stop what uses it"
        ) from error


def ports_of(urls: Mapping[str, Any]) -> dict[str, int]:
    """Ports named by a configuration's ``[sandbox]`` table of URLs."""
    ports = {}
    for name, url in urls.items():
        if name == "data_dir":
            continue
        parts = urlsplit(url) if isinstance(url, str) else None
        try:
            port = parts.port if parts and parts.hostname == "127.0.0.1" else None
        except ValueError:
            port = None
        if not port:
            raise UsageError(
                f"sandbox.{name}: {url!r} is not an http://127.0.0.1:PORT address "
                "(smtp://127.0.0.1:PORT for mail)"
            )
        ports[name] = port
    return ports


def plugin_partners(names: Iterable[str]) -> tuple[str, ...]:
    """The names in a ``[sandbox]`` table beyond the built-in world: the
    simulators of plugin partners the configuration wants served too."""
    built_in = {"shopify", "amazon", MAIL, *SANDBOX_PARTNERS, *NOTIFIERS}
    return tuple(n for n in names if n not in built_in and n not in RATE_SOURCES)


def serve_forever(data_dir: Path, ports: Mapping[str, int] | None = None) -> None:
    """``fulfilment sandbox serve``: run the world until interrupted.  A
    plugin partner named in the ``[sandbox]`` table (``bosta =
    "http://127.0.0.1:8714"``) is served beside the built-in ones."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    partners = (*SANDBOX_PARTNERS, *plugin_partners(ports or {}))
    with SandboxWorld(data_dir, ports=ports, partners=partners) as world:
        if not world.shopify.has_orders():
            from .seed import seed_orders

            world.shopify.load_orders(seed_orders(world.clock.now()))
        for name, url in world.urls.items():
            print(f"{name:10} {url}", flush=True)
        print("serving until interrupted (Ctrl-C)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
