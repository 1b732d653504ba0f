"""The hub's domain logic: no HTTP objects and no SQL text."""
