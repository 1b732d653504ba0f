"""Pure OCI vocabulary: digests, names, media types, manifests and error codes (stdlib only, no I/O)."""
