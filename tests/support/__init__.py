"""Test support: real servers on loopback, real tools, images built on disk.

Nothing here imports cargobay: the judges of the hub (skopeo, podman, the CNCF
distribution registry) and the images fed to them are independent of the code under test.
"""
