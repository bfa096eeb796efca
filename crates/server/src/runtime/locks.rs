//! The server's in-process locks: one async lock per [`LockKey`], created on demand and forgotten
//! when nobody holds or waits for it.
//!
//! # What each key protects
//! See the variants of [`LockKey`]: every lock the server takes is one of them, so a new use
//! is a new variant with its own documentation, never an ad-hoc string.
//!
//! # The order rule
//! A caller takes **all the keys it needs in one call** ([`KeyedLocks::with_many`]), which
//! acquires them in the total order of [`LockKey`] (its derived `Ord`: by variant in
//! declaration order, then by value). It never takes a lock while holding another one (nesting
//! [`KeyedLocks::with`] inside a held lock is forbidden). Since every caller acquires in the
//! same order and nobody waits while holding a lock it took in another call, two callers with
//! overlapping sets of keys cannot deadlock.
//!
//! The locks are per process: several server processes on one database are not serialized by
//! them (the store's unique keys are the last line of defence there).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// What one lock protects. The derived `Ord` is the acquisition order of
/// [`KeyedLocks::with_many`] (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockKey {
    /// A customer message by its channel message id (wamid), while it is ingested
    /// (`app::ingest_many`): concurrent redeliveries of the same message store it once, and
    /// the later ones answer as duplicates.
    InboundMessage(String),
    /// A conversation (its `ids::conversation_id`), while a customer message of it is
    /// ingested: a new customer writing twice at once gets one contact, not two.
    Conversation(String),
    /// The delivery statuses of one outbound message, by its wamid: the status webhook
    /// (`whatsapp::webhook`) and the outbox storing the wamid of an accepted send
    /// (`whatsapp::outbox`) read and advance the status one at a time, and a status that came
    /// before the wamid was stored is applied exactly once.
    Statuses(String),
    /// A media blob by its SHA-256: from storing the blob until the message naming it is
    /// committed (or the blob deleted after a refusal), nobody else stores, uses or deletes the
    /// same blob (sends with a file, templates with a header file, fetches of customer media).
    Blob(String),
    /// A contact by id: read-modify-write of its fields, and merges (which lock both
    /// contacts), so that two concurrent changes both keep their part.
    Contact(String),
    /// A connected WhatsApp number by channel id: read-modify-write of its settings and its
    /// deletion, so that two admins changing different fields both keep their change and a
    /// channel deleted meanwhile stays deleted.
    Channel(String),
    /// The template sync (`templates::sync`): one run at a time, whether started by its timer,
    /// a webhook or an admin.
    TemplateSync,
    /// The standard responses (`http::responses`): a change is checked against the others
    /// (shortcuts unique among responses seen together) and saved before the next is checked.
    Responses,
}

/// One async lock per [`LockKey`], created on demand and forgotten when nobody holds or waits
/// for it.
#[derive(Default)]
pub struct KeyedLocks {
    locks: std::sync::Mutex<HashMap<LockKey, Arc<tokio::sync::Mutex<()>>>>,
}

impl KeyedLocks {
    /// Runs `f` while holding the locks of all `keys` (taken in the order of [`LockKey`], so
    /// two callers with overlapping keys cannot deadlock). Released however the call ends, also
    /// when the caller's future is dropped (a client that hung up): no key is left behind.
    pub async fn with_many<T>(&self, keys: &[LockKey], f: impl Future<Output = T>) -> T {
        let _held = self.acquire(keys).await;
        f.await
    }

    /// Runs `f` while holding the lock of `key`.
    pub async fn with<T>(&self, key: LockKey, f: impl Future<Output = T>) -> T {
        self.with_many(std::slice::from_ref(&key), f).await
    }

    /// Takes the locks of `keys` in the order of [`LockKey`].
    async fn acquire(&self, keys: &[LockKey]) -> Held<'_> {
        let mut sorted: Vec<&LockKey> = keys.iter().collect();
        sorted.sort();
        sorted.dedup();
        let mut held = Held {
            owner: self,
            locks: Vec::with_capacity(sorted.len()),
            guards: Vec::with_capacity(sorted.len()),
        };
        {
            let mut map = self.locks.lock().unwrap_or_else(|e| e.into_inner());
            for k in sorted {
                let lock = map.entry(k.clone()).or_default().clone();
                held.locks.push((k.clone(), lock));
            }
        }
        for i in 0..held.locks.len() {
            let lock = held.locks[i].1.clone();
            held.guards.push(lock.lock_owned().await);
        }
        held
    }

    /// Keys currently held or waited for.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.locks.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// The locks of one caller of [`KeyedLocks::with_many`]. Dropping it releases them and forgets
/// every key that nobody else holds or waits for.
struct Held<'a> {
    owner: &'a KeyedLocks,
    locks: Vec<(LockKey, Arc<tokio::sync::Mutex<()>>)>,
    guards: Vec<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.guards.clear();
        let mut map = self.owner.locks.lock().unwrap_or_else(|e| e.into_inner());
        for (key, lock) in self.locks.drain(..) {
            // Only the map and this caller hold it: nobody else holds or waits for this key.
            // (New callers clone it only under the map's lock, held here.)
            if Arc::strong_count(&lock) == 2 {
                map.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{KeyedLocks, LockKey};
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(Waker::noop()))
    }

    fn contact(id: &str) -> LockKey {
        LockKey::Contact(id.to_owned())
    }

    #[test]
    fn a_caller_dropped_while_holding_or_waiting_leaves_no_key_behind() {
        let locks = KeyedLocks::default();
        {
            // Holds "a" and "b", then is dropped mid-way (its client hung up).
            let keys = [contact("b"), contact("a")];
            let mut holder = pin!(locks.with_many(&keys, std::future::pending::<()>()));
            assert!(poll_once(holder.as_mut()).is_pending());
            assert_eq!(locks.len(), 2);
            {
                // Waits for "a" behind the holder, and is dropped while waiting.
                let mut waiter = pin!(locks.with(contact("a"), async { 1 }));
                assert!(poll_once(waiter.as_mut()).is_pending());
            }
            assert_eq!(locks.len(), 2, "the holder still has both keys");
        }
        assert_eq!(locks.len(), 0, "nothing held, nothing remembered");

        // The keys work again, and a finished call forgets its key too.
        let mut again = pin!(locks.with(contact("a"), async { 7 }));
        assert_eq!(poll_once(again.as_mut()), Poll::Ready(7));
        assert_eq!(locks.len(), 0);
    }

    #[test]
    fn keys_are_taken_in_the_documented_order_whatever_order_the_caller_names_them() {
        let in_order = vec![
            LockKey::InboundMessage("wamid.1".into()),
            LockKey::Conversation("conv".into()),
            LockKey::Statuses("wamid.2".into()),
            LockKey::Blob("f00".into()),
            LockKey::Contact("a".into()),
            LockKey::Contact("b".into()),
            LockKey::Channel("c".into()),
            LockKey::TemplateSync,
        ];
        // Named the other way round.
        let keys: Vec<LockKey> = in_order.iter().rev().cloned().collect();
        let locks = KeyedLocks::default();
        let mut held = pin!(locks.acquire(&keys));
        let Poll::Ready(held) = poll_once(held.as_mut()) else {
            panic!("free keys are taken at once");
        };
        let taken: Vec<LockKey> = held.locks.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(taken, in_order);
    }

    #[test]
    fn a_key_named_twice_is_taken_once() {
        let locks = KeyedLocks::default();
        let keys = [contact("a"), contact("a")];
        let mut call = pin!(locks.with_many(&keys, async { 3 }));
        assert_eq!(poll_once(call.as_mut()), Poll::Ready(3));
        assert_eq!(locks.len(), 0);
    }

    #[test]
    fn two_callers_locking_overlapping_sets_in_opposite_orders_both_finish() {
        let locks = KeyedLocks::default();
        let (a, b) = (contact("a"), contact("b"));
        // A third caller holds "a" until told to go on.
        let (go, wait) = tokio::sync::oneshot::channel::<()>();
        let mut holder = pin!(locks.with(a.clone(), async {
            let _ = wait.await;
            0
        }));
        assert!(poll_once(holder.as_mut()).is_pending());
        // One caller names "a" then "b", the other "b" then "a". Both wait for "a" (the first
        // in the order), holding nothing meanwhile: "b" stays free.
        let first_keys = [a.clone(), b.clone()];
        let mut first = pin!(locks.with_many(&first_keys, async { 1 }));
        assert!(poll_once(first.as_mut()).is_pending());
        let second_keys = [b.clone(), a];
        let mut second = pin!(locks.with_many(&second_keys, async { 2 }));
        assert!(poll_once(second.as_mut()).is_pending());
        let mut probe = pin!(locks.with(b, async { 3 }));
        assert_eq!(
            poll_once(probe.as_mut()),
            Poll::Ready(3),
            "nobody waits holding b"
        );
        // Once "a" is free, both finish, one after the other.
        go.send(()).expect("the holder waits");
        assert_eq!(poll_once(holder.as_mut()), Poll::Ready(0));
        assert_eq!(poll_once(first.as_mut()), Poll::Ready(1));
        assert_eq!(poll_once(second.as_mut()), Poll::Ready(2));
        assert_eq!(locks.len(), 0);
    }
}
