"""Blacklist (DNSBL) monitoring of ACTIVE domains and sending IPs, and the domain health score."""
