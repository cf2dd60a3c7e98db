"""Reference-rate sources: daily FX rates and metal prices.

- ``ecb``: the European Central Bank's euro reference rates (XML, per 1 EUR;
  no MAD, EGP, AED or LBP);
- ``openexchangerates``: Open Exchange Rates' JSON (per 1 USD; every
  currency the connector needs, metals too);
- ``metalpriceapi``: MetalpriceAPI's JSON for gold and silver;
- ``memory``: the in-memory twin, for tests and dry runs.

Each HTTP adapter is split the same way (``settings``, ``wire``,
``client``, ``adapter``, ``plugin``); the partner's wire shape lives in
``wire`` alone.
"""
