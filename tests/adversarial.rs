//! The adversarial suite: the real binary on loopback against requests and uploads that
//! try to kill, poison or starve it. No request or upload may take the server down,
//! change state when refused, lose an acknowledged write, or lock other clients out.
//! `LONG_TESTS=1` runs the long variants (more kill trials, bigger loads).

mod support;

#[path = "adversarial/auth.rs"]
mod auth;
#[path = "adversarial/catalogue.rs"]
mod catalogue;
#[path = "adversarial/client.rs"]
mod client;
#[path = "adversarial/kill.rs"]
mod kill;
#[path = "adversarial/load.rs"]
mod load;
