"""Async OCI Distribution client on its own HTTP/1.1 layer (httpclient). Import the submodules."""
