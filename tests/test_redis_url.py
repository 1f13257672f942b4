"""The three Redis URL forms (workers/redis_url.py), the cluster's key rule, what a sentinel's announcement means
(workers/failover.py) and which replies say a master is being demoted: pure functions, no server."""

from __future__ import annotations

import re

import pytest
import redis.exceptions

from workers.failover import Step, step
from workers.redis_url import RedisUrlError, cluster_key_problem, hash_tag, is_demotion, parse, queue_slot

CLUSTER = "redis+cluster://127.0.0.1:7000,127.0.0.1:7001"


def test_single_server_urls_are_redis_pys() -> None:
    t = parse("redis://:pw@10.0.0.5:6380/2")
    assert (t.kind, t.tls) == ("single", False)
    assert (t.params["host"], t.params["port"], t.params["db"], t.params["password"]) == ("10.0.0.5", 6380, 2, "pw")
    assert parse("rediss://h:6379/0").tls
    assert parse("unix:///tmp/r.sock?db=3").params["path"] == "/tmp/r.sock"


def test_a_cluster_url_lists_its_seed_nodes_with_the_credentials_and_tls_of_its_nodes() -> None:
    t = parse("rediss+cluster://app:s%40cret@10.0.0.1:7000,10.0.0.2,[::1]:7002?ssl_ca_certs=/ca.pem&ssl_cert_reqs=none")
    assert (t.kind, t.tls) == ("cluster", True)
    assert t.nodes == (("10.0.0.1", 7000), ("10.0.0.2", 6379), ("::1", 7002))
    assert t.params["username"] == "app" and t.params["password"] == "s@cret"
    assert t.params["ssl_ca_certs"] == "/ca.pem" and t.params["ssl_cert_reqs"] == "none"
    assert "host" not in t.params and "db" not in t.params
    assert parse(CLUSTER + "/0").kind == "cluster"  # database 0, the only one, may be named


def test_a_sentinel_url_names_the_sentinels_the_master_and_the_database() -> None:
    t = parse("redis+sentinel://:pw@s1:26380,s2/mymaster/3?sentinel_password=spw&socket_keepalive=true")
    assert (t.kind, t.master, t.nodes) == ("sentinel", "mymaster", (("s1", 26380), ("s2", 26379)))
    assert t.params["password"] == "pw" and t.params["db"] == 3 and t.params["socket_keepalive"] is True
    assert t.sentinel_params == {"password": "spw"}  # the sentinels' own password, not passed to the master
    assert "sentinel_password" not in t.params
    tls = parse("rediss+sentinel://s1:26379/mymaster?ssl_ca_certs=/ca.pem")
    assert tls.tls and tls.sentinel_params == {"ssl_ca_certs": "/ca.pem", "ssl": True}
    assert "db" not in parse("redis+sentinel://s1/mymaster").params


@pytest.mark.parametrize(("url", "says"), [
    ("redis+clutser://h:1", "unknown Redis URL scheme 'redis+clutser'"),
    ("h:6379", "is not a Redis URL"),
    ("redis+cluster://", "names no seed node"),
    ("redis+cluster://:pw@/", "names no seed node"),
    ("redis+cluster://h:7000/1", "only database 0"),
    ("redis+cluster://h:7000?db=2", "only database 0"),
    ("redis+cluster://h:port", "'h:port' is not HOST:PORT"),
    ("redis+cluster://h:70000", "port 70000 is out of range"),
    ("redis+sentinel://s1:26379", "names no master"),
    ("redis+sentinel://s1:26379/", "names no master"),
    ("redis+sentinel://s1:26379/m/x", "only a database number may follow"),
    ("redis+sentinel://s1:26379/m/1/2", "only a database number may follow"),
    ("redis+sentinel://s1/m?socket_timeout=soon", "Invalid value for 'socket_timeout'"),
])
def test_a_bad_url_says_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(RedisUrlError, match=re.escape(says)):
        parse(url)


def test_errors_do_not_show_the_password() -> None:
    with pytest.raises(RedisUrlError) as e:
        parse("redis+sentinel://:hunter2@s1:26379")
    assert "hunter2" not in str(e.value) and "***" in str(e.value)


def test_a_hash_tag_is_what_redis_cluster_hashes() -> None:
    assert hash_tag("{bq}:emails:") == "bq"
    assert hash_tag("bull:{emails}:") == "emails"
    assert hash_tag("bull:emails:") is None
    assert hash_tag("{}:emails:") is None  # an empty tag: Redis hashes the whole key
    assert hash_tag("b{q:emails:") is None  # no closing brace: the rest of each key decides
    assert hash_tag("a{b}c{d}:") == "b"  # the first tag only


def test_every_key_of_a_queue_in_one_slot() -> None:
    assert queue_slot("{bq}", "emails") == queue_slot("{bq}", "builds")  # a tagged prefix: every queue, one slot
    assert queue_slot("bull", "{emails}") != queue_slot("bull", "{builds}")  # tagged queues spread over slots
    assert queue_slot("bull", "emails") is None
    assert queue_slot("bq{", "x}") is not None  # odd, but one tag ("bq:x"): one slot


def test_the_daemon_refuses_a_cluster_prefix_without_a_hash_tag() -> None:
    problem = cluster_key_problem(CLUSTER, "bull", ["emails", "{builds}", "myst-build"])
    assert problem is not None
    assert "'emails', 'myst-build' would not" in problem and "CORRAL_REDIS_PREFIX='{bull}'" in problem
    assert cluster_key_problem(CLUSTER, "{bull}", ["emails", "myst-build"]) is None
    assert cluster_key_problem(CLUSTER, "bull", ["{emails}"]) is None
    assert cluster_key_problem("redis://h:6379/0", "bull", ["emails"]) is None  # one server: any prefix


@pytest.mark.parametrize(("paused", "channel", "data", "expected"), [
    (False, "+try-failover", "master mymaster 10.0.0.1 6379", Step(True)),
    (False, "+try-failover", "master other 10.0.0.1 6379", Step(False)),
    (True, "+switch-master", "mymaster 10.0.0.1 6379 10.0.0.2 6380", Step(False, ("10.0.0.2", 6380))),
    (False, "+switch-master", "mymaster 10.0.0.1 6379 10.0.0.2 6380", Step(False, ("10.0.0.2", 6380))),
    (True, "+switch-master", "other 10.0.0.1 6379 10.0.0.2 6380", Step(True)),
    (True, "+switch-master", "mymaster 10.0.0.1", Step(True)),  # malformed: nothing
    (True, "-failover-abort-no-good-slave", "master mymaster 10.0.0.1 6379", Step(False)),
    (True, "+failover-end", "master mymaster 10.0.0.1 6379", Step(True)),  # +switch-master comes after it
    (True, "+failover-end-for-timeout", "master mymaster 10.0.0.1 6379", Step(True)),
    (True, "+selected-slave", "slave 10.0.0.2:6380 10.0.0.2 6380 @ mymaster 10.0.0.1 6379", Step(True)),
    (False, "+sdown", "master mymaster 10.0.0.1 6379", Step(False)),
])
def test_what_a_sentinels_announcement_means(paused: bool, channel: str, data: str, expected: Step) -> None:
    assert step(paused, channel, data, "mymaster") == expected


def test_the_replies_of_a_master_being_demoted() -> None:
    assert is_demotion(redis.exceptions.ReadOnlyError("You can't write against a read only replica."))
    assert is_demotion(redis.exceptions.ResponseError("NOREPLICAS Not enough good replicas to write."))
    assert is_demotion(redis.exceptions.ResponseError("UNBLOCKED force unblock from blocking operation"))
    assert not is_demotion(redis.exceptions.ResponseError("ERR wrong number of arguments"))
    assert not is_demotion(redis.exceptions.ConnectionError("READONLY"))  # not a reply
