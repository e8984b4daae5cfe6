"""DNS hosting: zones at a provider, the delegation check, mail records and their health."""
