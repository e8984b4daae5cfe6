"""Domain forwarding: a customer domain (and its www) redirects to a URL, served by Mailfleet."""
