"""The public suffix list, loaded once: which names are suffixes a registry delegates under.

Domain-name normalisation (`domains.names`) refuses suffixes and unknown top levels with it;
the delegation check (`dns.delegation`) finds a domain's parent zone with it.
"""

from __future__ import annotations

from collections.abc import Collection

from publicsuffixlist import PublicSuffixList

psl = PublicSuffixList()


def known_tld(tld: str, local_tlds: Collection[str]) -> bool:
    """Whether `tld` (one ASCII label) is a top level of the public suffix list, or a local one."""
    return tld in local_tlds or psl.is_public(tld, accept_unknown=False)


def public_suffix(name: str) -> str | None:
    """The public suffix `name` ends in (acme.co.uk -> co.uk); None for a malformed name.

    An unlisted top level counts as a suffix (acme.test -> test). `name` is taken as given:
    lower-case ASCII without the trailing dot, as `domains.names.normalise` makes it.
    """
    suffix = psl.publicsuffix(name)
    return None if suffix is None else str(suffix)
