"""dockpin: keeps Dockerfile base images pinned, verified and right-sized."""

__version__ = "0.1.0"
