"""What a plugin author tests with: the ports' contract suites, builders
for domain objects and the in-memory twins.

The library runs its own adapters against these same suites, so a plugin
that passes them is held to exactly the bar the built-in partners are:

- :mod:`fulfilment.testing.delivery_partners`: booking, lookup, tracking
  and cancelling, for a 3PL adapter;
- :mod:`fulfilment.testing.notifiers`: SMS, e-mail and link shorteners;
- :mod:`fulfilment.testing.surveys`: NPS survey sources;
- :mod:`fulfilment.testing.rate_sources`: FX and commodity rate sources;
- :mod:`fulfilment.testing.builders`: ``make_order()`` and friends;
- :mod:`fulfilment.testing.twins`: the in-memory ports, one import away.

The suites are pytest classes: subclass them in a test module and provide
the fixtures each one's docstring lists.  pytest itself is not a dependency
of the library; install it with the ``test`` extra or in the plugin's own
test requirements.  Nothing here is imported by the library at run time.
"""
