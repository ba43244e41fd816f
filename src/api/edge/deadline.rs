//! The request deadline (504 `timeout` after `server.request_timeout_ms`). Its timer is
//! made only when a handler first waits: most requests answer in their first poll, and
//! making a `Sleep` costs a clock read and a reference count on the runtime's handle
//! that both workers write. It is polled outside the task's coop budget, as
//! `tokio::time::timeout` does, so a handler that spends the budget on every poll
//! still times out.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::task::coop::Unconstrained;
use tokio::time::Sleep;

pub type Timer = Unconstrained<Sleep>;

/// Whether the deadline `timeout` after `started` has passed, arming `timer` on first
/// call. A deadline past what `Instant` can hold never passes.
pub fn expired(
    mut timer: Pin<&mut Option<Timer>>,
    started: Instant,
    timeout: Duration,
    cx: &mut Context<'_>,
) -> bool {
    if timer.is_none() {
        let Some(at) = started.checked_add(timeout) else {
            return false;
        };
        let sleep = tokio::time::sleep_until(at.into());
        timer.set(Some(tokio::task::coop::unconstrained(sleep)));
    }
    matches!(
        timer.as_pin_mut().map(|sleep| sleep.poll(cx)),
        Some(Poll::Ready(()))
    )
}
