"""The Zapmail API (v2 and v1) served by Mailfleet under /zapmail/api."""
