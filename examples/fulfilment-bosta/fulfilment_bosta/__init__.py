"""Bosta: an example delivery-partner plugin for fulfilment-connector.

Egyptian doorstep delivery with cash on delivery in EGP.  The package is a
complete plugin: settings, one mapping module for Bosta's wire shapes, an
HTTP client, the ``DeliveryPartner`` adapter, the hook implementations and
a loopback simulator the sandbox and the tests talk to.
"""
