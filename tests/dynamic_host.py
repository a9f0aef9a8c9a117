"""Run a dynamic provider the way the Pulumi engine does: ``python -u -m pulumi.dynamic`` in a fresh
interpreter, started from the project directory, spoken to over its gRPC ``ResourceProvider`` protocol.

The provider reaches the subprocess only as the base64 dill string that ``Resource.__init__`` stored in
``__provider`` — exactly what lands in Pulumi state.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc
from google.protobuf import struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import proto, rpc
from pulumi.runtime.proto import provider_pb2_grpc

PROJECT_DIR = Path(__file__).resolve().parent.parent


def serialized(provider: Any) -> str:
    """The provider as the engine stores it in state (``__provider``)."""
    return str(serialize_provider(provider))


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(dict(props), {}))
    finally:
        loop.close()


def _plain(struct: struct_pb2.Struct) -> dict[str, Any]:
    return dict(rpc.deserialize_properties(struct))


class DynamicProviderHost:
    """A ``python -m pulumi.dynamic`` subprocess and a client for it."""

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        cwd: Path = PROJECT_DIR,
        python: str | Path = sys.executable,
    ) -> None:
        full_env = {**os.environ, **(env or {})}
        self.stderr = ""
        self.process = subprocess.Popen(
            [str(python), "-u", "-m", "pulumi.dynamic"],
            cwd=cwd,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode().strip()
        if not line.isdigit():
            self.close()
            raise RuntimeError(f"pulumi.dynamic did not print a port: {line!r}\n{self.stderr[-3000:]}")
        self.channel = grpc.insecure_channel(f"127.0.0.1:{line}")
        self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)

    def configure(self, config: Mapping[str, str]) -> None:
        self.stub.Configure(proto.ConfigureRequest(args=_struct(config), acceptSecrets=False))

    def check(
        self, urn: str, olds: Mapping[str, Any], news: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[Any]]:
        response = self.stub.Check(proto.CheckRequest(urn=urn, olds=_struct(olds), news=_struct(news)))
        return _plain(response.inputs), list(response.failures)

    def diff(self, urn: str, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> Any:
        return self.stub.Diff(proto.DiffRequest(id=id_, urn=urn, olds=_struct(olds), news=_struct(news)))

    def create(self, urn: str, props: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        response = self.stub.Create(proto.CreateRequest(urn=urn, properties=_struct(props)))
        return response.id, _plain(response.properties)

    def read(self, urn: str, id_: str, props: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        response = self.stub.Read(proto.ReadRequest(id=id_, urn=urn, properties=_struct(props)))
        return response.id, _plain(response.properties)

    def update(self, urn: str, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
        response = self.stub.Update(
            proto.UpdateRequest(id=id_, urn=urn, olds=_struct(olds), news=_struct(news))
        )
        return _plain(response.properties)

    def delete(self, urn: str, id_: str, props: Mapping[str, Any]) -> None:
        self.stub.Delete(proto.DeleteRequest(id=id_, urn=urn, properties=_struct(props)))

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr is not None:
            self.stderr = self.process.stderr.read().decode(errors="replace")
            self.process.stderr.close()
        if self.process.stdout is not None:
            self.process.stdout.close()
        if hasattr(self, "channel"):
            self.channel.close()

    def __enter__(self) -> DynamicProviderHost:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
