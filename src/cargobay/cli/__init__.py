"""The `cargobay` command: one module per command, loaded only when that command runs."""
