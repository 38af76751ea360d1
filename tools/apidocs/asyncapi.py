"""Writes docs/api/asyncapi.yaml, the AsyncAPI 3.0 document of the bus, from the code.

Events come from shared.contracts.events.CONTRACTS (the models publishers and subscribers
validate with); public RPCs from PUBLIC_RPCS below, their results from the models that shape
the same documents over HTTP. `--check` exits 1 if the committed file is not what this writes
(a test runs it). Validated by the AsyncAPI parser: tools/apidocs/validate-asyncapi.mjs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, TypeAdapter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bus_catalog import (
    HEADERS,
    PUBLIC_RPCS,
    RpcError,
    RpcMethod,
    camel,
    event_description,
)
from generated import write_or_check

from shared.contracts.events import CONTRACTS

OUT = Path(__file__).resolve().parents[2] / "docs" / "api" / "asyncapi.yaml"
AMQP = "0.3.0"  # AsyncAPI AMQP bindings version
REF = "#/components/schemas/{model}"


class Document:
    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}
        self.channels: dict[str, Any] = {}
        self.operations: dict[str, Any] = {}
        self.messages: dict[str, Any] = {}

    def schema(self, annotation: Any) -> dict[str, Any]:
        """The JSON schema of a type; a model's goes to components (with the models it uses)
        and is referred to."""
        schema = TypeAdapter(annotation).json_schema(ref_template=REF)
        self.schemas.update(schema.pop("$defs", {}))
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            self.schemas[annotation.__name__] = schema
            return {"$ref": REF.format(model=annotation.__name__)}
        return schema

    def message(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        self.messages[name] = spec
        return {"$ref": f"#/components/messages/{name}"}

    def channel(self, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        self.channels[name] = spec
        return {"$ref": f"#/channels/{name}"}


def exchange(name: str) -> dict[str, Any]:
    return {"amqp": {"is": "routingKey", "bindingVersion": AMQP,
                     "exchange": {"name": name, "type": "topic", "durable": True,
                                  "autoDelete": False, "vhost": "/"}}}


def add_event(doc: Document, exchange_name: str, event_type: str, model: type[BaseModel]) -> None:
    name = camel(event_type)
    message = doc.message(name, {
        "name": event_type, "title": event_type, "contentType": "application/json",
        "summary": event_description(exchange_name, event_type),
        "description": ("Published by the outbox relay after the change committed; at least "
                        "once: apply each `event_id` once. AMQP properties: `message_id` = "
                        "`event_id`, `user_id` = the publishing service's broker user "
                        "(verified by RabbitMQ; consumers drop events whose `user_id` is "
                        "not the owning service's), `delivery_mode` 2."),
        "headers": {"$ref": "#/components/schemas/EventHeaders"},
        "payload": doc.schema(model),
        "x-amqp-properties": {"user_id": f"the {exchange_name.split('.')[0]} service's user",
                              "message_id": "event_id", "content_type": "application/json"},
    })
    channel = doc.channel(name, {
        "address": event_type, "title": f"{exchange_name} / {event_type}",
        "description": f"Exchange `{exchange_name}` (topic), routing key `{event_type}`.",
        "messages": {name: message}, "bindings": exchange(exchange_name)})
    doc.operations[f"publish{name[0].upper()}{name[1:]}"] = {
        "action": "send", "channel": channel,
        "messages": [{"$ref": f"#/channels/{name}/messages/{name}"}],
        "summary": f"{exchange_name.split('.')[0]} publishes `{event_type}`.",
        "description": "Subscribe with a queue of your own bound to this exchange and routing "
                       "key. Tolerate fields you do not know: newer publishers may add some."}


def add_rpc(doc: Document, rpc: RpcMethod) -> None:
    name = camel(f"{rpc.service}_{rpc.method}")
    request = doc.message(f"{name}Request", {
        "name": f"{rpc.service}.{rpc.method}", "title": f"{rpc.service}.{rpc.method} request",
        "contentType": "application/json", "summary": rpc.summary,
        "description": ("nameko RPC request. AMQP properties: `reply_to` (the caller's reply "
                        "queue), `correlation_id`, `content_type: application/json` (required: "
                        "without it the request is parked and refused), `user_id` = the "
                        "caller's broker user, `expiration` = the caller's timeout in ms."),
        "headers": {"$ref": "#/components/schemas/RpcHeaders"},
        "payload": rpc.request_schema(doc.schema),
        "x-amqp-properties": {"user_id": "the caller's broker user", "reply_to": "required",
                              "correlation_id": "required", "content_type": "application/json"},
    })
    response = doc.message(f"{name}Reply", {
        "name": f"{rpc.service}.{rpc.method} reply", "contentType": "application/json",
        "summary": f"`result` on success, else `error` ({', '.join(rpc.errors)}).",
        "description": ("Sent to `reply_to` with the request's `correlation_id`, `user_id` = "
                        f"`{rpc.service}` (callers accept replies only from the called "
                        "service)."),
        "payload": {"type": "object", "required": ["result", "error"], "properties": {
            "result": {"anyOf": [doc.schema(rpc.result), {"type": "null"}]},
            "error": {"anyOf": [doc.schema(RpcError), {"type": "null"}]}}},
    })
    channel = doc.channel(name, {
        "address": f"{rpc.service}.{rpc.method}", "title": f"{rpc.service}.{rpc.method}",
        "description": f"Exchange `nameko-rpc` (topic), routing key "
                       f"`{rpc.service}.{rpc.method}`; consumed by `{rpc.service}` only.",
        "messages": {f"{name}Request": request}, "bindings": exchange("nameko-rpc")})
    reply_channel = doc.channel(f"{name}Reply", {
        "address": None, "title": f"reply to {rpc.service}.{rpc.method}",
        "description": "The caller's own reply queue, named by the request's `reply_to`.",
        "messages": {f"{name}Reply": response}})
    doc.operations[f"call{name[0].upper()}{name[1:]}"] = {
        "action": "receive", "channel": channel, "summary": rpc.summary,
        "description": rpc.description,
        "messages": [{"$ref": f"#/channels/{name}/messages/{name}Request"}],
        "reply": {"channel": reply_channel,
                  "messages": [{"$ref": f"#/channels/{name}Reply/messages/{name}Reply"}]}}


def build() -> dict[str, Any]:
    doc = Document()
    for (exchange_name, event_type), model in CONTRACTS.items():
        add_event(doc, exchange_name, event_type, model)
    for rpc in PUBLIC_RPCS:
        add_rpc(doc, rpc)
    doc.schemas.update(HEADERS)
    return {
        "asyncapi": "3.0.0",
        "info": {"title": "Commerce suite message bus", "version": "1.0.0",
                 "description": (Path(__file__).with_name("asyncapi-intro.md")
                                 .read_text(encoding="utf-8"))},
        "defaultContentType": "application/json",
        "servers": {"local": {"host": "127.0.0.1:5672", "protocol": "amqp",
                              "protocolVersion": "0.9.1",
                              "description": "RabbitMQ as `make run` uses it; each component "
                                             "connects with a broker user of its own."}},
        "channels": doc.channels, "operations": doc.operations,
        "components": {"schemas": dict(sorted(doc.schemas.items())),
                       "messages": doc.messages},
    }


class _Dumper(yaml.SafeDumper):
    """Plain YAML for readers: no anchors for repeated schemas, prose as literal blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value,
                                   style="|" if "\n" in value else None)


_Dumper.add_representer(str, _text)


def render() -> str:
    header = "# Generated by tools/apidocs/asyncapi.py from the code: do not edit by hand.\n"
    return header + yaml.dump(build(), Dumper=_Dumper, sort_keys=False, allow_unicode=True,
                              width=100)


def main(argv: list[str]) -> int:
    return write_or_check(OUT, render(), argv, "asyncapi.py")

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
