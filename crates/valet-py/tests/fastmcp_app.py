"""The Python tool server the client tests call: the Rust example's three tools on the
official SDK's ``MCPServer`` (SDK 1.x's ``FastMCP``), behind ``valet.mcpserver.protect``."""

from __future__ import annotations

from pathlib import Path

from mcp.server.mcpserver import Context, MCPServer

import valet
from valet.asgi import ValetMiddleware
from valet.mcpserver import ToolRule, decision, protect

RULES = {
    "read_calendar": ToolRule(scopes=["calendar:read"]),
    "send_email": ToolRule(scopes=["email:send"], details="email", fields=["recipient", "subject"]),
    "pay_invoice": ToolRule(
        scopes=["payments:write"],
        details="payment",
        fields=["amount", "currency", "recipient", "memo"],
    ),
}


def build(resource: str, root: valet.RootPublicKey, approver: valet.VerifyingKey, policies: Path) -> ValetMiddleware:
    server = MCPServer("calendar-and-payments")

    @server.tool()
    def read_calendar(ctx: Context) -> str:
        """Today's calendar of the person the agent acts for."""
        person = decision(ctx).claims or {}
        return f"calendar of {person.get('subject')}: 09:00 stand-up, 14:00 review"

    @server.tool()
    def send_email(recipient: str, subject: str, ctx: Context, body: str = "") -> str:
        """Sends an email."""
        decision(ctx)
        return f"sent `{subject}` to {recipient}"

    @server.tool()
    def pay_invoice(amount: str, currency: str, recipient: str, ctx: Context, memo: str = "") -> str:
        """Pays an invoice."""
        decision(ctx)
        return f"paid {amount} {currency} to {recipient}"

    authorizer = valet.Authorizer(valet.KeySet([root]), policies, approvers=[approver])
    return protect(server, authorizer, resource, tools=RULES)
