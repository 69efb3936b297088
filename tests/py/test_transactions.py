"""MULTI/EXEC through redis-py, the way applications use it.

redis-py's pipeline() wraps its commands in MULTI/EXEC by default; watch(),
multi() and execute() give optimistic locking with WatchError to retry on.
These tests drive a server given by PETREL_URL (tests/tests/transactions_py.rs
starts Petrel, or redis-server with PETREL_E2E_TARGET=redis, and runs this
file with pytest) and end with many threads transferring amounts between
counters on different shards while an observer checks the total inside
MULTI/EXEC.
"""

import os
import threading

import pytest
import redis

URL = os.environ.get("PETREL_URL", "redis://127.0.0.1:6379/0")

# With two shards, Petrel routes a key by the CRC16 of its hash tag: the tags
# {a} and {c} land on one shard, {b} and {d} on the other (slots 15495, 3300,
# 7365, 11298), so every transfer between neighbours crosses shards.
ACCOUNTS = ["{a}acct", "{b}acct", "{c}acct", "{d}acct", "plain-account"]
START_BALANCE = 1000


@pytest.fixture
def r():
    client = redis.Redis.from_url(URL, socket_timeout=10)
    client.flushall()
    yield client
    client.close()


def test_pipeline_wraps_commands_in_multi_exec(r):
    pipe = r.pipeline()
    pipe.set("{a}k", "1").incr("{a}k").get("{a}k").set("{b}k", "x")
    assert pipe.execute() == [True, 2, b"2", True]
    assert r.mget("{a}k", "{b}k") == [b"2", b"x"]


def test_runtime_error_inside_exec_leaves_the_others_applied(r):
    r.set("s", "v")
    pipe = r.pipeline()
    pipe.lpush("s", "x").set("after", "1")
    results = pipe.execute(raise_on_error=False)
    assert isinstance(results[0], redis.ResponseError)
    assert str(results[0]).startswith("WRONGTYPE")
    assert results[1] is True
    assert r.get("after") == b"1"
    pipe = r.pipeline()
    pipe.incr("s").set("after", "2")
    with pytest.raises(redis.ResponseError):
        pipe.execute()
    assert r.get("after") == b"2"


def test_queuing_error_discards_the_transaction(r):
    r.set("k", "before")
    pipe = r.pipeline()
    pipe.set("k", "after")
    pipe.execute_command("NOSUCHCOMMAND", "x")
    with pytest.raises(redis.ResponseError):
        pipe.execute()
    assert r.get("k") == b"before"


def test_watch_conflict_raises_watch_error_and_retry_succeeds(r):
    other = redis.Redis.from_url(URL, socket_timeout=10)
    r.set("counter", 10)
    attempts = 0
    with r.pipeline() as pipe:
        while True:
            attempts += 1
            try:
                pipe.watch("counter")
                value = int(pipe.get("counter"))
                if attempts == 1:
                    other.incrby("counter", 5)
                pipe.multi()
                pipe.set("counter", value * 2)
                pipe.execute()
                break
            except redis.WatchError:
                continue
    assert attempts == 2
    assert r.get("counter") == b"30"
    other.close()


def test_unwatched_or_untouched_keys_let_exec_run(r):
    r.set("k", "1")
    with r.pipeline() as pipe:
        pipe.watch("k")
        pipe.multi()
        pipe.incr("k")
        assert pipe.execute() == [2]
    with r.pipeline() as pipe:
        pipe.watch("k")
        r.set("k", "changed")
        pipe.unwatch()
        pipe.multi()
        pipe.get("k")
        assert pipe.execute() == [b"changed"]


def test_transaction_helper_retries(r):
    r.set("{a}n", 0)
    r.set("{b}n", 0)

    def move(pipe):
        value = int(pipe.get("{a}n"))
        pipe.multi()
        pipe.set("{a}n", value + 1)
        pipe.incr("{b}n")

    for _ in range(20):
        r.transaction(move, "{a}n", "{b}n")
    assert r.mget("{a}n", "{b}n") == [b"20", b"20"]


def transfer_with_watch(client, source, destination, amount):
    with client.pipeline() as pipe:
        while True:
            try:
                pipe.watch(source, destination)
                balance = int(pipe.get(source))
                moved = min(amount, balance)
                pipe.multi()
                pipe.decrby(source, moved)
                pipe.incrby(destination, moved)
                pipe.execute()
                return
            except redis.WatchError:
                continue


def transfer_plain(client, source, destination, amount):
    pipe = client.pipeline()
    pipe.decrby(source, amount).incrby(destination, amount)
    pipe.execute()


def test_cross_shard_transfers_keep_the_total(r):
    for account in ACCOUNTS:
        r.set(account, START_BALANCE)
    total = START_BALANCE * len(ACCOUNTS)
    stop = threading.Event()
    failures = []
    observations = []

    def observe():
        client = redis.Redis.from_url(URL, socket_timeout=10)
        try:
            while not stop.is_set() or len(observations) < 10:
                pipe = client.pipeline()
                pipe.mget(ACCOUNTS)
                (balances,) = pipe.execute()
                seen = sum(int(balance) for balance in balances)
                if seen != total:
                    failures.append(f"observed total {seen} in {balances}")
                    return
                observations.append(seen)
        except Exception as error:  # noqa: BLE001 - reported by the main thread
            failures.append(f"observer: {error!r}")
        finally:
            client.close()

    def move(worker):
        client = redis.Redis.from_url(URL, socket_timeout=10)
        try:
            for step in range(150):
                source = ACCOUNTS[(worker + step) % len(ACCOUNTS)]
                destination = ACCOUNTS[(worker + 2 * step + 1) % len(ACCOUNTS)]
                if source == destination:
                    continue
                amount = (worker * 31 + step * 7) % 50 + 1
                if worker % 2 == 0:
                    transfer_with_watch(client, source, destination, amount)
                else:
                    transfer_plain(client, source, destination, amount)
        except Exception as error:  # noqa: BLE001 - reported by the main thread
            failures.append(f"mover {worker}: {error!r}")
        finally:
            client.close()

    observer = threading.Thread(target=observe)
    observer.start()
    movers = [threading.Thread(target=move, args=(worker,)) for worker in range(8)]
    for mover in movers:
        mover.start()
    for mover in movers:
        mover.join()
    stop.set()
    observer.join(timeout=60)
    assert not failures, failures
    assert len(observations) >= 10
    assert sum(int(balance) for balance in r.mget(ACCOUNTS)) == total
