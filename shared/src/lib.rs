//! Common crate of the cart recovery functions: domain types, DynamoDB storage, SES email
//! building, EventBridge events, signed tokens, configuration and telemetry.
//!
//! Every function's `main` only builds a [`context::Context`] once per Lambda instance and hands
//! events to a handler. The handlers are plain async functions over these types, so the same code
//! runs under Lambda, in the integration tests and in the local stack.
#![warn(missing_docs)]

pub mod clock;
pub mod config;
pub mod context;
pub mod domain;
pub mod email;
pub mod events;
pub mod hashing;
pub mod health;
pub mod metrics;
pub mod privacy;
pub mod secrets;
pub mod storage;
pub mod telemetry;
pub mod tokens;

pub use config::Config;
pub use context::Context;
