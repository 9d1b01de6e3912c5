//! The relay's runtime and its HTTP/2 connections, one per target address.
//!
//! A connection is made on first use and shared by every call to that address (each
//! call is one HTTP/2 stream on it, so calls multiplex). Its driver (h2's
//! `Connection`, which reads and writes the socket) runs as a task on the relay's own
//! tokio runtime; when it ends (the peer closed, a GOAWAY, a broken socket) it marks
//! the connection dead and the next call to the address dials afresh. Dialling is
//! serialised per address, so a burst of calls to a node just restarted makes one
//! connection, not one each.

use super::frame::code;
use bytes::Bytes;
use h2::client::SendRequest;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;

/// Receive windows: a reply of up to a few MiB arrives without waiting for window
/// updates (h2's defaults are the protocol's 64 KiB).
const STREAM_WINDOW: u32 = 4 << 20;
const CONNECTION_WINDOW: u32 = 16 << 20;

/// One live connection: its stream opener and whether its driver still runs.
#[derive(Clone)]
pub struct Conn {
    /// Opens streams on the connection (cheap to clone).
    pub send: SendRequest<Bytes>,
    alive: Arc<AtomicBool>,
}

impl Conn {
    /// The driver still runs (the connection may still fail on its next use).
    pub fn alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    /// Stop handing this connection out (a call saw it fail).
    pub fn mark_dead(&self) {
        self.alive.store(false, Ordering::Release);
    }
}

/// The connection to one address, and the lock that serialises dialling it.
#[derive(Default)]
struct Slot {
    conn: Mutex<Option<Conn>>,
    dialling: tokio::sync::Mutex<()>,
}

impl Slot {
    fn live(&self) -> Option<Conn> {
        let conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
        conn.as_ref().filter(|c| c.alive()).cloned()
    }
}

/// The runtime and the connections of one process.
pub struct Pool {
    runtime: Runtime,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

/// A failure to reach an address: the gRPC code and message to report.
pub type Failure = (u32, String);

impl Pool {
    fn new() -> std::io::Result<Self> {
        // One worker: the sockets' drivers are light, and the machine's cores are the
        // Python server's. Calls themselves run on the caller's thread (`block_on`).
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(2) // name resolution of "host:port"
            .thread_name("memd-relay")
            .enable_io()
            .enable_time()
            .build()?;
        Ok(Self { runtime, slots: Mutex::default() })
    }

    /// This process's pool, made on first use. A child forked after the pool was made
    /// gets a pool of its own: the parent's runtime threads do not exist in it.
    pub fn get() -> std::io::Result<Arc<Pool>> {
        static POOL: OnceLock<Mutex<Option<(u32, Arc<Pool>)>>> = OnceLock::new();
        let mut slot = POOL.get_or_init(Mutex::default).lock().unwrap_or_else(PoisonError::into_inner);
        let pid = std::process::id();
        if let Some((owner, pool)) = slot.as_ref() {
            if *owner == pid {
                return Ok(Arc::clone(pool));
            }
            // The parent's pool, copied by fork: its threads are gone, so dropping it
            // could block on them. Leak it.
            std::mem::forget(slot.take());
        }
        let pool = Arc::new(Pool::new()?);
        *slot = Some((pid, Arc::clone(&pool)));
        Ok(pool)
    }

    /// The runtime calls run on.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// A live connection to `address`, dialled now if there is none.
    pub async fn connect(&self, address: &str) -> Result<Conn, Failure> {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(slots.entry(address.to_owned()).or_default())
        };
        if let Some(conn) = slot.live() {
            return Ok(conn);
        }
        let _dialling = slot.dialling.lock().await;
        if let Some(conn) = slot.live() {
            return Ok(conn); // another call dialled it meanwhile
        }
        let conn = self.dial(address).await?;
        *slot.conn.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn.clone());
        Ok(conn)
    }

    async fn dial(&self, address: &str) -> Result<Conn, Failure> {
        let unavailable = |what: &str, err: &dyn std::fmt::Display| {
            (code::UNAVAILABLE, format!("failed to connect to {address}: {what}{err}"))
        };
        let tcp = TcpStream::connect(address).await.map_err(|e| unavailable("", &e))?;
        // Small writes (a header block, a short reply) must not wait for Nagle.
        tcp.set_nodelay(true).map_err(|e| unavailable("", &e))?;
        let (send, connection) = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .enable_push(false)
            .handshake::<_, Bytes>(tcp)
            .await
            .map_err(|e| unavailable("HTTP/2 handshake: ", &e))?;
        let alive = Arc::new(AtomicBool::new(true));
        let flag = Arc::clone(&alive);
        self.runtime.spawn(async move {
            let _ = connection.await; // its error is seen by the calls it fails
            flag.store(false, Ordering::Release);
        });
        Ok(Conn { send, alive })
    }
}
