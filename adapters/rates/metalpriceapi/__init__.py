"""MetalpriceAPI (JSON): gold and silver prices."""
