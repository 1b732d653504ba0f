"""Async OCI Distribution client (aiohttp). Import the submodules; this package stays light."""
