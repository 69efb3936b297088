//! Clients blocked in BLPOP, BRPOP and BLMOVE, on the shards that own their
//! keys (the contract is in `petrel_store::family::list`'s documentation).
//!
//! A blocked client is parked on every key it waits for, in a FIFO queue per
//! key on the key's shard; keys on several shards park it on each. When a
//! write touches a key with waiters, the shard serves the oldest waiter
//! right after the write, before any other command runs there, by popping
//! from that key itself. A client parked on several shards is served once:
//! a shard must win [`BlockedClient::claim`] before popping, and it only
//! tries when the pop will succeed, so a claim is never taken back. The
//! client's own thread claims it too when the timeout passes or the peer
//! hangs up, so a late push is never consumed for nobody.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_channel::oneshot;
use petrel_resp::Reply;
use petrel_store::route::shard_of;
use petrel_store::table::{flags, CommandSpec};
use petrel_store::{ShardOp, Value};

use crate::node::now_ms;
use crate::worker::{Message, Worker};

/// What a shard hands a blocked client.
#[derive(Debug)]
pub(crate) enum Served {
    /// The command's answer, as it would have answered had the element
    /// been there when it ran.
    Reply(Reply),
    /// BLMOVE whose destination lives on another shard: the source has an
    /// element; the client's thread moves it as LMOVE does (destination type
    /// checked first), and parks again if another client took it meanwhile.
    Retry,
}

/// One blocked command, shared by the shards it is parked on.
#[derive(Debug)]
pub(crate) struct BlockedClient {
    pub database: usize,
    pub spec: &'static CommandSpec,
    pub args: Vec<Bytes>,
    shard_count: usize,
    claimed: AtomicBool,
    served: Mutex<Option<oneshot::Sender<Served>>>,
}

impl BlockedClient {
    pub fn new(
        database: usize,
        spec: &'static CommandSpec,
        args: Vec<Bytes>,
        shard_count: usize,
    ) -> (Arc<BlockedClient>, oneshot::Receiver<Served>) {
        let (sender, receiver) = oneshot::channel();
        let client = BlockedClient {
            database,
            spec,
            args,
            shard_count,
            claimed: AtomicBool::new(false),
            served: Mutex::new(Some(sender)),
        };
        (Arc::new(client), receiver)
    }

    /// The keys it waits on: every key of BLPOP and BRPOP, BLMOVE's source.
    pub fn watched_keys(&self) -> &[Bytes] {
        match self.spec.name {
            "blmove" => &self.args[1..2],
            _ => &self.args[1..self.args.len() - 1],
        }
    }

    /// Its keys grouped by owning shard, each group in the client's order.
    pub fn keys_by_shard(&self) -> Vec<(usize, Vec<Bytes>)> {
        crate::pipeline::group_by_shard(
            self.watched_keys()
                .iter()
                .map(|key| (shard_of(key, self.shard_count), key.clone())),
        )
    }

    /// Takes the right to answer this client; true for exactly one caller.
    pub fn claim(&self) -> bool {
        !self.claimed.swap(true, Ordering::AcqRel)
    }

    pub fn is_claimed(&self) -> bool {
        self.claimed.load(Ordering::Acquire)
    }

    fn deliver(&self, served: Served) {
        let sender = match self.served.lock() {
            Ok(mut slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(sender) = sender {
            let _ = sender.send(served);
        }
    }
}

impl Worker {
    /// Parks `client` on `keys` (all on this shard), then serves at once if
    /// one of them already holds an element.
    pub fn park(&self, client: Arc<BlockedClient>, keys: Vec<Bytes>) {
        {
            let mut blocked = self.blocked.borrow_mut();
            let mut ready = self.ready_keys.borrow_mut();
            for key in keys {
                blocked
                    .entry((client.database, key.clone()))
                    .or_default()
                    .push_back(client.clone());
                ready.push_back((client.database, key));
            }
        }
        if !self.held_against(None) {
            self.serve_ready();
        }
    }

    /// Parks `client` on `keys` of `shard`, this one or another.
    pub async fn park_on(&self, shard: usize, client: Arc<BlockedClient>, keys: Vec<Bytes>) {
        if shard == self.shard_id {
            self.park(client, keys);
        } else {
            let _ = self.shared.inboxes[shard]
                .send_async(Message::Block { client, keys })
                .await;
        }
    }

    /// Unparks `client` from `keys` of `shard`, this one or another.
    pub async fn unpark_on(&self, shard: usize, client: Arc<BlockedClient>, keys: Vec<Bytes>) {
        if shard == self.shard_id {
            self.unpark(&client, &keys);
        } else {
            let _ = self.shared.inboxes[shard]
                .send_async(Message::Unblock { client, keys })
                .await;
        }
    }

    /// Removes `client` from the queues of `keys` on this shard.
    pub fn unpark(&self, client: &Arc<BlockedClient>, keys: &[Bytes]) {
        let mut blocked = self.blocked.borrow_mut();
        for key in keys {
            let slot = (client.database, key.clone());
            if let Some(queue) = blocked.get_mut(&slot) {
                queue.retain(|waiting| !Arc::ptr_eq(waiting, client));
                if queue.is_empty() {
                    blocked.remove(&slot);
                }
            }
        }
    }

    /// The keys an operation is about to write that have waiters, if any.
    pub fn keys_with_waiters(&self, database: usize, op: &ShardOp) -> Option<Vec<Bytes>> {
        let blocked = self.blocked.borrow();
        if blocked.is_empty() {
            return None;
        }
        let keys: Vec<Bytes> = match op {
            ShardOp::Command { spec, args } if spec.has_flag(flags::WRITE) => spec
                .key_positions(args.len())
                .map(|position| args[position].clone())
                .collect(),
            ShardOp::Put { key, .. } | ShardOp::PutIfAbsent { key, .. } => vec![key.clone()],
            _ => return None,
        };
        let keys: Vec<Bytes> = keys
            .into_iter()
            .filter(|key| blocked.contains_key(&(database, key.clone())))
            .collect();
        (!keys.is_empty()).then_some(keys)
    }

    /// A write touched `keys`: serve their waiters now, or after the
    /// transaction holding this shard ends.
    pub fn keys_written(&self, database: usize, keys: Vec<Bytes>) {
        {
            let blocked = self.blocked.borrow();
            let mut ready = self.ready_keys.borrow_mut();
            for key in keys {
                if blocked.contains_key(&(database, key.clone())) {
                    ready.push_back((database, key));
                }
            }
        }
        if !self.held_against(None) {
            self.serve_ready();
        }
    }

    /// Serves waiters of every key marked ready, until none can be served.
    pub fn serve_ready(&self) {
        if self.serving_blocked.replace(true) {
            // Already serving further up the stack; that loop picks these up.
            return;
        }
        loop {
            let next = self.ready_keys.borrow_mut().pop_front();
            let Some((database, key)) = next else {
                break;
            };
            self.serve_key(database, &key);
        }
        self.serving_blocked.set(false);
    }

    fn serve_key(&self, database: usize, key: &Bytes) {
        let slot = (database, key.clone());
        loop {
            let front = match self.blocked.borrow().get(&slot) {
                Some(queue) => queue.front().cloned(),
                None => None,
            };
            let Some(client) = front else {
                return;
            };
            if client.is_claimed() {
                // Served by another shard or given up; its Unblock may still be on the way.
                self.unpark(&client, std::slice::from_ref(key));
                continue;
            }
            if !self.holds_list(database, key) {
                return;
            }
            if !client.claim() {
                self.unpark(&client, std::slice::from_ref(key));
                continue;
            }
            let served = self.pop_for(&client, key);
            let own_keys: Vec<Bytes> = client
                .watched_keys()
                .iter()
                .filter(|waited| shard_of(waited, client.shard_count) == self.shard_id)
                .cloned()
                .collect();
            self.unpark(&client, &own_keys);
            client.deliver(served);
        }
    }

    fn holds_list(&self, database: usize, key: &[u8]) -> bool {
        let shard = self.shard.borrow();
        shard.databases[database]
            .peek(key, now_ms())
            .is_some_and(|entry| matches!(entry.value, Value::List(_)))
    }

    /// Runs the blocked command against `key`, which holds a list.
    fn pop_for(&self, client: &BlockedClient, key: &Bytes) -> Served {
        let ctx = self.context(now_ms());
        let database = client.database;
        // Not through `Worker::execute`: serving must not re-enter itself.
        // Replicas still get the pop.
        let run = |spec: &'static CommandSpec, args: Vec<Bytes>| {
            let replicated =
                crate::sync_feed::prepare_command(self, database, spec, &args, ctx.now_ms);
            let reply = self.shard.borrow_mut().execute(database, spec, &args, &ctx);
            crate::sync_feed::commit_command(self, database, replicated, &reply);
            self.publish_memory(database);
            reply
        };
        if client.spec.name != "blmove" {
            let args = vec![
                Bytes::from_static(client.spec.name.as_bytes()),
                key.clone(),
                Bytes::from_static(b"0"),
            ];
            return Served::Reply(run(client.spec, args));
        }
        let destination = client.args[2].clone();
        if shard_of(&destination, client.shard_count) == self.shard_id {
            let reply = run(client.spec, client.args.clone());
            // The push may wake clients waiting on the destination.
            self.ready_keys
                .borrow_mut()
                .push_back((database, destination));
            return Served::Reply(reply);
        }
        Served::Retry
    }
}
