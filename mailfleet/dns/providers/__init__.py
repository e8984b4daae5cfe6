"""DNS providers, one module per implementation; `registry.provider_for` picks one by settings."""
