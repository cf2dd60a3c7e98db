"""Open Exchange Rates (JSON, per 1 USD, metals included).

- ``settings``: the API host, app id and base (``OpenExchangeRatesSettings``);
- ``wire``: the query, the rates answer and the error bodies, pure
  functions, the only module that knows Open Exchange Rates' JSON;
- ``client``: the two reads (latest, historical) over an injected httpx
  client, with the app id masked in everything it hands on;
- ``adapter``: ``OpenExchangeRatesSource``, the port implementation;
- ``plugin``: the hook that registers the ``openexchangerates`` factory.

The loopback twin lives in ``fulfilment.runners.sandbox.openexchangerates``.
"""

from .adapter import OpenExchangeRatesSource
from .client import OpenExchangeRatesClient
from .settings import OpenExchangeRatesSettings

__all__ = [
    "OpenExchangeRatesClient",
    "OpenExchangeRatesSettings",
    "OpenExchangeRatesSource",
]
