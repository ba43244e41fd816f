//! The cancel flag of the job training on this thread, for checks inside an epoch (per
//! mini-batch): the per-epoch callback alone let a cancelled job of long epochs run on,
//! holding its memory, for a whole epoch. Jobs train on a thread of their own, so the
//! flag is set once per thread with [`watch`].

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

thread_local! {
    static FLAG: RefCell<Option<Arc<AtomicBool>>> = const { RefCell::new(None) };
}

/// Makes `flag` the cancel flag of the training running on this thread.
pub fn watch(flag: Arc<AtomicBool>) {
    FLAG.with(|f| *f.borrow_mut() = Some(flag));
}

/// Whether the training on this thread was asked to stop (never without [`watch`]).
pub fn requested() -> bool {
    FLAG.with(|f| {
        f.borrow()
            .as_ref()
            .is_some_and(|c| c.load(Ordering::Relaxed))
    })
}
