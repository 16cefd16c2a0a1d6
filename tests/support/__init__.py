"""Test infrastructure: deterministic OCI images, a real registry, a token server, a fault proxy.

Import as ``from support.oci import build_image`` (``tests/`` is on ``pythonpath``).
"""
