"""The sequencer clients by app, through the one provider mechanism (mailfleet.kit.providers).

Apps without a client yet still take accounts and CSV files; an API export to them is refused
with `export_app_not_supported` until their module is registered here.
"""

from __future__ import annotations

from mailfleet.config import Settings
from mailfleet.exports.apps.protocol import Sequencer
from mailfleet.kit.providers import ProviderRegistry
from mailfleet.models import ExportApp

SEQUENCERS: ProviderRegistry[Sequencer] = ProviderRegistry("sequencer", "sequencer")
SEQUENCERS.register("instantly", "mailfleet.exports.apps.instantly:Instantly")
SEQUENCERS.register("smartlead", "mailfleet.exports.apps.smartlead:Smartlead")
SEQUENCERS.register("emailbison", "mailfleet.exports.apps.emailbison:EmailBison")
SEQUENCERS.register("lemlist", "mailfleet.exports.apps.lemlist:Lemlist")
SEQUENCERS.register("plusvibe", "mailfleet.exports.apps.plusvibe:Plusvibe")
SEQUENCERS.register("reachinbox", "mailfleet.exports.apps.reachinbox:ReachInbox")

# What each app's account takes where no client module says it yet.
DEFAULT_CREDENTIALS: dict[ExportApp, tuple[frozenset[str], ...]] = {
    ExportApp.INSTANTLY: (frozenset({"api_key"}),),
    ExportApp.SMARTLEAD: (frozenset({"api_key"}),),
    ExportApp.EMAILBISON: (frozenset({"api_key"}),),
    ExportApp.LEMLIST: (frozenset({"api_key"}),),
    ExportApp.PLUSVIBE: (frozenset({"api_key"}),),
    ExportApp.REACHINBOX: (frozenset({"api_key"}), frozenset({"email", "password"})),
}
CONFIG_KEYS: dict[ExportApp, frozenset[str]] = {
    ExportApp.SMARTLEAD: frozenset({"client_id"}),
    ExportApp.EMAILBISON: frozenset({"workspace_id", "client_id", "client_id_app_name"}),
    ExportApp.PLUSVIBE: frozenset({"workspace_id"}),
}
NEEDS_INSTANCE_URL = frozenset({ExportApp.EMAILBISON})


def supported(app: ExportApp) -> bool:
    return SEQUENCERS.find(app.value.lower()) is not None


def sequencer_for(settings: Settings, app: ExportApp) -> Sequencer | None:
    """The app's client built for `settings` (once per Settings), or None without one."""
    if not supported(app):
        return None
    return SEQUENCERS.get(settings, app.value.lower())


def clear() -> None:
    SEQUENCERS.clear()
