"""Forwarding for Microsoft 365 domains: Exchange transport rules, which Graph cannot set, as
the Exchange Online PowerShell an administrator runs."""

from __future__ import annotations

import re
from collections.abc import Mapping

CATCH_ALL_RULE = "Mailfleet catch-all {domain}"
FORWARD_RULE = "Mailfleet forward {address}"


def forwarding_instruction(domain: str, catch_all: str | None, forwards: Mapping[str, str]) -> str:
    """The Exchange Online PowerShell that gives `domain` this catch-all and these forwards."""
    rule = CATCH_ALL_RULE.format(domain=domain)
    steps = [
        f"Microsoft Graph cannot set forwarding for {domain}; an Exchange administrator must run "
        "in Exchange Online PowerShell:"
    ]
    # Internal relay makes Exchange accept mail for addresses without a mailbox (they count as
    # outside the organisation); the rules then say where it goes.
    kind = "InternalRelay" if catch_all or forwards else "Authoritative"
    steps.append(f"Set-AcceptedDomain -Identity {domain} -DomainType {kind};")
    pattern = FORWARD_RULE.format(address=f"*@{domain}")
    steps.append(
        f'Get-TransportRule | Where-Object Name -like "{pattern}" '
        "| Remove-TransportRule -Confirm:$false;"
    )
    for local, target in sorted(forwards.items()):
        address = f"{local}@{domain}"
        # First and final: a forwarded address never reaches the catch-all rule.
        steps.append(
            f'New-TransportRule -Name "{FORWARD_RULE.format(address=address)}" -Priority 0 '
            f'-RecipientAddressMatchesPatterns "^{re.escape(address)}$" '
            f"-RedirectMessageTo {target} -StopRuleProcessing $true;"
        )
    if catch_all:
        steps.append(
            f'New-TransportRule -Name "{rule}" -RecipientDomainIs {domain} '
            f"-SentToScope NotInOrganization -RedirectMessageTo {catch_all} "
            f'(if the rule exists: Set-TransportRule -Identity "{rule}" '
            f"-RedirectMessageTo {catch_all})."
        )
    else:
        steps.append(f'Remove-TransportRule -Identity "{rule}" -Confirm:$false (if it exists).')
    return " ".join(steps)
