"""Open Exchange Rates (JSON, per 1 USD, metals included)."""
