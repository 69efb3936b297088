//! Holding a shard for one EXEC, so that a transaction over several shards
//! is atomic and isolated.
//!
//! An EXEC takes every shard it needs in ascending shard order (its own by a
//! call, the others by a `Lock` message), so two transactions never wait for
//! each other in a cycle. While a transaction holds a shard:
//! - messages from other threads that would touch the keyspace wait in the
//!   lock's `deferred` queue and run, in arrival order, when it is released;
//! - this thread's own connections wait before running anything
//!   ([`Worker::wait_until_free`]);
//! - the expiry cycle skips the shard, and blocked clients are served only
//!   after the release, as Redis serves them after EXEC.
//!
//! Nothing here blocks a thread: waiting is an awaited oneshot.

use std::collections::VecDeque;

use futures_channel::oneshot;

use crate::worker::{Message, Worker};

/// Which EXEC holds this shard and who waits for it. While held, only the
/// holder's operations run here; other shards' messages wait in `deferred`
/// and this thread's own connections wait before executing anything.
#[derive(Default)]
pub(crate) struct ShardLock {
    pub(crate) holder: Option<u64>,
    /// Transactions waiting for the shard, in arrival order.
    pub(crate) queue: VecDeque<(u64, oneshot::Sender<()>)>,
    pub(crate) deferred: VecDeque<Message>,
    /// This thread's tasks waiting for the shard to be free.
    pub(crate) local_waiters: Vec<oneshot::Sender<()>>,
}

impl Worker {
    /// Whether a transaction other than `transaction` holds this shard.
    pub fn held_against(&self, transaction: Option<u64>) -> bool {
        matches!(self.lock.borrow().holder, Some(holder) if Some(holder) != transaction)
    }

    /// Waits until no transaction holds this shard. An EXEC's own commands
    /// never wait: they only touch shards it holds, and waiting for one it
    /// does not need could close a cycle with a transaction holding it.
    pub async fn wait_until_free(&self, transaction: Option<u64>) {
        if transaction.is_some() {
            return;
        }
        while self.held_against(None) {
            let (sender, receiver) = oneshot::channel();
            self.lock.borrow_mut().local_waiters.push(sender);
            let _ = receiver.await;
        }
    }

    /// Takes this shard for `transaction`, waiting behind earlier holders.
    pub async fn acquire(&self, transaction: u64) {
        let granted = {
            let mut lock = self.lock.borrow_mut();
            if lock.holder.is_none() {
                lock.holder = Some(transaction);
                return;
            }
            let (sender, receiver) = oneshot::channel();
            lock.queue.push_back((transaction, sender));
            receiver
        };
        // The releasing side makes us the holder before it answers.
        let _ = granted.await;
    }

    /// A `Lock` message from another thread's EXEC.
    pub fn grant_or_queue(&self, transaction: u64, granted: oneshot::Sender<()>) {
        let mut lock = self.lock.borrow_mut();
        if lock.holder.is_some() {
            lock.queue.push_back((transaction, granted));
            return;
        }
        lock.holder = Some(transaction);
        drop(lock);
        if granted.send(()).is_err() {
            // The EXEC gave up waiting (its thread is gone): don't hold for nobody.
            self.release(transaction);
        }
    }

    /// Ends `transaction`'s hold: runs what waited, serves clients blocked on
    /// keys the transaction wrote, then hands the shard to the next waiting
    /// transaction.
    pub fn release(&self, transaction: u64) {
        {
            let mut lock = self.lock.borrow_mut();
            if lock.holder != Some(transaction) {
                return;
            }
            lock.holder = None;
            for waiter in lock.local_waiters.drain(..) {
                let _ = waiter.send(());
            }
        }
        loop {
            let next = {
                let mut lock = self.lock.borrow_mut();
                if lock.holder.is_some() {
                    return;
                }
                lock.deferred.pop_front()
            };
            match next {
                Some(message) => self.handle_message(message),
                None => break,
            }
        }
        self.serve_ready();
        loop {
            let next = {
                let mut lock = self.lock.borrow_mut();
                if lock.holder.is_some() {
                    return;
                }
                lock.queue.pop_front()
            };
            let Some((waiting, granted)) = next else {
                return;
            };
            self.lock.borrow_mut().holder = Some(waiting);
            if granted.send(()).is_ok() {
                return;
            }
            self.lock.borrow_mut().holder = None;
        }
    }

    /// Takes `shard` (this one or another) for `transaction`. False if the
    /// shard's thread is gone.
    pub async fn hold_shard(&self, shard: usize, transaction: u64) -> bool {
        if shard == self.shard_id {
            self.acquire(transaction).await;
            return true;
        }
        let (granted, receiver) = oneshot::channel();
        let message = Message::Lock {
            transaction,
            granted,
        };
        if self.shared.inboxes[shard]
            .send_async(message)
            .await
            .is_err()
        {
            return false;
        }
        receiver.await.is_ok()
    }

    /// Gives `shard` back.
    pub async fn free_shard(&self, shard: usize, transaction: u64) {
        if shard == self.shard_id {
            self.release(transaction);
        } else {
            let _ = self.shared.inboxes[shard]
                .send_async(Message::Unlock { transaction })
                .await;
        }
    }

    /// Drops watches of a connection that is gone, without waiting for
    /// answers. A shard whose inbox is full keeps the key marked watched,
    /// which costs a version bump per write to it and nothing else.
    pub fn unwatch_detached(&self, database: usize, ops: Vec<(usize, petrel_store::ShardOp)>) {
        for (shard, op) in ops {
            if shard == self.shard_id {
                self.shard
                    .borrow_mut()
                    .apply(database, op, &self.context(crate::node::now_ms()));
                continue;
            }
            let (reply, _) = oneshot::channel();
            let message = Message::Ops {
                database,
                ops: vec![op],
                reply,
                transaction: None,
                client: None,
            };
            if self.shared.inboxes[shard].try_send(message).is_err() {
                tracing::debug!(
                    shard,
                    "cannot drop a closed connection's watches: inbox full"
                );
            }
        }
    }
}
