//! Work that must not hold up the async workers: store writes (each waits for its fsync)
//! and password hashing. Each runs on the blocking pool in the request's span.

use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiResult};
use crate::store::StoreError;
use crate::telemetry::block_in_span;

/// Runs a store write through whichever view of the store an area holds. Its own error
/// comes back as it is (a `WriteError`'s conflict is the caller's to name); a write whose
/// task could not finish is a store failure like any other.
pub(super) async fn blocking_write<V, R, E>(
    view: &V,
    work: impl FnOnce(&V) -> Result<R, E> + Send + 'static,
) -> Result<R, E>
where
    V: Clone + Send + 'static,
    R: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    let view = view.clone();
    match block_in_span(move || work(&view)).await {
        Ok(done) => done,
        Err(e) => Err(StoreError::Backend(format!("the write did not finish: {e}")).into()),
    }
}

/// Runs CPU-heavy password work, at most `hashing`'s permits at a time; its error joins
/// the catalog's, so that results do not nest.
pub(super) async fn hash_blocking<R, E>(
    hashing: &Semaphore,
    work: impl FnOnce() -> Result<R, E> + Send + 'static,
) -> ApiResult<R>
where
    R: Send + 'static,
    E: Send + 'static,
    ApiError: From<E>,
{
    let _permit = hashing.acquire().await.map_err(anyhow::Error::from)?;
    let done = block_in_span(work).await.map_err(anyhow::Error::from)?;
    Ok(done?)
}
