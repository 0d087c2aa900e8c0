//! Validated domain types. Values are parsed once at the edge, so the rest of the code cannot hold
//! an unvalidated email address, store id or cart.

mod cart;
mod email;
mod ids;
mod money;
mod sequence;
mod store;

pub use cart::{Cart, CartStatus, LineItem, MAX_LINE_ITEMS};
pub use email::{EmailAddress, InvalidEmail};
pub use ids::{CartId, CustomerKey, InvalidId, StoreId};
pub use money::{minor_unit_exponent, to_minor_units};
pub use sequence::{Sequence, DEFAULT_DELAYS_SECONDS, FREQUENCY_CAP_SECONDS};
pub use store::{Platform, Store};
