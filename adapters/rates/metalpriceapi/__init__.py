"""MetalpriceAPI (JSON) as a source of gold and silver prices.

- ``settings``: the API host, key and base (``MetalpriceApiSettings``);
- ``wire``: the query, the answers and the refusals, pure functions, the
  only module that knows MetalpriceAPI's JSON;
- ``client``: the latest and historical reads, over an injected httpx
  client, with the key masked in everything it raises;
- ``adapter``: ``MetalpriceApiRateSource``, the port implementation;
- ``plugin``: the hook that registers the ``metalpriceapi`` factory.

The loopback twin lives in ``fulfilment.runners.sandbox.metalpriceapi``.
"""

from .adapter import MetalpriceApiRateSource
from .client import MetalpriceApiClient
from .settings import MetalpriceApiSettings

__all__ = ["MetalpriceApiClient", "MetalpriceApiRateSource", "MetalpriceApiSettings"]
