//! Recovery sender function: finds carts whose next email is due, claims each send atomically,
//! renders and sends it through SES v2, and records the result.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::clock::{self, UnixSeconds};
use common::domain::{Store, StoreId};
use common::email::{self, EmailContent, Language, MessageTags, OutgoingEmail, SendError};
use common::events::DomainEvent;
use common::secrets::Secrets;
use common::storage::{ClaimOutcome, Counter, DueCart, StopReason, StorageError, DUE_SHARDS};
use common::telemetry::cause_chain;
use common::tokens::UnsubscribeToken;
use common::Context;
use serde::Serialize;
use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinSet;

/// Carts read from one shard per Query.
const PAGE_SIZE: i32 = 100;
/// Sends in flight at once.
const CONCURRENCY: usize = 8;
/// Send rate used when neither configuration nor the SES account gives one (the SES sandbox rate).
const FALLBACK_SEND_RATE: f64 = 1.0;
/// Time kept free at the end of an invocation to record the last sends, in seconds.
const SAFETY_MARGIN: Duration = Duration::from_secs(10);
/// Delay before a send that failed transiently is tried again, in seconds.
const RETRY_DELAY_SECONDS: i64 = 60;

/// Counts of one run's outcomes, returned as the invocation result and logged.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub struct RunSummary {
    /// Due carts read from the index.
    pub due: usize,
    /// Emails sent.
    pub sent: usize,
    /// Claims lost to another run or to a change of the cart.
    pub lost: usize,
    /// Carts stopped because the shopper is on a do-not-email list.
    pub suppressed: usize,
    /// Carts moved later by the frequency cap.
    pub capped: usize,
    /// Older carts ended because a newer cart of the same shopper took over.
    pub superseded: usize,
    /// Sends given back after throttling or a transient failure.
    pub retried: usize,
    /// Carts failed after a permanent SES rejection.
    pub rejected: usize,
    /// Steps skipped because an earlier run died holding their claim.
    pub abandoned_claims: usize,
    /// Carts left due for a later run (time ran out, store paused or missing, conflicts).
    pub deferred: usize,
}

/// Runs one sender pass until every due cart is handled or `deadline` minus a safety margin
/// passes. Carts not reached stay due for the next run.
pub async fn run(context: &Context, deadline: Instant) -> Result<RunSummary, StorageError> {
    run_at(context, clock::now(), deadline).await
}

/// Runs one sender pass as if the time were `now`: carts due by then are sent, and claims,
/// caps and retries count from it. Tests use it to step through a sequence without waiting.
#[tracing::instrument(skip_all, fields(run_id))]
pub async fn run_at(
    context: &Context,
    now: UnixSeconds,
    deadline: Instant,
) -> Result<RunSummary, StorageError> {
    let run_id = uuid::Uuid::new_v4().to_string();
    tracing::Span::current().record("run_id", run_id.as_str());
    let rate = context
        .mailer
        .max_send_rate()
        .await
        .unwrap_or(FALLBACK_SEND_RATE);
    tracing::info!(max_send_rate = rate, "sender run started");
    // Read (or taken from the instance's copy) before any claim, so a failure claims nothing.
    let secrets = context.secrets().await?;

    let state = Arc::new(RunState {
        context: context.clone(),
        secrets,
        run_id,
        now,
        deadline: deadline.checked_sub(SAFETY_MARGIN).unwrap_or(deadline),
        pacer: Mutex::new(Instant::now()),
        interval: Duration::from_secs_f64(1.0 / rate),
        summary: std::sync::Mutex::new(RunSummary::default()),
        sent: std::sync::Mutex::new(Vec::new()),
        paused: std::sync::atomic::AtomicBool::new(false),
    });

    let mut result = Ok(());
    for shard in 0..DUE_SHARDS {
        if let Err(error) = drain_shard(&state, shard).await {
            result = Err(error);
            break;
        }
    }

    flush(&state).await;
    let summary = state.summary.lock().expect("summary lock").clone();
    tracing::info!(?summary, "sender run finished");
    result.map(|()| summary)
}

struct RunState {
    context: Context,
    /// Token keys for the unsubscribe links, read once per run.
    secrets: Arc<Secrets>,
    run_id: String,
    now: UnixSeconds,
    deadline: Instant,
    /// Earliest time the next send may start, shared by all tasks to keep the account's rate.
    pacer: Mutex<Instant>,
    interval: Duration,
    summary: std::sync::Mutex<RunSummary>,
    sent: std::sync::Mutex<Vec<(StoreId, DomainEvent)>>,
    paused: std::sync::atomic::AtomicBool,
}

impl RunState {
    fn count(&self, update: impl FnOnce(&mut RunSummary)) {
        update(&mut self.summary.lock().expect("summary lock"));
    }

    fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadline || self.paused.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn wait_for_send_slot(&self) {
        let start = {
            let mut next = self.pacer.lock().await;
            let start = (*next).max(Instant::now());
            *next = start + self.interval;
            start
        };
        tokio::time::sleep_until(start.into()).await;
    }
}

async fn drain_shard(state: &Arc<RunState>, shard: u32) -> Result<(), StorageError> {
    let mut start = None;
    loop {
        if state.out_of_time() {
            return Ok(());
        }
        let (carts, next) = state
            .context
            .storage
            .due_carts(shard, state.now, PAGE_SIZE, start)
            .await?;
        state.count(|s| s.due += carts.len());
        let carts = drop_suppressed(state, carts).await?;

        let permits = Arc::new(Semaphore::new(CONCURRENCY));
        let mut tasks = JoinSet::new();
        for cart in carts {
            if state.out_of_time() {
                state.count(|s| s.deferred += 1);
                continue;
            }
            let permit = permits
                .clone()
                .acquire_owned()
                .await
                .expect("semaphore is never closed");
            let state = state.clone();
            tasks.spawn(async move {
                let result = process(&state, &cart).await;
                drop(permit);
                result
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined.expect("send task panicked")?;
        }

        match next {
            Some(key) => start = Some(key),
            None => return Ok(()),
        }
    }
}

/// Looks up the page's shoppers on the do-not-email lists in batches and stops their carts, so
/// most suppressed carts never reach a claim.
async fn drop_suppressed(
    state: &RunState,
    carts: Vec<DueCart>,
) -> Result<Vec<DueCart>, StorageError> {
    let mut by_store: HashMap<StoreId, Vec<_>> = HashMap::new();
    for cart in &carts {
        by_store
            .entry(cart.store_id.clone())
            .or_default()
            .push(cart.customer.clone());
    }
    let mut suppressed = std::collections::HashSet::new();
    for (store, customers) in by_store {
        for customer in state
            .context
            .storage
            .suppressed_set(&store, &customers)
            .await?
        {
            suppressed.insert((store.clone(), customer));
        }
    }

    let mut sendable = Vec::with_capacity(carts.len());
    for cart in carts {
        if suppressed.contains(&(cart.store_id.clone(), cart.customer.clone())) {
            state
                .context
                .storage
                .stop_carts(
                    &cart.store_id,
                    &cart.customer,
                    StopReason::Suppressed,
                    state.now,
                )
                .await?;
            state.count(|s| s.suppressed += 1);
        } else {
            sendable.push(cart);
        }
    }
    Ok(sendable)
}

#[tracing::instrument(skip_all, fields(store_id = %cart.store_id, customer_key = %cart.customer, cart_id = %cart.cart_id, step = cart.step))]
async fn process(state: &RunState, cart: &DueCart) -> Result<(), StorageError> {
    let storage = &state.context.storage;
    let Some(store) = storage.store(&cart.store_id).await? else {
        tracing::warn!("cart belongs to an unknown store; left due");
        state.count(|s| s.deferred += 1);
        return Ok(());
    };
    let sequence = store
        .sequence_or(&state.context.config.default_sequence)
        .clone();

    if cart.stale_claim.is_some() {
        tracing::warn!("claim expired without a recorded send; skipping that step");
        storage
            .skip_stale_claim(cart, state.now, |step| {
                sequence.due_at(step as usize, cart.cart_updated_at)
            })
            .await?;
        state.count(|s| s.abandoned_claims += 1);
        return Ok(());
    }
    // NOTE: a paused store's carts stay due and are read again on every run until it resumes.
    if store.paused {
        state.count(|s| s.deferred += 1);
        return Ok(());
    }

    match storage
        .claim_send(
            cart,
            &state.run_id,
            state.now,
            state.context.config.frequency_cap_seconds,
        )
        .await?
    {
        ClaimOutcome::Claimed => {}
        ClaimOutcome::Lost => {
            state.count(|s| s.lost += 1);
            return Ok(());
        }
        ClaimOutcome::Conflict => {
            state.count(|s| s.deferred += 1);
            return Ok(());
        }
        ClaimOutcome::Suppressed => {
            storage
                .stop_carts(
                    &cart.store_id,
                    &cart.customer,
                    StopReason::Suppressed,
                    state.now,
                )
                .await?;
            state.count(|s| s.suppressed += 1);
            return Ok(());
        }
        ClaimOutcome::Superseded => {
            storage
                .supersede_cart(&cart.store_id, &cart.customer, &cart.cart_id, state.now)
                .await?;
            state.count(|s| s.superseded += 1);
            return Ok(());
        }
        ClaimOutcome::Capped { retry_at } => {
            storage.defer_send(cart, retry_at).await?;
            state.count(|s| s.capped += 1);
            return Ok(());
        }
    }

    state.wait_for_send_slot().await;
    // The wall clock, or the run's time when a test runs the sender ahead of it.
    let sent_at = state.now.max(clock::now());
    match send(state, &store, cart) {
        Ok(mime) => match state
            .context
            .mailer
            .send_raw(&store.sender, &cart.email, mime, &tags(cart))
            .await
        {
            Ok(message_id) => {
                let next_due = sequence
                    .due_at(cart.step as usize + 1, cart.cart_updated_at)
                    .map(|due| due.max(sent_at));
                storage
                    .complete_send(cart, &state.run_id, &message_id, sent_at, next_due)
                    .await?;
                tracing::info!(message_id = %message_id, "recovery email sent");
                state.count(|s| s.sent += 1);
                let event = DomainEvent::email_sent(
                    &cart.store_id,
                    &cart.customer,
                    &cart.cart_id,
                    cart.step,
                    &message_id,
                    sent_at,
                );
                state
                    .sent
                    .lock()
                    .expect("sent lock")
                    .push((cart.store_id.clone(), event));
            }
            Err(error) => handle_send_error(state, cart, error).await?,
        },
        Err(reason) => {
            tracing::error!(reason = %reason, "email could not be rendered");
            storage
                .fail_send(cart, &state.run_id, state.now, &reason)
                .await?;
            state.count(|s| s.rejected += 1);
        }
    }
    Ok(())
}

fn send(state: &RunState, store: &Store, cart: &DueCart) -> Result<Vec<u8>, String> {
    let token = state.secrets.token_keys.sign(&UnsubscribeToken {
        store_id: cart.store_id.clone(),
        customer: cart.customer.clone(),
    });
    let language = Language::choose(cart.locale.as_deref(), &store.default_locale);
    let unsubscribe_url = format!(
        "{}/unsubscribe?token={token}&lang={}",
        state.context.config.public_base_url,
        language.wording().lang
    );

    let rendered = email::render(&EmailContent {
        store_name: &store.name,
        line_items: &cart.line_items,
        currency: &cart.currency,
        total_price: &cart.total_price,
        recovery_url: cart.recovery_url.as_deref(),
        unsubscribe_url: &unsubscribe_url,
        language,
        step: cart.step,
    })
    .map_err(|e| format!("template failed: {e}"))?;

    Ok(email::build_message(&OutgoingEmail {
        from_name: &store.name,
        from_address: &store.sender,
        reply_to: store.reply_to.as_deref(),
        to: &cart.email,
        rendered: &rendered,
        unsubscribe_url: &unsubscribe_url,
    }))
}

fn tags(cart: &DueCart) -> MessageTags<'_> {
    MessageTags {
        store: cart.store_id.as_str(),
        customer: cart.customer.as_str(),
        cart: &cart.cart_id,
        step: cart.step,
    }
}

async fn handle_send_error(
    state: &RunState,
    cart: &DueCart,
    error: SendError,
) -> Result<(), StorageError> {
    let storage = &state.context.storage;
    match &error {
        SendError::Throttled(_) | SendError::Transient(_) | SendError::Paused(_) => {
            tracing::warn!(error.message = %error, error.cause_chain = %cause_chain(&error), "send failed; released for a retry");
            storage
                .release_send(
                    cart,
                    &state.run_id,
                    state.now,
                    state.now + RETRY_DELAY_SECONDS,
                )
                .await?;
            state.count(|s| s.retried += 1);
            if matches!(error, SendError::Paused(_)) {
                state
                    .paused
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        SendError::Rejected(reason) => {
            tracing::error!(reason = %reason, "SES rejected the email; cart marked failed");
            storage
                .fail_send(cart, &state.run_id, state.now, reason)
                .await?;
            state.count(|s| s.rejected += 1);
        }
    }
    Ok(())
}

/// Adds the run's sends to the daily counters and puts the sent events on the bus.
async fn flush(state: &RunState) {
    let sent = std::mem::take(&mut *state.sent.lock().expect("sent lock"));
    common::metrics::emit(&[(common::metrics::Metric::Sent, sent.len() as i64)]);
    let mut per_store: HashMap<StoreId, i64> = HashMap::new();
    for (store, _) in &sent {
        *per_store.entry(store.clone()).or_default() += 1;
    }
    for (store, count) in per_store {
        if let Err(error) = state
            .context
            .storage
            .add_counters(&store, state.now, &[(Counter::Sent, count)])
            .await
        {
            tracing::error!(store_id = %store, count, error.cause_chain = %cause_chain(&error), "failed to count sent emails");
        }
    }
    state
        .context
        .events
        .publish(sent.into_iter().map(|(_, event)| event).collect())
        .await;
}
