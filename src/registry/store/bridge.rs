//! The bridge from the synchronous registry to the async `object_store` client: one
//! current-thread tokio runtime on a thread of its own ("modeld-store"). A blocking caller
//! hands it a future and waits on a channel, so a store call never blocks a worker of the
//! server's runtime, never nests `block_on` inside it, and the runtime is never dropped
//! inside an async context (it lives and ends on its own thread).

use std::future::Future;
use std::io;
use std::sync::mpsc;

/// A handle to the store's runtime; the runtime stops when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct Bridge {
    handle: tokio::runtime::Handle,
    /// Dropping every sender ends the runtime thread.
    _stop: std::sync::Arc<tokio::sync::oneshot::Sender<()>>,
}

impl Bridge {
    /// Starts the runtime thread.
    pub fn start() -> io::Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = rt.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::Builder::new()
            .name("modeld-store".into())
            .spawn(move || {
                // Err when the sender is dropped: the store is gone.
                let _ = rt.block_on(stopped);
            })?;
        Ok(Self {
            handle,
            _stop: std::sync::Arc::new(stop),
        })
    }

    /// Runs `fut` on the store's runtime and waits for it. For blocking threads only.
    pub fn run<T, F>(&self, fut: F) -> io::Result<T>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv()
            .map_err(|_| io::Error::other("the object-store runtime stopped"))
    }
}

#[cfg(test)]
mod tests {
    use super::Bridge;

    #[test]
    fn runs_futures_from_a_plain_thread_and_from_a_blocking_task() {
        let bridge = Bridge::start().unwrap();
        assert_eq!(bridge.run(async { 1 + 1 }).unwrap(), 2);
        let rt = tokio::runtime::Runtime::new().unwrap();
        let b = bridge.clone();
        let got = rt
            .block_on(async { tokio::task::spawn_blocking(move || b.run(async { 3 })).await })
            .unwrap()
            .unwrap();
        assert_eq!(got, 3);
        // Dropped inside an async context without a panic.
        rt.block_on(async move { drop(bridge) });
    }
}
