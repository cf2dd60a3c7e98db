"""The European Central Bank's euro reference rates."""
