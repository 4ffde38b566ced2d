"""The EC2 instance metadata service: who is calling, the tree, IMDSv2, the signed identity document.

It answers for exactly one instance per request, the one the Neutron metadata
proxy vouches for (signed ``X-Instance-ID``), and keeps what it read about an
instance for a few seconds so a boot storm costs one backend round per
instance, not one per path.
"""

from metadata.app import create_app

__all__ = ["create_app"]
