//! The local stack: provisions the product's resources on DynamoDB Local and moto from
//! template.yaml, serves every HTTP function on one loopback port and fires the recovery sender
//! on an interval. The integration tests use the same provisioning.

pub mod outbox;
pub mod provision;
pub mod server;
pub mod template;
