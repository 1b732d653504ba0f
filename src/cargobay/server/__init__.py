"""Thin HTTP adapters over the registry service (aiohttp)."""
