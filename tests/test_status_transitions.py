"""Only the transition modules change a domain's, a mailbox's or an order's status.

Every other module goes through them (`domains.lifecycle`, `mailboxes.transitions`,
`orders.status`), so each change is checked against its table, stamped and recorded as an
event the webhooks see. Found by reading every module's syntax tree: an assignment to a
`.status` attribute, or a `status` column set to one of the three enums' members in an insert,
an update or a constructor.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "mailfleet"
TRANSITION_MODULES = {
    "mailfleet.domains.lifecycle",
    "mailfleet.mailboxes.transitions",
    "mailfleet.orders.status",
    "mailfleet.billing.subscriptions.transitions",
    "mailfleet.billing.payments.transitions",
    "mailfleet.billing.scheduled.transitions",
    "mailfleet.registrars.transitions",
    "mailfleet.exports.transitions",
    "mailfleet.setups.transitions",
    "mailfleet.swaps.transitions",
}
# Other entities with a status of their own, which have no transition table (yet).
OTHER_STATUSES = {
    "mailfleet.webhooks.outbox": "webhook deliveries",
    "mailfleet.webhooks.service": "webhook deliveries (resend)",
    "mailfleet.workspaces.invitations.service": "invitations",
    "mailfleet.mailboxes.providers.google": "an API error's HTTP status",
    "mailfleet.mailboxes.providers.microsoft": "an API error's HTTP status",
    "mailfleet.exports.apps.protocol": "an app's HTTP status on its error",
    "mailfleet.demo.pipeline": "the demo's report of what the API answered",
    "mailfleet.billing.plans.service": "plans (ACTIVE or RETIRED, one move: retire)",
}
ENUMS = ("DomainStatus", "MailboxStatus", "OrderStatus", "SubscriptionStatus")


def _names_an_entity_status(node: ast.AST) -> bool:
    return any(
        isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id in ENUMS
        for sub in ast.walk(node)
    )


def _findings(module: str, tree: ast.AST) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Attribute) and sub.attr == "status":
                    found.append(f"{module} line {node.lineno}: assigns .status")
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg == "status" and _names_an_entity_status(keyword.value):
                    found.append(
                        f"{module} line {node.lineno}: status={ast.unparse(keyword.value)}"
                    )
            if (
                isinstance(node.func, ast.Name)
                and node.func.id == "setattr"
                and len(node.args) > 1
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value == "status"
            ):
                found.append(f"{module} line {node.lineno}: setattr(..., 'status', ...)")
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "status"
                    and _names_an_entity_status(value)
                ):
                    found.append(f"{module} line {node.lineno}: 'status': {ast.unparse(value)}")
    return found


def _modules() -> list[tuple[str, ast.AST]]:
    modules = []
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] == "migrations":
            continue
        name = ".".join(("mailfleet", *relative.with_suffix("").parts)).removesuffix(".__init__")
        modules.append((name, ast.parse(path.read_text(), filename=str(path))))
    return modules


def test_no_module_outside_the_transition_modules_sets_a_status() -> None:
    found = [
        finding
        for module, tree in _modules()
        if module not in TRANSITION_MODULES | OTHER_STATUSES.keys()
        for finding in _findings(module, tree)
    ]
    assert found == []


def test_the_check_sees_each_way_of_setting_a_status() -> None:
    source = (
        "mailbox.status = MailboxStatus.ACTIVE\n"
        "update(Mailbox).values(status=MailboxStatus.REMOVED)\n"
        "rows = [{'status': DomainStatus.QUEUED}]\n"
        "setattr(domain, 'status', value)\n"
    )
    assert len(_findings("example", ast.parse(source))) == 4


def test_the_transition_modules_exist() -> None:
    names = {module for module, _ in _modules()}
    assert names >= TRANSITION_MODULES
    assert OTHER_STATUSES.keys() <= names
