"""Test support: real servers on loopback, real tools, images built on disk.

- servers:  ``cargobay serve`` and the CNCF distribution registry as subprocesses (free ports,
  logs to files, stop/kill/restart of the whole process group)
- images:   OCI image layouts (and ``dir:`` copies) built in pure Python; artifacts with subject
- tools:    skopeo and podman with timeouts and private config/storage; skip when missing
- postgres: throw-away databases on 127.0.0.1:5432
- http:     stdlib HTTP without proxies, to read what a registry serves
- checks:   assertions shared by the interop tests

Nothing here imports cargobay: the judges of the hub (skopeo, podman, the CNCF
distribution registry) and the images fed to them are independent of the code under test.
"""
