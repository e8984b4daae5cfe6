"""Provider installations: a customer's own provider account bound to a workspace.

`service` creates, lists, gets and deletes them (credentials are encrypted and never shown
again); `resolve` picks, for a workspace and a provider kind, its installation if one is bound
and otherwise the deployment-wide default from settings.
"""
