"""The fault matrix, plain-Python half: transport, service states, hostile input, cache,
secrets and load scenarios against the sandbox (see tests/faultmatrix.py)."""
