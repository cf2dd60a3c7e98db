"""The plugin hooks: how an adapter package tells the connector it exists.

The host name is ``fulfilment``.  Every hook is prefixed with it, takes no
arguments and returns a mapping from an adapter name (used in configuration,
e.g. ``adapter = "aramex"``) to a factory.  Hooks do no work: nothing
connects, reads a file or builds a client until the runner calls a factory
with settings.  The built-in adapters register through these same hooks
(``fulfilment.adapters.builtin``); a third-party package registers by
declaring an entry point in the ``fulfilment`` group::

    [project.entry-points.fulfilment]
    acme = "fulfilment_acme.plugin"

and implementing one or more hooks in that module with :data:`hookimpl`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

import attrs
import httpx
import pluggy

from fulfilment.core.ports import (
    Capabilities,
    Clock,
    DeliveryPartner,
    LinkShortener,
    MailSender,
    OrderSource,
    RateBudget,
    RateSource,
    SmsSender,
    Storage,
    SurveySource,
)

from .retry import RetryPolicy

__all__ = [
    "PROJECT",
    "AdapterContext",
    "Factory",
    "hookimpl",
    "hookspec",
]

PROJECT = "fulfilment"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

T = TypeVar("T")


@attrs.frozen
class AdapterContext:
    """What the composition root hands every factory.

    ``http_client(base_url, timeout)`` builds the httpx client an adapter
    talks through (tests swap in respx-routed or simulator-bound clients);
    ``retry`` is the one retry policy; ``data_dir`` is where embedded stores
    keep files.  ``rate_budget``, when set, is the store's shared
    :class:`~fulfilment.core.ports.RateBudget`: an adapter of a partner that
    limits calls per credential takes from it, keyed by
    :func:`~fulfilment.core.rate_budgets.budget_key`, so every runner on the
    database stays inside the one limit; without it the adapter paces in
    its own process.
    """

    clock: Clock
    retry: RetryPolicy
    http_client: Callable[[str, float], httpx.Client]
    data_dir: str | None = None
    rate_budget: RateBudget | None = None


@attrs.frozen
class Factory(Generic[T]):
    """Builds one kind of adapter from its settings.

    ``settings_type`` is an attrs class; the configuration loader structures
    the adapter's TOML table into it (with errors that name the failing
    path) before calling ``build(settings, context)``.
    """

    settings_type: type[Any]
    build: Callable[[Any, AdapterContext], T]
    description: str = ""
    # A delivery partner's declared capabilities, known without settings
    # (``fulfilment plugins`` lists them); a configured partner may narrow
    # its currencies and tracking batch from its settings.
    capabilities: Capabilities | None = None


class FulfilmentHookSpecs:
    """Namespace of hook specifications, registered on the plugin manager."""

    @hookspec
    def fulfilment_register_order_sources(self) -> Mapping[str, Factory[OrderSource]]:
        """Return order-source factories by adapter name (``shopify``).

        A factory builds one source per configured store.
        """
        raise NotImplementedError

    @hookspec
    def fulfilment_register_delivery_partners(
        self,
    ) -> Mapping[str, Factory[DeliveryPartner]]:
        """Return delivery-partner (3PL) factories by adapter name
        (``aramex``, ``flextock``, ``farfill``)."""
        raise NotImplementedError

    @hookspec
    def fulfilment_register_storages(self) -> Mapping[str, Factory[Storage]]:
        """Return storage factories by backend name (``sqlite``,
        ``mongodb``, ``memory``)."""
        raise NotImplementedError

    @hookspec
    def fulfilment_register_simulators(self) -> Mapping[str, Callable[..., Any]]:
        """Return loopback simulator classes by adapter name, so
        ``fulfilment demo`` and ``fulfilment sandbox serve`` can stand in for
        a plugin's partner too.  Each class is a
        ``fulfilment.runners.sandbox.server.Simulator`` subclass taking
        ``data_dir`` and ``clock`` keyword arguments."""
        raise NotImplementedError

    @hookspec
    def fulfilment_register_sms_senders(self) -> Mapping[str, Factory[SmsSender]]:
        """Return SMS sender factories by adapter name (``twilio``,
        ``infobip``, ``memory``).

        A sender that can be asked about an earlier send declares
        ``capabilities.lookup_by_reference`` and offers
        ``find_sent(reference)``, so an uncertain send is checked rather
        than repeated.
        """
        raise NotImplementedError

    @hookspec
    def fulfilment_register_mail_senders(self) -> Mapping[str, Factory[MailSender]]:
        """Return e-mail sender factories by adapter name (``smtp``,
        ``memory``)."""
        raise NotImplementedError

    @hookspec
    def fulfilment_register_link_shorteners(
        self,
    ) -> Mapping[str, Factory[LinkShortener]]:
        """Return link shortener factories by adapter name (``rebrandly``,
        ``memory``).  With a slashtag, a shortener returns the same link for
        the same slashtag and destination, every time."""
        raise NotImplementedError

    @hookspec
    def fulfilment_register_survey_sources(
        self,
    ) -> Mapping[str, Factory[SurveySource]]:
        """Return NPS survey factories by adapter name (``typeform``,
        ``memory``).

        A factory builds one survey per configured form: ``form_link``
        writes the hidden fields (the order key, the customer's first name)
        into a personalised link, and ``responses`` hands back the
        completed answers with the order key read from those fields.
        """
        raise NotImplementedError

    @hookspec
    def fulfilment_register_rate_sources(
        self,
    ) -> Mapping[str, Factory[RateSource]]:
        """Return reference-rate source factories by adapter name (``ecb``,
        ``openexchangerates``, ``metalpriceapi``, ``memory``).

        A factory builds one source per ``[rates.sources.<name>]`` table;
        its ``published(start, end, quotes)`` hands back each day's rates
        per one unit of its ``base``, leaving out the days it did not
        publish.
        """
        raise NotImplementedError
