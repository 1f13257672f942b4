"""Real multi-node Redis for the tests, started and stopped by the suite (Debian's redis-server and redis-cli):

- `ClusterServers`: a Redis Cluster of three masters (`redis-server --cluster-enabled yes`, joined with
  `redis-cli --cluster create`), with helpers to move a slot from node to node as resharding does
  (CLUSTER SETSLOT IMPORTING/MIGRATING, MIGRATE, CLUSTER SETSLOT NODE);
- `SentinelSet`: a master, its replica and one sentinel watching them (`redis-server --sentinel`), with
  `failover()` (SENTINEL FAILOVER, then waiting until the sentinel names the promoted replica).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from pool.embedded_redis import free_port
from tests.redis_server import RedisServer, stop_process

MASTER_NAME = "mymaster"


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    for _ in range(200):
        port = free_port()
        if port + 10000 <= 65535 and _port_free(port + 10000):
            return port
    raise RuntimeError("no free port with a free port + 10000 for a cluster node")


def wait_until(pred: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = pred()
        except (redis.RedisError, OSError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


class ClusterServers:
    def __init__(self, masters: int = 3, password: str = "") -> None:
        self.password = password
        self.nodes = [RedisServer(cluster_port(), password=password, extra_args=[
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "3000",
            *(["--masterauth", password] if password else [])]) for _ in range(masters)]

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis+cluster://{auth}" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        for n in self.nodes:
            n.start()
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError("redis-cli is not installed: apt-get install -y redis-tools")
        auth = ["-a", self.password, "--no-auth-warning"] if self.password else []
        res = subprocess.run([cli, *auth, "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in self.nodes),
                              "--cluster-replicas", "0", "--cluster-yes"], capture_output=True, text=True, timeout=60)
        if res.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
        for n in self.nodes:
            wait_until(lambda n=n: self.client(n.port).execute_command("CLUSTER INFO")["cluster_state"] == "ok",
                       20, f"cluster node {n.port} ready")
        wait_until(self._agree, 20, "every node knows every slot's owner")

    def _agree(self) -> bool:
        maps = [self.slot_owners(n.port) for n in self.nodes]
        return all(m == maps[0] for m in maps) and sum(hi - lo + 1 for lo, hi, _ in maps[0]) == 16384

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, password=self.password or None, socket_timeout=10)

    def slot_owners(self, port: int) -> list[tuple[int, int, int]]:
        """(first slot, last slot, port of its master) as the node at `port` sees them."""
        out = [(int(s[0]), int(s[1]), int(s[2][1])) for s in self.client(port).execute_command("CLUSTER SLOTS")]
        return sorted(out)

    def owner(self, slot: int) -> int:
        """The port of the master that serves `slot`."""
        for lo, hi, port in self.slot_owners(self.nodes[0].port):
            if lo <= slot <= hi:
                return port
        raise LookupError(slot)

    def node_id(self, port: int) -> str:
        return str(self.client(port).execute_command("CLUSTER MYID").decode())

    def flushall(self) -> None:
        for n in self.nodes:
            self.client(n.port).flushall()

    def begin_migration(self, slot: int, to_port: int) -> int:
        """Mark `slot` migrating from its owner to `to_port` (importing there), as resharding does first;
        returns the source's port."""
        src = self.owner(slot)
        self.client(to_port).execute_command("CLUSTER SETSLOT", slot, "IMPORTING", self.node_id(src))
        self.client(src).execute_command("CLUSTER SETSLOT", slot, "MIGRATING", self.node_id(to_port))
        return src

    def move_keys(self, src: int, dst: int, keys: list[str]) -> None:
        auth = ["AUTH", self.password] if self.password else []
        self.client(src).execute_command("MIGRATE", "127.0.0.1", dst, "", 0, 5000, *auth, "KEYS", *keys)

    def end_migration(self, slot: int, src: int, dst: int) -> None:
        """Move what is left of `slot` and give it to `dst` on every node (the destination first, as
        redis-cli does), then wait until every node agrees."""
        while keys := [k if isinstance(k, str) else k.decode()
                       for k in self.client(src).execute_command("CLUSTER GETKEYSINSLOT", slot, 100)]:
            self.move_keys(src, dst, keys)
        dst_id = self.node_id(dst)
        for port in [dst, src, *(n.port for n in self.nodes if n.port not in (src, dst))]:
            self.client(port).execute_command("CLUSTER SETSLOT", slot, "NODE", dst_id)
        wait_until(lambda: all(self.owner_seen_by(n.port, slot) == dst for n in self.nodes), 20,
                   f"every node sees slot {slot} on {dst}")

    def owner_seen_by(self, port: int, slot: int) -> int | None:
        for lo, hi, owner in self.slot_owners(port):
            if lo <= slot <= hi:
                return owner
        return None

    def migrate_slot(self, slot: int, to_port: int) -> int:
        """Move `slot` with its keys to `to_port`; returns the port it came from."""
        src = self.begin_migration(slot, to_port)
        self.end_migration(slot, src, to_port)
        return src

    def close(self) -> None:
        for n in self.nodes:
            n.close()


class SentinelSet:
    def __init__(self, password: str = "", down_after_ms: int = 2000, failover_timeout_ms: int = 6000) -> None:
        self.password = password
        auth = ["--masterauth", password] if password else []
        fast_sync = ["--repl-diskless-sync-delay", "0"]  # a replica syncs at once, not after 5 s
        self.master = RedisServer(password=password, extra_args=[*auth, *fast_sync])
        self.replica = RedisServer(password=password, extra_args=[*auth, *fast_sync])
        self.sentinel_port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="corral-test-sentinel-"))
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.proc: subprocess.Popen[bytes] | None = None
        self.before_failover = ""  # the servers' state just before the last failover (describe())

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis+sentinel://{auth}127.0.0.1:{self.sentinel_port}/{MASTER_NAME}"

    @property
    def servers(self) -> list[RedisServer]:
        return [self.master, self.replica]

    def start(self) -> None:
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        self.master.start()
        self.replica.extra_args += ["--replicaof", "127.0.0.1", str(self.master.port)]
        self.replica.start()
        wait_until(lambda: self.data_client(self.replica.port).info("replication").get("master_link_status") == "up",
                   20, "the replica in sync")
        for attempt in range(3):  # free_port() only said the port was free: another process may have taken it since
            if self._start_sentinel():
                break
            if attempt == 2 or "Address already in use" not in self._sentinel_log():
                raise RuntimeError(f"the sentinel did not start on port {self.sentinel_port}:\n{self._sentinel_log()}")
            self.sentinel_port = free_port()
        try:
            wait_until(self._replica_known, 20, "the sentinel knows the replica")
        except RuntimeError as e:  # say what the sentinel saw (a bare timeout in CI could not be told apart)
            raise RuntimeError(f"{e}; {self.describe()}; sentinel log:\n{self._sentinel_log()}") from None

    def _start_sentinel(self) -> bool:
        """Start the sentinel on sentinel_port; False when it exited before answering (its log says why)."""
        conf = self.dir / "sentinel.conf"
        lines = [f"port {self.sentinel_port}", "bind 127.0.0.1", f"dir {self.dir}",
                 f"logfile {self.dir / 'sentinel.log'}",
                 f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.master.port} 1",
                 f"sentinel down-after-milliseconds {MASTER_NAME} {self.down_after_ms}",
                 f"sentinel failover-timeout {MASTER_NAME} {self.failover_timeout_ms}"]
        if self.password:
            lines.append(f"sentinel auth-pass {MASTER_NAME} {self.password}")
        conf.write_text("\n".join(lines) + "\n")
        binary = shutil.which("redis-server")
        assert binary is not None
        self.proc = subprocess.Popen([binary, str(conf), "--sentinel"], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # A short timeout and no retries (redis-py's default retries make a dead PING last 8 s): a port someone else
        # holds must not keep the PING waiting while the sentinel has already exited.
        proc = self.proc
        client = redis.Redis(host="127.0.0.1", port=self.sentinel_port, socket_timeout=0.5,
                             retry=Retry(NoBackoff(), 0))
        try:
            wait_until(lambda: proc.poll() is not None or client.ping(), 10, "the sentinel answers PING")
        finally:
            client.close()
        if proc.poll() is None:
            return True
        self.proc = None
        return False

    def _sentinel_log(self) -> str:
        log = self.dir / "sentinel.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"

    def _replica_known(self) -> bool:
        replicas = self.sentinel().sentinel_slaves(MASTER_NAME)
        return any(r.get("master-link-status") == "ok" and not r.get("is_sdown") for r in replicas)

    def sentinel(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.sentinel_port, socket_timeout=10, decode_responses=True)

    def data_client(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, password=self.password or None, socket_timeout=10,
                           decode_responses=True)

    def master_port(self) -> int:
        """The port of the master the sentinel names now."""
        _, port = self.sentinel().sentinel_get_master_addr_by_name(MASTER_NAME)
        return int(port)

    def describe(self) -> str:
        """Each server's role, replication offset and key count, for a failing test's message."""
        out = []
        for s in (self.master, self.replica):
            try:
                info = self.data_client(s.port).info("replication")
                out.append(f"{s.port}: {info.get('role')} offset {info.get('master_repl_offset')} "
                           f"link {info.get('master_link_status', '-')} keys {self.data_client(s.port).dbsize()} "
                           f"{ {k: v for k, v in info.items() if k.startswith(('master_', 'slave', 'connected'))} }")
            except redis.RedisError as e:
                out.append(f"{s.port}: {e}")
        return "; ".join(out)

    def failover(self, timeout: float = 30) -> tuple[int, int]:
        """SENTINEL FAILOVER; returns (old master's port, new master's port) once the sentinel names the new one
        and it answers ROLE as a master. The servers' state just before is kept in `before_failover`."""
        old = self.master_port()
        # Replication is asynchronous: a replica promoted before it has the master's writes loses them, whatever the
        # clients do (Redis's own limit). Fail over once it has caught up with the master as of now, as an operator
        # would. Seen: a failover 0.7 s after the set started, when a diskless-synced replica had yet to receive
        # any of the stream (offset 0 of 1.5 MB): the new master was empty.
        target = int(self.data_client(old).info("replication")["master_repl_offset"])
        replica = next(s.port for s in self.servers if s.port != old)
        wait_until(lambda: int(self.data_client(replica).info("replication").get("slave_repl_offset", 0)) >= target,
                   timeout, "the replica caught up with the master")
        self.before_failover = self.describe()
        self.sentinel().execute_command("SENTINEL FAILOVER", MASTER_NAME)
        new = wait_until(lambda: (p := self.master_port()) != old and p, timeout, "the sentinel names a new master")
        wait_until(lambda: self.data_client(new).execute_command("ROLE")[0] == "master", timeout,
                   "the new master's ROLE")
        return old, int(new)

    def wait_demoted(self, port: int, timeout: float = 30) -> None:
        """Until the old master at `port` is a replica of the new one, in sync (the sentinel reconfigures it some
        seconds after the failover)."""
        wait_until(lambda: self.data_client(port).info("replication").get("master_link_status") == "up",
                   timeout, f"{port} a replica in sync")

    def close(self) -> None:
        stop_process(self.proc)
        self.proc = None
        for s in self.servers:
            s.close()
        shutil.rmtree(self.dir, ignore_errors=True)
