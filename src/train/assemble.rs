//! The block reader's second thread: it appends each parsed block's values to the matrix
//! and hashes them for the fingerprint, in file order, while the reader parses the next
//! blocks. So the matrix's first-touch page faults, the copy and the SHA-256 leave the
//! reader's path (the parse writes into a few recycled block buffers instead) and take the
//! time the reader leaves a core idle (its serial reads, the end of each parallel block).
//! The thread inherits its creator's priority: a job's load stays at training's, a
//! request's parse at a request's.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::{Scope, ScopedJoinHandle};

use super::fingerprint::ValuesHash;

/// Blocks waiting for the thread, at most: with a thread that gets no core, the reader
/// waits rather than queueing a copy of the data.
const QUEUED_BLOCKS: usize = 2;

/// The matrix so far and the hash of its values.
struct Assembled {
    x: Vec<f64>,
    hash: ValuesHash,
}

impl Assembled {
    fn add(&mut self, block: &[f64]) {
        self.hash.add(block);
        self.x.extend_from_slice(block);
    }
}

/// Where the reader hands its parsed blocks, in file order.
pub struct Assembler<'scope> {
    /// `None` once finished.
    inner: Option<Inner<'scope>>,
}

enum Inner<'scope> {
    Thread {
        to_thread: SyncSender<Vec<f64>>,
        returned: Receiver<Vec<f64>>,
        thread: ScopedJoinHandle<'scope, Assembled>,
    },
    /// No thread could be started: the reader does the work itself.
    Here(Assembled),
}

impl<'scope> Assembler<'scope> {
    /// Appends onto `x` (reserved for the whole matrix, so that it is never moved).
    pub fn start<'env>(scope: &'scope Scope<'scope, 'env>, x: Vec<f64>) -> Assembler<'scope> {
        let (to_thread, blocks) = sync_channel::<Vec<f64>>(QUEUED_BLOCKS);
        let (give_back, returned) = sync_channel::<Vec<f64>>(QUEUED_BLOCKS);
        // Moved into the thread only once it exists: a failed spawn drops its closure.
        let (x_to_thread, x_in_thread) = sync_channel::<Vec<f64>>(1);
        let spawned = std::thread::Builder::new()
            .name("modeld-assemble".into())
            .spawn_scoped(scope, move || {
                let mut done = Assembled {
                    x: x_in_thread.recv().unwrap_or_default(),
                    hash: ValuesHash::default(),
                };
                for mut block in blocks {
                    done.add(&block);
                    block.clear();
                    // Full or gone: the reader then makes a new buffer, or has finished.
                    let _ = give_back.try_send(block);
                }
                done
            });
        let inner = match spawned {
            Ok(thread) => match x_to_thread.send(x) {
                Ok(()) => Inner::Thread {
                    to_thread,
                    returned,
                    thread,
                },
                // Only if the thread is gone already; it gave back nothing to join for.
                Err(e) => Inner::Here(Assembled {
                    x: e.0,
                    hash: ValuesHash::default(),
                }),
            },
            Err(_) => Inner::Here(Assembled {
                x,
                hash: ValuesHash::default(),
            }),
        };
        Assembler { inner: Some(inner) }
    }

    /// An empty buffer for the next block (one handed back, when there is one).
    pub fn buffer(&self) -> Vec<f64> {
        match &self.inner {
            Some(Inner::Thread { returned, .. }) => returned.try_recv().unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    /// The next block's values, waiting while the queue is full.
    pub fn push(&mut self, block: Vec<f64>) {
        match &mut self.inner {
            Some(Inner::Thread { to_thread, .. }) => {
                // The thread stops only when this side does, or by panicking: `finish`
                // then finds it.
                let _ = to_thread.send(block);
            }
            Some(Inner::Here(done)) => done.add(&block),
            None => {}
        }
    }

    /// The matrix of every block pushed, and the hash of its values; `None` if the thread
    /// failed.
    pub fn finish(mut self) -> Option<(Vec<f64>, ValuesHash)> {
        let done = match self.inner.take()? {
            Inner::Thread {
                to_thread, thread, ..
            } => {
                drop(to_thread);
                thread.join().ok()?
            }
            Inner::Here(done) => done,
        };
        Some((done.x, done.hash))
    }
}

impl Drop for Assembler<'_> {
    /// Left unfinished (the reader gave up): the thread is stopped and joined here, so that
    /// a panic in it is not raised again by the scope in the reader's thread.
    fn drop(&mut self) {
        if let Some(Inner::Thread {
            to_thread, thread, ..
        }) = self.inner.take()
        {
            drop(to_thread);
            let _ = thread.join();
        }
    }
}
