//! The relay's runtimes and their HTTP/2 connections, one per target address.
//!
//! A connection is made on first use and reused by every later call to that address
//! on the same pool (each call is one HTTP/2 stream on it, so calls multiplex). Its
//! driver (h2's `Connection`, which reads and writes the socket) is a task on the
//! pool's runtime; when it ends (the peer closed, a GOAWAY, a broken socket) it marks
//! the connection dead and the next call dials afresh. Dialling is serialised per
//! address, so a burst of calls to a node just restarted makes one connection.
//!
//! Two kinds of pool:
//! - [`Pool::local`]: one per calling thread, on a current-thread runtime that the
//!   caller drives itself while it waits (`block_on`): the request's write, the
//!   owner's reply and the caller's wake-up happen on one thread, with no hand-off to
//!   another (each costs a scheduler wake-up, dear on two shared cores). Used by
//!   blocking calls. Between calls nothing reads the socket, so a call first yields
//!   once to let the driver see a close that happened meanwhile.
//! - [`Pool::shared`]: one per process, a runtime with one worker thread that drives
//!   its connections all the time; used by calls started and waited for in slices.
//!
//! Addresses are resolved with the system's resolver on the calling thread, so no
//! runtime needs threads of its own beyond the shared worker; a pool made before a
//! `fork()` is left to the parent (the child makes its own).

use super::frame::code;
use bytes::Bytes;
use h2::client::SendRequest;
use std::cell::RefCell;
use std::collections::HashMap;
use std::mem::ManuallyDrop;
use std::net::ToSocketAddrs;
use std::rc::Rc;
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

/// A runtime and its connections.
pub struct Pool {
    runtime: Runtime,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
    /// Driven only while a caller waits (see the module doc).
    local: bool,
}

/// The shared pool and the process that made it.
type Shared = Mutex<Option<(u32, Arc<Pool>)>>;

/// A failure to reach an address: the gRPC code and message to report.
pub type Failure = (u32, String);

impl Pool {
    /// The calling thread's pool, made on first use, lent to `f`.
    pub fn local<T>(f: impl FnOnce(&Pool) -> T) -> std::io::Result<T> {
        // Never dropped: a runtime dropped in a thread-local destructor may need the
        // thread-locals already gone. A thread that ends leaves its sockets open until
        // the process ends (the server's handler threads live as long as it does).
        thread_local! {
            static LOCAL: RefCell<Option<(u32, Rc<ManuallyDrop<Pool>>)>> = const { RefCell::new(None) };
        }
        let pid = std::process::id();
        let pool = LOCAL.with(|cell| {
            let mut cell = cell.borrow_mut();
            if let Some((_, pool)) = cell.as_ref().filter(|(owner, _)| *owner == pid) {
                return Ok(Rc::clone(pool));
            }
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_io().enable_time().build()?;
            let pool =
                Rc::new(ManuallyDrop::new(Pool { runtime, slots: Mutex::default(), local: true }));
            *cell = Some((pid, Rc::clone(&pool)));
            Ok::<_, std::io::Error>(pool)
        })?;
        Ok(f(&pool))
    }

    /// This process's shared pool, made on first use. A child forked after the pool
    /// was made gets a pool of its own: the parent's worker does not exist in it.
    pub fn shared() -> std::io::Result<Arc<Pool>> {
        static POOL: OnceLock<Shared> = OnceLock::new();
        let mut slot =
            POOL.get_or_init(Mutex::default).lock().unwrap_or_else(PoisonError::into_inner);
        let pid = std::process::id();
        if let Some((owner, pool)) = slot.as_ref() {
            if *owner == pid {
                return Ok(Arc::clone(pool));
            }
            // The parent's pool, copied by fork: its threads are gone, so dropping it
            // could block on them. Leak it.
            std::mem::forget(slot.take());
        }
        // One worker: the sockets' drivers are light, and the machine's cores are the
        // Python server's.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("memd-relay")
            .enable_io()
            .enable_time()
            .build()?;
        let pool = Arc::new(Pool { runtime, slots: Mutex::default(), local: false });
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
        if self.local {
            // Let the driver read what came while nobody polled it (a close, a GOAWAY).
            tokio::task::yield_now().await;
        }
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
        // Resolved here, not by tokio (whose resolver needs a thread pool).
        let targets: Vec<_> = address.to_socket_addrs().map_err(|e| unavailable("", &e))?.collect();
        let tcp = TcpStream::connect(&targets[..]).await.map_err(|e| unavailable("", &e))?;
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
        tokio::spawn(async move {
            let _ = connection.await; // its error is seen by the calls it fails
            flag.store(false, Ordering::Release);
        });
        Ok(Conn { send, alive })
    }
}
