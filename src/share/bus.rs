//! How replicas of the share server tell each other what happens on a share, so that a
//! runner connected to one replica and viewers on others see one stream. Everything that
//! crosses it is what crosses the server already: sealed updates, sealed replies, and
//! who joined; no replica ever holds a key.
//!
//! One small interface (`Bus`) with NATS behind it (`--bus nats://...`); one server alone
//! has no bus at all and relays as it always did. Core NATS is at most once: a replica
//! that misses an update sees a gap in its numbers and asks the runner, through the bus,
//! for a snapshot (`BusMsg::WantSnapshot`), as a viewer that fell behind is sent one.

use super::store::Fut;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::mpsc;

/// What one replica tells the others about a share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BusMsg {
    /// A runner's update, as its replica took it (the runner's message, unchanged).
    Update { seq: u64, snap: bool, text: String },
    /// The share's runner is connected to the sender, as `conn`. `fresh`: it just
    /// connected, so each replica tells it again who watches there.
    RunnerHere { conn: u64, fresh: bool },
    /// That connection of the runner ended (`restarting`: it said it would be back).
    RunnerGone { conn: u64, restarting: bool },
    /// For the runner, wherever it is: a `ToRunner` message, as JSON.
    ToRunner { text: String },
    /// For one viewer's connection, wherever it is: a `ToViewer` message, as JSON.
    ToViewer { conn: u64, text: String },
    /// A replica lacks the snapshot the updates it has follow: the runner sends one.
    WantSnapshot,
    /// The share is over (revoked, expired): every replica cuts its connections off.
    Close { reason: String },
}

/// A message and the replica that sent it (a replica hears itself too, and skips that).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub origin: u32,
    pub msg: BusMsg,
}

/// Messages about one share from every replica, until dropped.
pub struct Subscription {
    pub rx: mpsc::UnboundedReceiver<Envelope>,
    /// Ends the reading when the subscription is dropped.
    _reader: AbortOnDrop,
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub trait Bus: Send + Sync {
    /// Sends `msg` about `share` to every replica, in the order sent; never waits.
    fn publish(&self, share: &str, msg: Envelope);
    fn subscribe(&self, share: &str) -> Fut<Subscription>;
}

/// A message bigger than the bus takes is sent in parts, each with this header: a part
/// marker, the sender's message number, the part's index and the count. One sender's
/// parts arrive in order (NATS keeps each publisher's order on a subject).
const WHOLE: u8 = 0;
const PART: u8 = 1;
const PART_HEADER: usize = 1 + 4 + 8 + 4 + 4;
/// The largest message reassembled: a runner's biggest update, and room for its envelope.
const MAX_MESSAGE: usize = super::wire::MAX_RUNNER_MSG + (1 << 20);

fn subject(share: &str) -> String {
    // Share ids are letters, digits, - and _ (the server keeps no other): one token.
    format!("teamster.share.{share}")
}

/// NATS, as `--bus nats://HOST:PORT`.
pub struct Nats {
    client: async_nats::Client,
    /// What to publish, in order, for the publishing task, and its bytes: past
    /// `QUEUED_MAX` (NATS slower than what peers send) messages are dropped, and the gap
    /// in update numbers asks for a snapshot later.
    out: mpsc::UnboundedSender<(String, bytes::Bytes)>,
    queued: Arc<std::sync::atomic::AtomicUsize>,
    next_id: std::sync::atomic::AtomicU64,
}

/// The most waiting to be published, in bytes.
const QUEUED_MAX: usize = 256 << 20;

impl Nats {
    pub async fn connect(url: &str) -> Result<Arc<Nats>, String> {
        let shown = super::store::redacted(url);
        let options = async_nats::ConnectOptions::new()
            .name("teamster serve")
            .retry_on_initial_connect()
            .connection_timeout(std::time::Duration::from_secs(10));
        // Connecting waits for the first connection; later drops are reconnected by the
        // client itself, and what was published meanwhile is sent then.
        let client = tokio::time::timeout(std::time::Duration::from_secs(10), options.connect(url))
            .await
            .map_err(|_| format!("NATS at {shown} did not answer within 10 s"))?
            .map_err(|e| format!("cannot connect to NATS at {shown}: {e}"))?;
        let (out, mut rx) = mpsc::unbounded_channel::<(String, bytes::Bytes)>();
        let publisher = client.clone();
        let queued = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let sent = queued.clone();
        tokio::spawn(async move {
            while let Some((subject, payload)) = rx.recv().await {
                sent.fetch_sub(payload.len(), std::sync::atomic::Ordering::Relaxed);
                if let Err(e) = publisher.publish(subject, payload).await {
                    eprintln!("[teamster serve] publishing to NATS: {e}");
                }
            }
        });
        Ok(Arc::new(Nats { client, out, queued, next_id: std::sync::atomic::AtomicU64::new(1) }))
    }

    /// The parts `payload` goes out in, each within the server's limit.
    fn parts(&self, origin: u32, payload: Vec<u8>) -> Vec<bytes::Bytes> {
        let max = (self.client.server_info().max_payload).max(4096);
        let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        split(origin, id, max, payload)
    }
}

impl Bus for Nats {
    fn publish(&self, share: &str, msg: Envelope) {
        let Ok(payload) = rmp_serde::to_vec(&msg) else { return };
        use std::sync::atomic::Ordering;
        let parts = self.parts(msg.origin, payload);
        let len: usize = parts.iter().map(|p| p.len()).sum();
        // Each part is uncounted as the publishing task takes it.
        if self.queued.fetch_add(len, Ordering::Relaxed) + len > QUEUED_MAX {
            self.queued.fetch_sub(len, Ordering::Relaxed);
            eprintln!("[teamster serve] NATS is not keeping up: a message for share {share} was dropped");
            return;
        }
        let subject = subject(share);
        for part in parts {
            let _ = self.out.send((subject.clone(), part));
        }
    }

    fn subscribe(&self, share: &str) -> Fut<Subscription> {
        let client = self.client.clone();
        let subject = subject(share);
        Box::pin(async move {
            let mut sub =
                client.subscribe(subject).await.map_err(|e| format!("cannot subscribe to the share on NATS: {e}"))?;
            // The subscription is made once the server has it: a NATS flush round-trips.
            client.flush().await.map_err(|e| format!("NATS: {e}"))?;
            let (tx, rx) = mpsc::unbounded_channel();
            let reader = tokio::spawn(async move {
                let mut parts = Reassembly::default();
                while let Some(m) = sub.next().await {
                    if let Some(envelope) = parts.take(&m.payload)
                        && tx.send(envelope).is_err()
                    {
                        return;
                    }
                }
            });
            Ok(Subscription { rx, _reader: AbortOnDrop(reader.abort_handle()) })
        })
    }
}

/// `payload` as messages of at most `max` bytes: whole, or in numbered parts (message `id`
/// of `origin`) that `Reassembly` puts back together.
fn split(origin: u32, id: u64, max: usize, payload: Vec<u8>) -> Vec<bytes::Bytes> {
    if payload.len() < max {
        let mut whole = Vec::with_capacity(payload.len() + 1);
        whole.push(WHOLE);
        whole.extend_from_slice(&payload);
        return vec![whole.into()];
    }
    let chunk = max - PART_HEADER;
    let count = payload.len().div_ceil(chunk) as u32;
    payload
        .chunks(chunk)
        .enumerate()
        .map(|(i, data)| {
            let mut part = Vec::with_capacity(PART_HEADER + data.len());
            part.push(PART);
            part.extend_from_slice(&origin.to_be_bytes());
            part.extend_from_slice(&id.to_be_bytes());
            part.extend_from_slice(&(i as u32).to_be_bytes());
            part.extend_from_slice(&count.to_be_bytes());
            part.extend_from_slice(data);
            part.into()
        })
        .collect()
}

/// Puts parted messages back together: per sender, the one message being received.
#[derive(Default)]
struct Reassembly {
    open: std::collections::HashMap<u32, (u64, u32, Vec<u8>)>,
}

impl Reassembly {
    /// One message off the bus; the envelope once it is whole. Anything malformed, or a
    /// part out of order (one was lost), is dropped: the gap in update numbers that follows
    /// asks for a snapshot.
    fn take(&mut self, payload: &[u8]) -> Option<Envelope> {
        match payload.split_first()? {
            (&WHOLE, body) => rmp_serde::from_slice(body).ok(),
            (&PART, _) if payload.len() >= PART_HEADER => {
                let num = |at: usize, n: usize| payload[at..at + n].iter().fold(0u64, |v, b| (v << 8) | u64::from(*b));
                let (origin, id, index, count) = (num(1, 4) as u32, num(5, 8), num(13, 4) as u32, num(17, 4) as u32);
                let data = &payload[PART_HEADER..];
                if index == 0 {
                    self.open.insert(origin, (id, 0, Vec::new()));
                }
                let (open_id, next, buf) = self.open.get_mut(&origin)?;
                if *open_id != id || *next != index || buf.len() + data.len() > MAX_MESSAGE {
                    self.open.remove(&origin);
                    return None;
                }
                buf.extend_from_slice(data);
                *next += 1;
                if *next < count {
                    return None;
                }
                let (_, _, whole) = self.open.remove(&origin)?;
                rmp_serde::from_slice(&whole).ok()
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_too_big_for_one_goes_in_parts_and_comes_back_whole_or_not_at_all() {
        let big = Envelope { origin: 7, msg: BusMsg::Update { seq: 3, snap: true, text: "x".repeat(10_000) } };
        let payload = rmp_serde::to_vec(&big).unwrap();
        let parts = |id| split(7, id, 4096, payload.clone());
        assert!(parts(1).len() > 2 && parts(1).iter().all(|p| p.len() <= 4096), "in parts within the limit");
        let mut r = Reassembly::default();
        let got: Vec<_> = parts(1).iter().filter_map(|p| r.take(p)).collect();
        assert_eq!(got, vec![big.clone()]);
        // A lost part: that message is dropped, the next one is whole again.
        let lossy = parts(2);
        assert_eq!(r.take(&lossy[0]), None);
        assert_eq!(r.take(&lossy[2]), None, "out of order");
        assert_eq!(r.take(lossy.last().unwrap()), None);
        let got: Vec<_> = parts(3).iter().filter_map(|p| r.take(p)).collect();
        assert_eq!(got.len(), 1);
        let small = rmp_serde::to_vec(&Envelope { origin: 1, msg: BusMsg::WantSnapshot }).unwrap();
        let whole = split(1, 4, 4096, small);
        assert_eq!(whole.len(), 1);
        assert_eq!(r.take(&whole[0]).map(|e| e.msg), Some(BusMsg::WantSnapshot));
        assert_eq!(r.take(&[9, 9, 9]), None, "garbage is dropped");
        assert_eq!(r.take(&[PART, 1]), None);
    }
}
