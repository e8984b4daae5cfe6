"""Checking a domain's delegation now, on request, through the lifecycle's own job code."""
