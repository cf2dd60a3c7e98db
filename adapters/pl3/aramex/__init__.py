"""Aramex (ShippingAPI.V2, JSON flavour) as a delivery partner.

- ``settings``: the account and warehouse (``AramexSettings``);
- ``mapping``: pure translation between orders and Aramex JSON;
- ``client``: one method per Aramex operation, over an injected httpx client;
- ``partner``: ``AramexDeliveryPartner``, the port implementation;
- ``plugin``: the hook that registers the ``aramex`` factory.

The loopback twin lives in ``fulfilment.runners.sandbox.aramex``.
"""

from .client import AramexClient
from .partner import AramexDeliveryPartner
from .settings import AramexSettings, ShipperSettings

__all__ = [
    "AramexClient",
    "AramexDeliveryPartner",
    "AramexSettings",
    "ShipperSettings",
]
