"""Farfill (Dubai) as a delivery partner, on a wire shape modelled after
Quiqup Fulfilment because Farfill publishes none.

- ``settings``: the OAuth2 client and service level (``FarfillSettings``);
- ``wire``: every assumption about Farfill's wire shape, pure functions;
- ``client``: one method per Farfill operation, over an injected httpx client;
- ``partner``: ``FarfillDeliveryPartner``, the port implementation;
- ``plugin``: the hook that registers the ``farfill`` factory.

The loopback twin lives in ``fulfilment.runners.sandbox.farfill``.
"""

from .client import FarfillClient
from .partner import FarfillDeliveryPartner
from .settings import FarfillSettings

__all__ = ["FarfillClient", "FarfillDeliveryPartner", "FarfillSettings"]
