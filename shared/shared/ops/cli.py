"""suite-ops: queue depths, outbox lag, dead-letter queues, stuck payments, reservations, ledger.

    suite-ops status | dlq list [QUEUE] | dlq replay (--id ID | --all) [QUEUE]
    suite-ops dlq purge [QUEUE] --yes | payments stuck [--older-than S]
    suite-ops reservations [--expiring-within S] | reconcile    (every command takes --json)

Exit status: 0 done, 1 the broker or a database failed, or `reconcile` found mismatches,
2 refused (bad input; nothing changed).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from pika.exceptions import AMQPConnectionError as BrokerUnreachable
from pika.exceptions import AMQPError, NackError, UnroutableError
from sqlalchemy.exc import SQLAlchemyError

from shared.ops import Refusal, broker, commands, outbox, queues, render
from shared.settings import DEFAULT_AMQP_URI

LIST_LIMIT = 1000


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse prints usage + message and exits 2; a refusal is one line.
        raise Refusal(message)


def _parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--json", action="store_true", help="machine-readable output")
    parser = _Parser(prog="suite-ops", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    commands.add_parser("status", parents=[common], help="queue depths, consumers, outbox lag")
    dlq = commands.add_parser("dlq", help="dead-letter queues").add_subparsers(
        dest="action", required=True, parser_class=_Parser)
    peek = dlq.add_parser("list", parents=[common], help="show parked messages (kept)")
    peek.add_argument("queue", nargs="?", help="a DLQ (or its source queue); default: all")
    peek.add_argument("--limit", type=int, default=LIST_LIMIT, help="per queue")
    replay = dlq.add_parser("replay", parents=[common], help="republish where they came from")
    replay.add_argument("queue", nargs="?")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", dest="message_id", help="the id `dlq list` shows")
    which.add_argument("--all", action="store_true")
    purge = dlq.add_parser("purge", parents=[common], help="delete parked messages for good")
    purge.add_argument("queue", nargs="?")
    purge.add_argument("--yes", action="store_true", help="confirm the deletion")
    payments = commands.add_parser("payments", help="payments").add_subparsers(
        dest="action", required=True, parser_class=_Parser)
    stuck = payments.add_parser("stuck", parents=[common], help="payments pending too long")
    stuck.add_argument("--older-than", type=float, default=300, metavar="SECONDS")
    held = commands.add_parser("reservations", parents=[common],
                               help="active reservations expiring soon (overdue first)")
    held.add_argument("--expiring-within", type=float, default=float(24 * 3600),
                      metavar="SECONDS", help="default: a day, i.e. every active one")
    commands.add_parser("reconcile", parents=[common],
                        help="the ledger check; exit status 1 on a mismatch")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    amqp_uri = os.environ.get("AMQP_URI", DEFAULT_AMQP_URI)
    try:
        args = _parser().parse_args(argv)
        return _run(args, amqp_uri)
    except Refusal as refusal:
        print(f"suite-ops: {refusal}", file=sys.stderr)
        return 2
    except BrokerUnreachable as exc:
        print(f"suite-ops: cannot reach the broker ({type(exc).__name__})", file=sys.stderr)
        return 1
    except (UnroutableError, NackError) as exc:
        print(f"suite-ops: the broker did not take a replayed message ({type(exc).__name__}); "
              "it is still in its DLQ", file=sys.stderr)
        return 1
    except AMQPError as exc:
        print(f"suite-ops: broker error: {exc!r}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:  # the class only: the message can carry the URL
        print(f"suite-ops: cannot read the database ({type(exc).__name__})", file=sys.stderr)
        return 1
    except RuntimeError as exc:
        print(f"suite-ops: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, amqp_uri: str) -> int:
    if args.command in commands.DATABASE_ONLY:
        return commands.run(args)
    # Refuse bad input before touching anything.
    targets = queues.resolve_dlqs(args.queue) if args.command == "dlq" else []
    if args.command == "dlq" and args.action == "purge" and not args.yes:
        raise Refusal("purge deletes messages for good: add --yes")
    if args.command == "dlq" and args.action == "list" and args.limit < 1:
        raise Refusal("--limit must be at least 1")
    connection = broker.connect(amqp_uri)
    try:
        if args.command == "status":
            return _status(connection, args.json)
        existing = [s.queue for s in broker.stats(connection, targets) if s.exists]
        if args.action == "list":
            rows = []
            for number, queue in enumerate(existing, 1):
                render.progress(f"reading {queue} ({number}/{len(existing)})")
                rows += [p.summary() for p in broker.peek(connection, queue, args.limit)]
            render.out(args.json, rows, lambda: _list_table(rows))
        elif args.action == "replay":
            return _replay(connection, existing, args.message_id, args.json)
        else:
            purged = {queue: broker.purge(connection, queue) for queue in existing}
            render.out(args.json, {"purged": purged}, lambda: "\n".join(
                f"purged {count} message(s) from {queue}" for queue, count in purged.items()))
        return 0
    finally:
        if connection.is_open:
            connection.close()


def _status(connection: Any, as_json: bool) -> int:
    found = broker.stats(connection, queues.suite_queues())
    rows = [{"queue": s.queue, "exists": s.exists, "messages": s.messages if s.exists else None,
             "consumers": s.consumers if s.exists else None} for s in found]
    lags = outbox.lags()
    render.out(as_json, {"queues": rows, "outbox": lags}, lambda: "\n\n".join([
        render.table(["QUEUE", "MESSAGES", "CONSUMERS"], [
            [r["queue"], r["messages"] if r["exists"] else "missing", r["consumers"]]
            for r in rows]),
        render.table(["SERVICE", "OUTBOX PENDING", "OLDEST (s)", "ERROR"], [
            [r["service"], r["pending"], r["oldest_age_seconds"], r["error"]] for r in lags]),
    ]))
    return 0


def _replay(connection: Any, targets: list[str], message_id: str | None, as_json: bool) -> int:
    replayed = []
    for number, queue in enumerate(targets, 1):
        render.progress(f"replaying {queue} ({number}/{len(targets)})")
        replayed += broker.replay(connection, queue, message_id)
        if message_id is not None and replayed:
            break
    if message_id is not None and not replayed:
        raise Refusal(f"no message with id {message_id!r} in {', '.join(targets) or 'any DLQ'}")
    rows = [{"queue": p.queue, "id": p.id, "exchange": p.target()[0],
             "routing_key": p.target()[1]} for p in replayed]
    render.out(as_json, {"replayed": rows}, lambda: f"replayed {len(rows)} message(s)" + (
        "\n" + render.table(["QUEUE", "ID", "TO EXCHANGE", "ROUTING KEY"],
                            [list(r.values()) for r in rows]) if rows else ""))
    return 0


def _list_table(rows: list[dict[str, Any]]) -> str:
    return render.table(["QUEUE", "ID", "PARKED AT", "TO", "ERROR"], [
        [r["queue"], r["id"], r["parked_at"], f"{r['exchange'] or '(default)'} {r['routing_key']}",
         render.shorten(r["error"])] for r in rows]) + f"\n{len(rows)} message(s)"
