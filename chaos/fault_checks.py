"""What each fault must leave behind: quiescence reached, an injected duplicate turned away by
the inbox, the poison RPC request answered BadRequest, no process dead that was not killed."""

from __future__ import annotations

from pathlib import Path

from chaos import report
from chaos.checker import Verdict
from chaos.heal import Quiescence
from chaos.nemesis import Nemesis
from chaos.procs import Exit


def fault_checks(verdict: Verdict, nemesis: Nemesis, quiet: Quiescence, catalog_log: Path,
                 exits: list[Exit]) -> None:
    if not quiet.converged:
        verdict.add("invariant", f"no quiescence: still busy {quiet.busy}")
    absorbed = report.absorbed(catalog_log)
    for payment_id in nemesis.duplicated:
        if payment_id not in absorbed:
            verdict.add("duplicated", f"injected duplicate of payment {payment_id}'s event "
                                      "was not turned away by the inbox")
    for exit_ in report.unexplained_exits(exits, nemesis.records, nemesis.t0):
        verdict.add("unexpected", f"a process died that the nemesis did not kill: {exit_}")
    for record in nemesis.records:
        reply = record.detail.get("rpc_reply", "")
        if record.fault == "poison" and "BadRequest" not in str(reply):
            verdict.add("unexpected", f"poison RPC request answered {reply!r}, not BadRequest")
