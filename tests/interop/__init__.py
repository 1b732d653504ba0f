"""Interop tests: real third-party tools and registries against the hub."""
