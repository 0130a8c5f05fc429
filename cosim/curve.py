"""CURVE: ZeroMQ's encryption and authentication, for every socket of a session that reaches beyond
loopback (``network.allow_remote``), or on request (``network.curve``). docs/security.md.

Keys live in a secrets folder outside the repository (``network.secrets``; default
``~/.config/cosim/secrets``, or ``$COSIM_SECRETS``), made by ``python -m cosim.curve``::

    secrets/server.key          the syncserver's public key   (every host needs it)
    secrets/server.key_secret   its key pair                  (only the syncserver's host)
    secrets/clients/NAME.key         a client key's public half (the syncserver's host: who may join)
    secrets/clients/NAME.key_secret  the key pair a host's components use (``network.curve_client``)

The files are ZeroMQ's own certificate format (``zmq.auth``); the syncserver admits exactly the
public keys in ``clients/`` and counts every refusal.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from cosim.config import NetworkSettings
from cosim.errors import ConfigError

log = logging.getLogger("cosim.curve")
SERVER = "server"
CLIENTS = "clients"


def default_secrets() -> Path:
    return Path(os.environ.get("COSIM_SECRETS", "~/.config/cosim/secrets")).expanduser()


def secrets_folder(value: str | None) -> Path:
    return Path(value).expanduser() if value else default_secrets()


def make_keys(folder: Path, clients: Sequence[str] = ("client",), server: bool = True) -> list[Path]:
    """Create the server's key pair (unless ``server`` is False or it exists) and one per client
    name; folders 0700, secret files 0600. Returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CLIENTS).mkdir(exist_ok=True)
    for d in (folder, folder / CLIENTS):
        os.chmod(d, 0o700)
    written: list[Path] = []
    todo = ([(folder, SERVER)] if server and not (folder / f"{SERVER}.key_secret").exists() else [])
    todo += [(folder / CLIENTS, name) for name in clients]
    for where, name in todo:
        public, secret = zmq.auth.create_certificates(where, name)
        os.chmod(secret, 0o600)
        written += [Path(public), Path(secret)]
    return written


def _load(folder: Path, path: Path, what: str, secret: bool) -> tuple[bytes, bytes | None]:
    hint = f"make keys with: python -m cosim.curve --secrets {folder}"
    if not path.is_file():
        raise ConfigError(f"CURVE: {what} {str(path)!r} does not exist ({hint})")
    try:
        public, secret_key = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"CURVE: {what} {str(path)!r} is not a ZeroMQ certificate: {exc}") from None
    if secret and not secret_key:
        raise ConfigError(f"CURVE: {what} {str(path)!r} holds no secret key")
    return public, secret_key


@dataclass(frozen=True)
class ClientKeys:
    """What a component needs: the syncserver's public key and a key pair of its own."""

    server_public: bytes
    public: bytes
    secret: bytes

    @classmethod
    def load(cls, folder: Path, name: str = "client") -> ClientKeys:
        server_public, _ = _load(folder, folder / f"{SERVER}.key", "the syncserver's public key", secret=False)
        public, secret = _load(folder, folder / CLIENTS / f"{name}.key_secret", f"client key pair {name!r}", secret=True)
        assert secret is not None
        return cls(server_public, public, secret)

    def apply(self, sock: zmq.Socket) -> zmq.Socket:
        sock.curve_serverkey = self.server_public
        sock.curve_publickey = self.public
        sock.curve_secretkey = self.secret
        return sock


def client_keys(net: NetworkSettings) -> ClientKeys | None:
    """This host's keys when the session uses CURVE (``network.uses_curve``), else None."""
    return ClientKeys.load(secrets_folder(net.secrets), net.curve_client) if net.uses_curve else None


@dataclass(frozen=True)
class ServerKeys:
    public: bytes
    secret: bytes
    clients: Path  # the folder of admitted public keys

    @classmethod
    def load(cls, folder: Path) -> ServerKeys:
        public, secret = _load(folder, folder / f"{SERVER}.key_secret", "the syncserver's key pair", secret=True)
        assert secret is not None
        if not any((folder / CLIENTS).glob("*.key")):
            raise ConfigError(f"CURVE: no client public keys in {str(folder / CLIENTS)!r}: nobody could join "
                              f"(python -m cosim.curve --secrets {folder})")
        return cls(public, secret, folder / CLIENTS)

    def socket_options(self) -> list[tuple[int, int | bytes]]:
        return [(zmq.CURVE_SERVER, 1), (zmq.CURVE_PUBLICKEY, self.public), (zmq.CURVE_SECRETKEY, self.secret)]

    def apply(self, sock: zmq.Socket) -> zmq.Socket:
        for opt, value in self.socket_options():
            sock.setsockopt(opt, value)
        return sock


@dataclass
class Gatekeeper:
    """ZeroMQ's authenticator (ZAP) for a context: admits the public keys in ``keys.clients``,
    counts and logs whom it refused."""

    keys: ServerKeys
    allowed: int = 0
    denied: int = 0
    failed_handshakes: int = 0  # counted by the syncserver's socket monitor (no CURVE, another server key)
    _auth: ThreadAuthenticator | None = None
    _admitted: frozenset[bytes] = field(default_factory=frozenset)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, ctx: zmq.Context) -> None:
        self._admitted = frozenset(zmq.auth.load_certificate(p)[0] for p in sorted(self.keys.clients.glob("*.key")))
        self._auth = ThreadAuthenticator(ctx)
        self._auth.start()
        self._auth.configure_curve_callback(domain="*", credentials_provider=self)

    def callback(self, domain: str, key: bytes) -> bool:  # called by the authenticator thread
        ok = key in self._admitted
        with self._lock:
            if ok:
                self.allowed += 1
            else:
                self.denied += 1
        if not ok:
            log.warning("refused a connection with an unknown CURVE key %s", zmq.utils.z85.encode(key).decode()
                        if len(key) == 32 else key[:40])
        return ok

    def stop(self) -> None:
        if self._auth is not None:
            self._auth.stop()

    def section(self) -> dict[str, int]:
        return {"allowed": self.allowed, "refused": self.denied + self.failed_handshakes,
                "refused_unknown_key": self.denied, "refused_handshake": self.failed_handshakes}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cosim.curve", description="Make CURVE keys for a session.",
                                 epilog="Examples:\n  python -m cosim.curve                        # server + 'client' in "
                                        "~/.config/cosim/secrets\n  python -m cosim.curve --client vr-pc --client audio-pc",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--secrets", default=None, help=f"the secrets folder (default {default_secrets()})")
    ap.add_argument("--client", action="append", default=None, metavar="NAME",
                    help="a client key pair to make (repeatable; default: 'client')")
    args = ap.parse_args(argv)
    folder = secrets_folder(args.secrets)
    try:
        written = make_keys(folder, args.client or ["client"])
    except OSError as exc:
        print(f"error: cannot write keys into {folder}: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    print(f"copy {folder / 'server.key'} and one clients/NAME.key_secret to each other host's secrets folder; "
          f"never commit them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
