"""What a GraphQL Admin API query costs, by Shopify's published rules.

Shopify charges every query points from a leaky bucket and refuses a single
query whose *requested* cost exceeds 1000.  The requested cost is computed
from the document alone, before anything runs:

- a scalar or enum field costs 0;
- an object field costs 1 plus the cost of its selection;
- a connection field (one with a ``first`` or ``last`` argument) costs
  ``2 + n * (1 + cost of the node selection)``, n being the page size, a
  literal or a variable;
- the ``pageInfo``, ``edges``, ``node`` and ``nodes`` wrappers inside a
  connection add nothing themselves;
- a mutation's root field costs 10 plus its selection.

The *actual* cost uses the same rules with the number of nodes really
returned, so it never exceeds the requested cost; Shopify refunds the
difference to the bucket.  Both the adapter (to size pages) and the sandbox
simulator (to enforce the limit) use this module, so they agree.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    parse,
    value_from_ast_untyped,
)

__all__ = [
    "MAX_QUERY_COST",
    "actual_cost",
    "parse_document",
    "requested_cost",
]

MAX_QUERY_COST = 1000
MUTATION_COST = 10
_PAGE_ARGUMENTS = ("first", "last")


@functools.lru_cache(maxsize=64)
def parse_document(text: str) -> DocumentNode:
    """Parse a GraphQL document once; the same text always costs the same."""
    return parse(text, no_location=True)


def requested_cost(
    document: DocumentNode,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> int:
    """The requested cost of one operation of *document* with *variables*.

    Raises ``ValueError`` when the operation cannot be chosen (several
    operations and no or an unknown *operation_name*).
    """
    operation = _operation(document, operation_name)
    costing = _Costing(document, operation, variables or {})
    return sum(
        costing.root(field, operation, costing.field(field))
        for field in costing.fields(operation.selection_set)
    )


def actual_cost(
    document: DocumentNode,
    data: Mapping[str, Any] | None,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> int:
    """The cost of what *data* (the ``data`` of the answer) really holds."""
    if data is None:
        return 0
    operation = _operation(document, operation_name)
    costing = _Costing(document, operation, variables or {})
    return sum(
        costing.root(field, operation, costing.field_actual(field, data[_key(field)]))
        for field in costing.fields(operation.selection_set)
        if _key(field) in data
    )


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode:
    operations = [
        d for d in document.definitions if isinstance(d, OperationDefinitionNode)
    ]
    if name is not None:
        for operation in operations:
            if operation.name and operation.name.value == name:
                return operation
        raise ValueError(f"no operation named {name!r} in the document")
    if len(operations) != 1:
        raise ValueError(
            f"the document has {len(operations)} operations; name the one to cost"
        )
    return operations[0]


def _key(field: FieldNode) -> str:
    return field.alias.value if field.alias else field.name.value


class _Costing:
    """Walks one operation, resolving fragments and page-size variables."""

    def __init__(
        self,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
    ) -> None:
        self._fragments = {
            d.name.value: d
            for d in document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        defaults = {
            v.variable.name.value: value_from_ast_untyped(v.default_value)
            for v in operation.variable_definitions or ()
            if v.default_value is not None
        }
        self._variables = {**defaults, **variables}

    def fields(self, selection_set: SelectionSetNode | None) -> Iterator[FieldNode]:
        """The fields of a selection, fragments spread in place."""
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                yield from self.fields(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self._fragments.get(selection.name.value)
                if fragment is not None:
                    yield from self.fields(fragment.selection_set)

    def root(
        self, field: FieldNode, operation: OperationDefinitionNode, cost: int
    ) -> int:
        """A root field's cost: a mutation field costs 10 where an object
        field would cost 1."""
        if operation.operation is not OperationType.MUTATION:
            return cost
        return (
            MUTATION_COST + max(0, cost - 1) if field.selection_set else MUTATION_COST
        )

    # --- requested ---------------------------------------------------------

    def field(self, field: FieldNode) -> int:
        if field.selection_set is None:
            return 0
        size = self._page_size(field)
        if size is None:
            return 1 + self._selection(field.selection_set)
        return 2 + size * (1 + self._connection_body(field.selection_set))

    def _selection(self, selection_set: SelectionSetNode | None) -> int:
        return sum(self.field(f) for f in self.fields(selection_set))

    def _connection_body(self, selection_set: SelectionSetNode | None) -> int:
        """Cost of one node of a connection: the wrappers are free."""
        total = 0
        for field in self.fields(selection_set):
            name = field.name.value
            if name == "edges":
                total += self._connection_body(field.selection_set)
            elif name in ("nodes", "node", "pageInfo"):
                total += self._selection(field.selection_set)
            else:
                total += self.field(field)
        return total

    def _page_size(self, field: FieldNode) -> int | None:
        arguments = {a.name.value: a.value for a in field.arguments or ()}
        present = [arguments[n] for n in _PAGE_ARGUMENTS if n in arguments]
        if not present:
            return None
        sizes = [self._int(value) for value in present]
        return max(sizes)

    def _int(self, value: object) -> int:
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            given = self._variables.get(value.name.value)
            return given if isinstance(given, int) else 0
        return 0

    # --- actual ------------------------------------------------------------

    def field_actual(self, field: FieldNode, value: Any) -> int:
        if field.selection_set is None:
            return 0
        if self._page_size(field) is not None:
            return self._connection_actual(field.selection_set, value)
        if value is None:
            return 1
        if isinstance(value, list):
            # A plain list is charged as one object, like the request was.
            inner = [self._selection_actual(field.selection_set, v) for v in value]
            return 1 + max(inner, default=0)
        return 1 + self._selection_actual(field.selection_set, value)

    def _selection_actual(
        self, selection_set: SelectionSetNode | None, value: Any
    ) -> int:
        if not isinstance(value, Mapping):
            return 0
        return sum(
            self.field_actual(f, value[_key(f)])
            for f in self.fields(selection_set)
            if _key(f) in value
        )

    def _connection_actual(
        self, selection_set: SelectionSetNode | None, value: Any
    ) -> int:
        if not isinstance(value, Mapping):
            return 2
        count = max(len(value.get("nodes") or ()), len(value.get("edges") or ()))
        return 2 + count + self._wrapped_actual(selection_set, value)

    def _wrapped_actual(
        self, selection_set: SelectionSetNode | None, value: Mapping[str, Any]
    ) -> int:
        total = 0
        for field in self.fields(selection_set):
            inner = value.get(_key(field))
            name = field.name.value
            if name == "edges":
                total += sum(
                    self._wrapped_actual(field.selection_set, edge)
                    for edge in inner or ()
                    if isinstance(edge, Mapping)
                )
            elif name == "nodes":
                total += sum(
                    self._selection_actual(field.selection_set, node)
                    for node in inner or ()
                )
            elif name in ("node", "pageInfo"):
                total += self._selection_actual(field.selection_set, inner)
            elif _key(field) in value:
                total += self.field_actual(field, inner)
        return total
