"""Session fixtures for DNS servers (PowerDNS parent and child, Redis), shared by every package."""
