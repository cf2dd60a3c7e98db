"""Flextock (Egypt) as a delivery partner.

- ``settings``: the merchant account (``FlextockSettings``);
- ``wire``: every assumption about Flextock's wire shape, pure functions;
- ``client``: one method per Flextock operation, over an injected httpx client;
- ``partner``: ``FlextockDeliveryPartner``, the port implementation;
- ``plugin``: the hook that registers the ``flextock`` factory.

The loopback twin lives in ``fulfilment.runners.sandbox.flextock``.
"""

from .client import FlextockClient
from .partner import FlextockDeliveryPartner
from .settings import FlextockSettings

__all__ = ["FlextockClient", "FlextockDeliveryPartner", "FlextockSettings"]
