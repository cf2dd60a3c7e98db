"""ACME Parcels: an example delivery-partner plugin for fulfilment-connector."""
