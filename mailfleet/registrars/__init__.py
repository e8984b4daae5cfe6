"""Domains bought for customers: availability and prices at registrars (Porkbun, ...), behind
the `Registrar` protocol, one module per registrar, chosen by `MAILFLEET_REGISTRAR`."""
