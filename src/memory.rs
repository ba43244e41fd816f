//! Handing freed memory back to the operating system at the few points where a training
//! job has just dropped hundreds of megabytes (the parse's blocks, or a whole text on the
//! general parser's path). The server's allocator, mimalloc (src/main.rs), purges freed
//! pages only after a delay and with `MADV_FREE`, so they stay in the process's RSS
//! meanwhile, and the next large allocation (the fit's buffers and scoring, or the next
//! job's data) is added on top of them (bench/RESULTS.md, "streamed reads"). A purge delay of 0 for every free would
//! cost the predict path; one forced collection per stage does not.

/// Below this a dropped buffer is not worth a collection (which walks the whole heap).
const WORTH_RELEASING: usize = 64 << 20;

/// [`release_freed_memory`] once `dropped_bytes` were just freed, if that is enough to matter.
pub fn release_after(dropped_bytes: usize) {
    if dropped_bytes >= WORTH_RELEASING {
        release_freed_memory();
    }
}

/// Frees this thread's empty pages and purges every free arena page now. A no-op where
/// mimalloc is linked but not the global allocator (the library's tests).
pub fn release_freed_memory() {
    // SAFETY: `mi_collect` takes a flag and only walks mimalloc's own heap structures;
    // it may be called from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
