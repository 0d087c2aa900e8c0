//! Integration tests: the real handlers against DynamoDB Local and moto, driven by API Gateway,
//! EventBridge and SNS event JSON. Run them with `infra/test`, which starts the servers.

#![allow(dead_code)]

mod support;

mod arm64;
mod browser;
mod cart_life;
mod deploy;
mod emails;
mod generic_webhooks;
mod merchant;
mod secrets;
mod sending;
mod ses_fault;
mod ses_feedback;
mod template;
mod unsubscribe_links;
mod walkthrough;
mod webhooks;
