"""One Shopify store as :class:`~fulfilment.core.ports.StoreDiscounts`.

A code is created with one ``discountCodeBasicCreate``; Shopify takes no
idempotency key for it, but the code itself is unique in a shop, so a
second attempt at the same code is answered ``TAKEN`` rather than making a
second discount.  The caller, told :class:`~fulfilment.core.errors.
DiscountCodeTaken`, asks :meth:`ShopifyDiscounts.find_discount` whose code
it is, by its title.

The mutation is never repeated by the retry policy once it may have run (a
timeout, a dropped or 5xx answer, ``INTERNAL_SERVER_ERROR``): that is an
``OutcomeUnknown`` for the caller, who looks the code up before trying
again.  ``THROTTLED``, 429 and 503 answers (Shopify did nothing) are
waited out and retried at the edge like any query, paid for from the same
cost bucket as the shop's order reads.  The wire shapes live in
:mod:`.discount_wire`.
"""

from __future__ import annotations

import logging

from fulfilment.core.ports import DiscountRequest, ExistingDiscount

from .client import ShopifyGraphQLClient
from .discount_wire import basic_code_discount, created_discount_id, existing_discount
from .queries import code_discount_by_code_query, discount_code_basic_create_mutation

__all__ = ["ShopifyDiscounts"]

log = logging.getLogger(__name__)


class ShopifyDiscounts:
    """Discount codes of one store through *client*."""

    def __init__(self, client: ShopifyGraphQLClient, store: str) -> None:
        self.store = store
        self._client = client

    def __repr__(self) -> str:
        return f"ShopifyDiscounts(store={self.store!r})"

    def create_discount(self, request: DiscountRequest) -> str:
        """Create *request*'s code; the id of the new discount node."""
        variables = {"basicCodeDiscount": basic_code_discount(request)}
        data = self._client.execute(
            discount_code_basic_create_mutation(),
            variables,
            what="discount_code_basic_create",
            idempotent=False,
        )
        created = created_discount_id(data)
        # The code is a customer's voucher: it stays out of the log.
        log.info(
            "shopify.discount_created store=%s discount=%s kind=%s",
            self.store,
            created,
            request.kind.value,
        )
        return created

    def find_discount(self, code: str) -> ExistingDiscount | None:
        data = self._client.execute(
            code_discount_by_code_query(),
            {"code": code},
            what="code_discount_by_code",
        )
        return existing_discount(data)
